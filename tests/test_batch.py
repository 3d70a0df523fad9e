"""Store.batch(): many transactions committed as one, each still all or nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from feeds.state import Store


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
