"""The workers' scheduling table on a real PostgreSQL: claims, leases, budget, release."""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from queue_pg import pg_url, psycopg

from feeds.store import claims
from feeds.store.claims import Batch, Claim

__all__ = ["pg_url"]

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


@pytest.fixture
def conn(pg_url: str) -> Any:
    with psycopg.connect(pg_url, autocommit=True) as c:
        claims.create_tables(c)
        yield c


def _sync(conn: Any, rows: Sequence[tuple[str, str, datetime | None]], fp: str = "1",
          spread: timedelta = timedelta(0)) -> bool:
    return claims.sync_sources(conn, rows, T0, spread, random.Random(1), fp)


def test_shard_is_the_host() -> None:
    assert claims.shard_of("https://Example.COM:8443/feed") == "example.com"
    assert claims.shard_of("http://127.0.0.2:80/a") == "127.0.0.2"
    assert claims.shard_of("seeds/") == "local"


def test_batches_group_by_shard_in_claim_order_and_cap_size() -> None:
    got = claims.batches([Claim("a", "h1"), Claim("b", "h2"), Claim("c", "h1"), Claim("d", "h1")], 2)
    assert got == [Batch("h1", ("a", "c")), Batch("h1", ("d",)), Batch("h2", ("b",))]


def test_sync_adds_removes_and_skips_an_unchanged_list(conn: Any) -> None:
    assert _sync(conn, [("a", "h", None), ("b", "h", T0 + timedelta(hours=1))])
    assert not _sync(conn, [("zzz", "h", None)])  # same fingerprint: nothing done
    assert _sync(conn, [("b", "h2", None), ("c", "h", None)], fp="2")
    rows = dict(conn.execute("SELECT source_id, shard FROM feeds_claims").fetchall())
    assert rows == {"b": "h2", "c": "h"}
    # b kept the due time it had: a config edit does not make every source due
    due = conn.execute("SELECT next_due FROM feeds_claims WHERE source_id = 'b'").fetchone()[0]
    assert due == T0 + timedelta(hours=1)


def test_new_sources_are_spread_over_the_window(conn: Any) -> None:
    _sync(conn, [(f"s{i}", "h", None) for i in range(200)], spread=timedelta(minutes=10))
    dues = [r[0] for r in conn.execute("SELECT next_due FROM feeds_claims").fetchall()]
    assert min(dues) >= T0 and max(dues) < T0 + timedelta(minutes=10)
    assert len({d.minute for d in dues}) == 10  # not all at :00


def test_claims_most_overdue_first_within_the_budget(conn: Any) -> None:
    _sync(conn, [(f"s{i}", "h", T0 - timedelta(minutes=i)) for i in range(10)]
          + [("later", "h", T0 + timedelta(minutes=1))])
    got = claims.claim(conn, T0, budget=4, lease=LEASE, token="t1")
    assert [c.source_id for c in got] == ["s9", "s8", "s7", "s6"]
    # four in flight: a budget of 6 lets two more out, not six
    got = claims.claim(conn, T0, budget=6, lease=LEASE, token="t2")
    assert [c.source_id for c in got] == ["s5", "s4"]
    assert claims.claim(conn, T0, budget=6, lease=LEASE, token="t3") == []
    st = claims.stats(conn, T0)
    assert (st.sources, st.in_flight, st.due) == (11, 6, 4)
    assert st.oldest_due == T0 - timedelta(minutes=3)


def test_a_lease_that_runs_out_makes_the_source_due_again(conn: Any) -> None:
    _sync(conn, [("a", "h", T0)])
    assert [c.source_id for c in claims.claim(conn, T0, budget=10, lease=LEASE, token="dead")] == ["a"]
    assert claims.claim(conn, T0 + LEASE - timedelta(seconds=1), budget=10, lease=LEASE, token="x") == []
    later = T0 + LEASE + timedelta(seconds=1)
    assert [c.source_id for c in claims.claim(conn, later, budget=10, lease=LEASE, token="new")] == ["a"]
    # the dead holder's late work neither renews nor releases what is no longer its
    assert claims.renew(conn, "dead", ["a"], later, LEASE) == []
    assert claims.release(conn, "dead", [("a", later + timedelta(hours=1))]) == 0
    assert claims.renew(conn, "new", ["a"], later, LEASE) == ["a"]
    assert claims.release(conn, "new", [("a", later + timedelta(hours=1))]) == 1
    row = conn.execute("SELECT next_due, lease_until, token FROM feeds_claims").fetchone()
    assert row == (later + timedelta(hours=1), None, None)


def test_released_sources_wait_for_their_due_time(conn: Any) -> None:
    _sync(conn, [("a", "h", T0), ("b", "h", T0)])
    claims.claim(conn, T0, budget=10, lease=LEASE, token="t")
    assert claims.release(conn, "t", [("a", T0 + timedelta(minutes=15)), ("b", claims.NEVER)]) == 2
    assert claims.claim(conn, T0 + timedelta(minutes=14), budget=10, lease=LEASE, token="u") == []
    got = claims.claim(conn, T0 + timedelta(minutes=15), budget=10, lease=LEASE, token="u")
    assert [c.source_id for c in got] == ["a"]


def test_concurrent_dispatchers_never_claim_one_source_twice(conn: Any, pg_url: str) -> None:
    _sync(conn, [(f"s{i}", f"h{i % 7}", T0 - timedelta(seconds=i)) for i in range(3000)])
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def dispatcher(n: int) -> None:
        try:
            with psycopg.connect(pg_url, autocommit=True) as c:
                mine: list[str] = []
                for _ in range(40):
                    mine += [x.source_id for x in claims.claim(c, T0, budget=3000, lease=LEASE,
                                                                token=f"t{n}")]
                results.append(mine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    every = [s for r in results for s in r]
    assert len(every) == len(set(every)) == 3000
