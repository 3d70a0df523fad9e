"""The feedparser adapter: a document's bytes and headers → ``FeedData``.

feedparser always gets bytes and the response headers, never a URL or a path
(it would fetch or open them). Its sanitiser and URI resolver are off: that
work happens once, in ``normalize``, with nh3.
"""

from __future__ import annotations

import calendar
import io
import re
from datetime import UTC, datetime
from typing import Any

import feedparser

from feeds.errors import ParseError
from feeds.types import Document, EntryData, Enclosure, FeedData, Person, TextBlock

# feedparser resolves hrefs against xml:base itself; these headers tell it the
# document's URL and the charset the server declared.
_PASSED_HEADERS = ("content-type", "content-location", "content-language", "last-modified", "etag")

_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _date(value: Any) -> datetime | None:
    """feedparser's parsed dates are UTC struct_time tuples."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def _text(detail: Any, fallback: Any = None) -> TextBlock | None:
    if detail:
        value = detail.get("value")
        if value is None or not str(value).strip():
            return None
        kind = str(detail.get("type") or "text/plain")
        return TextBlock(str(value), is_html="html" in kind, base=detail.get("base") or None)
    if fallback:
        return TextBlock(str(fallback), is_html=True)
    return None


def _people(obj: Any) -> tuple[Person, ...]:
    people: list[Person] = []
    for a in obj.get("authors") or []:
        name = (a.get("name") or "").strip()
        email = (a.get("email") or "").strip() or None
        if not name and email:
            name = email.split("@")[0]
        if name:
            people.append(Person(name=name, email=email, uri=(a.get("href") or None)))
    if not people and obj.get("author"):
        # RSS <author>jane@example.com (Jane)</author> and dc:creator end up here.
        raw = str(obj["author"]).strip()
        m = re.match(r"^\s*(\S+@\S+)\s*\((.+)\)\s*$", raw)
        if m:
            people.append(Person(name=m.group(2).strip(), email=m.group(1)))
        elif raw:
            people.append(Person(name=raw))
    return tuple(people)


def _length(value: Any) -> int:
    try:
        return max(0, int(str(value).strip() or 0))
    except ValueError:
        return 0


def _entry(e: Any) -> EntryData:
    contents = e.get("content") or []
    # Prefer the HTML body when a feed carries several content elements.
    content = None
    for c in sorted(contents, key=lambda c: "html" not in str(c.get("type", ""))):
        content = _text(c)
        if content:
            break
    summary = _text(e.get("summary_detail"))
    if content is not None and summary is not None and summary.value == content.value:
        summary = None
    link = e.get("link")
    enclosures: list[Enclosure] = []
    for link_obj in e.get("links") or []:
        if link_obj.get("rel") == "enclosure" and link_obj.get("href"):
            enclosures.append(Enclosure(
                url=str(link_obj["href"]),
                type=str(link_obj.get("type") or "application/octet-stream"),
                length=_length(link_obj.get("length")),
            ))
    categories = []
    for tag in e.get("tags") or []:
        term = (tag.get("label") or tag.get("term") or "").strip()
        if term:
            categories.append(term)
    guid = e.get("id") or None
    return EntryData(
        guid=str(guid).strip() if guid and str(guid).strip() else None,
        link=str(link).strip() if link else None,
        title=_text(e.get("title_detail")),
        summary=summary,
        content=content,
        published=_date(e.get("published_parsed")) or _date(e.get("created_parsed")),
        updated=_date(e.get("updated_parsed")),
        authors=_people(e),
        categories=tuple(dict.fromkeys(categories)),
        enclosures=tuple(enclosures),
        language=(e.get("title_detail") or {}).get("language") or None,
        base=(e.get("title_detail") or {}).get("base") or None,
    )


def parse_document(doc: Document) -> FeedData:
    """Parse one fetched document. Raises ``ParseError`` if it is not a feed."""
    headers = {k: v for k, v in doc.headers.items() if k in _PASSED_HEADERS}
    headers.setdefault("content-location", doc.url)
    parsed = feedparser.parse(
        io.BytesIO(doc.body),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    version = parsed.get("version") or ""
    entries = parsed.get("entries") or []
    warnings: list[str] = []
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        reason = str(exc).strip() or type(exc).__name__
        if not version and not entries:
            content_type = doc.headers.get("content-type", "").split(";")[0].strip().lower()
            head = doc.body[:1024].lstrip().lower()
            if content_type in _HTML_TYPES or head.startswith((b"<!doctype html", b"<html")):
                raise ParseError(doc.source_id, "not a feed: the server sent an HTML page")
            raise ParseError(doc.source_id, f"not a feed: {reason}")
        warnings.append(f"feed is malformed ({reason}); {len(entries)} entries recovered")
    elif not version:
        raise ParseError(doc.source_id, "not a feed: no RSS or Atom root element")
    feed = parsed.get("feed") or {}
    title = _text(feed.get("title_detail"))
    return FeedData(
        title=title.value if title else None,
        link=feed.get("link") or None,
        language=feed.get("language") or None,
        authors=_people(feed),
        entries=tuple(_entry(e) for e in entries),
        warnings=tuple(warnings),
    )
