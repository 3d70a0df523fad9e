"""Source health: how a fetch outcome changes what we know of a source, and which
events that is worth telling the operator about. Pure: ``now`` and jitter come in.

Events (the health feed publishes them):
- ``failing``: ``alert_after`` consecutive failures (one failure is often a blip);
- ``recovered``: the first success after a ``failing`` event;
- ``gone``: HTTP 410, the source is no longer polled;
- ``moved``: a permanent redirect seen on ``REDIRECT_CONFIRMATIONS`` fetches in a row,
  from then on fetched at its new address (config is not rewritten);
- ``stale``: no new items for several times the source's usual cadence;
- ``active``: new items again after ``stale``.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime, timedelta
from statistics import median

from feeds.errors import FetchError, SourceError
from feeds.sources.polling import backoff, interval_after_success, spread
from feeds.types import CacheHints, FetchSettings, HealthEvent, Source, SourceHealth

REDIRECT_CONFIRMATIONS = 3
STALE_FACTOR = 4  # quiet for this many times the usual gap between new items
STALE_FLOOR = timedelta(days=2)  # never stale sooner than this
CADENCE_SAMPLE = 10


def reset_if_reconfigured(prev: SourceHealth, source: Source) -> SourceHealth:
    """An operator who changes a source's URL starts it afresh (validators, redirects, backoff)."""
    if prev.config_url is not None and prev.config_url != source.url:
        return SourceHealth(source_id=source.id, config_url=source.url,
                            last_new_entry=prev.last_new_entry)
    return replace(prev, config_url=source.url)


def cadence(first_seen: list[datetime]) -> timedelta | None:
    """The usual gap between a source's new items: the median of its recent gaps."""
    times = sorted(first_seen)[-CADENCE_SAMPLE:]
    gaps = [b - a for a, b in itertools.pairwise(times) if b > a]
    if len(gaps) < 2:
        return None
    return timedelta(seconds=median(g.total_seconds() for g in gaps))


def after_success(
    prev: SourceHealth,
    source: Source,
    settings: FetchSettings,
    now: datetime,
    *,
    http_status: int | None,
    hints: CacheHints | None,
    ttl_minutes: int | None,
    permanent_redirect: str | None,
    entries_seen: int | None,
    new_entries: int,
    warning: str | None,
    usual_gap: timedelta | None,
    jitter: float = 0.0,
    unreadable_dates: int | None = None,
) -> tuple[SourceHealth, list[HealthEvent]]:
    events: list[HealthEvent] = []
    if prev.alerted:
        events.append(HealthEvent(source.id, now, "recovered",
                                  f"{source.title} works again after {prev.failures} failed fetches"))
    state = replace(
        prev, state="ok", last_attempt=now, last_success=now, http_status=http_status, failures=0,
        last_error=None, failing_since=None, last_warning=warning, alerted=False,
        next_due=None if source.is_local else now + spread(interval_after_success(
            source, settings, hints, ttl_minutes), jitter),
    )
    if entries_seen is not None:
        state = replace(state, entries_seen=entries_seen)
    if unreadable_dates is not None:  # None: no document was read (304)
        state = replace(state, unreadable_dates=unreadable_dates)
    state, moved = _track_redirect(state, source, permanent_redirect, now)
    events.extend(moved)
    if new_entries:
        if prev.stale:
            events.append(HealthEvent(source.id, now, "active", f"{source.title} has new items again"))
        state = replace(state, last_new_entry=now, stale=False)
    elif not state.stale and state.last_new_entry is not None and usual_gap is not None:
        quiet = now - state.last_new_entry
        limit = max(usual_gap * STALE_FACTOR, STALE_FLOOR)
        if quiet > limit:
            events.append(HealthEvent(
                source.id, now, "stale",
                f"{source.title} has had no new items for {_human(quiet)} "
                f"(it usually has one every {_human(usual_gap)})"))
            state = replace(state, stale=True)
    return state, events


def _track_redirect(state: SourceHealth, source: Source, target: str | None,
                    now: datetime) -> tuple[SourceHealth, list[HealthEvent]]:
    if state.redirect_adopted:
        return state, []
    if target is None:
        return replace(state, redirect_target=None, redirect_seen=0), []
    seen = state.redirect_seen + 1 if target == state.redirect_target else 1
    state = replace(state, redirect_target=target, redirect_seen=seen)
    if seen < REDIRECT_CONFIRMATIONS:
        return state, []
    message = (f"{source.title} moved permanently to {target}; fetching it there from now on "
               f"(update its url in config/sources.toml)")
    return replace(state, redirect_adopted=True), [HealthEvent(source.id, now, "moved", message)]


def after_failure(
    prev: SourceHealth,
    source: Source,
    settings: FetchSettings,
    now: datetime,
    error: SourceError,
    jitter: float,
) -> tuple[SourceHealth, list[HealthEvent]]:
    failures = prev.failures + 1
    status = error.status if isinstance(error, FetchError) else None
    state = replace(prev, last_attempt=now, failures=failures, last_error=error.message,
                    http_status=status,
                    failing_since=prev.failing_since if prev.failures else now)
    if isinstance(error, FetchError) and error.gone:
        gone = [] if prev.state == "gone" else [HealthEvent(
            source.id, now, "gone", f"{source.title} is gone (HTTP 410); it will not be polled "
                                    "again: remove it from config/sources.toml")]
        return replace(state, state="gone", next_due=None), gone
    retry_after = error.retry_after if isinstance(error, FetchError) else None
    wait = backoff(failures, settings, jitter, retry_after)
    state = replace(state, state="failing", next_due=now + wait)
    events: list[HealthEvent] = []
    if failures >= settings.alert_after and not prev.alerted:
        events.append(HealthEvent(source.id, now, "failing",
                                  f"{source.title} failed {failures} times in a row: {error.message}"))
        state = replace(state, alerted=True)
    return state, events


def _human(span: timedelta) -> str:
    seconds = span.total_seconds()
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} hours"
    return f"{max(1, round(seconds / 60))} minutes"
