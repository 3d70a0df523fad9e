"""What ``feeds worker``'s jobs do, apart from the queue that carries them.

``dispatch`` keeps the scheduling table (``feeds.store.claims``) in step with the
config, claims the sources that are due and cuts them into per-host batches;
``run_batch`` fetches, parses, normalises, deduplicates and stores a batch with the
very code of ``feeds run`` (``pipeline.run_once`` over the batch's sources, one
transaction per source) and gives the sources back with their next due time;
``run_publish`` is ``feeds run``'s publish step. ``feeds.run.queue`` wires them to
procrastinate. The state store comes from a factory (``StoreFactory``): by default
the one the config names (``configured_store``), PostgreSQL in a deployment of workers.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from feeds.publish.publisher import finish_publish, publish
from feeds.run.pipeline import Fetcher, run_once
from feeds.sources.fetch import HttpFetcher
from feeds.store import claims
from feeds.store.claims import Conn
from feeds.store.factory import open_store
from feeds.store.protocol import StoreProtocol
from feeds.types import Config, RunReport

log = logging.getLogger("feeds")

# The state store a job works on. A job opens its own and closes it when done, so
# jobs in threads of one worker never share a connection.
StoreFactory = Callable[[Config], StoreProtocol]


def configured_store(config: Config) -> StoreProtocol:
    """The state the config names: ``[site] state_url`` or ``FEEDS_STATE_URL``
    (PostgreSQL, shared by every worker machine), else the SQLite file."""
    return open_store(config.settings, shared=True)


@dataclass(frozen=True)
class QueueSettings:
    """How ``feeds worker`` dispatches (``feeds worker --help`` sets them)."""

    batch_size: int = 25  # sources a job: a job costs ~1.3 ms of queue, a source far more
    budget: int = 1000  # sources in flight (claimed, not released) at most, on all workers
    lease: timedelta = timedelta(minutes=10)  # longer than any batch takes
    spread: timedelta = timedelta(minutes=5)  # new sources' first due times spread over this
    dispatch_seconds: int = 5  # how often a dispatch runs (on any one worker)
    heartbeat_seconds: float = 10.0  # each worker says it is alive this often
    stalled_seconds: float = 30.0  # a worker silent this long is dead: its jobs are failed


@dataclass(frozen=True)
class Dispatched:
    token: str
    batches: list[claims.Batch]
    synced: bool


def sources_fingerprint(config: Config) -> str:
    h = hashlib.sha256()
    for s in config.sources:
        if s.enabled:
            h.update(f"{s.id}\0{claims.shard_of(s.url)}\0".encode())
    return h.hexdigest()


def dispatch(config: Config, conn: Conn, store_factory: StoreFactory,
             settings: QueueSettings, rng: random.Random) -> Dispatched:
    """One dispatch tick: sync the table when the source list changed (due times the
    state already knows are kept), then claim what is due, most overdue first,
    within the budget, cut into per-host batches of at most ``batch_size``."""
    now = claims.db_now(conn)
    fingerprint = sources_fingerprint(config)
    synced = False
    if claims.synced_fingerprint(conn) != fingerprint:
        with store_factory(config) as store:
            health = store.all_health()
        rows = [(s.id, claims.shard_of(s.url),
                 health[s.id].next_due if s.id in health else None)
                for s in config.sources if s.enabled]
        synced = claims.sync_sources(conn, rows, now, settings.spread, rng, fingerprint)
    token = uuid.uuid4().hex
    got = claims.claim(conn, now, budget=settings.budget, lease=settings.lease, token=token)
    return Dispatched(token, claims.batches(got, settings.batch_size), synced)


@dataclass(frozen=True)
class BatchDone:
    fetched: tuple[str, ...]
    lost: tuple[str, ...]  # leases that ran out and were claimed again before the job began
    changed: bool  # the outputs have something new to show: publish
    report: RunReport | None


def _no_pool(_config: Config, _sources: int) -> None:
    return None


def run_batch(config: Config, conn: Conn, store_factory: StoreFactory,
              token: str, source_ids: list[str], settings: QueueSettings,
              fetcher: Fetcher | None = None) -> BatchDone:
    """Fetch and store the batch's sources that ``token`` still holds, then release
    each with its next due time. Failures are data (the source's health and
    backoff), never an exception for the queue to retry."""
    by_id = {s.id: s for s in config.sources}
    wanted = [sid for sid in source_ids if sid in by_id and by_id[sid].enabled]
    mine = claims.renew(conn, token, wanted, claims.db_now(conn), settings.lease)
    lost = tuple(s for s in source_ids if s not in mine)
    if lost:
        log.info("batch: %d source(s) no longer held (lease ran out or source removed): %s",
                 len(lost), ", ".join(lost[:5]))
    if not mine:
        return BatchDone((), lost, False, None)
    now = datetime.now(UTC)
    with store_factory(config) as store:
        before = store.generation()
        # One process parses: the worker processes are the parallelism, not a pool each.
        report = asyncio.run(run_once(
            config, store=store, fetcher=fetcher or HttpFetcher(config.settings.fetch), now=now,
            only=set(mine), publish_outputs=False, workers=_no_pool))
        changed = store.generation() != before
        due = []
        for sid in mine:
            h = store.health(sid)
            if h.state == "gone":
                due.append((sid, claims.NEVER))
            else:
                due.append((sid, h.next_due or now + config.settings.fetch.default_interval))
    claims.release(conn, token, due)
    return BatchDone(tuple(mine), lost, changed, report)


def run_publish(config: Config, store_factory: StoreFactory) -> tuple[list[str], int]:
    """``feeds run``'s publish step: the outputs, then the hub ping and status files."""
    with store_factory(config) as store:
        written, unchanged = publish(config, store)
        for warning in finish_publish(config, store, None, written, datetime.now(UTC)):
            log.warning("%s", warning)
    return written, unchanged
