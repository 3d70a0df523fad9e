"""One run at a time: an advisory lock on a file beside the state database."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from feeds.errors import LockedError

_held: set[int] = set()  # descriptors of the locks this process holds


def _forget_in_child() -> None:
    """A forked child must not keep the parent's lock alive: flock belongs to the open
    file, which the child shares, so a child outliving a killed parent would hold it."""
    for fd in _held:
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def _holder(fd: int) -> str:
    """Who holds the lock, as far as the lock file and /proc tell: ' by process N (feeds daemon)'."""
    try:
        pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    if not pid.isdigit():
        return ""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f" by process {pid}"
    words = [a.decode("utf-8", "replace") for a in argv if a]
    for command in ("daemon", "run"):
        if command in words:
            return f" by process {pid} (feeds {command})"
    return f" by process {pid}"


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold ``path`` locked for the block, or raise ``LockedError`` at once.

    flock is released by the kernel when the process dies, so a crashed run
    never leaves a stale lock behind. The holder's pid is written into the
    file for the message the next run prints; failing to write it (a full
    disk) does not stop the run.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(
                f"another feeds run is in progress (lock {path} is held{_holder(fd)})") from None
        _held.add(fd)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            _held.discard(fd)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
