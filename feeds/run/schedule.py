"""``feeds daemon``: apscheduler 3.x keeps every source on its own schedule.

A dispatcher job wakes every ``tick`` and fetches the sources whose due time
(kept in the state database, so a restart picks up where it left off) has
come; due times carry the servers' hints, backoff and jitter. Publishing
happens once fetches settle: a publish job checks every ``debounce`` and
publishes when something changed and no round has touched anything for
``debounce``. Both jobs run on one worker thread, so they never overlap and
never fetch one source twice at once; neither calls back into the scheduler,
which could deadlock with its shutdown.

The daemon holds the run lock for its whole life, so a cron ``feeds run`` at
the same time exits 3 instead of racing it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from feeds.config import config_mtimes, load_config
from feeds.errors import ConfigErrors, FeedsError
from feeds.publish.publisher import finish_publish, publish
from feeds.publish.status import make_snapshot, render_metrics
from feeds.run.pipeline import run_once
from feeds.sources.fetch import HttpFetcher
from feeds.store.factory import open_store, state_location
from feeds.store.protocol import StoreProtocol
from feeds.types import Config, RunReport

log = logging.getLogger("feeds")

CLOCK_JUMP = 30.0  # seconds of disagreement between wall and monotonic clocks


@dataclass
class DaemonStats:
    """What the metrics endpoint and status.json report."""

    started: datetime
    last_dispatch: datetime | None = None
    last_dispatch_seconds: float = 0.0
    last_publish: datetime | None = None
    reports: int = 0
    last_report: RunReport | None = None


@dataclass(frozen=True)
class Published:
    """What one publish step did, and the fetch rounds it published."""

    written: tuple[str, ...]
    unchanged: int
    rounds: int  # fetch rounds since the last publish
    new_entries: int  # taken in by those rounds
    updated_entries: int

    def describe(self, *, names: bool = False) -> str:
        """One line for the log: files first, as that is what changed for readers."""
        files = (f"{len(self.written)} file{'s' if len(self.written) != 1 else ''} written, "
                 f"{self.unchanged} unchanged" if self.written
                 else f"nothing changed ({self.unchanged} files unchanged)")
        rounds = (f"{self.rounds} fetch round{'s' if self.rounds != 1 else ''} with "
                  f"{self.new_entries} new and {self.updated_entries} updated "
                  f"entr{'y' if self.new_entries + self.updated_entries == 1 else 'ies'}"
                  if self.rounds else "a config reload")
        listed = ": " + ", ".join(self.written) if names and self.written else ""
        return f"published: {files}, after {rounds}{listed}"


class Daemon:
    def __init__(self, root: Path, config: Config, store: StoreProtocol, *, tick: timedelta,
                 debounce: timedelta, on_report: Callable[[RunReport, Config, StoreProtocol], None],
                 on_publish: Callable[[Published, Config, StoreProtocol], None]) -> None:
        """``on_publish`` is told what each publish step did, once the step (the
        outputs, the hub ping, status.json) is done: it reports, nothing more."""
        self.root = root
        self.config = config
        self.store = store
        self.tick = tick
        self.debounce = debounce
        self.on_report = on_report
        self.on_publish = on_publish
        self.stats = DaemonStats(started=datetime.now(UTC))
        self.stop = threading.Event()
        self.reload_requested = threading.Event()
        self._mtimes = config_mtimes(self.root)
        self._dirty = False
        self._touched = 0.0  # monotonic time of the last change
        self._pending = (0, 0, 0)  # rounds, new and updated entries not yet published
        self._rng = random.Random()
        self.scheduler = BackgroundScheduler(
            timezone=UTC, executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})

    # --- config -------------------------------------------------------------------

    def maybe_reload(self) -> None:
        """On SIGHUP or when a config file changed: load and validate it; a bad edit
        keeps the config that is running and says why, once."""
        mtimes = config_mtimes(self.root)
        if not self.reload_requested.is_set() and mtimes == self._mtimes:
            return
        self.reload_requested.clear()
        self._mtimes = mtimes
        try:
            config = load_config(self.root)
        except ConfigErrors as exc:
            log.error("config not reloaded, keeping the running one: %s",
                      "; ".join(str(e) for e in exc.errors))
            return
        if state_location(config.settings) != state_location(self.config.settings):
            log.error("config not reloaded: the state (state_path, state_url) cannot change "
                      "while the daemon runs")
            return
        self.config = config
        self._dirty = True
        self._touched = time.monotonic()
        log.info("config reloaded: %d sources, %d topics", len(config.sources), len(config.topics))

    # --- jobs -------------------------------------------------------------------------

    def dispatch(self) -> None:
        """Fetch whatever is due now; publish later, once fetches settle."""
        try:
            self.maybe_reload()
            started = time.monotonic()
            now = datetime.now(UTC)
            report = asyncio.run(run_once(
                self.config, store=self.store, fetcher=HttpFetcher(self.config.settings.fetch),
                now=now, rng=self._rng, publish_outputs=False, due_slack=self.tick))
            report = replace(report, finished=datetime.now(UTC))
            self.stats.last_dispatch = now
            self.stats.last_dispatch_seconds = time.monotonic() - started
            fetched = [o for o in report.outcomes if o.status not in ("skipped", "gone")]
            if fetched:
                self.stats.reports += 1
                self.stats.last_report = report
                rounds, new, updated = self._pending
                self._pending = (rounds + 1, new + report.new_entries,
                                 updated + sum(o.updated_entries for o in report.outcomes))
                self.on_report(report, self.config, self.store)
                self._dirty = True
                self._touched = time.monotonic()
        except FeedsError as exc:
            log.error("%s", exc)
        except Exception:  # the daemon must outlive a bug in one round
            log.exception("internal error in the fetch round")

    def publish_when_settled(self) -> None:
        if self._dirty and time.monotonic() - self._touched >= self.debounce.total_seconds():
            self.publish()

    def publish(self) -> None:
        try:
            written, unchanged = publish(self.config, self.store)
            rounds, new, updated = self._pending
            self._dirty = False
            self._pending = (0, 0, 0)
            self.stats.last_publish = now = datetime.now(UTC)
            # The same step as a cron run's, as of the last round that fetched.
            for warning in finish_publish(self.config, self.store, self.stats.last_report, written, now):
                log.warning("%s", warning)
            self.on_publish(Published(tuple(written), unchanged, rounds, new, updated),
                            self.config, self.store)
        except FeedsError as exc:
            log.error("publishing failed: %s", exc)
        except Exception:
            log.exception("internal error while publishing")

    def metrics_text(self, fetches_total: dict[str, int]) -> str:
        # Read on the metrics thread: a second connection keeps it off the worker's.
        with open_store(self.config.settings) as store:
            snapshot = make_snapshot(self.config, store.all_health(), store.topic_counts(),
                                     store.count_entries(), self.stats.last_report)
        return render_metrics(snapshot, fetches_total=fetches_total, up_since=self.stats.started)

    # --- life cycle -----------------------------------------------------------------

    def run(self) -> None:
        """Until SIGTERM or SIGINT; SIGHUP reloads the config."""
        handlers = {
            signal.SIGTERM: self._on_stop, signal.SIGINT: self._on_stop, signal.SIGHUP: self._on_hup,
        }
        previous = {s: signal.signal(s, h) for s, h in handlers.items()}
        self.scheduler.add_job(self.dispatch, IntervalTrigger(
            seconds=max(1, int(self.tick.total_seconds())), timezone=UTC),
            id="dispatch", next_run_time=datetime.now(UTC))
        # Checked four times per debounce: checking once per debounce can stay in
        # step with the rounds and never find a quiet moment.
        self.scheduler.add_job(self.publish_when_settled, IntervalTrigger(
            seconds=max(0.1, self.debounce.total_seconds() / 4), timezone=UTC), id="publish")
        self.scheduler.start()
        log.info("daemon started: %d sources, checking every %s", len(self.config.sources), self.tick)
        wall, mono = time.time(), time.monotonic()
        try:
            while not self.stop.wait(1.0):
                if self.reload_requested.is_set():
                    self._wake()
                # apscheduler waits on wall-clock times: after the clock jumps
                # back it would sleep through the gap, so wake it now.
                now_wall, now_mono = time.time(), time.monotonic()
                drift = (now_wall - wall) - (now_mono - mono)
                if abs(drift) > CLOCK_JUMP:
                    log.warning("the clock jumped by %+.0f s; rescheduling", drift)
                    self._wake()
                wall, mono = now_wall, now_mono
        finally:
            # Finishes the job in progress, so that no write is cut short.
            self.scheduler.shutdown(wait=True)
            if self._dirty:
                self.publish()
            for s, h in previous.items():
                signal.signal(s, h)
            log.info("daemon stopped")

    def _wake(self) -> None:
        self.scheduler.modify_job("dispatch", next_run_time=datetime.now(UTC))

    def _on_stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; stopping after the current round", signal.Signals(signum).name)
        self.stop.set()

    def _on_hup(self, _signum: int, _frame: FrameType | None) -> None:
        self.reload_requested.set()
