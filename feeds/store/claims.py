"""Which source is due, and who holds it: the workers' scheduling table on PostgreSQL.

``feeds worker`` spreads fetching over machines. Each source has a row in
``feeds_claims``: when it is next due (``next_due``, from its health: server hints,
backoff, jitter), and, while a worker has it, a ``lease_until`` and a claim
``token``. The dispatcher claims due rows with ``FOR UPDATE SKIP LOCKED``, most
overdue first, never more than the backlog budget in flight; the batch that got
them renews the lease when it starts (so a batch that waited behind its host's
lock does not fetch sources someone else claimed since) and releases each source
with its new due time, only if the token is still its own. A lease that runs out
(its worker died) makes the source claimable again: ``ready_at`` is the later of
the due time and the lease.

Every function takes a psycopg (3) connection and runs in its own transaction;
times come from the caller (``db_now``: the database's clock, one for every machine).
Errors are ``StateError`` naming the operation.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psycopg

from feeds.errors import StateError

SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds_claims (
    source_id   text PRIMARY KEY,
    shard       text NOT NULL,
    next_due    timestamptz NOT NULL,
    lease_until timestamptz,
    token       text,
    ready_at    timestamptz GENERATED ALWAYS AS (GREATEST(next_due, lease_until)) STORED
);
CREATE INDEX IF NOT EXISTS feeds_claims_ready ON feeds_claims (ready_at);
CREATE INDEX IF NOT EXISTS feeds_claims_leased ON feeds_claims (lease_until)
    WHERE token IS NOT NULL;
CREATE TABLE IF NOT EXISTS feeds_claims_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
"""

# Taken by whoever creates the tables or dispatches, so two never do it at once.
_SCHEMA_LOCK = 0x66656564_0001
_DISPATCH_LOCK = 0x66656564_0002

NEVER = datetime(9000, 1, 1, tzinfo=UTC)  # a gone source's due time

F = TypeVar("F", bound=Callable[..., Any])

Conn = psycopg.Connection[Any]  # autocommit: each function below is its own transaction


def _sealed(what: str) -> Callable[[F], F]:
    """psycopg errors become ``StateError`` naming the operation."""
    def wrap(func: F) -> F:
        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except psycopg.Error as exc:
                raise StateError(f"worker queue database: cannot {what}: {exc}".strip()) from exc
        return inner  # type: ignore[return-value]
    return wrap


@dataclass(frozen=True)
class Claim:
    source_id: str
    shard: str


@dataclass(frozen=True)
class Batch:
    """Sources of one shard (host), to fetch in one job under that shard's lock."""

    shard: str
    source_ids: tuple[str, ...]


@dataclass(frozen=True)
class QueueStats:
    sources: int
    due: int  # claimable now
    in_flight: int  # leased
    oldest_due: datetime | None  # the most overdue claimable source's ready time


def shard_of(url: str | None) -> str:
    """The politeness shard of a source: the host it is fetched from."""
    if not url or not url.startswith(("http://", "https://")):
        return "local"
    return (urlsplit(url).hostname or "").lower() or "local"


def batches(claims: Iterable[Claim], size: int) -> list[Batch]:
    """Claims grouped by shard, each group cut into batches of at most ``size``, in
    the order the shards first appear (most overdue first)."""
    groups: dict[str, list[str]] = {}
    for c in claims:
        groups.setdefault(c.shard, []).append(c.source_id)
    out = []
    for shard, ids in groups.items():
        for i in range(0, len(ids), max(1, size)):
            out.append(Batch(shard, tuple(ids[i:i + size])))
    return out


@contextmanager
def _tx(conn: Conn) -> Iterator[psycopg.Cursor[Any]]:
    with conn.transaction(), conn.cursor() as cur:
        yield cur


@_sealed("connect")
def connect(url: str) -> Conn:
    return psycopg.connect(url, autocommit=True, connect_timeout=10)


@_sealed("read the synced source list")
def synced_fingerprint(conn: Conn) -> str | None:
    row = conn.execute("SELECT value FROM feeds_claims_meta WHERE key = 'sources'").fetchone()
    return row[0] if row else None


@_sealed("create the claims tables")
def create_tables(conn: Conn) -> None:
    with _tx(conn) as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        cur.execute(SCHEMA)


@_sealed("read the database clock")
def db_now(conn: Conn) -> datetime:
    with _tx(conn) as cur:
        row = cur.execute("SELECT now()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


@_sealed("sync the source list")
def sync_sources(conn: Conn, sources: Sequence[tuple[str, str, datetime | None]],
                 now: datetime, spread: timedelta, rng: random.Random, fingerprint: str) -> bool:
    """Make the table hold exactly ``sources`` ((id, shard, due time the state knows
    or None)). A new source is due at its known time, else at a random moment in
    [now, now + spread), so a thousand sources added at once do not fire together.
    Skipped (False) when ``fingerprint`` is the one last synced."""
    with _tx(conn) as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        row = cur.execute("SELECT value FROM feeds_claims_meta WHERE key = 'sources'").fetchone()
        if row is not None and row[0] == fingerprint:
            return False
        cur.execute("CREATE TEMP TABLE wanted (source_id text PRIMARY KEY, shard text NOT NULL,"
                    " next_due timestamptz NOT NULL) ON COMMIT DROP")
        with cur.copy("COPY wanted (source_id, shard, next_due) FROM STDIN") as copy:
            for sid, shard, due in sources:
                copy.write_row((sid, shard, due or now + spread * rng.random()))
        cur.execute("DELETE FROM feeds_claims c WHERE NOT EXISTS"
                    " (SELECT 1 FROM wanted w WHERE w.source_id = c.source_id)")
        cur.execute("INSERT INTO feeds_claims (source_id, shard, next_due)"
                    " SELECT source_id, shard, next_due FROM wanted"
                    " ON CONFLICT (source_id) DO UPDATE SET shard = EXCLUDED.shard"
                    " WHERE feeds_claims.shard <> EXCLUDED.shard")
        cur.execute("INSERT INTO feeds_claims_meta VALUES ('sources', %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (fingerprint,))
    return True


@_sealed("claim due sources")
def claim(conn: Conn, now: datetime, *, budget: int, lease: timedelta,
          token: str) -> list[Claim]:
    """Lease the most overdue claimable sources to ``token``: at most ``budget`` in
    flight in all, counting those leased already, so an outage's backlog is let out
    a budget at a time. Returns nothing when another dispatch holds the table."""
    with _tx(conn) as cur:
        got = cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (_DISPATCH_LOCK,)).fetchone()
        if not got or not got[0]:
            return []
        row = cur.execute("SELECT count(*) FROM feeds_claims WHERE token IS NOT NULL"
                          " AND lease_until > %s", (now,)).fetchone()
        room = budget - (row[0] if row else 0)
        if room <= 0:
            return []
        rows = cur.execute(
            "WITH due AS (SELECT source_id FROM feeds_claims WHERE ready_at <= %s"
            " ORDER BY ready_at LIMIT %s FOR UPDATE SKIP LOCKED)"
            " UPDATE feeds_claims c SET lease_until = %s, token = %s FROM due"
            " WHERE c.source_id = due.source_id RETURNING c.source_id, c.shard, c.next_due",
            (now, room, now + lease, token)).fetchall()
    # RETURNING keeps no order: most overdue first again, as the batches follow it.
    rows.sort(key=lambda r: (r[2], r[0]))
    return [Claim(sid, shard) for sid, shard, _ in rows]


@_sealed("renew leases")
def renew(conn: Conn, token: str, source_ids: Sequence[str], now: datetime,
          lease: timedelta) -> list[str]:
    """Extend the lease of those of ``source_ids`` still held by ``token``; returns
    them. A source whose lease ran out and was claimed again is someone else's."""
    with _tx(conn) as cur:
        rows = cur.execute(
            "UPDATE feeds_claims SET lease_until = %s WHERE token = %s AND source_id = ANY(%s)"
            " RETURNING source_id", (now + lease, token, list(source_ids))).fetchall()
    mine = {r[0] for r in rows}
    return [s for s in source_ids if s in mine]


@_sealed("release sources")
def release(conn: Conn, token: str, due: Sequence[tuple[str, datetime]]) -> int:
    """Give back sources with their next due time, each only if ``token`` still holds
    it. Returns how many were released."""
    if not due:
        return 0
    with _tx(conn) as cur:
        cur.executemany(
            "UPDATE feeds_claims SET next_due = %s, lease_until = NULL, token = NULL"
            " WHERE source_id = %s AND token = %s",
            [(when, sid, token) for sid, when in due])
        return cur.rowcount if cur.rowcount >= 0 else len(due)


@_sealed("read the queue statistics")
def stats(conn: Conn, now: datetime) -> QueueStats:
    with _tx(conn) as cur:
        row = cur.execute(
            "SELECT count(*), count(*) FILTER (WHERE ready_at <= %s),"
            " count(*) FILTER (WHERE token IS NOT NULL AND lease_until > %s),"
            " min(ready_at) FILTER (WHERE ready_at <= %s) FROM feeds_claims",
            (now, now, now)).fetchone()
    assert row is not None
    return QueueStats(row[0], row[1], row[2], row[3])


@_sealed("count the batches waiting for their hosts")
def host_waits(conn: Conn, most: int = 10) -> tuple[int, list[tuple[str, int]]]:
    """Batch jobs waiting in procrastinate's queue (``todo``): how many in all, and
    the ``most`` hosts with the most waiting (a host's batches run one at a time,
    under its ``host:<shard>`` lock), most first. None before the queue exists."""
    try:
        with _tx(conn) as cur:
            rows = cur.execute(
                "SELECT substr(lock, 6), count(*) FROM procrastinate_jobs"
                " WHERE task_name = 'feeds.batch' AND status = 'todo' AND lock LIKE 'host:%%'"
                " GROUP BY lock ORDER BY count(*) DESC, lock").fetchall()
    except psycopg.errors.UndefinedTable:
        return 0, []
    return sum(int(n) for _h, n in rows), [(str(h), int(n)) for h, n in rows[:most]]
