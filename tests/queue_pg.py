"""A throwaway PostgreSQL database for the worker-queue tests.

``FEEDS_TEST_DATABASE_URL`` names a server to use (a database of it is created and
dropped per test); without it, the server on 127.0.0.1:5432 as ``postgres``; when
neither answers, the test is skipped. Minimal on purpose: the PostgreSQL store's
fixtures replace it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

psycopg = pytest.importorskip("psycopg")

DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    return os.environ.get("FEEDS_TEST_DATABASE_URL", DEFAULT)


def _with_db(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh, empty database, dropped afterwards."""
    admin_url = server_url()
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        pytest.skip(f"no PostgreSQL server for the queue tests ({exc})")
    name = "feeds_q_" + uuid.uuid4().hex[:12]
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _with_db(admin_url, name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
