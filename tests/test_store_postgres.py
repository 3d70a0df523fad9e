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


def test_no_postgres_is_a_skip_that_says_why_or_a_failure_when_required(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import pg

    monkeypatch.setattr(pg, "_server", [(None, "no PostgreSQL: set FEEDS_TEST_DATABASE_URL")])
    monkeypatch.delenv(pg.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL tests skipped: no PostgreSQL"):
        pg.fresh_schema()
    monkeypatch.setenv(pg.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is required"):
        pg.fresh_schema()
