"""``feeds worker``: procrastinate workers running feeds' jobs, on as many machines as
wanted, sharing one PostgreSQL database (``feeds.run.queue``)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import FrameType

import click

from feeds.cli.common import Options, check_templates, load
from feeds.cli.run import Duration
from feeds.errors import UsageError
from feeds.logs import setup_logging
from feeds.store.factory import open_store

ENV_URL = "FEEDS_STATE_URL"


def _child(root: Path, db_url: str, queues: tuple[str, ...], concurrency: int, settings: object,
           name: str, level: int, log_format: str) -> None:
    """One worker process (spawned: nothing of the parent's event loop or pools)."""
    from feeds.run.batch import QueueSettings
    from feeds.run.queue import WorkerState, run_worker

    setup_logging(level, log_format)
    # procrastinate's own lines at -v (INFO: each job), its debug chatter never.
    logging.getLogger("procrastinate").setLevel(max(level, logging.INFO))
    assert isinstance(settings, QueueSettings)
    state = WorkerState(root, load(root), db_url, settings)
    run_worker(state, queues, concurrency, name)


@click.command()
@click.option("--queues", default="fetch,publish", show_default=True,
              help="Queues to take jobs from: fetch (dispatch and batches), publish (the outputs).")
@click.option("--processes", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes on this machine (parsing is CPU-bound: about one a core).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Jobs each process runs at once.")
@click.option("--database", metavar="URL", envvar=ENV_URL, default=None,
              help=f"PostgreSQL URL of the queue (default: ${ENV_URL}).")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=25, show_default=True,
              help="Sources of one host fetched by one job.")
@click.option("--budget", type=click.IntRange(1, 10_000_000), default=1000, show_default=True,
              help="Sources claimed and not yet done, at most, on all workers together.")
@click.option("--lease", type=Duration(), default="10m", show_default=True,
              help="How long a claimed source is a worker's before it is due again.")
@click.option("--spread", type=Duration(), default="5m", show_default=True,
              help="New sources' first fetches are spread over this.")
@click.option("--dispatch-every", type=click.IntRange(1, 59), default=5, show_default=True,
              help="Seconds between dispatches (each runs on one worker).")
@click.option("--stalled-after", type=click.FloatRange(1, 3600), default=30.0, show_default=True,
              help="Seconds without a heartbeat after which a worker's jobs are failed.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve the queue's figures at http://127.0.0.1:PORT/metrics (Prometheus).")
@click.pass_obj
def worker(opts: Options, queues: str, processes: int, concurrency: int, database: str | None,
           batch_size: int, budget: int, lease: timedelta, spread: timedelta, dispatch_every: int,
           stalled_after: float, metrics_port: int | None) -> None:
    """Run feeds' jobs from a PostgreSQL queue until SIGTERM or SIGINT.

    Any number of workers on any number of machines share the database: one of
    them dispatches due sources every few seconds as per-host batches, every
    worker on the fetch queue fetches and stores them, and the workers on the
    publish queue write the outputs. Needs the [postgres] extra.
    """
    try:
        from feeds.run.batch import QueueSettings
    except ImportError as exc:
        raise UsageError("feeds worker needs the PostgreSQL extra: pip install 'feeds[postgres]' "
                         f"({exc.name} is missing)") from exc
    if not database:
        raise UsageError(f"feeds worker needs a PostgreSQL database: --database URL or ${ENV_URL}")
    wanted = tuple(q.strip() for q in queues.split(",") if q.strip())
    unknown = [q for q in wanted if q not in ("fetch", "publish")]
    if unknown or not wanted:
        raise UsageError(f"unknown queue {', '.join(map(repr, unknown)) or '(none)'}: "
                         "the queues are fetch and publish")
    config = load(opts.root)
    check_templates(config)
    # Open the state once here, so that a state that cannot be used (another program's
    # tables, a server that refuses) is one sentence and an exit code, not a traceback
    # from every job the workers would start.
    with open_store(config.settings):
        pass
    settings = replace(QueueSettings(), batch_size=batch_size, budget=budget, lease=lease, spread=spread,
                       dispatch_seconds=dispatch_every, heartbeat_seconds=min(10.0, stalled_after / 3),
                       stalled_seconds=stalled_after)
    level = logging.getLogger().level
    if metrics_port is None:
        _run(opts, database, wanted, processes, concurrency, settings, level)
        return
    from feeds.run.metrics import MetricsServer, QueueMetrics

    figures = QueueMetrics(database)
    try:
        server = MetricsServer(figures.text, metrics_port)
    except OSError as exc:
        raise UsageError(f"--metrics-port {metrics_port}: cannot listen on 127.0.0.1: "
                         f"{exc.strerror or exc}") from None
    click.echo(f"queue metrics at {server.url}", err=True)
    try:
        _run(opts, database, wanted, processes, concurrency, settings, level)
    finally:
        server.close()
        figures.close()


def _run(opts: Options, database: str, wanted: tuple[str, ...], processes: int, concurrency: int,
         settings: object, level: int) -> None:
    """The worker processes, until they end (SIGTERM and SIGINT are passed on)."""
    host = socket.gethostname()
    if processes == 1:
        _child(opts.root, database, wanted, concurrency, settings, f"{host}-{os.getpid()}", level,
               opts.log_format)
        return
    ctx = multiprocessing.get_context("spawn")
    children = [ctx.Process(target=_child, name=f"feeds-worker-{i}", args=(
        opts.root, database, wanted, concurrency, settings, f"{host}-{os.getpid()}-{i}", level,
        opts.log_format)) for i in range(processes)]
    for child in children:
        child.start()

    def forward(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for child in children:
            child.join()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
