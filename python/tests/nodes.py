"""Real Trove nodes for tests and benchmarks: the built CLI's ``trove start`` in temp data
directories, on 127.0.0.1 with free ports and without mDNS (as test/helpers/daemon.ts starts them).

TROVE_NODE is the node binary and TROVE_BIN the CLI entry (python/run-tests.sh sets both).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import trove

#: A node that has not printed its start line by then is hung: the test fails instead of stalling.
START_TIMEOUT_S = 60.0
#: `trove init` writes a few files.
INIT_TIMEOUT_S = 60.0
#: A node given SIGTERM shuts down in a few seconds (5 s grace for requests in flight).
STOP_TIMEOUT_S = 20.0
#: Two nodes on loopback connect within a second; a minute means they never will.
CONNECT_TIMEOUT_S = 60.0

#: How long a node looks for a blob nobody has before answering NO_PROVIDERS (default 15 s): the
#: peers of these tests are connected directly and answer at once.
FIND_TIMEOUT = "2s"

REPO = Path(__file__).resolve().parents[2]


class SetupError(Exception):
    """The machine lacks what the tests need (the built CLI, node)."""


def node_binary() -> str:
    found = os.environ.get("TROVE_NODE") or shutil.which("node")
    if not found:
        raise SetupError("no node binary: set TROVE_NODE (Node 22 or newer)")
    return found


def cli_entry() -> str:
    entry = os.environ.get("TROVE_BIN") or str(REPO / "dist" / "src" / "cli" / "bin.js")
    if not os.path.isfile(entry):
        raise SetupError(f"the CLI is not built ({entry}): run npm run build, or set TROVE_BIN")
    return entry


def cli() -> List[str]:
    return [node_binary(), cli_entry()]


class Node:
    """One `trove start` process on its own data directory and HOME."""

    def __init__(self, base: Path, name: str, extra: Optional[List[str]] = None) -> None:
        self.dir = base / name
        self.data = str(self.dir / "data")
        self.home = self.dir / "home"
        self.home.mkdir(parents=True)
        self.extra = extra or []
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.started: Dict[str, Any] = {}
        self.stderr_path = self.dir / "stderr.log"

    @property
    def env(self) -> Dict[str, str]:
        env = dict(os.environ, HOME=str(self.home))
        env.pop("TROVE_DATA", None)
        return env

    def run_cli(self, *args: str) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
        return subprocess.run([*cli(), "--data", self.data, *args], env=self.env, capture_output=True, timeout=INIT_TIMEOUT_S)

    def start(self) -> "Node":
        if not os.path.exists(os.path.join(self.data, "config.json")):
            done = self.run_cli("init")
            assert done.returncode == 0, f"trove init failed: {done.stderr.decode()}"
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                [*cli(), "--data", self.data, "--json", "start", "--api", "127.0.0.1:0", "--no-mdns",
                 "--listen", "/ip4/127.0.0.1/tcp/0", "--find-timeout", FIND_TIMEOUT, *self.extra],
                env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        line = self._first_line()
        self.started = json.loads(line)
        return self

    def _first_line(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        lines: "queue.Queue[bytes]" = queue.Queue()
        out = self.proc.stdout
        threading.Thread(target=lambda: lines.put(out.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            self.proc.kill()
            raise AssertionError(f"trove start printed nothing in {START_TIMEOUT_S} s; stderr: {self.stderr()}") from None
        if not line:
            code = self.proc.wait()
            raise AssertionError(f"trove start exited ({code}) before starting; stderr: {self.stderr()}")
        return line.decode()

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    @property
    def url(self) -> str:
        return str(self.started["apiUrl"])

    @property
    def pid(self) -> int:
        return int(self.started["pid"])

    @property
    def peer_id(self) -> str:
        return str(self.started["peerId"])

    def addr(self) -> str:
        """The node's loopback multiaddr with /p2p/<id>, for --bootstrap."""
        for a in self.started.get("multiaddrs", []):
            if "/ip4/127.0.0.1/" in a:
                return str(a)
        raise AssertionError(f"node printed no loopback address: {self.started}")

    def client(self, **kwargs: Any) -> trove.Client:
        return trove.connect(data_dir=self.data, set_default=False, **kwargs)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if not self.running:
            return
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def blob_path(self, sha1: str) -> Path:
        """Where the store keeps a (non-packed) blob (docs/guide.md, The data directory)."""
        return Path(self.data) / "blobs" / sha1[:2] / sha1


class Nodes:
    """Starts nodes for a test (or a session) and stops them all afterwards."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.all: List[Node] = []

    def start(self, name: str, extra: Optional[List[str]] = None) -> Node:
        node = Node(self.base, name, extra)
        self.all.append(node)
        return node.start()

    def stop_all(self) -> None:
        for node in self.all:
            node.stop()


def wait_until(check: Callable[[], bool], what: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def connected(a: trove.Client, peer_id: str) -> bool:
    return any(p.get("peerId") == peer_id for p in a.peers())


def random_bytes(n: int, seed: int = 0) -> bytes:
    """Incompressible test content; the same seed gives the same bytes."""
    import random
    return random.Random(seed).randbytes(n)
