"""The store contract (tests/store_contract.py) on PostgreSQL, and what only
PostgreSQL has: its schema's version, errors naming the database without its
password, the run lock, the dialect translation."""

from __future__ import annotations

import pytest
from store_contract import StoreContract, StoreFactory

from feeds.store.protocol import StoreProtocol


def _pg_store(url: str) -> StoreProtocol:
    from feeds.store.postgres import PgStore

    return PgStore(url)  # mypy checks that PgStore keeps StoreProtocol


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def make_store(self, pg_url: str) -> StoreFactory:
        return lambda: _pg_store(pg_url)
