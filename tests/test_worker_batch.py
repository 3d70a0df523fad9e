"""feeds worker's jobs without the queue: dispatch, batch and publish on real PostgreSQL
(the scheduling table) and the SQLite store."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import FEEDS_TOML, FeedServer, Project
from queue_pg import pg_url, psycopg

from feeds.config import load_config
from feeds.run.batch import QueueSettings, configured_store, dispatch, run_batch, run_publish
from feeds.store import claims
from feeds.store.state import Store

__all__ = ["pg_url"]

SETTINGS = QueueSettings(batch_size=3, budget=100, spread=timedelta(0))


def rss(n: int, items: int = 3) -> str:
    body = "".join(
        f"<item><title>Story {n}-{i} about AI chips</title><link>https://news{n}.test/{i}</link>"
        f"<guid>https://news{n}.test/{i}</guid><description>Text {n} {i}</description>"
        f"<pubDate>Fri, 27 Nov 2026 1{i}:00:00 GMT</pubDate></item>" for i in range(items))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}</title>'
            f"<link>https://news{n}.test/</link><description>d</description>{body}</channel></rss>")


@pytest.fixture
def conn(pg_url: str) -> Iterator[Any]:
    with psycopg.connect(pg_url, autocommit=True) as c:
        claims.create_tables(c)
        yield c


@pytest.fixture
def site(project: Project, server: FeedServer) -> Project:
    for n in range(7):
        server.add(f"/f{n}.xml", rss(n), headers={"Content-Type": "application/rss+xml"})
    project.write_sources([{"id": f"s{n}", "url": server.url(f"/f{n}.xml")} for n in range(7)])
    (project.root / "config" / "feeds.toml").write_text(FEEDS_TOML.format(
        max_entries=50, retention_days=90, read_timeout=1, total_timeout=3, max_bytes=1_000_000))
    return project


def test_dispatch_batches_fetch_store_and_release(site: Project, server: FeedServer, conn: Any) -> None:
    config = load_config(site.root)
    d = dispatch(config, conn, configured_store, SETTINGS, random.Random(0))
    assert d.synced
    assert [len(b.source_ids) for b in d.batches] == [3, 3, 1]  # one host, cut by batch_size
    assert {b.shard for b in d.batches} == {"127.0.0.1"}
    changed = []
    for b in d.batches:
        done = run_batch(config, conn, configured_store, d.token, list(b.source_ids), SETTINGS)
        assert done.lost == ()
        changed.append(done.changed)
    assert changed == [True, True, True]
    assert len([h for h in server.hits if h.path.startswith("/f")]) == 7
    with Store(config.settings.state_path) as store:
        assert store.count_entries() == 21
    rows = conn.execute("SELECT next_due, token, lease_until FROM feeds_claims").fetchall()
    now = datetime.now(UTC)
    assert all(tok is None and lease is None and due > now + timedelta(minutes=10)
               for due, tok, lease in rows)
    # nothing is due now: the next tick claims nothing and fetches nothing
    again = dispatch(config, conn, configured_store, SETTINGS, random.Random(0))
    assert not again.synced and again.batches == []
    written, _ = run_publish(config, configured_store)
    assert "all.atom" in {p.rsplit("/", 1)[-1] for p in written}


def test_a_batch_whose_leases_were_claimed_again_fetches_nothing(site: Project, server: FeedServer,
                                                                conn: Any) -> None:
    config = load_config(site.root)
    short = QueueSettings(batch_size=10, budget=100, spread=timedelta(0), lease=timedelta(seconds=1))
    d = dispatch(config, conn, configured_store, short, random.Random(0))
    conn.execute("UPDATE feeds_claims SET lease_until = now() - interval '1 second'")
    d2 = dispatch(config, conn, configured_store, short, random.Random(0))  # the lease ran out
    assert sorted(s for b in d2.batches for s in b.source_ids) == [f"s{n}" for n in range(7)]
    done = run_batch(config, conn, configured_store, d.token, list(d.batches[0].source_ids), short)
    assert done.fetched == () and len(done.lost) == 7 and not done.changed
    assert not [h for h in server.hits if h.path.startswith("/f")]


def test_unchanged_sources_do_not_ask_for_a_publish(site: Project, conn: Any) -> None:
    config = load_config(site.root)
    d = dispatch(config, conn, configured_store, SETTINGS, random.Random(0))
    for b in d.batches:
        run_batch(config, conn, configured_store, d.token, list(b.source_ids), SETTINGS)
    conn.execute("UPDATE feeds_claims SET next_due = now() - interval '1 second'")
    d = dispatch(config, conn, configured_store, SETTINGS, random.Random(0))
    assert sum(len(b.source_ids) for b in d.batches) == 7
    assert not any(run_batch(config, conn, configured_store, d.token, list(b.source_ids), SETTINGS).changed
                   for b in d.batches)


def test_a_state_that_cannot_be_used_is_one_sentence_before_any_worker_starts(
        site: Project, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """FEEDS_STATE_URL names both the queue and the state by default: a database that
    already holds another program's tables is refused with a sentence and an exit code,
    not a traceback from every job."""
    from helpers import run_cli

    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("CREATE TABLE someone_elses (x int)")
    monkeypatch.setenv("FEEDS_STATE_URL", pg_url)
    code, out, err = run_cli(site.root, "worker", "--processes", "1")
    assert code != 0 and "Traceback" not in out + err
    assert "not a feeds state database" in err and "state_url" in err
