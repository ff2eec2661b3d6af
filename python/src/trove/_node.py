"""Finding the node that runs on a data directory the way the CLI does (src/cli/backend.ts), and
starting one in the background for ``connect(start=True)``."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from typing import Any, Dict, List, Optional, Union

from .constants import DEFAULT_DATA_DIR, DISCOVERY_FILE, START_POLL_S, START_TIMEOUT_S, TOKEN_FILE
from .errors import NodeNotRunningError, NodeStartError, TroveError

PathLike = Union[str, "os.PathLike[str]"]

#: File in the data directory that a node started by ``connect(start=True)`` writes its output to.
START_LOG = "trove-node.log"

#: Lines of that log quoted when the start fails.
LOG_TAIL_LINES = 20

#: ``trove init`` only writes a few files; longer than this means it hangs.
INIT_TIMEOUT_S = 60.0


def resolve_data_dir(data_dir: Optional[PathLike] = None) -> str:
    """``data_dir``, else ``$TROVE_DATA``, else ``~/.trove``, as an absolute path (src/datadir.ts)."""
    if data_dir is not None:
        chosen = os.path.expanduser(os.fspath(data_dir))
    else:
        env = os.environ.get("TROVE_DATA")
        chosen = env if env is not None else os.path.expanduser(DEFAULT_DATA_DIR)
    return os.path.abspath(chosen)


def read_discovery(data_dir: str) -> Optional[Dict[str, Any]]:
    """``<data dir>/api.json`` if it is one a node wrote (url, pid, startedAt), else None."""
    try:
        with open(os.path.join(data_dir, DISCOVERY_FILE), encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("url"), str) or not isinstance(info.get("startedAt"), str):
        return None
    pid = info.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool):
        return None
    return info


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (src/api/discovery.ts isPidAlive)."""
    if pid <= 0:
        return False
    if os.name != "posix":
        # os.kill(pid, 0) would terminate the process on Windows; the status probe decides there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True


def read_token(data_dir: str) -> Optional[str]:
    """The API token of a data directory, or None when there is none to read."""
    try:
        with open(os.path.join(data_dir, TOKEN_FILE), encoding="utf-8") as f:
            token = f.read().strip()
    except OSError:
        return None
    return token or None


def token_path(data_dir: str) -> str:
    return os.path.join(data_dir, TOKEN_FILE)


def same_dir(a: str, b: str) -> bool:
    return a == b or os.path.realpath(a) == os.path.realpath(b)


def discover(data_dir: str) -> str:
    """The API URL of the node running on ``data_dir``; NodeNotRunningError saying why not."""
    info = read_discovery(data_dir)
    if info is None:
        raise NodeNotRunningError(f"no Trove node is running on {data_dir} (no {DISCOVERY_FILE} there); {start_hint(data_dir)}")
    if not pid_alive(info["pid"]):
        raise NodeNotRunningError(f"no Trove node is running on {data_dir} (the node that wrote {DISCOVERY_FILE}, "
                                  f"process {info['pid']}, is gone); {start_hint(data_dir)}")
    return str(info["url"])


def start_hint(data_dir: Optional[str]) -> str:
    command = f"trove --data {shlex.quote(data_dir)} start" if data_dir else "trove start"
    return f'start one with "{command}" (or trove.connect(start=True))'


def check_status(status: Any, data_dir: Optional[str], url: str) -> None:
    """A node answering ``GET /status`` for another directory (a stale api.json naming a port
    that another node took since) is not the node of this directory."""
    if not isinstance(status, dict) or status.get("mode") != "node":
        raise NodeNotRunningError(f"{url} does not answer like a Trove node; {start_hint(data_dir)}")
    if data_dir is not None and isinstance(status.get("dataDir"), str) and not same_dir(status["dataDir"], data_dir):
        raise NodeNotRunningError(f"the node at {url} runs on {status['dataDir']}, not on {data_dir}; {start_hint(data_dir)}")


def cli_command() -> List[str]:
    """The ``trove`` command: ``$TROVE_CLI`` (split like a shell would), else ``trove`` on PATH."""
    env = os.environ.get("TROVE_CLI")
    if env:
        return shlex.split(env)
    found = shutil.which("trove")
    if found is None:
        raise NodeStartError('cannot start a node: there is no "trove" command on PATH (install Trove, or set '
                             'TROVE_CLI to the command, e.g. "node /path/to/trove/dist/src/cli/bin.js")')
    return [found]


def start_node(data_dir: str, probe: Any, timeout: float = START_TIMEOUT_S) -> str:
    """Starts ``trove start`` on ``data_dir`` in the background (initializing the directory first
    when needed), waits until ``probe(url)`` accepts it, and leaves it running. Returns its URL.

    Its output goes to ``<data dir>/trove-node.log``; a failed start quotes the end of that log.
    """
    cli = cli_command()
    if not os.path.exists(os.path.join(data_dir, "config.json")):
        try:
            done = subprocess.run([*cli, "--data", data_dir, "init"], stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=INIT_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise NodeStartError(f"cannot run {shlex.join(cli)} init: {err}") from None
        if done.returncode != 0:
            raise NodeStartError(f"trove init failed on {data_dir}: {done.stderr.decode(errors='replace').strip()}")
    log_path = os.path.join(data_dir, START_LOG)
    kwargs: Dict[str, Any] = {"start_new_session": True} if os.name == "posix" else {}
    try:
        with open(log_path, "ab") as log:
            # its own session: a Ctrl-C meant for this Python process must not stop the node
            proc = subprocess.Popen([*cli, "--data", data_dir, "start"], stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, close_fds=True, **kwargs)
    except OSError as err:
        raise NodeStartError(f"cannot run {shlex.join(cli)} start: {err}") from None
    deadline = time.monotonic() + timeout
    last: Optional[TroveError] = None
    while True:
        try:
            url = discover(data_dir)
            probe(url)
            return url
        except TroveError as err:
            last = err
        code = proc.poll()
        if code is not None:
            # another process may have started a node on this directory at the same moment
            try:
                url = discover(data_dir)
                probe(url)
                return url
            except TroveError:
                pass
            raise NodeStartError(f"trove start exited with code {code} on {data_dir}; {START_LOG} ends with:\n{log_tail(log_path)}")
        if time.monotonic() > deadline:
            proc.terminate()
            raise NodeStartError(f"trove start on {data_dir} did not answer within {timeout:g} s and was stopped "
                                 f"({last}); {START_LOG} ends with:\n{log_tail(log_path)}")
        time.sleep(START_POLL_S)


def log_tail(path: str) -> str:
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-LOG_TAIL_LINES:]) or "(empty)"

