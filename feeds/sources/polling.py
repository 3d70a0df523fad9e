"""When to fetch a source next. Pure: ``now`` and the jitter are parameters.

After a success the server's hints decide (RSS ``<ttl>``, ``Cache-Control:
max-age``, ``Expires``), clamped to the configured minimum and maximum; a
source's own ``interval`` overrides them. After a failure the wait doubles
with each consecutive failure, with jitter so that sources failing together
do not retry together, up to ``max_backoff``; ``Retry-After`` is honoured.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from feeds.types import CacheHints, FetchSettings, Source

# A source due within this much of now is fetched by this run, so that a cron
# job every 30 minutes does not skip a source due 30 minutes after the last run.
# The daemon, which checks every few seconds, uses its tick instead.
DUE_SLACK = timedelta(minutes=3)


def _clamp(value: timedelta, low: timedelta, high: timedelta) -> timedelta:
    return max(low, min(high, value))


def interval_after_success(source: Source, settings: FetchSettings, hints: CacheHints | None,
                           ttl_minutes: int | None) -> timedelta:
    if source.interval is not None:
        return source.interval
    # A hint past the clamp's top is the top: a 23-digit max-age must not overflow timedelta.
    top = settings.max_interval.total_seconds()
    hinted = [timedelta(seconds=min(hints.max_age, top))] if hints and hints.max_age is not None else []
    if ttl_minutes:
        hinted.append(timedelta(minutes=ttl_minutes))
    wanted = max(hinted) if hinted else settings.default_interval
    return _clamp(wanted, settings.min_interval, settings.max_interval)


SPREAD = 0.05  # up to 5 % later than due, so sources of one host drift apart


def spread(interval: timedelta, jitter: float) -> timedelta:
    """Never earlier than the server allows; a little later at random."""
    return interval * (1 + SPREAD * jitter)


def backoff(failures: int, settings: FetchSettings, jitter: float,
            retry_after: float | None = None) -> timedelta:
    """The wait after ``failures`` consecutive failures; ``jitter`` is in [0, 1)."""
    base = settings.default_interval * (1 << min(max(failures - 1, 0), 20))
    wait = min(base, settings.max_backoff)
    wait = wait * (0.8 + 0.4 * jitter)  # ±20 %
    ceiling = settings.max_backoff * 1.2
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=min(retry_after, ceiling.total_seconds())))
    return min(wait, ceiling)


def is_due(next_due: datetime | None, now: datetime, slack: timedelta = DUE_SLACK) -> bool:
    return next_due is None or next_due <= now + slack
