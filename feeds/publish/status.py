"""What operators and monitoring read: ``public/status.json``, the Prometheus
text served by ``feeds daemon --metrics-port``, and the rows of the status page
(``statuspage.py``). Pure rendering from a snapshot."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from feeds.redact import REDACTED, UrlPolicy
from feeds.types import Config, PageState, RunReport, Source, SourceDay, SourceHealth, SourceState

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class Snapshot:
    sources_by_state: dict[str, int]
    entries_total: int
    entries_per_topic: dict[str, int]
    last_run_started: datetime | None
    last_run_finished: datetime | None
    fetch_seconds: tuple[float, ...]  # each source fetched by the last run
    failed_sources: tuple[str, ...]


def source_state(source_enabled: bool, health: SourceHealth | None) -> SourceState:
    if not source_enabled:
        return "disabled"
    if health is None:
        return "new"
    return "stale" if health.stale and health.state == "ok" else health.state


def make_snapshot(config: Config, health: dict[str, SourceHealth], topic_counts: dict[str, int],
                  entries_total: int, report: RunReport | None) -> Snapshot:
    states = Counter(source_state(s.enabled, health.get(s.id)) for s in config.sources)
    per_topic = {t.id: topic_counts.get(t.id, 0) for t in config.topics}
    per_topic["all"] = entries_total
    seconds = tuple(o.seconds for o in report.outcomes if o.seconds is not None) if report else ()
    failed = tuple(o.source_id for o in report.failed) if report else ()
    return Snapshot(
        sources_by_state=dict(sorted(states.items())),
        entries_total=entries_total,
        entries_per_topic=per_topic,
        last_run_started=report.started if report else None,
        last_run_finished=report.finished if report else None,
        fetch_seconds=seconds,
        failed_sources=failed,
    )


def iso(value: datetime | None) -> str | None:
    """A UTC time as status.json and ``feeds status --json`` write it."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _percentile(values: Sequence[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def render_status_json(s: Snapshot) -> bytes:
    duration = ((s.last_run_finished - s.last_run_started).total_seconds()
                if s.last_run_started and s.last_run_finished else None)
    data = {
        "last_run": {
            "started": iso(s.last_run_started),
            "finished": iso(s.last_run_finished),
            "seconds": round(duration, 3) if duration is not None else None,
            "failed_sources": list(s.failed_sources),
        },
        "sources": s.sources_by_state,
        "entries": s.entries_per_topic,
        "fetch_latency_seconds": {
            "count": len(s.fetch_seconds),
            "median": round(median(s.fetch_seconds), 3) if s.fetch_seconds else None,
            "p95": round(p, 3) if (p := _percentile(s.fetch_seconds, 0.95)) is not None else None,
            "max": round(max(s.fetch_seconds), 3) if s.fetch_seconds else None,
        },
    }
    return (json.dumps(data, indent=2) + "\n").encode("utf-8")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_metrics(s: Snapshot, *, fetches_total: dict[str, int], up_since: datetime) -> str:
    """Prometheus text exposition format, version 0.0.4."""
    lines = [
        "# HELP feeds_sources Sources by state.",
        "# TYPE feeds_sources gauge",
        *(f'feeds_sources{{state="{_label(k)}"}} {v}' for k, v in s.sources_by_state.items()),
        "# HELP feeds_entries Entries held, per topic (all: every entry).",
        "# TYPE feeds_entries gauge",
        *(f'feeds_entries{{topic="{_label(k)}"}} {v}' for k, v in s.entries_per_topic.items()),
        "# HELP feeds_fetches_total Fetches by outcome since the daemon started.",
        "# TYPE feeds_fetches_total counter",
        *(f'feeds_fetches_total{{outcome="{_label(k)}"}} {v}' for k, v in sorted(fetches_total.items())),
        "# HELP feeds_start_time_seconds When the daemon started.",
        "# TYPE feeds_start_time_seconds gauge",
        f"feeds_start_time_seconds {up_since.timestamp():.3f}",
    ]
    if s.last_run_finished and s.last_run_started:
        lines += [
            "# HELP feeds_last_run_timestamp_seconds When the last fetch round finished.",
            "# TYPE feeds_last_run_timestamp_seconds gauge",
            f"feeds_last_run_timestamp_seconds {s.last_run_finished.timestamp():.3f}",
            "# HELP feeds_last_run_duration_seconds How long the last fetch round took.",
            "# TYPE feeds_last_run_duration_seconds gauge",
            f"feeds_last_run_duration_seconds "
            f"{(s.last_run_finished - s.last_run_started).total_seconds():.3f}",
        ]
    lines += ["# HELP feeds_fetch_duration_seconds Fetch latency of the sources in the last round.",
              "# TYPE feeds_fetch_duration_seconds histogram"]
    for bound in LATENCY_BUCKETS:
        count = sum(1 for v in s.fetch_seconds if v <= bound)
        lines.append(f'feeds_fetch_duration_seconds_bucket{{le="{bound:g}"}} {count}')
    lines += [f'feeds_fetch_duration_seconds_bucket{{le="+Inf"}} {len(s.fetch_seconds)}',
              f"feeds_fetch_duration_seconds_sum {sum(s.fetch_seconds):.3f}",
              f"feeds_fetch_duration_seconds_count {len(s.fetch_seconds)}"]
    return "\n".join(lines) + "\n"


# --- the status page's rows ---------------------------------------------------


# The page's states, broken and quiet first: the order of the page.
PAGE_STATES: tuple[PageState, ...] = ("backing off", "failing", "gone", "quiet", "new", "ok", "disabled")


@dataclass(frozen=True)
class PageRow:
    """One source as the status page shows it: URLs and messages already redacted."""

    id: str
    title: str
    state: PageState
    location: str  # the redacted URL, or the local folder
    last_attempt: datetime | None
    last_success: datetime | None
    next_due: datetime | None
    last_new_entry: datetime | None
    failures: int
    http_status: int | None
    entries: int
    note: str
    days: tuple[SourceDay, ...] = ()


def page_state(source_enabled: bool, health: SourceHealth | None) -> PageState:
    """``failing`` after one failure (the next try comes at the usual interval);
    ``backing off`` after two or more in a row, when each wait doubles
    (``polling.backoff``); ``quiet`` is the health feed's stale."""
    state = source_state(source_enabled, health)
    if state == "failing" and health is not None and health.failures >= 2:
        return "backing off"
    return "quiet" if state == "stale" else state


def _note(source: Source, h: SourceHealth, policy: UrlPolicy) -> str:
    note = h.last_error or h.last_warning or ""
    if h.redirect_adopted and h.redirect_target:
        note = f"moved permanently to {h.redirect_target}; update the url in config" + (
            f"; {note}" if note else "")
    note = policy.text(note, known_urls=(source.url,))
    # The config takes credentials out of the URL (url_auth) and holds auth and headers
    # apart, so the policy cannot see them; a server that echoes them must not publish them.
    secrets = {v for pair in (source.auth, source.url_auth) if pair for v in pair}
    secrets.update(value for _name, value in source.headers)
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        note = note.replace(secret, REDACTED)
    return note


def _folder(config: Config, source: Source) -> str:
    """A local source's folder as the config names it: relative to the project, so
    that a public page does not show where the project lives."""
    if source.path is None:
        return ""
    try:
        return source.path.relative_to(config.root).as_posix()
    except ValueError:
        return str(source.path)


def page_rows(config: Config, health: dict[str, SourceHealth], entries: dict[str, int],
              days: dict[str, list[SourceDay]], policy: UrlPolicy) -> list[PageRow]:
    """Every configured source, broken and quiet first (then by failures, then id)."""
    rows = []
    for source in config.sources:
        h = health.get(source.id)
        known = h or SourceHealth(source.id)
        location = policy.url(source.url) if source.url else _folder(config, source)
        rows.append(PageRow(
            id=source.id, title=source.title, state=page_state(source.enabled, h), location=location,
            last_attempt=known.last_attempt, last_success=known.last_success,
            next_due=known.next_due if source.enabled else None,
            last_new_entry=known.last_new_entry, failures=known.failures,
            http_status=known.http_status, entries=entries.get(source.id, 0),
            note=_note(source, known, policy), days=tuple(days.get(source.id, ()))))
    return sorted(rows, key=lambda r: (PAGE_STATES.index(r.state), -r.failures, r.id))


# --- the rows of ``feeds status`` ------------------------------------------------


def status_rows(config: Config, health: dict[str, SourceHealth], entries: dict[str, int],
                remaps: dict[str, tuple[int, str | None]], policy: UrlPolicy) -> list[dict[str, object]]:
    """Every configured source as ``feeds status`` shows it (and prints as JSON), in
    config order: URLs and notes redacted as on the status page."""
    rows: list[dict[str, object]] = []
    for source in config.sources:
        h = health.get(source.id, SourceHealth(source.id))
        note = _note(source, h, policy)
        remapped, last_remap = remaps.get(source.id, (0, None))
        if remapped:
            note += ("; " if note else "") + f"{remapped} changed GUIDs mapped back (latest {last_remap})"
        rows.append({
            "id": source.id, "title": source.title, "state": source_state(source.enabled, h),
            "url": policy.url(source.url) if source.url else None,
            "path": str(source.path) if source.path else None,
            "http_status": h.http_status, "last_attempt": iso(h.last_attempt),
            "last_success": iso(h.last_success), "next_due": iso(h.next_due),
            "failures": h.failures, "entries": entries.get(source.id, 0),
            "entries_seen": h.entries_seen, "last_new_entry": iso(h.last_new_entry),
            "redirect_target": policy.url(h.redirect_target) if h.redirect_adopted and h.redirect_target
            else None,
            "guid_remaps": remapped,
            "unreadable_dates": h.unreadable_dates,
            "note": note,
        })
    return rows
