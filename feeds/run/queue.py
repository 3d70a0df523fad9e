"""``feeds worker``: the jobs of ``feeds.run.batch`` on procrastinate (PostgreSQL).

Three tasks, on two queues:
- ``feeds.dispatch`` (queue ``fetch``), periodic: the database deduplicates each
  tick, so every worker may defer it and one runs it. It fails the jobs of workers
  that stopped sending heartbeats (so their host's lock is let go; the sources come
  back when their leases run out), claims due sources and defers one
  ``feeds.batch`` per host batch, each with ``lock = host:<shard>``: one batch per
  host runs anywhere at a time, and inside it the fetcher's own per-host limit holds.
- ``feeds.batch`` (queue ``fetch``): ``run_batch``; when the outputs changed, it
  defers ``feeds.publish`` with ``queueing_lock`` (at most one waits) and ``lock``
  (one runs).
- ``feeds.publish`` (queue ``publish``): ``run_publish``, on the workers that
  consume that queue (the machine that serves the files).

A job that raises is not retried: fetch failures are already data (the source's
health and backoff), and a batch that dies leaves leases that run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import procrastinate
from procrastinate import exceptions as pex
from procrastinate.jobs import Status

from feeds.config import config_mtimes, load_config
from feeds.errors import ConfigErrors, FeedsError, StateError
from feeds.run.batch import QueueSettings, StoreFactory, configured_store, dispatch, run_batch, run_publish
from feeds.store import claims
from feeds.types import Config

log = logging.getLogger("feeds")

QUEUES = ("fetch", "publish")
_SCHEMA_LOCK = 0x66656564_0003


@dataclass
class WorkerState:
    """One worker process's config (reloaded when its files change) and settings."""

    root: Path
    config: Config
    db_url: str
    settings: QueueSettings = field(default_factory=QueueSettings)
    store_factory: StoreFactory = configured_store
    rng: random.Random = field(default_factory=random.Random)
    _mtimes: tuple[int, ...] = ()
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self) -> Config:
        """The config, reloaded after an edit; a bad edit keeps the running one."""
        with self._lock:
            mtimes = config_mtimes(self.root)
            if not self._mtimes:
                self._mtimes = mtimes
            elif mtimes != self._mtimes:
                self._mtimes = mtimes
                try:
                    self.config = load_config(self.root)
                    log.info("config reloaded: %d sources", len(self.config.sources))
                except ConfigErrors as exc:
                    log.error("config not reloaded, keeping the running one: %s",
                              "; ".join(str(e) for e in exc.errors))
            return self.config


def ensure_schema(app: procrastinate.App, db_url: str) -> None:
    """procrastinate's tables and ours, created by one process at a time (an
    advisory lock); a database that has them is left as it is."""
    with claims.connect(db_url) as conn:
        claims.create_tables(conn)
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
                if row is None or row[0] is None:
                    conn.execute(app.schema_manager.get_schema())
        except Exception as exc:
            raise StateError(f"worker queue database: cannot create procrastinate's tables: {exc}") from exc


def make_app(state: WorkerState) -> procrastinate.App:
    settings = state.settings
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=state.db_url, kwargs={"connect_timeout": 10}))

    @app.task(name="feeds.publish", queue="publish", retry=False)
    def publish_task() -> None:
        written, unchanged = run_publish(state.current(), state.store_factory)
        log.info("published: %d files written, %d unchanged", len(written), unchanged,
                 extra={"event": "publish", "files_written": len(written), "files_unchanged": unchanged})

    def defer_publish() -> None:
        # One waiting already publishes this batch's changes too.
        with contextlib.suppress(pex.AlreadyEnqueued):
            publish_task.configure(queueing_lock="publish", lock="publish").defer()

    @app.task(name="feeds.batch", queue="fetch", retry=False)
    def batch_task(token: str, source_ids: list[str]) -> None:
        config = state.current()
        with claims.connect(state.db_url) as conn:
            done = run_batch(config, conn, state.store_factory, token, source_ids, settings)
        if done.report is not None:
            failed = len(done.report.failed)
            log.info("batch: %d sources, %d new entries, %d failed", len(done.fetched),
                     done.report.new_entries, failed,
                     extra={"event": "batch", "sources": len(done.fetched),
                            "new_entries": done.report.new_entries, "failed": failed})
        if done.changed:
            defer_publish()

    def dispatch_sync() -> tuple[str, list[claims.Batch]]:
        with claims.connect(state.db_url) as conn:
            d = dispatch(state.current(), conn, state.store_factory, settings, state.rng)
        return d.token, d.batches

    @app.periodic(cron=f"* * * * * */{max(1, settings.dispatch_seconds)}", periodic_id="dispatch")
    @app.task(name="feeds.dispatch", queue="fetch", queueing_lock="dispatch", lock="dispatch",
              retry=False)
    async def dispatch_task(timestamp: int) -> None:
        await _fail_stalled(app, settings, publish_task)
        token, batches = await asyncio.to_thread(dispatch_sync)
        for b in batches:
            await batch_task.configure(lock=f"host:{b.shard}").defer_async(
                token=token, source_ids=list(b.source_ids))
        if batches:
            log.debug("dispatch: %d sources in %d batches", sum(len(b.source_ids) for b in batches),
                      len(batches))

    return app


async def _fail_stalled(app: procrastinate.App, settings: QueueSettings, publish_task: Any) -> None:
    """Jobs of workers that stopped sending heartbeats (killed, or cut off) hold their
    lock for ever: mark them failed. Their sources' leases run out and the next
    dispatch claims them again; a publish is deferred in their place."""
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=settings.stalled_seconds)
    for job in stalled:
        assert job.id is not None
        await app.job_manager.finish_job_by_id_async(job.id, Status.FAILED, delete_job=False)
        log.warning("job %s (%s) of a worker that stopped was marked failed", job.id, job.task_name)
        # A dead batch may have stored sources before it could ask for a publish,
        # and fetching them again finds nothing new: publish in its place.
        if job.task_name in ("feeds.publish", "feeds.batch"):
            with contextlib.suppress(pex.AlreadyEnqueued):
                await publish_task.configure(queueing_lock="publish", lock="publish").defer_async()


def run_worker(state: WorkerState, queues: tuple[str, ...], concurrency: int, name: str) -> None:
    """One worker process until SIGTERM or SIGINT (procrastinate finishes the jobs
    in hand first)."""
    app = make_app(state)
    ensure_schema(app, state.db_url)
    settings = state.settings

    async def main() -> None:
        async with app.open_async():
            await app.run_worker_async(
                queues=list(queues), concurrency=concurrency, name=name,
                update_heartbeat_interval=settings.heartbeat_seconds,
                stalled_worker_timeout=settings.stalled_seconds,
                delete_jobs="successful", install_signal_handlers=True)

    try:
        asyncio.run(main())
    except pex.ConnectorException as exc:
        raise FeedsError(f"worker queue database: {exc}") from exc
