"""`feeds worker --metrics-port`: the queue's figures as Prometheus text."""

from __future__ import annotations

import random
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from queue_pg import pg_url

from feeds.run.metrics import MetricsServer, QueueMetrics, queue_metrics_text

__all__ = ["pg_url"]

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _series(text: str) -> dict[str, float]:
    return {line.rpartition(" ")[0]: float(line.rpartition(" ")[2])
            for line in text.splitlines() if line and not line.startswith("#")}


def test_the_text_names_depth_oldest_due_in_flight_and_host_waits() -> None:
    from feeds.store.claims import QueueStats

    stats = QueueStats(sources=9, due=4, in_flight=3, oldest_due=NOW - timedelta(seconds=90))
    text = queue_metrics_text(stats, 5, [("a.test", 3), ('we"ird\\host', 2)], NOW)
    assert _series(text) == {
        "feeds_queue_up": 1, "feeds_queue_sources": 9, "feeds_queue_due_sources": 4,
        "feeds_queue_in_flight_sources": 3, "feeds_queue_oldest_due_seconds": 90,
        "feeds_queue_waiting_batches": 5,
        'feeds_queue_host_waiting_batches{host="a.test"}': 3,
        'feeds_queue_host_waiting_batches{host="we\\"ird\\\\host"}': 2}
    assert "feeds_queue_oldest_due_seconds 0.000" in queue_metrics_text(
        QueueStats(0, 0, 0, None), 0, [], NOW)


def test_the_figures_come_from_the_scheduling_table_and_the_queue(pg_url: str) -> None:
    procrastinate = pytest.importorskip("procrastinate")
    from feeds.run.queue import ensure_schema
    from feeds.store import claims

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=pg_url))
    ensure_schema(app, pg_url)
    with claims.connect(pg_url) as conn:
        claims.sync_sources(conn, [(f"s{i}", f"h{i % 2}.test", NOW - timedelta(minutes=i)) for i in range(6)],
                            NOW, timedelta(0), random.Random(0), "fp")
        got = claims.claim(conn, NOW, budget=2, lease=timedelta(minutes=10), token="t")
        assert len(got) == 2
        db: Any = conn
        for lock in ("host:h0.test", "host:h0.test", "host:h1.test"):
            db.execute("INSERT INTO procrastinate_jobs (queue_name, task_name, lock, args)"
                       " VALUES ('fetch', 'feeds.batch', %s, '{}')", (lock,))
    figures = QueueMetrics(pg_url, clock=lambda: NOW)
    server = MetricsServer(figures.text, 0)
    try:
        with urllib.request.urlopen(server.url, timeout=10) as response:
            text = response.read().decode()
    finally:
        server.close()
        figures.close()
    series = _series(text)
    assert series["feeds_queue_up"] == 1
    assert series["feeds_queue_sources"] == 6
    assert series["feeds_queue_in_flight_sources"] == 2
    assert series["feeds_queue_due_sources"] == 4  # the other four, due and unclaimed
    assert series["feeds_queue_oldest_due_seconds"] == 3 * 60  # the most overdue were claimed
    assert series["feeds_queue_waiting_batches"] == 3
    assert series['feeds_queue_host_waiting_batches{host="h0.test"}'] == 2
    assert series['feeds_queue_host_waiting_batches{host="h1.test"}'] == 1


def test_a_database_that_does_not_answer_is_up_0() -> None:
    figures = QueueMetrics("postgresql://nobody@127.0.0.1:1/none", clock=lambda: NOW)
    assert _series(figures.text()) == {"feeds_queue_up": 0}
