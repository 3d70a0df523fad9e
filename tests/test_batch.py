"""Store.batch(): many transactions committed as one, each still all or nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from helpers import write_actions

from feeds.store.state import Store


def committed(path: Path, key: str) -> str | None:
    with sqlite3.connect(path) as other:  # what another process would see
        row = other.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def test_a_failing_transaction_in_a_batch_undoes_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with Store(path) as store:
        with store.batch():
            with store.transaction():
                store.set_meta("a", "1")
            with pytest.raises(RuntimeError), store.transaction():
                store.set_meta("b", "1")
                raise RuntimeError("bad input")
            with store.transaction():
                store.set_meta("c", "1")
            assert committed(path, "a") is None  # nothing is committed before the batch ends
        assert (committed(path, "a"), committed(path, "b"), committed(path, "c")) == ("1", None, "1")


def test_an_error_out_of_the_batch_loses_only_what_was_not_yet_committed(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with Store(path) as store:
        with pytest.raises(RuntimeError), store.batch(seconds=0):
            with store.transaction():
                store.set_meta("early", "1")
            store.commit_if_due()  # seconds=0: always due
            assert committed(path, "early") == "1"
            with store.transaction():
                store.set_meta("late", "1")
            raise RuntimeError("crash")
        assert committed(path, "early") == "1"
        assert committed(path, "late") is None
        with store.transaction():  # the store is usable afterwards
            store.set_meta("after", "1")
    assert committed(path, "after") == "1"


def test_commit_if_due_waits_for_the_interval(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with Store(path) as store, store.batch(seconds=3600):
        with store.transaction():
            store.set_meta("k", "1")
        store.commit_if_due()
        assert committed(path, "k") is None


def _entry_and_rows(store: Store) -> tuple[int, int]:
    return (store.db.execute("SELECT count(*) FROM entries").fetchone()[0],
            store.db.execute("SELECT count(*) FROM lsh").fetchone()[0])


def _store_one(store: Store, n: int) -> None:
    from helpers import NOW, make_entry

    from feeds.stories.dedupe import Insert

    entry = make_entry(source_id=f"s{n}", item_key=f"guid:{n}", title=f"Story number {n} about chips",
                       summary_text="A long enough summary of the story for its sketch to have bands.")
    write_actions(store, entry.source_id, [Insert(f"urn:{n}", entry)], NOW)


class _Interrupted(BaseException):
    """Such as KeyboardInterrupt: not an error of the database."""


def _broken_flush(store: Store, monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    def fail() -> None:
        raise exc

    monkeypatch.setattr(store, "_flush_lsh", fail)


def test_lsh_rows_that_cannot_be_written_undo_their_transaction(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a batch: the entry goes with them, whatever stopped the writing (a
    database error, an interrupt), and the store is usable afterwards."""
    from feeds.errors import StateError

    with Store(tmp_path / "state.db") as store:
        with store.transaction():
            _store_one(store, 1)
        assert _entry_and_rows(store)[0] == 1
        for n, (exc, seen) in enumerate([(sqlite3.OperationalError("disk I/O error"), StateError),
                                          (_Interrupted(), _Interrupted)]):
            with monkeypatch.context() as m:
                _broken_flush(store, m, exc)
                with pytest.raises(seen), store.transaction():
                    _store_one(store, 10 + n)
            assert not store.db.in_transaction
        with store.transaction():
            _store_one(store, 3)
        entries, rows = _entry_and_rows(store)
        assert entries == 2 and rows > 0


def test_lsh_rows_that_cannot_be_written_undo_the_batch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a batch the source's savepoint is already released: the batch is undone
    (what a crash would lose), and a new one carries on."""
    from feeds.errors import StateError

    path = tmp_path / "state.db"
    with Store(path) as store:
        with store.batch(seconds=3600):
            with store.transaction():
                _store_one(store, 1)
            with monkeypatch.context() as m:
                _broken_flush(store, m, sqlite3.OperationalError("disk I/O error"))
                with pytest.raises(StateError), store.transaction():
                    _store_one(store, 2)
            assert _entry_and_rows(store) == (0, 0)
            with store.transaction():
                _store_one(store, 3)
        with sqlite3.connect(path) as other:
            assert [r[0] for r in other.execute("SELECT id FROM entries")] == ["urn:3"]
