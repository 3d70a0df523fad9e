"""How an entry and a time are written in the state database, and read back.

Times are fixed-width UTC text (``_ts``), so that SQL ordering is time ordering; the
lsh table's times are integer microseconds (``_micros``). An entry is JSON
(``entry_json``), cleaned on the way back (``_entry_from_json``). Pure: no database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from feeds.types import Enclosure, Entry, Person, TopicMatch
from feeds.xmlchars import safe_entry

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(value: datetime) -> int:
    """The lsh table's time: microseconds since the epoch, exact (no float)."""
    return (value - _EPOCH) // timedelta(microseconds=1)


def _ts(value: datetime) -> str:
    """Fixed-width UTC text, so that SQL ordering is time ordering. isoformat pads the
    year to four digits; strftime's %Y does not (before 1000), and a feed dated "0999"
    was stored as text that _dt could not read, which failed every later publication."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def _dt(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)  # reads the "Z" of _ts() as UTC, and fast
    except ValueError:  # a year of fewer than four digits, as _ts wrote it before
        year, _, rest = value.partition("-")
        return datetime.fromisoformat(f"{year.zfill(4)}-{rest}")


def entry_json(e: Entry) -> str:
    return json.dumps({
        "source_id": e.source_id,
        "item_key": e.item_key,
        "url_key": e.url_key,
        "link": e.link,
        "title": e.title,
        "summary_html": e.summary_html,
        "content_html": e.content_html,
        "summary_text": e.summary_text,
        "published": _ts(e.published),
        "updated": _ts(e.updated),
        "authors": [[a.name, a.email, a.uri] for a in e.authors],
        "categories": list(e.categories),
        "enclosures": [[x.url, x.type, x.length] for x in e.enclosures],
        "language": e.language,
        "content_hash": e.content_hash,
        "topics": [[m.topic, m.rule, list(m.terms)] for m in e.topics],
        "date_guessed": e.date_guessed,
    }, ensure_ascii=False, sort_keys=True)


def _entry_from_json(text: str) -> Entry:
    """The stored entry, through ``safe_entry``: versions up to 1c1bdc8 stored control
    characters and javascript: author URIs as sources gave them, and one such entry
    failed every publication until retention dropped it. Cleaning on read heals
    those databases with no migration and no manual step (see docs/design.md)."""
    d: dict[str, Any] = json.loads(text)
    return safe_entry(Entry(
        source_id=d["source_id"],
        item_key=d["item_key"],
        url_key=d["url_key"],
        link=d["link"],
        title=d["title"],
        summary_html=d["summary_html"],
        content_html=d["content_html"],
        summary_text=d["summary_text"],
        published=_dt(d["published"]),
        updated=_dt(d["updated"]),
        authors=tuple(Person(n, e, u) for n, e, u in d["authors"]),
        categories=tuple(d["categories"]),
        enclosures=tuple(Enclosure(u, t, n) for u, t, n in d["enclosures"]),
        language=d["language"],
        content_hash=d["content_hash"],
        topics=tuple(TopicMatch(t, r, tuple(terms)) for t, r, terms in d["topics"]),
        date_guessed=d.get("date_guessed", False),
    ))
