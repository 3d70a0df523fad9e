"""``feeds status`` as text: which columns fit a width, times in a named zone, and
the plain and tab-separated forms for pipes. Pure: the rows, the width and the
zone come in; the terminal table itself is drawn by rich in ``cli``.

Columns never fold an id or a word across lines: each source keeps one line.
As the width shrinks, columns drop in the order of ``DROP_ORDER`` (the HTTP code
first, as the note repeats it for failures), the note is cut with an ellipsis,
and only past all that is the id itself cut, with an ellipsis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

ELLIPSIS = "…"
NOTE_MIN = 16  # a note narrower than this says too little to keep
TIME_FORMAT = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class Column:
    key: str  # in the status rows
    header: str
    right: bool = False  # numbers align right


COLUMNS = (
    Column("id", "source"),
    Column("state", "state"),
    Column("http_status", "HTTP", right=True),
    Column("last_success", "last success"),
    Column("next_due", "next due"),
    Column("failures", "fails", right=True),
    Column("entries", "entries", right=True),
    Column("note", "note"),
)
# First dropped first. The id and state always stay; the note takes what is left.
DROP_ORDER = ("http_status", "entries", "failures", "last_success", "next_due")
TIME_KEYS = ("last_success", "next_due")
TSV_KEYS = ("id", "title", "state", "http_status", "last_success", "next_due", "failures", "entries",
            "url", "path", "note")


@dataclass(frozen=True)
class Zone:
    """How times are shown: in UTC, or in the local zone (``TZ``, else the system's)."""

    local: bool = False


def _parse(value: object) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _zone_name(moment: datetime) -> str:
    name = moment.tzname() or ""
    offset = _offset(moment.utcoffset())
    # Zones without an abbreviation report their offset as the name ("+0530", "-03").
    return offset if not name or name.lstrip("+-").isdigit() else name


def _offset(delta: timedelta | None) -> str:
    minutes = int((delta or timedelta()).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone_label(rows: Sequence[dict[str, object]], zone: Zone, now: datetime) -> tuple[str, bool]:
    """What the title says of times, and whether each time must name its own zone
    (a local zone whose offset differs among the times shown, across a DST change)."""
    if not zone.local:
        return "times in UTC", False
    shown = [t.astimezone() for r in rows for k in TIME_KEYS if (t := _parse(r.get(k)))]
    moments = shown or [now.astimezone()]
    offsets = {m.utcoffset() for m in moments}
    if len(offsets) == 1:
        m = moments[0]
        name = _zone_name(m)
        offset = _offset(m.utcoffset())
        return (f"times in {name} ({offset})" if name != offset else f"times in {offset}"), False
    names = "/".join(dict.fromkeys(_zone_name(m) for m in moments))
    return f"local times ({names})", True


def show_time(value: object, zone: Zone, each_zone: bool) -> str:
    moment = _parse(value)
    if moment is None:
        return ""
    if not zone.local:
        return moment.strftime(TIME_FORMAT)
    local = moment.astimezone()
    return local.strftime(TIME_FORMAT) + (f" {_zone_name(local)}" if each_zone else "")


def iso_time(value: object, zone: Zone) -> str:
    """A time for scripts: ISO 8601 with its offset (``Z`` for UTC)."""
    moment = _parse(value)
    if moment is None:
        return ""
    if not zone.local:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.astimezone().isoformat(timespec="seconds")


def cells(row: dict[str, object], zone: Zone, each_zone: bool) -> dict[str, str]:
    """A row's display text per column key; empty where there is nothing to say."""
    out: dict[str, str] = {}
    for col in COLUMNS:
        value = row.get(col.key)
        if col.key in TIME_KEYS:
            out[col.key] = show_time(value, zone, each_zone)
        elif col.key in ("failures", "http_status"):
            out[col.key] = str(value) if value else ""
        else:
            out[col.key] = "" if value is None else str(value)
    return out


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the cut marked with an ellipsis."""
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + ELLIPSIS if width > 0 else ""


def layout(table: Sequence[dict[str, str]], width: int, sep: int) -> list[tuple[Column, int]]:
    """The columns shown and their widths, so that a line is at most ``width`` wide
    with ``sep`` characters between columns."""
    natural = {c.key: max([len(c.header), *(len(r[c.key]) for r in table)]) for c in COLUMNS}
    # A column with nothing in any row is left out, whatever the width.
    kept = [c for c in COLUMNS if c.key in ("id", "state") or any(r[c.key] for r in table)]

    def fixed_width(cols: Sequence[Column]) -> int:
        fixed = [c for c in cols if c.key != "note"]
        return sum(natural[c.key] for c in fixed) + sep * (len(cols) - 1)

    has_note = any(c.key == "note" for c in kept)
    note_need = min(NOTE_MIN, natural["note"]) if has_note else 0
    for key in DROP_ORDER:
        if fixed_width(kept) + note_need <= width:
            break
        kept = [c for c in kept if c.key != key]
    if has_note and fixed_width(kept) + note_need > width:
        kept = [c for c in kept if c.key != "note"]
    widths = {c.key: natural[c.key] for c in kept}
    if "note" in widths:
        widths["note"] = min(natural["note"], width - fixed_width(kept))
    overflow = sum(widths.values()) + sep * (len(kept) - 1) - width
    if overflow > 0:  # only id and state are left and still too wide: the id gives way
        widths["id"] = max(1, widths["id"] - overflow)
    return [(c, widths[c.key]) for c in kept]


def render_plain(title: str, table: Sequence[dict[str, str]], width: int) -> str:
    """Aligned columns, two spaces apart, no box drawing: for pipes, pagers and mail."""
    sep = 2
    cols = layout(table, width, sep)

    def line(values: dict[str, str]) -> str:
        parts = []
        for i, (c, w) in enumerate(cols):
            text = clip(values[c.key], w)
            last = i == len(cols) - 1
            parts.append(text.rjust(w) if c.right else (text if last else text.ljust(w)))
        return (" " * sep).join(parts).rstrip()

    header = {c.key: c.header for c in COLUMNS}
    return "\n".join([clip(title, width), line(header), *(line(r) for r in table)]) + "\n"


def _tsv_value(text: str) -> str:
    # The escapes of PostgreSQL's text COPY format: a value never splits a line or a field.
    return (text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def render_tsv(rows: Sequence[dict[str, object]], zone: Zone) -> str:
    """A header row, then one source a line, tab-separated; times ISO 8601 with their offset."""
    lines = ["\t".join(TSV_KEYS)]
    for r in rows:
        values = []
        for key in TSV_KEYS:
            value = r.get(key)
            if key in TIME_KEYS:
                values.append(iso_time(value, zone))
            else:
                values.append(_tsv_value("" if value is None else str(value)))
        lines.append("\t".join(values))
    return "\n".join(lines) + "\n"
