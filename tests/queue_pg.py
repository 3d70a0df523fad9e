"""A database of its own for each worker-queue test, on the suite's PostgreSQL server.

The server is the one every PostgreSQL test uses (``tests/pg.py``: the server named by
``FEEDS_TEST_DATABASE_URL``, else a throwaway cluster of the suite's own); the queue
tests need a database, not a schema, because procrastinate installs its own schema
objects. Without a server the tests are skipped, or fail under FEEDS_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pg
import pytest

psycopg = pytest.importorskip("psycopg")


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh, empty database, dropped afterwards."""
    admin_url = pg.required_server()
    admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=10)
    name = "feeds_q_" + uuid.uuid4().hex[:12]
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _with_db(admin_url, name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
