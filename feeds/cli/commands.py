"""The ``feeds`` command: run, check, status, daemon.

Exit codes: 0 ran and published; 1 published nothing, a failed source under
``--strict``, or an internal error; 2 usage or config error; 3 another run
holds the lock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from feeds import __version__
from feeds.cli.statustext import Zone
from feeds.config import FEEDS_FILE, SOURCES_FILE, load_config, parse_duration
from feeds.errors import ConfigErrors, FeedsError, LockedError, SourceError, StateError
from feeds.logs import scrub, setup_logging, use_url_policy
from feeds.logs import url_policy as current_url_policy
from feeds.publish.files import write_atomic, write_if_changed
from feeds.publish.status import make_snapshot, render_status_json, source_state
from feeds.redact import url_policy
from feeds.run.lock import run_lock
from feeds.run.pipeline import ping_hub_for, run_once, write_status_page
from feeds.sources.fetch import HttpFetcher, Result
from feeds.store.state import Store
from feeds.stories.classify import Classifier, lint
from feeds.stories.sourceinfo import FeedInfo, clean_title, home_pages, with_feed_titles
from feeds.types import Config, Entry, RunReport, Source, SourceHealth

if TYPE_CHECKING:
    from rich.progress import Progress

    from feeds.publish.opml import OpmlFeed

# rich and the feed discovery (which needs the parsers) are imported where used:
# `feeds run` from cron needs neither, and start-up is much of a run where every
# source answers 304.

log = logging.getLogger("feeds")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_LOCKED = 0, 1, 2, 3


@dataclass(frozen=True)
class Options:
    root: Path
    verbosity: int  # -1 quiet, 0 normal, 1 verbose
    log_format: str = "text"


def say(text: str, *, err: bool = False) -> None:
    """Echo a line that quotes the outside world (titles, server replies, URLs):
    credentials redacted, control characters shown as escapes."""
    click.echo(scrub(text), err=err)


def _load(root: Path) -> Config:
    try:
        config = load_config(root)
        use_url_policy(url_policy(config.settings))
        return config
    except ConfigErrors as exc:
        for error in exc.errors:
            click.echo(f"error: {error}", err=True)
        n = len(exc.errors)
        click.echo(f"{n} problem{'s' if n != 1 else ''} in the config; nothing was done", err=True)
        sys.exit(EXIT_CONFIG)


def _check_templates(config: Config, *, always: bool = False) -> None:
    """Exit 2 when a template does not render with sample data. ``always``: check
    the shipped templates too (``feeds check``); otherwise only a project that has
    ``config/templates/`` pays for the check."""
    from feeds.publish.templating import has_overrides

    if not always and not has_overrides(config.root):
        return
    from feeds.publish.templating import check_templates

    errors = check_templates(config.root)
    if errors:
        for error in errors:
            say(f"error: {error}", err=True)
        n = len(errors)
        click.echo(f"{n} problem{'s' if n != 1 else ''} in the templates; nothing was done", err=True)
        sys.exit(EXIT_CONFIG)


def _lock_path(config: Config) -> Path:
    return config.settings.state_path.with_name("feeds.run.lock")


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


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
        f"{_plural(len(report.outcomes), 'source')}: {len(ok)} ok, {len(same)} not modified, "
        f"{len(failed)} failed{rest}; {_plural(report.new_entries, 'new entry', 'new entries')}, "
        f"{updated} updated; "
        + (f"{_plural(len(report.files_written), 'file')} written, "
           f"{report.files_unchanged} unchanged; "
           f"{_plural(report.entries_published, 'entry', 'entries')} held; " if files else "")
        + f"{seconds:.1f} s"
    ]
    if not files:
        lines[0] = "fetch round: " + lines[0]
    if report.purged:
        lines.append(f"{_plural(report.purged, 'entry', 'entries')} past retention removed")
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
    return lines


def report_fields(report: RunReport, *, files: bool = True) -> dict[str, object]:
    """The run summary as fields, for JSON logs."""
    counts = Counter(o.status for o in report.outcomes)
    fields: dict[str, object] = {
        "event": "run", "sources": len(report.outcomes), "ok": counts["ok"],
        "not_modified": counts["not-modified"], "failed": counts["failed"],
        "not_due": counts["skipped"], "gone": counts["gone"], "new_entries": report.new_entries,
        "updated_entries": sum(o.updated_entries for o in report.outcomes),
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
    return (f"  backoff {h.source_id}: {since}, {_plural(h.failures, 'failure')} in a row{error}; "
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


def write_status(config: Config, store: Store, report: RunReport | None) -> None:
    snapshot = make_snapshot(config, store.all_health(), store.topic_counts(), store.count_entries(),
                             report)
    write_if_changed(config.settings.output_dir / "status.json", render_status_json(snapshot))
    # As of the run it reports, so that publishing again after no new run rewrites nothing.
    write_status_page(config, store, report.finished if report else datetime.now(UTC))


def do_run(config: Config, *, strict: bool, only: set[str] | None, opts: Options,
           force: bool = False) -> int:
    """One locked run. Returns the exit code."""
    verbosity = opts.verbosity
    started = datetime.now(UTC)
    show_bar = verbosity >= 0 and opts.log_format == "text" and sys.stderr.isatty()
    bar, advance = _progress(show_bar)
    try:
        with run_lock(_lock_path(config)), Store(config.settings.state_path) as store:
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
            write_status(config, store, report)
            waiting = backing_off(report, store.all_health())
    except LockedError as exc:
        say(f"error: {exc}", err=True)
        return EXIT_LOCKED
    except FeedsError as exc:
        say(f"error: {exc}", err=True)
        return EXIT_FAILED
    except sqlite3.DatabaseError as exc:  # a damaged database met outside any transaction
        click.echo(f"error: {config.settings.state_path}: the state database is damaged ({exc}); "
                   "restore it from a backup or move it aside to start afresh", err=True)
        return EXIT_FAILED
    except OSError as exc:
        click.echo(f"error: {exc.filename or ''}: {exc.strerror or exc}", err=True)
        return EXIT_FAILED
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
                "failing_since": _iso(h.failing_since), "next_due": _iso(h.next_due)})
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feeds")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True,
              help="Project folder holding config/ (and by default seeds/, public/, var/).")
@click.option("-v", "--verbose", is_flag=True, help="Say what happened to every source.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing unless something went wrong (for cron).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: one JSON object a line on standard error, for log collectors.")
@click.pass_context
def cli(ctx: click.Context, root: Path, verbose: bool, quiet: bool, log_format: str) -> None:
    """Aggregate RSS/Atom feeds and local articles into topic feeds."""
    verbosity = -1 if quiet else (1 if verbose else 0)
    if log_format == "json":
        level = logging.ERROR if quiet else (logging.DEBUG if verbose else logging.INFO)
    else:
        level = logging.DEBUG if verbose else (logging.ERROR if quiet else logging.WARNING)
    setup_logging(level, log_format)
    ctx.obj = Options(root=root, verbosity=verbosity, log_format=log_format)


@cli.command()
@click.option("--strict", is_flag=True,
              help="Exit 1 if any source failed, or is failing and waiting out its backoff.")
@click.option("--force", is_flag=True, help="Fetch every source, due or not (gone ones too).")
@click.option("--source", "sources", multiple=True, metavar="ID",
              help="Run only this source, due or not (repeatable).")
@click.pass_obj
def run(opts: Options, strict: bool, force: bool, sources: tuple[str, ...]) -> None:
    """Fetch the sources that are due, then publish the topic feeds."""
    config = _load(opts.root)
    known = {s.id for s in config.sources}
    unknown = [s for s in sources if s not in known]
    if unknown:
        click.echo(f"error: unknown source {', '.join(repr(u) for u in unknown)} "
                   f"(see config/sources.toml)", err=True)
        sys.exit(EXIT_CONFIG)
    _check_templates(config)
    sys.exit(do_run(config, strict=strict, only=set(sources) or None, opts=opts, force=force))


@cli.command()
@click.option("--reference", is_flag=True,
              help="Print the reference of every config key (as in docs/operations.md) and exit.")
@click.pass_obj
def check(opts: Options, reference: bool) -> None:
    """Validate config/ without touching the network."""
    if reference:
        from feeds.reference import reference_markdown

        click.echo(reference_markdown())
        return
    config = _load(opts.root)
    _check_templates(config, always=True)
    enabled = sum(1 for s in config.sources if s.enabled)
    if opts.verbosity >= 0:
        click.echo(f"config is valid: {_plural(len(config.sources), 'source')} ({enabled} enabled), "
                   f"{_plural(len(config.topics), 'topic')}: {', '.join(config.topic_ids())}")
    # With a state database, the rules are also tried on the entries we hold.
    samples = _samples(config)
    for problem in lint(Classifier(config.topics, config.sources), samples):
        click.echo(f"warning: {FEEDS_FILE.as_posix()}: {problem}")


def _samples(config: Config) -> list[tuple[Entry, list[Source]]]:
    """Stored entries with the sources that carry them, for trying rules on."""
    if not config.settings.state_path.exists():
        return []
    by_id = {s.id: s for s in config.sources}
    try:
        with Store(config.settings.state_path) as store:
            rows = store.all_entries()
    except StateError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    return [(entry, [by_id[s] for s in carriers if s in by_id]) for _id, entry, carriers in rows]


@cli.group()
def topics() -> None:
    """Try topic rules on the entries held, without fetching anything."""


@topics.command("preview")
@click.argument("topic", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="Titles shown per topic.")
@click.pass_obj
def topics_preview(opts: Options, topic: str | None, limit: int) -> None:
    """The entries each topic (or TOPIC) would hold now under the current rules."""
    config = _load(opts.root)
    if topic is not None and topic not in config.topic_ids():
        click.echo(f"error: unknown topic '{topic}' (known: {', '.join(config.topic_ids())})", err=True)
        sys.exit(EXIT_CONFIG)
    samples = _samples(config)
    classifier = Classifier(config.topics, config.sources)
    members: dict[str, list[str]] = {t: [] for t in config.topic_ids()}
    for entry, carriers in samples:
        for m in classifier.classify(entry, carriers):
            members[m.topic].append(entry.title)
    for t in config.topics:
        if topic is not None and t.id != topic:
            continue
        titles = members[t.id]
        click.echo(f"{t.id}: {_plural(len(titles), 'entry', 'entries')} of {len(samples)}")
        for title in titles[:limit]:
            say(f"  {title}")
        if len(titles) > limit:
            click.echo(f"  ... and {len(titles) - limit} more")


def _config_at(opts: Options, against: str) -> Config:
    """The config to compare with: a feeds.toml file, a folder holding one, or a git revision."""
    import shutil
    import subprocess
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="feeds-against-"))
    try:
        (tmp / "config").mkdir()
        # Paths in the other config resolve against this project, as they would after a merge.
        for child in opts.root.resolve().iterdir():
            if child.name != "config":
                (tmp / child.name).symlink_to(child)
        given = Path(against)
        if given.is_file():
            shutil.copy(given, tmp / FEEDS_FILE)
            shutil.copy(opts.root / SOURCES_FILE, tmp / SOURCES_FILE)
        elif given.is_dir():
            folder = given / "config" if (given / "config").is_dir() else given
            for rel in (FEEDS_FILE, SOURCES_FILE):
                src = folder / rel.name
                shutil.copy(src if src.exists() else opts.root / rel, tmp / rel)
        else:
            for rel in (FEEDS_FILE, SOURCES_FILE):
                shown = subprocess.run(["git", "-C", str(opts.root), "show", f"{against}:{rel.as_posix()}"],
                                       capture_output=True, check=False, timeout=30)
                if shown.returncode != 0:
                    click.echo(f"error: {against} is neither a file, a folder nor a git revision with "
                               f"{rel.as_posix()}: {shown.stderr.decode(errors='replace').strip()}", err=True)
                    sys.exit(EXIT_CONFIG)
                (tmp / rel).write_bytes(shown.stdout)
        try:
            return load_config(tmp)
        except ConfigErrors as exc:
            for error in exc.errors:
                click.echo(f"error: {against}: {error}", err=True)
            sys.exit(EXIT_CONFIG)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@topics.command("diff")
@click.option("--against", required=True, metavar="CONFIG",
              help="The config before the change: a feeds.toml file, a folder with config files, "
                   "or a git revision of config/.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Titles shown per change.")
@click.pass_obj
def topics_diff(opts: Options, against: str, limit: int) -> None:
    """Review a rule change: which stored entries enter or leave each topic going
    from CONFIG (before) to the working config in config/ (after).

    As with `git diff REV`, the working config is the change under review: an
    `exclude` added to it shows the entries that would leave.
    """
    current = _load(opts.root)
    base = _config_at(opts, against)
    samples = _samples(current)
    base_sources = {s.id: s for s in base.sources}
    before = Classifier(base.topics, base.sources)
    after = Classifier(current.topics, current.sources)
    moves: dict[str, tuple[list[str], list[str]]] = {}
    for entry, carriers in samples:
        # A source the base config did not have yet classifies as it does now.
        old = {m.topic for m in before.classify(entry, [base_sources.get(s.id, s) for s in carriers])}
        new = {m.topic for m in after.classify(entry, carriers)}
        for t in new - old:
            moves.setdefault(t, ([], []))[0].append(entry.title)
        for t in old - new:
            moves.setdefault(t, ([], []))[1].append(entry.title)
    click.echo(f"from {against} to the working config ({SOURCES_FILE.parent.as_posix()}/), "
               f"over {_plural(len(samples), 'stored entry', 'stored entries')}:")
    if not moves:
        click.echo("  no entry would change topic")
    for topic_id in sorted(moves):
        entering, leaving = moves[topic_id]
        click.echo(f"{topic_id}: {len(entering)} would enter, {len(leaving)} would leave")
        for sign, titles in (("+", entering), ("-", leaving)):
            for title in titles[:limit]:
                say(f"  {sign} {title}")
            if len(titles) > limit:
                click.echo(f"  {sign} ... and {len(titles) - limit} more")


_STATE_ORDER = {"gone": 0, "failing": 1, "stale": 2, "new": 3, "ok": 4, "disabled": 5}
_SORT_KEYS = ("state", "id", "last-success", "failures", "entries", "next-due")


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def status_rows(config: Config, store: Store | None) -> list[dict[str, object]]:
    config = with_feed_titles(config, store.feed_infos()) if store else config
    health = store.all_health() if store else {}
    counts = store.entry_counts() if store else {}
    remaps = store.remap_count() if store else {}
    rows: list[dict[str, object]] = []
    for source in config.sources:
        h = health.get(source.id, SourceHealth(source.id))
        state = source_state(source.enabled, h)
        note = h.last_error or h.last_warning or ""
        if h.redirect_adopted and h.redirect_target:
            note = f"moved permanently to {h.redirect_target}; update the url in config" + (
                f"; {note}" if note else "")
        policy = current_url_policy()
        note = policy.text(note, known_urls=(source.url,))
        remapped, last_remap = remaps.get(source.id, (0, None))
        if remapped:
            note += ("; " if note else "") + f"{remapped} changed GUIDs mapped back (latest {last_remap})"
        rows.append({
            "id": source.id, "title": source.title, "state": state,
            "url": policy.url(source.url) if source.url else None,
            "path": str(source.path) if source.path else None,
            "http_status": h.http_status, "last_attempt": _iso(h.last_attempt),
            "last_success": _iso(h.last_success), "next_due": _iso(h.next_due),
            "failures": h.failures, "entries": counts.get(source.id, 0),
            "entries_seen": h.entries_seen, "last_new_entry": _iso(h.last_new_entry),
            "redirect_target": policy.url(h.redirect_target) if h.redirect_adopted and h.redirect_target
            else None,
            "guid_remaps": remapped,
            "unreadable_dates": h.unreadable_dates,
            "note": note,
        })
    return rows


def _sort(rows: list[dict[str, object]], key: str) -> list[dict[str, object]]:
    if key == "id":
        return sorted(rows, key=lambda r: str(r["id"]))
    if key == "failures":
        return sorted(rows, key=lambda r: (-int(str(r["failures"])), str(r["id"])))
    if key == "entries":
        return sorted(rows, key=lambda r: (-int(str(r["entries"])), str(r["id"])))
    if key in ("last-success", "next-due"):
        field = key.replace("-", "_")
        return sorted(rows, key=lambda r: (str(r[field] or ""), str(r["id"])))
    return sorted(rows, key=lambda r: (_STATE_ORDER.get(str(r["state"]), 9), str(r["id"])))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts (same as --format json).")
@click.option("--format", "fmt", type=click.Choice(["table", "plain", "tsv", "json"]), default=None,
              help="table: boxed, coloured (default on a terminal); plain: aligned columns, no "
                   "box drawing (default when piped); tsv: tab-separated with a header row; json.")
@click.option("--local", is_flag=True,
              help="Show times in the local zone (TZ), named, instead of UTC.")
@click.option("--width", type=click.IntRange(min=20), default=None,
              help="Fit lines to this many columns (default: the terminal's width; "
                   "piped, whole lines).")
@click.option("--sort", type=click.Choice(_SORT_KEYS), default="state", show_default=True,
              help="Order of the rows; by state puts broken and stale sources first.")
@click.pass_obj
def status(opts: Options, as_json: bool, fmt: str | None, local: bool, width: int | None,
           sort: str) -> None:
    """Show each source's health from the state database.

    Each source keeps one line: as the width shrinks, columns drop (the HTTP
    code first, then entries, failures, last success and next due) and the
    note is cut with an ellipsis; ids are never split.
    """
    from feeds.cli.statustext import zone_label

    config = _load(opts.root)
    try:
        if config.settings.state_path.exists():
            with Store(config.settings.state_path) as store:
                rows = status_rows(config, store)
                total = store.count_entries()
        else:
            rows, total = status_rows(config, None), 0
    except StateError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    rows = _sort(rows, sort)
    tty = sys.stdout.isatty()
    fmt = "json" if as_json else (fmt or ("table" if tty else "plain"))
    if fmt == "json":
        click.echo(json.dumps({"entries": total, "sources": rows}, indent=2))
        return
    zone = Zone(local=local)
    if fmt == "tsv":
        from feeds.cli.statustext import render_tsv

        # Tabs and newlines are escaped by render_tsv; other controls are shown as escapes.
        clean = [{k: scrub(v, multiline=True) if isinstance(v, str) else v for k, v in r.items()}
                 for r in rows]
        click.echo(render_tsv(clean, zone), nl=False)
        return
    clean = [{k: scrub(v) if isinstance(v, str) else v for k, v in r.items()} for r in rows]
    label, each_zone = zone_label(clean, zone, datetime.now(UTC))
    title = scrub(f"{config.settings.title}: {_plural(total, 'entry', 'entries')} held; {label}")
    _print_status(title, clean, zone, each_zone, fmt, width or _terminal_width(tty))


UNLIMITED_WIDTH = 100_000


def _terminal_width(tty: bool) -> int:
    import shutil

    # Piped, lines stay whole for grep and files: an inherited $COLUMNS (shells,
    # test runners and CI set it) says nothing of where the output goes.
    if not tty:
        return UNLIMITED_WIDTH
    return max(20, shutil.get_terminal_size((80, 24)).columns)


def _print_status(title: str, rows: list[dict[str, object]], zone: Zone, each_zone: bool,
                  fmt: str, width: int) -> None:
    from feeds.cli.statustext import cells, clip, layout, render_plain

    table_cells = [cells(r, zone, each_zone) for r in rows]
    if fmt == "plain":
        click.echo(render_plain(title, table_cells, width), nl=False)
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    cols = layout(table_cells, width, sep=3)  # box.SIMPLE_HEAD without edges: " │ " apart
    table = Table(title=Text(clip(title, width)), box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, title_justify="left")
    for col, w in cols:
        table.add_column(col.header, width=w, min_width=w, max_width=w, no_wrap=True,
                         overflow="ellipsis", justify="right" if col.right else "left")
    styles = {"gone": "red", "failing": "red", "stale": "yellow", "disabled": "dim"}
    for r, c in zip(rows, table_cells, strict=True):
        # Text, not str: rich would read "[...]" as markup.
        table.add_row(*(Text(c[col.key]) for col, _w in cols), style=styles.get(str(r["state"])))
    Console(width=width, highlight=False, soft_wrap=False).print(table)


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


@cli.command()
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

    config = _load(opts.root)
    _check_templates(config)
    if opts.verbosity >= 0:
        logging.getLogger("feeds").setLevel(logging.DEBUG if opts.verbosity > 0 else logging.INFO)
    fetches: Counter[str] = Counter()

    def on_report(report: RunReport, cfg: Config, store: Store) -> None:
        fetches.update(o.status for o in report.outcomes if o.status not in ("skipped", "gone"))
        # A fetch round publishes nothing: its files are counted by the publish line.
        log_report(report, opts.verbosity, opts.log_format, files=False)

    def on_publish(done: Published, cfg: Config, store: Store) -> None:
        write_status(cfg, store, daemon_.stats.last_report)
        for warning in asyncio.run(ping_hub_for(cfg, list(done.written))):
            log.warning("%s", warning)
        log.info("%s", done.describe(names=opts.verbosity > 0), extra={
            "event": "publish", "files_written": len(done.written),
            "files_unchanged": done.unchanged, "rounds": done.rounds,
            "new_entries": done.new_entries, "updated_entries": done.updated_entries})

    try:
        with run_lock(_lock_path(config)), Store(config.settings.state_path, shared=True) as store:
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
    except LockedError as exc:
        say(f"error: {exc}", err=True)
        sys.exit(EXIT_LOCKED)
    except FeedsError as exc:
        say(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    except OSError as exc:
        click.echo(f"error: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_FAILED)


@cli.command()
@click.argument("what", metavar="URL_OR_ID")
@click.pass_obj
def explain(opts: Options, what: str) -> None:
    """Show the story an entry belongs to, why its copies were merged, and its topics."""
    from feeds.publish.clusters import representative

    config = _load(opts.root)
    if not config.settings.state_path.exists():
        click.echo("no runs yet: run 'feeds run' first", err=True)
        sys.exit(EXIT_FAILED)
    sources = {s.id: s for s in config.sources}
    classifier = Classifier(config.topics, config.sources)
    with Store(config.settings.state_path) as store:
        found = store.find_entries(what)
        clusters = {c.id: c for eid in found if (c := store.cluster_of(eid)) is not None}
    if not clusters:
        say(f"error: no entry with the id, link or URL {what}", err=True)
        sys.exit(EXIT_FAILED)
    for cluster in clusters.values():
        shown = representative(cluster, sources)
        say(f"story {cluster.id}: {shown.entry.title}")
        click.echo(f"  published copy: {shown.entry.source_id} "
                   f"({'highest priority' if shown is not cluster.members[0] else 'first seen'})")
        for m in cluster.members:
            e = m.entry
            say(f"  - {e.source_id}: {e.title}")
            say(f"      id {m.id}, link {e.link or '(none)'}")
            click.echo(f"      first seen {m.first_seen:%Y-%m-%d %H:%M} UTC, "
                       f"published {e.published:%Y-%m-%d}")
            if m.carriers:
                click.echo(f"      same URL also from: {', '.join(m.carriers)}")
            if m.reason:
                say(f"      joined because: {m.reason}")
            carriers = [sources[s] for s in (e.source_id, *m.carriers) if s in sources]
            for x in classifier.explain(e, carriers):
                say(f"      {'in' if x.member else 'not in'} {x.topic}: {x.how}")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--max-connections", type=click.IntRange(1, 10_000), default=64, show_default=True,
              help="Requests answered at once (one thread each); more wait their turn.")
@click.pass_obj
def serve_command(opts: Options, host: str, port: int, max_connections: int) -> None:
    """Serve the output folder over HTTP, for previews and small sites."""
    from feeds.cli.serve import Limits, serve

    config = _load(opts.root)
    try:
        serve(config.settings.output_dir, host, port,
              on_ready=lambda url: click.echo(f"serving {config.settings.output_dir} at {url}"),
              limits=Limits(max_connections=max_connections))
    except NotADirectoryError:
        click.echo(f"error: {config.settings.output_dir} does not exist yet: run 'feeds run' first",
                   err=True)
        sys.exit(EXIT_FAILED)
    except OSError as exc:
        click.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_FAILED)


@cli.group()
def sources() -> None:
    """Import, export and add sources (OPML)."""


@sources.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@click.option("--with-secrets", is_flag=True,
              help="Keep user names, passwords and secret query values in the URLs (for a backup).")
@click.pass_obj
def sources_export(opts: Options, output: Path | None, with_secrets: bool) -> None:
    """Write the source list as OPML, grouped by topic.

    URLs lose their credentials and the values of secret-looking query
    parameters, as in the published sources.opml, unless --with-secrets.
    Each feed's site (htmlUrl), and the title of a source the config leaves
    untitled, come from the feed as last fetched.
    """
    from feeds.publish.opml import render_opml

    config = _load(opts.root)
    infos = _feed_infos(config)
    data = render_opml(with_feed_titles(config, infos), home_pages(infos), with_secrets=with_secrets)
    if output is None:
        click.echo(data.decode("utf-8"), nl=False)
    else:
        write_atomic(output, data)


def _feed_infos(config: Config) -> dict[str, FeedInfo]:
    """What each feed said about itself when last fetched; nothing before the first run."""
    if not config.settings.state_path.exists():
        return {}
    try:
        with Store(config.settings.state_path) as store:
            return store.feed_infos()
    except StateError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)


def _merge_sources(opts: Options, config: Config, feeds: list[OpmlFeed], dry_run: bool) -> None:
    from feeds.publish.opml import merge_into_sources

    path = opts.root / SOURCES_FILE
    text = path.read_text(encoding="utf-8-sig")
    merged, report = merge_into_sources(text, feeds, set(config.topic_ids()),
                                        {t.id: t.title for t in config.topics})
    for item in report.items:
        say(item.describe())
    click.echo(report.summary() + (" (dry run: nothing written)" if dry_run else ""))
    if report.added and not dry_run:
        write_atomic(path, merged.encode("utf-8"))


@sources.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Report what would be added; change nothing.")
@click.pass_obj
def sources_import(opts: Options, file: Path, dry_run: bool) -> None:
    """Add the subscriptions of an OPML file to config/sources.toml.

    Comments and order in the file are kept; OPML categories that name a topic
    become the source's topics; duplicates and invalid URLs are reported.
    """
    from feeds.publish.opml import OpmlError, parse_opml

    config = _load(opts.root)
    try:
        feeds = parse_opml(file.read_bytes())
    except OpmlError as exc:
        click.echo(f"error: {file}: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    _merge_sources(opts, config, feeds, dry_run)


@sources.command("add")
@click.argument("url")
@click.option("--title", help="Title for the source (default: the feed's own).")
@click.option("--id", "source_id", metavar="ID",
              help="Id for the source (default: made from the title, or from the host).")
@click.option("--topic", "topics", multiple=True, help="A default topic (repeatable).")
@click.option("--dry-run", is_flag=True, help="Check and report; change nothing.")
@click.pass_obj
def sources_add(opts: Options, url: str, title: str | None, source_id: str | None,
                topics: tuple[str, ...], dry_run: bool) -> None:
    """Add a feed, given its URL or the URL of a page that links to it.

    The feed is fetched once to check that it is one. Given a page, the feeds
    it advertises are tried in its order and the first that works is added;
    the others are listed, to add one of them instead.
    """
    from feeds.config import ID_RE
    from feeds.publish.opml import OpmlFeed, new_id

    config = _load(opts.root)
    unknown = [t for t in topics if t not in config.topic_ids()]
    if unknown:
        click.echo(f"error: unknown topic {', '.join(unknown)} "
                   f"(known: {', '.join(config.topic_ids())})", err=True)
        sys.exit(EXIT_CONFIG)
    taken = {s.id for s in config.sources}
    if source_id is not None and not ID_RE.fullmatch(source_id):
        say(f"error: --id {source_id!r} is not a valid source id (lower-case letters, digits, "
            "'-' and '_', starting with a letter or digit, at most 64)", err=True)
        sys.exit(EXIT_CONFIG)
    if source_id is not None and source_id in taken:
        say(f"error: --id {source_id!r} is already the id of a source in {SOURCES_FILE.as_posix()}",
            err=True)
        sys.exit(EXIT_CONFIG)
    # Until the feed is read, the id is the one it gets without a feed title.
    provisional = source_id or new_id(title or "", url, taken)
    from feeds.sources.discover import discover_feed

    try:
        found = asyncio.run(discover_feed(url, config.settings.fetch, provisional))
    except SourceError as exc:
        say(f"error: new source '{provisional}' ({url}): {exc.message}; nothing was added", err=True)
        sys.exit(EXIT_FAILED)
    except FeedsError as exc:
        say(f"error: new source '{provisional}' ({url}): {exc}; nothing was added", err=True)
        sys.exit(EXIT_FAILED)
    if found.feed_url != url:
        say(f"found the feed {found.feed_url} on {url}")
    others = [u for u in found.advertised if u != found.chosen]
    if found.chosen is not None and others:
        failed = dict(found.failed)
        say(f"the page advertises {_plural(len(found.advertised), 'feed')}; "
            f"chose {found.chosen}, the first that works. The others:")
        for other in others:
            say(f"  {other}" + (f" (failed: {failed[other]})" if other in failed else ""))
        click.echo("to add another instead: feeds sources add URL")
    # The feed's own title is a stranger's text: cleaned as for display (one line,
    # no markup or control characters, length-capped) before it goes into the config.
    name = title or clean_title(found.title) or ""
    _merge_sources(opts, config, [OpmlFeed(found.feed_url, name, tuple((t,) for t in topics),
                                           source_id)], dry_run)


@cli.command("init")
@click.argument("directory", metavar="[DIR]", required=False,
                type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def init_command(opts: Options, directory: Path | None) -> None:
    """Start a new project in DIR (default: --root): a commented config/ with two
    example sources and topics, and an empty seeds/ folder for local articles.

    An existing config is never overwritten.
    """
    from feeds.cli.scaffold import create_project, existing_config, next_steps

    root = directory if directory is not None else opts.root
    found = existing_config(root)
    if found:
        click.echo(f"error: {', '.join(str(p) for p in found)} already "
                   f"{'exists' if len(found) == 1 else 'exist'}; feeds init never overwrites a "
                   "config (edit it, or choose another folder)", err=True)
        sys.exit(EXIT_CONFIG)
    try:
        made = create_project(root)
    except FileExistsError as exc:
        click.echo(f"error: {exc.filename} already exists; nothing more was written", err=True)
        sys.exit(EXIT_CONFIG)
    except OSError as exc:
        click.echo(f"error: cannot create the project in {root}: "
                   f"{exc.filename or ''}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_FAILED)
    for path in made:
        click.echo(f"created {path}{'/' if path.is_dir() else ''}")
    click.echo(next_steps(root, given=root != Path(".")), nl=False)


# One or two examples at the end of each command's --help. Kept here rather than in
# the decorators so that every command is listed in one place (tests/test_cli_ops.py
# checks that none is missing).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": ("feeds init mysite && cd mysite && feeds check && feeds run",
         "feeds --root /srv/feeds -q run --strict    # from cron"),
    "run": ("feeds run                    # fetch what is due, publish",
            "feeds -q run --strict        # cron: quiet unless a source is broken"),
    "check": ("feeds check", "feeds check --reference > keys.md"),
    "status": ("feeds status --sort failures",
               "feeds status --format tsv | cut -f1,3,11    # id, state, note"),
    "daemon": ("feeds daemon --tick 1m --metrics-port 9108",),
    "explain": ("feeds explain https://example.com/2026/some-story",),
    "serve": ("feeds serve --port 8000    # then open http://127.0.0.1:8000/",),
    "init": ("feeds init mysite", "feeds --root /srv/feeds init"),
    "topics": ("feeds topics preview ai", "feeds topics diff --against HEAD~1"),
    "topics preview": ("feeds topics preview", "feeds topics preview ai --limit 30"),
    "topics diff": ("feeds topics diff --against HEAD", "feeds topics diff --against ../draft.toml"),
    "sources": ("feeds sources add https://example.com/blog/",
                "feeds sources import subscriptions.opml --dry-run"),
    "sources export": ("feeds sources export -o subscriptions.opml",),
    "sources import": ("feeds sources import subscriptions.opml --dry-run",
                       "feeds sources import subscriptions.opml"),
    "sources add": ("feeds sources add https://example.com/blog/ --topic ai",
                    "feeds sources add https://example.com/feed.xml --title 'Example' --dry-run"),
}


def _epilog(lines: tuple[str, ...]) -> str:
    # "\b" keeps click from re-wrapping the lines into one paragraph.
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {prefix.strip(): group}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{prefix}{name} "))
        else:
            found[f"{prefix}{name}"] = command
    return found


for _name, _command in _commands(cli).items():
    if _name in EXAMPLES:
        _command.epilog = _epilog(EXAMPLES[_name])


def main() -> None:
    cli(prog_name="feeds")
