"""A state database that cannot be used is a StateError naming the file and what the
store was doing, from every public method: never an sqlite3 error, so that nothing
outside the store needs to know it is SQLite."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import NOW, make_entry, write_actions

from feeds.errors import StateError
from feeds.store.state import Store
from feeds.stories.dedupe import Insert


def _fill(store: Store, count: int) -> None:
    with store.transaction():
        for n in range(count):
            entry = make_entry(source_id="a", item_key=f"guid:{n}", url_key=f"a.example/{n}",
                               title=f"Story {n} " + "words " * 40, summary_text="text " * 200)
            write_actions(store, "a", [Insert(f"e{n}", entry)], NOW)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state.db") as s:
        yield s


def test_a_database_damaged_inside_is_a_state_error_on_read(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with Store(path) as store:
        _fill(store, 50)
    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'entries'").fetchone()[0]
    db.close()
    with path.open("r+b") as fh:
        fh.seek((root - 1) * page_size)
        fh.write(random.Random(0).randbytes(page_size))
    with Store(path) as store, pytest.raises(StateError) as info:  # the schema is intact: it opens
        store.all_entries()
    message = str(info.value)
    assert str(path) in message and "damaged" in message and "all_entries" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_database_locked_by_another_process(store: Store) -> None:
    store.db.execute("PRAGMA busy_timeout = 20")  # not 30 s
    other = sqlite3.connect(store.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO meta(key, value) VALUES ('other', '1')")
        with pytest.raises(StateError, match=r"locked by another process \(in set_meta\)") as info:
            store.set_meta("k", "v")
        assert str(store.path) in str(info.value)
        with pytest.raises(StateError, match=r"locked"), store.transaction():
            store.set_meta("k", "v")
        assert store.get_meta("other") is None  # reading is not blocked (WAL)
    finally:
        other.close()
    with store.transaction():  # usable once the other process is done
        store.set_meta("k", "v")
    assert store.get_meta("k") == "v"


def test_a_read_only_database(store: Store) -> None:
    _fill(store, 1)
    store.db.execute("PRAGMA query_only = 1")  # as a file or mount that refuses writes
    with pytest.raises(StateError, match=r"cannot write the state database \(in save_cache\)") as info:
        store.save_cache("a", store.http_cache("a"))
    assert str(store.path) in str(info.value)
    with pytest.raises(StateError, match=r"cannot write"), store.transaction():
        store.set_meta("k", "v")
    assert store.count_entries() == 1  # reading still works


def test_a_full_disk(store: Store) -> None:
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")  # no room to grow, as on a full disk
    with pytest.raises(StateError, match=r"cannot write the state database \(in set_meta\).*full"):
        store.set_meta("big", "x" * 100_000)
    with pytest.raises(StateError, match=r"cannot write the state database \(in apply\).*full"):
        _fill(store, 20)
    assert store.count_entries() == 0


def test_an_error_with_an_extended_code_is_classed_by_its_primary_code(store: Store) -> None:
    """SQLite reports, say, SQLITE_IOERR_WRITE (778), not SQLITE_IOERR (10)."""
    error = sqlite3.OperationalError("disk I/O error")
    error.sqlite_errorcode = 778
    assert "cannot write the state database" in str(store.failure(error))
    error.sqlite_errorcode = sqlite3.SQLITE_BUSY_SNAPSHOT
    assert "locked by another process" in str(store.failure(error))
