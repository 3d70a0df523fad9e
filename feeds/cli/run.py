"""``feeds run`` and ``feeds daemon``: one locked run from cron, or every source on
its own schedule, and how their reports read on a terminal and in JSON logs."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from feeds.cli.common import Options, check_templates, load, lock_path, plural, say
from feeds.config import parse_duration
from feeds.errors import EXIT_FAILED, EXIT_OK, UsageError
from feeds.publish.publisher import finish_publish
from feeds.publish.status import iso
from feeds.run.lock import run_lock
from feeds.run.pipeline import run_once
from feeds.sources.fetch import HttpFetcher, Result
from feeds.store.factory import open_store
from feeds.store.factory import run_lock as state_run_lock
from feeds.store.protocol import StoreProtocol
from feeds.types import Config, RunReport, Source, SourceHealth

if TYPE_CHECKING:
    from rich.progress import Progress

# rich is imported where used: `feeds run` from cron does not need it, and start-up
# is much of a run where every source answers 304.

log = logging.getLogger("feeds")


def format_report(report: RunReport, verbosity: int, *, files: bool = True) -> list[str]:
    """The run summary line, then a line per source worth a look.

    ``files``: whether this run published (the daemon's fetch rounds do not; its
    publish step reports the files).
    """
    ok = [o for o in report.outcomes if o.status == "ok"]
    same = [o for o in report.outcomes if o.status == "not-modified"]
    failed = report.failed
    skipped = [o for o in report.outcomes if o.status == "skipped"]
    gone = [o for o in report.outcomes if o.status == "gone"]
    updated = sum(o.updated_entries for o in report.outcomes)
    seconds = (report.finished - report.started).total_seconds()
    rest = (f", {len(skipped)} not due" if skipped else "") + (f", {len(gone)} gone" if gone else "")
    lines = [
        f"{plural(len(report.outcomes), 'source')}: {len(ok)} ok, {len(same)} not modified, "
        f"{len(failed)} failed{rest}; {plural(report.new_entries, 'new entry', 'new entries')}, "
        f"{updated} updated; "
        + (f"{plural(len(report.files_written), 'file')} written, "
           f"{report.files_unchanged} unchanged; "
           f"{plural(report.entries_published, 'entry', 'entries')} held; " if files else "")
        + f"{seconds:.1f} s"
    ]
    if not files:
        lines[0] = "fetch round: " + lines[0]
    if report.purged:
        lines.append(f"{plural(report.purged, 'entry', 'entries')} past retention removed")
    for o in report.outcomes:
        if o.status in ("failed", "gone"):
            lines.append(f"  {o.status:<7} {o.source_id}: {o.message}")
        elif verbosity > 0:
            extra = f" ({o.new_entries} new, {o.updated_entries} updated)" if o.status == "ok" else ""
            lines.append(f"  {o.status:<7} {o.source_id}: {o.message}{extra}")
        for w in o.warnings:
            if verbosity > 0 or o.status == "ok":
                lines.append(f"  warning {o.source_id}: {w}")
    if verbosity > 0 and report.files_written:
        lines.append("  written: " + ", ".join(report.files_written))
    if verbosity > 0 and report.new_entries:
        lines.append(f"  near-duplicates: {report.candidates / report.new_entries:.2f} candidates and "
                     f"{report.judged / report.new_entries:.2f} judge calls a new entry")
    return lines


def report_fields(report: RunReport, *, files: bool = True) -> dict[str, object]:
    """The run summary as fields, for JSON logs."""
    counts = Counter(o.status for o in report.outcomes)
    fields: dict[str, object] = {
        "event": "run", "sources": len(report.outcomes), "ok": counts["ok"],
        "not_modified": counts["not-modified"], "failed": counts["failed"],
        "not_due": counts["skipped"], "gone": counts["gone"], "new_entries": report.new_entries,
        "updated_entries": sum(o.updated_entries for o in report.outcomes),
        "dedupe_candidates": report.candidates, "dedupe_judged": report.judged,
    }
    if files:
        fields.update({"files_written": len(report.files_written),
                       "files_unchanged": report.files_unchanged,
                       "entries_held": report.entries_published})
    fields.update({"purged": report.purged,
                   "seconds": round((report.finished - report.started).total_seconds(), 3)})
    return fields


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "an unknown time"


def backing_off(report: RunReport, health: dict[str, SourceHealth]) -> list[SourceHealth]:
    """Sources this run did not fetch because they are failing and waiting out their
    backoff: broken all the same, though no fetch of this run says so."""
    out = []
    for o in report.outcomes:
        h = health.get(o.source_id)
        if o.status == "skipped" and h is not None and h.state == "failing":
            out.append(h)
    return out


def backoff_line(h: SourceHealth) -> str:
    since = (f"failing since {_when(h.failing_since)}" if h.failing_since
             else f"failing (last success {_when(h.last_success)})" if h.last_success
             else "failing (never fetched successfully)")
    error = f": {h.last_error}" if h.last_error else ""
    return (f"  backoff {h.source_id}: {since}, {plural(h.failures, 'failure')} in a row{error}; "
            f"next retry {_when(h.next_due)}")


OFFLINE_HINT = ("every remote source failed to connect (DNS or connection errors): "
                "is this machine offline?")


def looks_offline(report: RunReport, config: Config) -> bool:
    """Every remote source fetched this run failed before any server answered."""
    remote = {s.id for s in config.sources if not s.is_local}
    fetched = [o for o in report.outcomes
               if o.source_id in remote and o.status not in ("skipped", "gone")]
    return bool(fetched) and all(o.status == "failed" and o.unreachable for o in fetched)


def log_report(report: RunReport, verbosity: int, log_format: str, *, files: bool = True) -> None:
    """One summary line per run (and a line per source at -v) through logging."""
    if log_format == "json":
        for o in report.outcomes:
            fields = {"event": "source", "source": o.source_id, "status": o.status,
                      "detail": o.message, "new_entries": o.new_entries,
                      "updated_entries": o.updated_entries, "seconds": o.seconds}
            if o.status in ("failed", "gone"):
                log.warning("%s: %s", o.source_id, o.message, extra=fields)
            elif verbosity > 0:
                log.info("%s: %s", o.source_id, o.status, extra=fields)
            for w in o.warnings:
                log.warning("%s: %s", o.source_id, w, extra={"event": "warning", "source": o.source_id})
        for w in report.warnings:
            log.warning("%s", w, extra={"event": "warning"})
        log.info("run finished", extra=report_fields(report, files=files))
        return
    lines = format_report(report, verbosity, files=files)
    log.info("%s", lines[0])
    for line in lines[1:]:
        trouble = line.lstrip().startswith(("failed", "gone", "warning"))
        log.log(logging.WARNING if trouble else logging.INFO, "%s", line.strip())


def _progress(enabled: bool) -> tuple[Progress | None, Callable[[Source, Result], None] | None]:
    """A progress bar on the terminal; nothing under cron or in tests."""
    if not enabled:
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(TextColumn("fetching"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[last]}"), console=Console(stderr=True), transient=True)
    task = bar.add_task("fetch", total=None, last="")

    def advance(source: Source, _result: Result) -> None:
        bar.update(task, advance=1, last=source.id)

    bar.start_task(task)
    return bar, advance


def do_run(config: Config, *, strict: bool, only: set[str] | None, opts: Options,
           force: bool = False) -> int:
    """One locked run. Returns the exit code of a run that finished; raises
    ``FeedsError`` (or ``OSError``) for one that could not."""
    verbosity = opts.verbosity
    started = datetime.now(UTC)
    show_bar = verbosity >= 0 and opts.log_format == "text" and sys.stderr.isatty()
    bar, advance = _progress(show_bar)
    with run_lock(lock_path(config)), state_run_lock(config.settings), open_store(config.settings) as store:
        if bar is not None:
            bar.update(bar.task_ids[0], total=sum(1 for s in config.sources if s.enabled))
            bar.start()
        try:
            report = asyncio.run(run_once(
                config, store=store, fetcher=HttpFetcher(config.settings.fetch, advance),
                now=started, only=only, force=force))
        finally:
            if bar is not None:
                bar.stop()
        report = replace(report, finished=datetime.now(UTC))
        pinged = finish_publish(config, store, report, report.files_written, report.finished)
        report = replace(report, warnings=report.warnings + tuple(pinged))
        waiting = backing_off(report, store.all_health())
    attempted = [o for o in report.outcomes if o.status not in ("skipped", "gone")]
    all_failed = bool(attempted) and all(o.status == "failed" for o in attempted)
    code = EXIT_FAILED if all_failed or (strict and (report.failed or waiting)) else EXIT_OK
    offline = looks_offline(report, config)
    # Under -q a run that exits 0 still names what is broken: a failed fetch, a
    # source gone or one waiting out its backoff, so that cron mail shows it.
    quiet = verbosity < 0
    if opts.log_format == "json":
        if verbosity >= 0 or code != EXIT_OK:
            log_report(report, verbosity, "json")
        elif report.failed or any(o.status == "gone" for o in report.outcomes):
            for o in report.outcomes:
                if o.status in ("failed", "gone"):
                    log.error("%s: %s", o.source_id, o.message,
                              extra={"event": "source", "source": o.source_id, "status": o.status})
        for h in waiting:
            log.log(logging.ERROR if quiet else logging.WARNING, "%s", backoff_line(h).strip(), extra={
                "event": "backoff", "source": h.source_id, "failures": h.failures,
                "failing_since": iso(h.failing_since), "next_due": iso(h.next_due)})
        if offline:
            log.error("%s", OFFLINE_HINT, extra={"event": "offline"})
    else:
        if verbosity >= 0 or code != EXIT_OK:
            for line in format_report(report, verbosity):
                say(line, err=code != EXIT_OK and quiet)
            for w in report.warnings:
                say(f"  warning {w}", err=code != EXIT_OK and quiet)
        else:
            for line in format_report(report, verbosity)[1:]:
                if line.lstrip().startswith(("failed", "gone")):
                    say(line, err=True)
        for h in waiting:
            say(backoff_line(h), err=quiet)
        if offline:
            click.echo(f"warning: {OFFLINE_HINT}", err=True)
    if all_failed:
        log.error("every source failed; the feeds were not updated with anything new")
        if opts.log_format != "json":
            click.echo("error: every source failed; the feeds were not updated with anything new",
                       err=True)
    return code

@click.command()
@click.option("--strict", is_flag=True,
              help="Exit 1 if any source failed, or is failing and waiting out its backoff.")
@click.option("--force", is_flag=True, help="Fetch every source, due or not (gone ones too).")
@click.option("--source", "sources", multiple=True, metavar="ID",
              help="Run only this source, due or not (repeatable).")
@click.pass_obj
def run(opts: Options, strict: bool, force: bool, sources: tuple[str, ...]) -> None:
    """Fetch the sources that are due, then publish the topic feeds."""
    config = load(opts.root)
    known = {s.id for s in config.sources}
    unknown = [s for s in sources if s not in known]
    if unknown:
        raise UsageError(f"unknown source {', '.join(repr(u) for u in unknown)} "
                         f"(see config/sources.toml)")
    check_templates(config)
    sys.exit(do_run(config, strict=strict, only=set(sources) or None, opts=opts, force=force))

class Duration(click.ParamType):  # type: ignore[type-arg]
    """A length of time such as ``90s``, ``30m`` or ``2h`` (a bare number is minutes)."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@click.command()
@click.option("--tick", type=Duration(), default="30s", show_default=True,
              help="How often due times are checked.")
@click.option("--debounce", type=Duration(), default="5s", show_default=True,
              help="Publish this long after the last fetch of a round.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve Prometheus metrics on 127.0.0.1:PORT/metrics.")
@click.pass_obj
def daemon(opts: Options, tick: timedelta, debounce: timedelta, metrics_port: int | None) -> None:
    """Keep every source on its own schedule until SIGTERM or SIGINT.

    Each source is fetched when it is due (server hints, backoff, its own
    interval); the feeds are published once a round of fetches settles.
    SIGHUP, or an edit to config/, reloads the config after validating it.
    """
    from feeds.run.metrics import MetricsServer
    from feeds.run.schedule import Daemon, Published

    config = load(opts.root)
    check_templates(config)
    if opts.verbosity >= 0:
        logging.getLogger("feeds").setLevel(logging.DEBUG if opts.verbosity > 0 else logging.INFO)
    fetches: Counter[str] = Counter()

    def on_report(report: RunReport, cfg: Config, store: StoreProtocol) -> None:
        fetches.update(o.status for o in report.outcomes if o.status not in ("skipped", "gone"))
        # A fetch round publishes nothing: its files are counted by the publish line.
        log_report(report, opts.verbosity, opts.log_format, files=False)

    def on_publish(done: Published, cfg: Config, store: StoreProtocol) -> None:
        log.info("%s", done.describe(names=opts.verbosity > 0), extra={
            "event": "publish", "files_written": len(done.written),
            "files_unchanged": done.unchanged, "rounds": done.rounds,
            "new_entries": done.new_entries, "updated_entries": done.updated_entries})

    with (run_lock(lock_path(config)), state_run_lock(config.settings),
          open_store(config.settings, shared=True) as store):
        daemon_ = Daemon(opts.root, config, store, tick=tick, debounce=debounce,
                         on_report=on_report, on_publish=on_publish)
        metrics = None
        if metrics_port is not None:
            metrics = MetricsServer(lambda: daemon_.metrics_text(dict(fetches)), metrics_port)
            log.info("metrics at %s", metrics.url)
        try:
            daemon_.run()
        finally:
            if metrics is not None:
                metrics.close()

