"""``feeds daemon``: apscheduler 3.x runs a job on an interval until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger("feeds")


def run_forever(job: Callable[[], None], interval: timedelta,
                stop: threading.Event | None = None) -> None:
    """Run ``job`` now and then every ``interval``, never two at once, until signalled.

    Missed runs (a long job, a suspended machine) are coalesced into one. On
    SIGTERM or SIGINT the job in progress finishes its writes before we return.
    """
    stop = stop or threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; stopping after the current run", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        job,
        IntervalTrigger(seconds=max(1, int(interval.total_seconds())), timezone=UTC),
        id="run",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=int(interval.total_seconds()),
        next_run_time=datetime.now(UTC),
    )
    scheduler.start()
    log.info("daemon started; running every %s", interval)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        scheduler.shutdown(wait=True)
        for s, handler in previous.items():
            signal.signal(s, handler)
        log.info("daemon stopped")
