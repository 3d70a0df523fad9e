"""Output files: written atomically, and only when their bytes change.

A write goes to a temp file in the same folder (``.<name>.<pid>-<random>.tmp``),
is fsynced and renamed over the target, so a reader sees the old file or the
new one, never a part of either. A process killed mid-write leaves its temp
file behind; the first write of a later process to that folder removes the
temp files whose writer is no longer running.

Errors are ``OSError`` naming the target file, not the temp file, so the
message a user sees says which output could not be written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

SYNC_THREADS = 8  # fsyncs at once: the file system commits them in groups
_TEMP = re.compile(r"^\..+\.(\d+)-[A-Za-z0-9_]+\.tmp$")
_swept: set[tuple[int, Path]] = set()  # (pid, folder): folders this process has swept
_ours: set[str] = set()  # temp files this process is writing now


def _alive(pid: int, name: str) -> bool:
    """Whether the writer of temp file ``name`` may still be writing it."""
    if pid == os.getpid():
        # A process of the same pid before us (a container's pid 1 after a restart) left it.
        return name in _ours
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete the temp files that killed writers left in ``folder``; return them.

    Only files of this module's naming whose writer (the pid in the name) is
    no longer running: a live writer's temp file is never touched.
    """
    removed: list[Path] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _TEMP.match(name)
        path = folder / name
        if match is None or _alive(int(match.group(1)), str(path)):
            continue
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                path.unlink()
                removed.append(path)
    return removed


def _sweep_once(folder: Path) -> None:
    key = (os.getpid(), folder)
    if key not in _swept:
        _swept.add(key)
        remove_stale_temp_files(folder)


def _target_error(exc: OSError, path: Path) -> OSError:
    """The same error, naming the file we meant to write rather than its temp file."""
    if exc.errno is None:
        return exc
    return OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path))


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over ``path``.

    A reader sees the old file or the new one, never a part of either. On
    failure (``OSError`` naming ``path``) the old file is untouched and no temp
    file is left.
    """
    tmp = _stage(path, data)
    try:
        os.replace(tmp, path)
    except BaseException as exc:
        _discard(tmp)
        if isinstance(exc, OSError):
            raise _target_error(exc, path) from exc
        raise
    _ours.discard(tmp)
    _fsync_dir(path.parent, path)


class Staged:
    """Files written all or nothing: ``add`` writes and fsyncs each changed file to
    a temp file beside its target at once (so that a caller rendering hundreds of
    files holds none of them in memory), and ``commit`` renames them all over
    their targets only when every one is on disk. Leaving the ``with`` block
    without committing (an error, a full disk) removes the temp files and leaves
    every target untouched. Each rename is atomic, so a reader (or a crash) sees
    every file whole. Errors are ``OSError`` naming the target file."""

    def __init__(self) -> None:
        self.paths: list[Path] = []  # every file added, changed or not
        self._staged: list[tuple[str, Path]] = []
        # Each staged file's fsync, started when it is staged: it runs in a thread
        # while the pages after it render, rather than all of them in commit().
        self._pool: ThreadPoolExecutor | None = None
        self._failed: list[tuple[int, BaseException]] = []  # (staged as, error) of failed fsyncs

    def __enter__(self) -> Staged:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):  # a failed fsync of a file discarded anyway
            self._settle()
        for tmp, _path in self._staged:  # not renamed: a failure
            _discard(tmp)
        self._staged = []

    def add(self, path: Path, data: bytes) -> None:
        self.adopt(path, stage_if_changed(path, data))

    def adopt(self, path: Path, tmp: str | None) -> None:
        """Take over ``tmp``, staged for ``path`` by ``stage_if_changed`` (perhaps in
        another process); None: the target already holds the bytes."""
        self.paths.append(path)
        if tmp is not None:
            self._staged.append((tmp, path))
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=SYNC_THREADS, thread_name_prefix="fsync")
            n = len(self._staged)
            self._pool.submit(_fsync_file, (tmp, path)).add_done_callback(
                lambda future: self._ended(n, future))

    def _ended(self, n: int, future: Future[None]) -> None:
        exc = future.exception()
        if exc is not None:
            self._failed.append((n, exc))

    def _settle(self) -> None:
        """Wait for every fsync started; of those that failed, the one staged first is
        raised (once all have ended, so that no thread still holds a temp file), so
        that the same failure names the same file whichever thread finished first."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        failed, self._failed = self._failed, []
        if failed:
            raise min(failed, key=lambda f: f[0])[1]

    def commit(self) -> list[Path]:
        """Wait until every staged file is durable, then rename each over its
        target; return those written. A failed fsync (the first staged, of those
        that failed) is raised before any rename, every target untouched; a failed
        rename raises ``OSError`` naming its target. The fsyncs run together in
        threads, so the file system commits them in groups, not one journal commit
        each."""
        self._settle()
        written: list[Path] = []
        while self._staged:
            tmp, path = self._staged[0]
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise _target_error(exc, path) from exc
            _ours.discard(tmp)
            written.append(path)
            del self._staged[0]
        for folder in dict.fromkeys(path.parent for path in written):
            _fsync_dir(folder, folder)
        return written


def _holds(path: Path, data: bytes) -> bool:
    """Does ``path`` hold exactly ``data``? (False if it cannot be read.)"""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def stage_if_changed(path: Path, data: bytes) -> str | None:
    """``data`` in a temp file beside ``path``, not yet fsynced (``Staged.adopt``
    starts that and ``Staged.commit`` waits for it), or None if ``path`` already
    holds exactly ``data``."""
    return None if _holds(path, data) else _stage(path, data, sync=False)


def discard_staged(temps: Iterable[str | None]) -> None:
    for tmp in temps:
        if tmp is not None:
            _discard(tmp)


def _fsync_file(staged: tuple[str, Path]) -> None:
    tmp, path = staged
    try:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _target_error(exc, path) from exc


def _stage(path: Path, data: bytes, *, sync: bool = True) -> str:
    """``data`` in a new temp file beside ``path``, fsynced unless ``sync`` is False
    (the caller then fsyncs it before renaming); returns the temp file's name."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _target_error(exc, path) from exc
    _sweep_once(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp",
                                   dir=path.parent)
    except OSError as exc:
        raise _target_error(exc, path) from exc
    _ours.add(tmp)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), 0o644)
    except BaseException as exc:
        _discard(tmp)
        if isinstance(exc, OSError):
            raise _target_error(exc, path) from exc
        raise
    return tmp


def _discard(tmp: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    _ours.discard(tmp)


def _fsync_dir(folder: Path, target: Path) -> None:
    """Make renames in ``folder`` durable."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # folders that cannot be fsynced
            raise _target_error(exc, target) from exc
    finally:
        os.close(dir_fd)


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` unless the file already holds exactly it. True if written."""
    _sweep_once(path.parent)
    if _holds(path, data):
        return False
    write_atomic(path, data)
    return True
