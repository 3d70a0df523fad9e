"""``status.html``: every source's state, times and entries, with a sparkline of
its new entries per day and one of its fetch latency over the last ``CHART_DAYS``
days, broken and quiet sources first.

Pure: the page is a function of the rows (``status.page_rows``, whose URLs and
messages are already redacted) and ``now``, so the same state and ``now`` give
the same bytes. Everything a source or its server wrote (titles, error
messages) is escaped, and its control characters are shown as escapes. No
JavaScript; readable from 320 px wide up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from html import escape

from feeds.publish.status import PAGE_STATES, PageRow
from feeds.redact import strip_controls, terminal_safe
from feeds.types import SourceDay

CHART_DAYS = 30
CHART_WIDTH, CHART_HEIGHT = 120, 24
_PAD = 2  # keeps the stroke and the end marker inside the box

_STYLE = """
:root { color-scheme: light dark; --muted: #5f6368; --rule: #dadce0; --bad: #b3261e;
        --warn: #8a5a00; --ok: #1e7b34; --idle: #70757a; }
@media (prefers-color-scheme: dark) {
  :root { --muted: #b0b3b8; --rule: #3c4043; --bad: #f2b8b5; --warn: #f6c26b; --ok: #7fd18b;
          --idle: #9aa0a6; } }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 80rem;
       margin: 0 auto; padding: 1rem; overflow-wrap: anywhere; }
header { border-bottom: 1px solid var(--rule); margin-bottom: 1rem; }
h1 { font-size: 1.5rem; margin: .5rem 0; }
.sub { color: var(--muted); font-size: .9rem; margin: 0 0 .75rem; }
ol.sources { list-style: none; margin: 0; padding: 0; display: grid; gap: 1rem;
             grid-template-columns: repeat(auto-fill, minmax(min(100%, 21rem), 1fr)); }
.source { --state: var(--idle); min-width: 0; border: 1px solid var(--rule);
          border-left: 4px solid var(--state); border-radius: 6px; padding: .6rem .8rem; }
.s-failing, .s-backing-off, .s-gone { --state: var(--bad); }
.s-quiet { --state: var(--warn); }
.s-ok { --state: var(--ok); }
.badge { display: inline-block; color: var(--state); border: 1px solid currentColor;
         border-radius: 3px; padding: 0 .35rem; font-size: .75rem; font-weight: 600;
         text-transform: uppercase; letter-spacing: .03em; }
h2 { font-size: 1.05rem; margin: .3rem 0 0; }
.id, .where { color: var(--muted); font-size: .8rem; margin: 0; }
dl { display: flex; flex-wrap: wrap; gap: .2rem 1.2rem; margin: .5rem 0; font-size: .85rem; }
dl div { min-width: 0; }
dt { color: var(--muted); font-size: .75rem; }
dd { margin: 0; }
.charts { display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; margin: .4rem 0; }
figure { margin: 0; }
figcaption { color: var(--muted); font-size: .75rem; }
svg { display: block; max-width: 100%; height: auto; }
polyline { fill: none; stroke: var(--state); stroke-width: 1.5; stroke-linejoin: round; }
circle { fill: var(--state); }
line.base { stroke: var(--rule); stroke-width: 1; }
.note { font-size: .85rem; margin: .3rem 0 0; }
footer { border-top: 1px solid var(--rule); margin-top: 1.5rem; color: var(--muted);
         font-size: .85rem; }
""".strip()


def _text(value: str) -> str:
    """A stranger's one-line text, as HTML: control characters (and direction
    overrides) shown as escapes, markup escaped."""
    return escape(terminal_safe(value))


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{round(seconds)} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


def _when(value: datetime | None, now: datetime, never: str = "never") -> str:
    if value is None:
        return escape(never)
    delta = (value - now).total_seconds()
    relative = "now" if abs(delta) < 1 else (
        f"in {_span(delta)}" if delta > 0 else f"{_span(delta)} ago")
    shown = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f'<time datetime="{_stamp(value)}">{shown}</time> ({relative})'


def _ms(value: float) -> str:
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{round(value)} ms"


def chart_days(now: datetime) -> list[date]:
    """The days the charts cover, oldest first: ``CHART_DAYS`` UTC days to today."""
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=CHART_DAYS - 1 - i) for i in range(CHART_DAYS)]


def _sparkline(values: Sequence[float | None], title: str) -> str:
    """A polyline through the values that are not None, scaled to the largest, over
    a base line; the last point is marked. A day without a value is skipped, not
    drawn as zero."""
    top = max((v for v in values if v is not None), default=0.0) or 1.0
    step = (CHART_WIDTH - 2 * _PAD) / max(1, len(values) - 1)
    span = CHART_HEIGHT - 2 * _PAD
    points = [(_PAD + i * step, CHART_HEIGHT - _PAD - v / top * span)
              for i, v in enumerate(values) if v is not None]
    parts = [f'<svg width="{CHART_WIDTH}" height="{CHART_HEIGHT}" '
             f'viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img"><title>{escape(title)}</title>',
             f'<line class="base" x1="{_PAD}" y1="{CHART_HEIGHT - _PAD}" '
             f'x2="{CHART_WIDTH - _PAD}" y2="{CHART_HEIGHT - _PAD}"/>']
    if points:
        parts.append('<polyline points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + '"/>')
        x, y = points[-1]
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2"/>')
    parts.append("</svg>")
    return "".join(parts)


def _charts(row: PageRow, days: Sequence[date]) -> str:
    by_day: dict[date, SourceDay] = {d.day: d for d in row.days}
    first, last = days[0].isoformat(), days[-1].isoformat()
    counted = [by_day.get(d) for d in days]
    new = [float(c.new_entries) if c else 0.0 for c in counted]
    total_new = sum(c.new_entries for c in counted if c)
    most = max((c.new_entries for c in counted if c), default=0)
    entries_title = (f"New entries per day, {first} to {last} (UTC): {total_new} in all, "
                     f"at most {most} on one day")
    latency = [c.latency_ms_mean if c else None for c in counted]
    answered = [v for v in latency if v is not None]
    fetches = sum(c.fetches for c in counted if c)
    failures = sum(c.failures for c in counted if c)
    if answered:
        worst = max(c.latency_ms_max for c in counted if c)
        latency_title = (f"Fetch latency per day (mean of answered fetches), {first} to {last} (UTC): "
                         f"{_ms(answered[-1])} on the latest day with an answer, slowest fetch "
                         f"{_ms(worst)}; {failures} of {fetches} fetches failed")
        latency_caption = f"latency · {_ms(answered[-1])}"
    else:
        latency_title = (f"Fetch latency per day, {first} to {last} (UTC): no answered fetch; "
                         f"{failures} of {fetches} fetches failed")
        latency_caption = "latency · no answer"
    return (
        '<div class="charts">'
        f"<figure>{_sparkline(new, entries_title)}"
        f"<figcaption>new entries · {total_new} in {len(days)} days</figcaption></figure>"
        f"<figure>{_sparkline(latency, latency_title)}"
        f"<figcaption>{escape(latency_caption)}</figcaption></figure>"
        "</div>"
    )


def _source(row: PageRow, now: datetime, days: Sequence[date]) -> str:
    state_class = "s-" + row.state.replace(" ", "-")
    title = strip_controls(row.title) or row.id
    facts = [("Last success", _when(row.last_success, now)),
             ("Last try", _when(row.last_attempt, now))]
    if row.state not in ("gone", "disabled"):
        facts.append(("Next due", _when(row.next_due, now, "at the next run")))
    facts.append(("Entries", str(row.entries)))
    if row.failures:
        facts.append(("Failures in a row", str(row.failures)))
    if row.http_status is not None:
        facts.append(("HTTP", str(row.http_status)))
    if row.state == "quiet" and row.last_new_entry is not None:
        facts.append(("Last new entry", _when(row.last_new_entry, now)))
    dl = "".join(f"<div><dt>{name}</dt><dd>{value}</dd></div>" for name, value in facts)
    note = f'<p class="note">{_text(row.note)}</p>' if row.note else ""
    return (
        f'<li class="source {state_class}" id="source-{escape(row.id)}">'
        f'<span class="badge">{escape(row.state)}</span>'
        f"<h2>{_text(title)}</h2>"
        f'<p class="id">{escape(row.id)}</p>'
        + (f'<p class="where">{_text(row.location)}</p>' if row.location else "")
        + f"<dl>{dl}</dl>{_charts(row, days)}{note}</li>\n"
    )


def render_status_page(site_title: str, rows: Sequence[PageRow], now: datetime, *,
                       language: str = "en") -> bytes:
    """The page, rows in the order given (``page_rows`` puts broken and quiet first)."""
    days = chart_days(now)
    counts = Counter(r.state for r in rows)
    summary = " · ".join(f"{counts[s]} {s}" for s in PAGE_STATES if counts[s])
    n = len(rows)
    heading = f"{strip_controls(site_title)}: source status"
    parts = [
        f'<!DOCTYPE html>\n<html lang="{escape(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex">\n'
        f"<title>{escape(heading)}</title>\n<style>\n{_STYLE}\n</style>\n</head>\n<body>\n"
        f"<header>\n<h1>{escape(heading)}</h1>\n"
        f'<p class="sub">{n} source{"" if n == 1 else "s"}' + (f": {summary}" if summary else "")
        + f" · as of {_when(now, now)}</p>\n</header>\n<main>\n",
    ]
    if rows:
        parts.append('<ol class="sources">\n')
        parts.extend(_source(r, now, days) for r in rows)
        parts.append("</ol>\n")
    else:
        parts.append('<p class="sub">No sources are configured.</p>\n')
    parts.append(
        "</main>\n<footer><p>Failing: the last fetch failed. Backing off: two or more failures in "
        "a row; each wait doubles. Gone: HTTP 410, no longer fetched. Quiet: no new entries for "
        f"several times the source's usual gap. Charts cover {CHART_DAYS} days to "
        f"{days[-1].isoformat()} (UTC); latency is the mean of each day's answered fetches."
        "</p></footer>\n</body>\n</html>\n")
    # Titles and messages hold no lone surrogates as a rule; "replace" keeps the page if one does.
    return "".join(parts).encode("utf-8", "replace")
