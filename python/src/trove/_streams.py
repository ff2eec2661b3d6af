"""Streaming blob bodies in both directions with one chunk in memory, hashing while they pass,
and the optional progress display."""

from __future__ import annotations

import hashlib
import io
import queue
import sys
import threading
from typing import Any, BinaryIO, Callable, Iterator, List, Optional, Union

from .constants import HASH_QUEUE_CHUNKS, IO_CHUNK_SIZE, PROGRESS_MIN_BYTES, TRANSFER_POLL_S
from .errors import ConnectionLostError, HashMismatchError, InvalidArgumentError, TroveError

#: ``progress=`` of loads and stores: None shows a bar when it makes sense (tqdm installed, a
#: terminal, a large blob), True always (when tqdm is installed), False never, and a callable
#: is called as ``progress(bytes_done, bytes_total)`` instead of drawing anything.
ProgressArg = Union[None, bool, Callable[[int, int], Any]]


class Progress:
    """A byte counter shown as a tqdm bar, handed to a callback, or nothing at all."""

    def __init__(self, setting: ProgressArg) -> None:
        self.total = 0
        self.done = 0
        self._setting = setting
        self._callback: Optional[Callable[[int, int], Any]] = None
        self._bar: Any = None
        if callable(setting) and not isinstance(setting, bool):
            self._callback = setting

    @property
    def wanted(self) -> bool:
        """Whether a bar may be drawn at all (before the size is known)."""
        return self._callback is None and (self._setting is True or (self._setting is None and _stderr_is_terminal()))

    def restart(self, total: int, desc: str) -> None:
        """Counts from zero towards ``total``: the first phase, or the next one on the same bar (a
        fetch from peers, then the copy to the file)."""
        self.total, self.done = total, 0
        if self._bar is not None:
            self._bar.reset(total=total)
            self._bar.set_description(desc)
        elif self.wanted and (self._setting is True or total >= PROGRESS_MIN_BYTES):
            self._bar = _tqdm(total, desc)

    def add(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        if self._callback is not None:
            self._callback(self.done, self.total)

    def set(self, done: int) -> None:
        if self._bar is not None:
            self._bar.update(done - self.done)
        self.done = done
        if self._callback is not None:
            self._callback(self.done, self.total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _tqdm(total: int, desc: str) -> Any:
    try:
        from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False, file=sys.stderr)


class TransferWatch:
    """While a load waits for the node to fetch the blob from peers (the answer starts only when
    the blob is complete there), polls the node's transfers and shows that fetch on the bar."""

    def __init__(self, progress: Progress, sha1: str, poll: Callable[[], Any]) -> None:
        self._progress, self._sha1, self._poll = progress, sha1, poll
        self._stop = threading.Event()
        self._seen = False
        self._thread: Optional[threading.Thread] = None
        if progress.wanted:
            self._thread = threading.Thread(target=self._run, name="trove-transfer-watch", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        # the first look only after one interval: a local blob answers before that
        while not self._stop.wait(TRANSFER_POLL_S):
            try:
                transfers = self._poll()
            except TroveError:
                continue  # the load itself reports what is wrong with the node
            for t in transfers if isinstance(transfers, list) else []:
                if isinstance(t, dict) and t.get("sha1") == self._sha1 and isinstance(t.get("bytes"), int):
                    if not self._seen:
                        self._seen = True
                        self._progress.restart(int(t.get("size") or 0), "fetching from peers")
                    self._progress.set(t["bytes"])

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class ParallelSha1:
    """The sha1 of a stream, computed on a thread of its own. hashlib lets go of the GIL while it
    hashes a large chunk, so hashing overlaps with receiving and writing instead of adding to
    them (a third of a local load's time otherwise). At most HASH_QUEUE_CHUNKS chunks wait."""

    def __init__(self) -> None:
        self._hash = hashlib.sha1()
        self._queue: "queue.Queue[Optional[bytes]]" = queue.Queue(maxsize=HASH_QUEUE_CHUNKS)
        self._thread = threading.Thread(target=self._run, name="trove-sha1", daemon=True)
        self._thread.start()
        self._digest: Optional[str] = None

    def _run(self) -> None:
        while True:
            chunk = self._queue.get()
            if chunk is None:
                return
            self._hash.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def hexdigest(self) -> str:
        self.close()
        return self._hash.hexdigest()

    def close(self) -> None:
        """Ends the thread (also when the stream failed half-way)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def __enter__(self) -> "ParallelSha1":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def file_chunks(f: BinaryIO, size: int, what: str, sha: Any, progress: Progress) -> Iterator[bytes]:
    """Exactly ``size`` bytes of ``f`` in chunks, hashed into ``sha`` as they go. A file that
    shrinks or grows while it is sent fails before its last chunk, so the node stores nothing."""
    left = size
    while left > 0:
        chunk = f.read(min(IO_CHUNK_SIZE, left))
        if not chunk:
            raise InvalidArgumentError(f"{what} became shorter while it was stored ({size - left} of {size} bytes read); nothing was stored")
        left -= len(chunk)
        sha.update(chunk)
        if left == 0 and f.read(1):
            raise InvalidArgumentError(f"{what} became longer while it was stored (it had {size} bytes); nothing was stored")
        progress.add(len(chunk))
        yield chunk


class VerifyingReader(io.RawIOBase):
    """A blob's answer body as a file object that hashes what is read and, at its end, checks
    the byte count and the sha1: a cut-off or altered answer raises instead of ending quietly."""

    def __init__(self, res: Any, sha1: str, size: int, url: str, on_error: Callable[[BaseException], TroveError]) -> None:
        super().__init__()
        self._res, self._sha1, self._size, self._url, self._on_error = res, sha1, size, url, on_error
        self._hash = hashlib.sha1()
        self._read = 0
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._ended:
            return 0
        view = memoryview(b).cast("B")
        want = min(len(view), self._size - self._read)
        if want == 0:
            self._finish()
            return 0
        try:
            data = self._res.read(want)
        except Exception as err:  # noqa: BLE001 - the connection broke mid-answer
            raise self._on_error(err) from err
        if not data:
            self._finish()
            return 0
        n = len(data)
        view[:n] = data
        self._hash.update(data)
        self._read += n
        return n

    def _finish(self) -> None:
        self._ended = True
        if self._read != self._size:
            raise ConnectionLostError(f"the Trove node at {self._url} stopped sending sha1://{self._sha1} after "
                                      f"{self._read} of {self._size} bytes; did the node stop?")
        if self._hash.hexdigest() != self._sha1:
            raise HashMismatchError(f"the bytes received for sha1://{self._sha1} hash to {self._hash.hexdigest()}")

    def readall(self) -> bytes:
        """The whole rest of the body, checked (in large reads: the default reads 8 KiB at a time)."""
        parts: List[bytes] = []
        while True:
            chunk = self.read(IO_CHUNK_SIZE)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)

    def verify_end(self) -> None:
        """After a reader that stops at its own end (numpy's): the body must be over, and check it."""
        if self.read(1):
            raise HashMismatchError(f"sha1://{self._sha1} has bytes after the end of what was read from it")
        if not self._ended:
            self._finish()

    def close(self) -> None:
        try:
            finish(self._res, self._ended)
        finally:
            super().close()


def finish(res: Any, complete: bool) -> None:
    """Gives an answer's connection back to the pool; one with unread bytes left is closed instead,
    so the next request never reads the rest of this one."""
    if not complete:
        res.close()
    res.release_conn()
