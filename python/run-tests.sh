#!/usr/bin/env bash
# Runs the Python package's tests against real nodes of the built CLI (dist/, so build first:
# `npm test` does). Makes a throw-away virtual environment that sees the system's packages,
# installs the package into it offline (no index, no build isolation) and runs pytest.
#
#   TROVE_PYTHON  the Python to use (default: the first of python3 and /usr/bin/python3 that has
#                 everything the tests need)
#   TROVE_NODE    the node binary that runs the CLI (default: node on PATH; Node 22 or newer)
#   TROVE_BIN     the CLI entry (default: dist/src/cli/bin.js of this checkout)
# Arguments are passed to pytest (e.g. -k refs, -x).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

# everything the tests import, and what building and installing the package offline needs
modules="venv setuptools wheel pip urllib3 pytest numpy fsspec tqdm pandas h5py"
check='import sys, importlib
assert sys.version_info >= (3, 9)
for m in sys.argv[1:]: importlib.import_module(m)'

python=""
for candidate in ${TROVE_PYTHON:-python3 /usr/bin/python3}; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "$check" $modules >/dev/null 2>&1; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "python tests: need Python >= 3.9 with $modules; on Debian/Ubuntu: apt-get install python3-venv python3-pip python3-setuptools python3-wheel python3-urllib3 python3-pytest python3-numpy python3-fsspec python3-tqdm python3-pandas python3-h5py (or set TROVE_PYTHON to a Python that has them)" >&2
  exit 1
fi

node_bin=${TROVE_NODE:-$(command -v node || true)}
cli_bin=${TROVE_BIN:-$root/dist/src/cli/bin.js}
if [ -z "$node_bin" ] || [ ! -f "$cli_bin" ]; then
  echo "python tests: need the built CLI ($cli_bin: run npm run build) and node (or set TROVE_NODE, TROVE_BIN)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/trove-python-tests.XXXXXX")
trap 'rm -rf "$work"' EXIT
# a copy, so building the package leaves nothing (build/, *.egg-info) in the source tree
mkdir "$work/src"
cp -R "$here/pyproject.toml" "$here/README.md" "$here/src" "$work/src/"
# without a pip of its own (seconds saved): the system's pip, seen through the system's packages,
# installs into the environment it runs in
"$python" -m venv --without-pip --system-site-packages "$work/venv"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$work/venv/bin/python" -m pip install --quiet --no-index --no-build-isolation --no-deps "$work/src"

cd "$work"
TROVE_NODE=$node_bin TROVE_BIN=$cli_bin "$work/venv/bin/python" -m pytest -c "$here/pyproject.toml" --rootdir "$here" -q "$here/tests" "$@"
