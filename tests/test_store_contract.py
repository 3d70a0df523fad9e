"""The store contract (tests/store_contract.py) on the SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_contract import StoreContract, StoreFactory

from feeds.store.protocol import StoreProtocol
from feeds.store.state import Store


def _is_a_store(store: Store) -> StoreProtocol:
    return store  # mypy checks that Store keeps StoreProtocol


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> StoreFactory:
        return lambda: _is_a_store(Store(tmp_path / "state.db"))
