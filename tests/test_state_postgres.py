"""The state on PostgreSQL end to end: `feeds run` with FEEDS_STATE_URL, `feeds state
copy` both ways, the run lock across processes, and errors that name the database
without its password. Outputs rendered from either backend are byte-identical."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, FeedServer, Project
from helpers import NOW, full_project, make_entry, run_cli

from feeds.config import load_config
from feeds.errors import LockedError, StateError
from feeds.publish.publisher import publish
from feeds.store.codec import entry_json
from feeds.store.copying import check_tables, copy_state, summary
from feeds.store.factory import open_location, parse_location
from feeds.store.rows import new_entry
from feeds.store.schema import _SCHEMA_V1
from feeds.store.state import Store

# Files whose bytes hold the time of the run that wrote them.
_TIMED = {"status.json", "status.html"}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in _TIMED}


def _twin(project: Project, name: str) -> Project:
    """A copy of ``project``'s config and seeds in a sibling folder (no state, no outputs)."""
    root = project.root.parent / name
    shutil.copytree(project.root / "config", root / "config")
    shutil.copytree(project.root / "seeds", root / "seeds")
    return Project(root)


def test_feeds_run_on_postgres_publishes_what_sqlite_does(
        project: Project, server: FeedServer, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    full_project(project, server)
    on_pg = _twin(project, "on-pg")
    code, out, _err = run_cli(project.root, "run")
    assert code == 0 and "6 sources: 4 ok, 0 not modified, 2 failed" in out
    monkeypatch.setenv("FEEDS_STATE_URL", pg_url)
    code, out, _err = run_cli(on_pg.root, "run")
    assert code == 0, (out, _err)
    assert code == 0 and "6 sources: 4 ok, 0 not modified, 2 failed" in out
    assert not (on_pg.root / "var" / "state.db").exists()  # the state went to PostgreSQL
    sqlite_files, pg_files = _files(project.public), _files(on_pg.public)
    assert "all.atom" in sqlite_files and len(sqlite_files) > 10
    assert pg_files == sqlite_files
    # A second run on PostgreSQL: the validators held there make every source answer 304.
    code, out, _err = run_cli(on_pg.root, "run", "--force")
    assert "3 not modified" in out
    code, out, _err = run_cli(on_pg.root, "status", "--format", "tsv")
    assert code == 0 and "policy" in out


def test_copy_to_postgres_then_publish_from_it_gives_the_same_bytes(
        project: Project, server: FeedServer, pg_url: str) -> None:
    full_project(project, server)
    assert run_cli(project.root, "run")[0] == 0
    code, out, err = run_cli(project.root, "state", "copy", "--to", pg_url)
    assert code == 0, err
    assert "6 sources (3 with validators), 6 entries" in out
    config = load_config(project.root)
    with Store(config.settings.state_path) as lite, open_location(pg_url) as pg:
        assert summary(pg) == summary(lite)
        assert pg.all_entries() == lite.all_entries()
        assert pg.all_health() == lite.all_health()
        assert pg.http_cache("ai") == lite.http_cache("ai") != pg.http_cache("none")
        assert pg.cluster_digests() == lite.cluster_digests()
        assert pg.events(100) == lite.events(100)
        elsewhere = project.root.parent / "from-pg"
        settings = config.settings.__class__(**{**config.settings.__dict__, "output_dir": elsewhere,
                                                 "state_url": pg_url})
        written, _unchanged = publish(config.__class__(**{**config.__dict__, "settings": settings}), pg)
        assert written
    assert _files(elsewhere) == _files(project.public)


def test_copy_back_from_postgres_to_sqlite_and_refusing_a_full_target(
        project: Project, server: FeedServer, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    full_project(project, server)
    monkeypatch.setenv("FEEDS_STATE_URL", pg_url)
    assert run_cli(project.root, "run")[0] == 0
    back = project.root.parent / "back.db"
    code, out, err = run_cli(project.root, "state", "copy", "--to", f"sqlite:///{back}")
    assert code == 0, err
    assert "6 entries" in out
    code, _out, err = run_cli(project.root, "state", "copy", "--to", f"sqlite:///{back}")
    assert code != 0 and "not empty" in err and "--force" in err
    code, _out, err = run_cli(project.root, "state", "copy", "--to", str(back), "--force")
    assert code == 0, err
    with Store(back) as lite, open_location(pg_url) as pg:
        assert summary(lite) == summary(pg)
        assert lite.all_entries() == pg.all_entries()
        # New keys continue where the source's counters stood, on both sides.
        assert isinstance(pg, Store)
        lite_seq = lite.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'entries'").fetchone()
        assert lite_seq[0] == pg.db.execute("SELECT max(num) FROM entries").fetchone()[0]


def test_an_old_sqlite_state_migrates_and_copies_into_postgres(tmp_path: Path, pg_url: str) -> None:
    """A state of schema 1 (the first release) opens, migrates and copies unchanged."""
    old = tmp_path / "old.db"
    db = sqlite3.connect(old, isolation_level=None)
    db.executescript(_SCHEMA_V1 + "PRAGMA user_version = 1;")
    entry = make_entry(source_id="a", item_key="guid:1")
    db.execute("INSERT INTO entries(id, source_id, item_key, url_key, first_seen, last_seen, published,"
               " updated, content_hash, data) VALUES ('tag:x,2026:1', 'a', 'guid:1', ?,"
               " '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z',"
               " '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', 'h', ?)",
               (entry.url_key, entry_json(entry)))
    db.execute("INSERT INTO sources(id, etag) VALUES ('a', '\"v1\"')")
    db.close()
    with open_location(old) as lite, open_location(pg_url) as pg:
        copied = copy_state(lite, pg)
        assert (copied.sources, copied.entries, copied.validators) == (1, 1, 1)
        assert pg.http_cache("a").etag == '"v1"'
        assert [e for _id, e, _c in pg.all_entries()] == [e for _id, e, _c in lite.all_entries()]
        with pg.transaction():  # new entries get new numbers: the counter was carried over
            pg.apply("a", [new_entry("tag:x,2026:2", make_entry(source_id="a", item_key="guid:2",
                                                                url_key="https://a.example/2"))], NOW)
        assert pg.count_entries() == 2


def test_the_copy_knows_every_table_and_column(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        assert check_tables(store) == []


def test_a_copy_onto_itself_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as a, Store(tmp_path / "s.db") as b, pytest.raises(StateError):
        copy_state(a, b)


def test_two_runs_on_one_postgres_state_do_not_interleave(
        project: Project, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run lock is the database's (advisory), held by another process here."""
    monkeypatch.setenv("FEEDS_STATE_URL", pg_url)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys\nfrom feeds.store.postgres import run_lock\n"
         f"with run_lock({pg_url!r}):\n    print('held', flush=True)\n    sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        code, _out, err = run_cli(project.root, "run")
        assert code == 3
        assert "another feeds run is in progress" in err and "run lock of postgresql:" in err
        assert not project.public.exists()
    finally:
        holder.communicate("", timeout=30)
    code, _out, _err = run_cli(project.root, "run")  # released with its holder
    assert code == 0


def test_the_run_lock_is_taken_once_and_released(pg_url: str) -> None:
    from feeds.store.postgres import run_lock

    with run_lock(pg_url), pytest.raises(LockedError), run_lock(pg_url):
        pass
    with run_lock(pg_url):
        pass


def test_errors_name_the_database_without_its_password() -> None:
    pytest.importorskip("psycopg")
    url = "postgresql://feeds:s3cret-pw@127.0.0.1:1/nowhere"
    with pytest.raises(StateError) as info:
        open_location(url)
    assert "s3cret-pw" not in str(info.value)
    assert "postgresql://feeds@127.0.0.1:1/nowhere" in str(info.value)
    assert "cannot connect" in str(info.value)


def test_a_schema_holding_other_tables_is_refused(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE unrelated (x int)")
    with pytest.raises(StateError, match="not a feeds state database"):
        open_location(pg_url)


def test_database_names_keep_their_form_and_lose_passwords() -> None:
    pytest.importorskip("psycopg")
    from feeds.store.postgres import database_name

    assert database_name("postgresql://u:pw@h:5/db?sslmode=require&password=x") == (
        "postgresql://u@h:5/db?sslmode=require")
    assert database_name("postgresql://u@/db?host=%2Ftmp%2Fs&port=5") == "postgresql://u@/db?host=%2Ftmp%2Fs&port=5"


def test_locations_on_the_command_line(tmp_path: Path) -> None:
    assert parse_location("postgresql://u@h/db") == "postgresql://u@h/db"
    assert parse_location("sqlite:///srv/x.db") == Path("/srv/x.db")
    assert parse_location("var/x.db", tmp_path) == tmp_path / "var" / "x.db"
    with pytest.raises(StateError, match="not a state location"):
        parse_location("mysql://h/db")


def test_text_columns_sort_as_sqlite_does_whatever_the_database_collation(pg_url: str) -> None:
    """Outputs are ordered by text keys: the "C" collation is SQLite's byte order."""
    import psycopg

    with open_location(pg_url):
        pass
    with psycopg.connect(pg_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name, collation_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND data_type = 'text'").fetchall()
    assert rows and [r for r in rows if r[2] != "C"] == []
