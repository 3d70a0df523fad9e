"""feeds.publish.files: atomic writes, errors that name the target, stale temp files swept,
and the all-or-nothing batch write."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import fail_fsync_on, write_all_if_changed

from feeds.publish import files
from feeds.publish.files import remove_stale_temp_files, write_atomic, write_if_changed


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    return proc.pid


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def fail_fsync_of(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the fsync of the temp file staged for ``name`` fail with ENOSPC."""
    real = os.fsync

    def fsync(fd: int) -> None:
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(f".{name}."):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_write_atomic_replaces_the_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out" / "a.atom"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    assert hidden(target.parent) == []
    assert write_if_changed(target, b"two") is False
    assert write_if_changed(target, b"three") is True


def test_a_failed_write_names_the_target_keeps_the_old_file_and_no_temp(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "a.atom"
    target.write_bytes(b"old")
    fail_fsync_on(1, monkeypatch)
    with pytest.raises(OSError) as caught:
        write_atomic(target, b"new")
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == str(target)
    assert target.read_bytes() == b"old"
    assert hidden(tmp_path) == []


def test_stale_temp_files_of_dead_writers_are_swept_live_ones_kept(tmp_path: Path) -> None:
    folder = tmp_path / "public"
    folder.mkdir()
    stale = folder / f".ai.atom.{dead_pid()}-abcd1234.tmp"
    live = folder / f".ai.rss.{os.getppid()}-abcd1234.tmp"  # pytest's parent: running
    mine_before = folder / f".all.atom.{os.getpid()}-zzzz9999.tmp"  # same pid, not ours: stale
    foreign = folder / ".htaccess"
    odd = folder / ".notes.tmp"
    for p in (stale, live, mine_before, foreign, odd):
        p.write_bytes(b"x")
    write_if_changed(folder / "ai.atom", b"<feed/>")
    assert hidden(folder) == sorted([live.name, foreign.name, odd.name])
    assert remove_stale_temp_files(folder) == []


def test_a_killed_writer_leaves_a_temp_file_that_the_next_write_removes(tmp_path: Path) -> None:
    folder = tmp_path / "public"
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from feeds.publish import files\n"
        "def stop(fd):\n"
        "    os._exit(9)\n"  # dies between writing and renaming, like a SIGKILL
        "os.fsync = stop\n"
        f"files.write_atomic(Path({str(folder / 'ai.atom')!r}), b'x' * 10000)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], timeout=30, check=False)
    assert proc.returncode == 9
    left = hidden(folder)
    assert len(left) == 1 and left[0].startswith(".ai.atom.") and left[0].endswith(".tmp")
    files._swept.clear()
    write_if_changed(folder / "all.atom", b"<feed/>")
    assert hidden(folder) == []


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_write_all_is_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     fail_at: int) -> None:
    names = ["a.atom", "a.rss", "sub/page.html"]
    old = {tmp_path / n: f"old {n}".encode() for n in names}
    assert write_all_if_changed(old) == list(old)
    fail_fsync_of(Path(names[fail_at - 1]).name, monkeypatch)
    new = {p: b"new " + data for p, data in old.items()}
    with pytest.raises(OSError) as caught:
        write_all_if_changed(new)
    assert caught.value.filename == str(list(new)[fail_at - 1])
    assert {p: p.read_bytes() for p in old} == old
    assert hidden(tmp_path) == [] and hidden(tmp_path / "sub") == []


def test_when_every_fsync_fails_the_error_names_the_first_file_staged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fsyncs run in threads and end in any order; the error is the same each time."""
    real = os.fsync
    gate = threading.Event()

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            real(fd)
            return
        if ".f00." in os.readlink(f"/proc/self/fd/{fd}"):
            gate.wait(timeout=5)  # the first file's fsync ends last
        else:
            gate.set()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)
    files_ = {tmp_path / f"f{n:02d}": b"x" for n in range(12)}
    with pytest.raises(OSError) as caught:
        write_all_if_changed(files_)
    assert caught.value.filename == str(tmp_path / "f00")
    assert hidden(tmp_path) == [] and not any(p.exists() for p in files_)


def test_write_all_writes_only_what_changed(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert write_all_if_changed({a: b"1", b: b"2"}) == [a, b]
    mtime = a.stat().st_mtime_ns
    assert write_all_if_changed({a: b"1", b: b"3"}) == [b]
    assert a.stat().st_mtime_ns == mtime and b.read_bytes() == b"3"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions")
def test_a_read_only_folder_is_an_error_naming_the_file(tmp_path: Path,
                                                       request: pytest.FixtureRequest) -> None:
    target = tmp_path / "a.atom"
    target.write_bytes(b"old")
    tmp_path.chmod(0o555)
    request.addfinalizer(lambda: tmp_path.chmod(0o755))
    with pytest.raises(PermissionError) as caught:
        write_atomic(target, b"new")
    assert caught.value.filename == str(target)


def test_a_forked_child_does_not_keep_a_killed_runs_lock(tmp_path: Path) -> None:
    from feeds.run.lock import run_lock

    lock = tmp_path / "feeds.run.lock"
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from feeds.run.lock import run_lock\n"
        f"with run_lock(Path({str(lock)!r})):\n"
        "    child = os.fork()\n"
        "    if child == 0:\n"  # a worker that outlives its parent
        "        os.write(1, b'ready\\n')\n"  # after the fork hooks; one write, not interleaved
        "        time.sleep(30)\n"
        "        os._exit(0)\n"
        "    os.write(1, f'{child}\\n'.encode())\n"
        "    time.sleep(30)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert parent.stdout is not None
        lines = {parent.stdout.readline().strip() for _ in range(2)}
        assert "ready" in lines
        child = int(next(line for line in lines if line != "ready"))
        parent.kill()
        parent.wait(timeout=10)
        with run_lock(lock):  # the child still runs, and the lock went with its parent
            pass
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, 9)
