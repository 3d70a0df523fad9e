"""Faults a run must meet with one clear message and no damage: a full disk (a
real tiny tmpfs, and a write-layer hook), a read-only output folder, a damaged
or foreign state database, and two runs or daemons at once.

The expected outcome each time: exit 1 (3 for a held lock), one ``error:``
line naming the file and the problem, no traceback, the last good outputs
byte-identical, the state database consistent, and the next run after the
fault is gone publishing everything.

Mounting needs root with CAP_SYS_ADMIN; without it those tests are skipped.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import DATA, FeedServer, Project
from helpers import DaemonProcess, fail_fsync_on, output_ids, run_cli, wait_for

RSS = (DATA / "feeds" / "ai-news.rss").read_text(encoding="utf-8")

def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def outputs(public: Path) -> dict[str, bytes]:
    """Every output file's bytes (hidden files aside)."""
    return {p.relative_to(public).as_posix(): p.read_bytes() for p in public.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


def temps(public: Path) -> list[Path]:
    return sorted(public.rglob(".*.tmp"))


def integrity_ok(db: Path) -> bool:
    conn = sqlite3.connect(db)
    try:
        return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    finally:
        conn.close()


def add_articles(project: Project, count: int, *, start: int = 0, padding: int = 0) -> list[str]:
    """New local articles about AI; returns their titles."""
    rng = random.Random(start)
    titles = []
    for i in range(start, start + count):
        title = f"AI note number {i} on {rng.randrange(1 << 30):x}"
        body = " ".join(f"{rng.randrange(1 << 60):x}" for _ in range(padding // 16))
        (project.root / "seeds" / f"note{i:04d}.md").write_text(
            f'---\ntitle: "{title}"\ndate: 2026-03-{1 + i % 28:02d}T10:00:00Z\n---\n\n'
            f"A note about AI.\n\n{body}\n", encoding="utf-8")
        titles.append(title)
    return titles


def published_titles(public: Path) -> set[str]:
    return {item["title"] for item in json.loads((public / "all.json").read_bytes())["items"]}


def _mount(*args: str) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a file system needs root and mount(8)")
    proc = subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount here ({proc.stderr.strip()}): needs CAP_SYS_ADMIN")


def _umount(target: Path) -> None:
    if subprocess.run(["umount", str(target)], capture_output=True, timeout=30, check=False).returncode:
        subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=30, check=False)


@contextmanager
def tmpfs(target: Path, size: str) -> Iterator[None]:
    """A tiny file system at ``target``: a real ENOSPC when it fills up."""
    target.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(target))
    try:
        yield
    finally:
        _umount(target)


@contextmanager
def read_only(target: Path) -> Iterator[None]:
    """``target`` remounted read-only (a bind mount onto itself): even root cannot write."""
    _mount("--bind", str(target), str(target))
    try:
        proc = subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], capture_output=True,
                              text=True, timeout=30, check=False)
        if proc.returncode != 0:
            pytest.skip(f"cannot remount read-only ({proc.stderr.strip()})")
        yield
    finally:
        _umount(target)


def fill(path: Path) -> None:
    """Fill the file system holding ``path`` to the last byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        chunk = b"\0" * 4096
        for _ in range(1 << 20):  # bounded: 4 GiB at most
            try:
                os.write(fd, chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        for _ in range(4096):  # the last partial block
            try:
                os.write(fd, b"\0")
            except OSError:
                break
    finally:
        os.close(fd)




def assert_one_clear_error(code: int, out: str, err: str, *needles: str) -> None:
    assert code == 1, (out, err)
    assert "Traceback" not in out + err, err
    lines = error_lines(err)
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


# --- a full disk, a read-only output folder ------------------------------------------------


def test_disk_full_on_the_output_folder(project: Project) -> None:
    public, db = project.public, project.root / "var" / "state.db"
    with tmpfs(public, "256k"):
        assert run_cli(project.root, "run")[0] == 0
        before = outputs(public)
        fill(public / ".filler")
        titles = add_articles(project, 3)
        code, out, err = run_cli(project.root, "run")
        assert_one_clear_error(code, out, err, f"cannot write {public}/", "No space left on device")
        assert outputs(public) == before
        assert temps(public) == []
        assert integrity_ok(db)
        (public / ".filler").unlink()
        code, out, err = run_cli(project.root, "run")
        assert code == 0, err
        assert set(titles) <= published_titles(public)


@pytest.mark.parametrize("fail_at", [1, 3])
def test_disk_full_while_publishing_leaves_the_last_good_outputs(
        project: Project, monkeypatch: pytest.MonkeyPatch, fail_at: int) -> None:
    assert run_cli(project.root, "run")[0] == 0
    before = outputs(project.public)
    titles = add_articles(project, 2)
    with monkeypatch.context() as patch:
        fail_fsync_on(fail_at, patch)
        code, out, err = run_cli(project.root, "run")
    assert_one_clear_error(code, out, err, f"cannot write {project.public}/", "No space left on device")
    assert temps(project.public) == []
    assert integrity_ok(project.root / "var" / "state.db")
    assert outputs(project.public) == before
    assert run_cli(project.root, "run")[0] == 0
    assert set(titles) <= published_titles(project.public)


@pytest.mark.parametrize("new_entries", [True, False], ids=["new-entries", "nothing-new"])
def test_read_only_output_folder(project: Project, new_entries: bool) -> None:
    assert run_cli(project.root, "run")[0] == 0
    public = project.public
    # With nothing new, status.json is the one file a run writes, and a second run in
    # the same second can render the same bytes and rightly write nothing at all.
    (public / "status.json").unlink()
    before = outputs(public)
    titles = add_articles(project, 2) if new_entries else []
    with read_only(public):
        code, out, err = run_cli(project.root, "run")
        assert_one_clear_error(code, out, err, f"{public}/", "Read-only file system")
        assert outputs(public) == before
    assert temps(public) == []
    assert integrity_ok(project.root / "var" / "state.db")
    assert run_cli(project.root, "run")[0] == 0
    assert set(titles) <= published_titles(public)


def test_disk_full_under_the_state_database(project: Project) -> None:
    var = project.root / "var"
    with tmpfs(var, "512k"):
        assert run_cli(project.root, "run")[0] == 0
        before = outputs(project.public)
        add_articles(project, 150, padding=4000)  # about 600 kB of text: more than fits
        code, out, err = run_cli(project.root, "run")
        assert integrity_ok(var / "state.db")
        assert_one_clear_error(code, out, err, str(var / "state.db"), "full")
        after = outputs(project.public)
        assert {k: v for k, v in after.items() if k != "status.json"} == {
            k: v for k, v in before.items() if k != "status.json"}


# --- a damaged or foreign state database ---------------------------------------------------


def foreign_database(path: Path, user_version: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE people (name TEXT)")
    conn.execute("INSERT INTO people VALUES ('Ada'), ('Grace')")
    conn.execute(f"PRAGMA user_version = {user_version}")
    conn.commit()
    conn.close()


# user_version 0 (most applications), 2 (one of ours), 99 (newer than any of ours)
FOREIGN_VERSIONS = [0, 2, 99]


@pytest.mark.parametrize("user_version", FOREIGN_VERSIONS)
def test_a_foreign_database_is_refused_and_left_intact(project: Project, user_version: int) -> None:
    db = project.root / "var" / "state.db"
    foreign_database(db, user_version)
    code, out, err = run_cli(project.root, "run")
    assert_one_clear_error(code, out, err, str(db))
    conn = sqlite3.connect(db)
    try:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["people"]
        assert conn.execute("SELECT count(*) FROM people").fetchone()[0] == 2
    finally:
        conn.close()
    assert not project.public.exists()


@pytest.mark.parametrize("user_version", FOREIGN_VERSIONS)
def test_a_foreign_database_message_says_what_it_is_and_what_to_do(
        project: Project, user_version: int) -> None:
    db = project.root / "var" / "state.db"
    foreign_database(db, user_version)
    before = db.read_bytes()
    _code, _out, err = run_cli(project.root, "run")
    assert "not a feeds state database" in err
    assert "move it aside" in err or "state_path" in err
    assert db.read_bytes() == before


def good_database(project: Project) -> Path:
    """A project after a run with a few entries; its database checkpointed and closed."""
    add_articles(project, 5)
    assert run_cli(project.root, "run")[0] == 0
    db = project.root / "var" / "state.db"
    for extra in ("state.db-wal", "state.db-shm"):
        assert not (db.parent / extra).exists()
    return db


@pytest.mark.parametrize("keep", ["header", "half", "all-but-a-page"])
def test_a_truncated_database_is_a_clear_error(project: Project, keep: str) -> None:
    db = good_database(project)
    before = outputs(project.public)
    size = db.stat().st_size
    cut = {"header": 50, "half": size // 2, "all-but-a-page": size - 4096}[keep]
    with db.open("r+b") as fh:
        fh.truncate(cut)
    damaged = db.read_bytes()
    code, out, err = run_cli(project.root, "run")
    assert_one_clear_error(code, out, err, str(db), "move it aside")
    assert db.read_bytes() == damaged  # never replaced by a fresh, empty database
    assert outputs(project.public) == before


def test_a_database_damaged_inside_is_a_clear_error(project: Project) -> None:
    db = good_database(project)
    before = outputs(project.public)
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sources'").fetchone()[0]
    conn.close()
    with db.open("r+b") as fh:
        fh.seek((root - 1) * page_size)
        fh.write(random.Random(0).randbytes(page_size))
    code, out, err = run_cli(project.root, "run")
    assert outputs(project.public) == before
    assert_one_clear_error(code, out, err, str(db))


# --- two at once ---------------------------------------------------------------------------


def feeds_process(project: Project, *args: str, timeout: float = 30) -> tuple[int, str, float]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "feeds", "--root", str(project.root), *args],
                          capture_output=True, text=True, timeout=timeout, check=False)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started


def assert_all_valid(project: Project) -> None:
    ids = output_ids(project.public, {})
    assert ids["all.json"], "nothing published"
    assert integrity_ok(project.root / "var" / "state.db")


@pytest.mark.slow
def test_a_second_daemon_and_a_cron_run_exit_3_while_a_daemon_runs(
        project: Project, server: FeedServer, tmp_path: Path) -> None:
    server.add("/feed.rss", RSS)
    project.write_sources([{"id": "seeds", "path": "seeds"},
                           {"id": "a", "url": server.url("/feed.rss"), "interval": "1s"}])
    daemon = DaemonProcess(project, tmp_path / "daemon.log")
    try:
        assert wait_for((project.public / "all.atom").exists, 20), daemon.text()
        held = f"is held by process {daemon.proc.pid} (feeds daemon)"
        for args in (("daemon", "--tick", "1s"), ("run", "--force")):
            code, text, seconds = feeds_process(project, *args)
            assert code == 3, text
            assert seconds < 10, f"{args} took {seconds:.1f} s to give up"
            assert "error: another feeds run is in progress" in text and held in text, text
            assert "Traceback" not in text
        assert daemon.stop(signal.SIGTERM) == 0
    finally:
        daemon.close()
    assert "Traceback" not in daemon.text()
    assert_all_valid(project)
    assert feeds_process(project, "run")[0] == 0  # the lock went with the daemon


@pytest.mark.slow
def test_two_cron_runs_at_once(project: Project, server: FeedServer) -> None:
    server.add("/slow.rss", RSS, delay=1.5)
    project.write_feeds(read_timeout=10, total_timeout=20)
    project.write_sources([{"id": "seeds", "path": "seeds"}, {"id": "a", "url": server.url("/slow.rss")}])
    first = subprocess.Popen([sys.executable, "-m", "feeds", "--root", str(project.root), "run"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_for(lambda: bool(server.hits_for("/slow.rss")), 20)
        code, text, seconds = feeds_process(project, "run")
        assert code == 3 and seconds < 10, text
        assert f"is held by process {first.pid} (feeds run)" in text
        out, _ = first.communicate(timeout=30)
        assert first.returncode == 0, out
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)
    assert_all_valid(project)
