"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org) → the same ``FeedData`` as RSS and Atom.

A stranger writes these documents, so nothing in one is trusted to have the
type the spec gives it: a field of the wrong type is ignored with a warning, an
item that cannot be read is skipped with a warning, and a document that is not
a JSON Feed at all is a ``ParseError`` that says what it is instead. ``json``
bounds the work: deep nesting raises RecursionError and a number of more than
4,300 digits raises ValueError, both caught; the body is already capped by
``fetch``. Keys starting with ``_`` are extensions and are never read.
"""

from __future__ import annotations

import codecs
import html
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urljoin

from feeds.errors import ParseError
from feeds.parse.dates import note_unreadable, read_date
from feeds.parse.fastparse import entry_data
from feeds.types import Document, Enclosure, EntryData, FeedData, Person, TextBlock

JSON_TYPES = ("application/feed+json", "application/json")
_VERSION = re.compile(r"https?://jsonfeed\.org/version/(\d+(?:\.\d+)?)/?")
KNOWN_VERSIONS = ("1", "1.1")
T = TypeVar("T")

# Longer values are not ids, links, titles or names; an item holding one is skipped.
MAX_FIELD = 8192
MAX_WARNINGS = 5
# Tags, authors and attachments an item may have; the rest are dropped with a warning.
MAX_LIST = 100

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Legal in JSON strings, not in XML (our outputs) or UTF-8 (the state database):
# control characters, non-characters and unpaired surrogates from "\\ud800" escapes.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# Integers longer than this are no size, count or id anyone means; Python refuses
# to convert those of more than 4,300 digits anyway.
MAX_INT_DIGITS = 40
_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,31});", re.I)
# A summary is plain text by the spec; some publishers put HTML in it all the same.
_HTML_TAG = re.compile(r"</?(?:p|a|b|i|em|strong|br|div|span|img|ul|ol|li|blockquote|code|pre|h[1-6])"
                       r"\b[^<>]*>", re.I)


def _bom(body: bytes) -> tuple[int, str | None]:
    for mark, encoding in _BOMS:
        if body.startswith(mark):
            return len(mark), encoding
    return 0, None


def is_json(doc: Document) -> bool:
    """Whether ``doc`` should be read as JSON: its first character (after any byte
    order mark and white space) is ``{``, or it is not markup and the server says JSON.
    Servers mislabel both ways, so the bytes are looked at first."""
    skip, encoding = _bom(doc.body)
    head = doc.body[skip:skip + 4096]
    if encoding is not None and encoding != "utf-8":
        head = head.decode(encoding, errors="ignore").encode("utf-8")
    first = head.lstrip(b" \t\r\n")[:1]
    if first == b"{":
        return True
    if first == b"<":
        return False
    kind = doc.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind in JSON_TYPES or kind.endswith("+json")


class _Problems:
    """Warnings for one document: the first few in full, then a count."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.more = 0

    def add(self, line: str) -> None:
        if len(self.lines) < MAX_WARNINGS:
            self.lines.append(line)
        else:
            self.more += 1

    def result(self) -> tuple[str, ...]:
        extra = [f"... and {self.more} more problems of the same kind"] if self.more else []
        return tuple(self.lines + extra)


class _BadItem(Exception):
    """An item that cannot be read; the message says why."""


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _decode(doc: Document) -> tuple[str, bool]:
    """The text of the body, and whether bytes that are not UTF-8 were replaced."""
    skip, encoding = _bom(doc.body)
    body = doc.body[skip:]
    try:
        return body.decode(encoding or "utf-8"), False
    except UnicodeDecodeError:
        return body.decode(encoding or "utf-8", errors="replace"), True


def _load(doc: Document) -> tuple[Any, bool]:
    text, replaced = _decode(doc)
    if not text.strip():
        raise ParseError(doc.source_id, "not a feed: the document is empty")
    try:
        return json.loads(text, parse_int=_bounded_int), replaced
    except RecursionError:
        raise ParseError(doc.source_id, "JSON nested too deeply to be a feed") from None
    except json.JSONDecodeError as failure:
        rest = text[failure.pos:].strip()
        if not rest or failure.msg.startswith("Unterminated string"):
            raise ParseError(doc.source_id, f"truncated JSON at line {failure.lineno} column "
                                            f"{failure.colno}: the document ends before the "
                                            "JSON does") from None
        raise ParseError(doc.source_id, f"not valid JSON: {failure.msg} at line {failure.lineno} "
                                        f"column {failure.colno}") from None
    except ValueError as failure:  # a number of more digits than Python will convert
        raise ParseError(doc.source_id, f"JSON that cannot be read: {failure}") from None


def _bounded_int(digits: str) -> int | None:
    """An integer as JSON wrote it; None (as if absent) for an absurdly long one."""
    return int(digits) if len(digits) <= MAX_INT_DIGITS else None


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text) if _NOT_XML.search(text) else text


def _not_a_feed(doc: Document, data: Any) -> ParseError:
    if not isinstance(data, dict):
        return ParseError(doc.source_id, f"JSON, but not a JSON Feed (the top level is "
                                         f"{_kind(data)}, not an object)")
    if isinstance(data.get("rss"), dict):
        return ParseError(doc.source_id, "JSON, but not a JSON Feed: it is RSS written as JSON "
                                         "(an \"rss\" object at the top), which no standard "
                                         "describes; ask the publisher for RSS, Atom or JSON Feed")
    return ParseError(doc.source_id, "JSON, but not a JSON Feed (no \"version\" of jsonfeed.org)")


def parse_json_feed(doc: Document) -> FeedData:
    """Read a JSON Feed. Raises ``ParseError`` when ``doc`` is not one."""
    data, replaced = _load(doc)
    if not isinstance(data, dict):
        raise _not_a_feed(doc, data)
    version = data.get("version")
    match = _VERSION.fullmatch(version.strip()) if isinstance(version, str) else None
    if match is None:
        raise _not_a_feed(doc, data)
    problems = _Problems()
    if replaced:
        problems.add("the document is not valid UTF-8; the bytes that are not were replaced")
    if match.group(1) not in KNOWN_VERSIONS:
        problems.add(f"JSON Feed version {match.group(1)} is newer than this program knows; "
                     "read as version 1.1")
    items = data.get("items")
    if not isinstance(items, list):
        raise ParseError(doc.source_id, "JSON Feed without an \"items\" list"
                                        + ("" if items is None else f" (\"items\" is {_kind(items)})"))

    home = _feed_field(lambda: _url(data, "home_page_url", doc.url, problems, "the feed"), problems)
    entries: list[EntryData] = []
    for number, item in enumerate(items, start=1):
        where = f"item {number}"
        if not isinstance(item, dict):
            problems.add(f"{where} is {_kind(item)}, not an object; skipped")
            continue
        try:
            entries.append(_item(item, home, problems, where))
        except _BadItem as bad:
            problems.add(f"{where}{_item_name(item)}: {bad}; skipped")
    title = _feed_field(lambda: _text_field(data, "title", problems, "the feed"), problems)
    return FeedData(
        title=_unescape(title) if title else None,
        link=home,
        language=_feed_field(lambda: _text_field(data, "language", problems, "the feed"), problems),
        authors=_feed_field(lambda: _authors(data, problems, "the feed"), problems) or (),
        entries=tuple(entries),
        warnings=problems.result(),
        feed_url=_feed_field(lambda: _url(data, "feed_url", doc.url, problems, "the feed"), problems),
        icon=(_feed_field(lambda: _url(data, "icon", doc.url, problems, "the feed"), problems)
              or _feed_field(lambda: _url(data, "favicon", doc.url, problems, "the feed"), problems)),
    )


def _feed_field(read: Callable[[], T], problems: _Problems) -> T | None:
    """A feed-level field; one that is too long is dropped with a warning."""
    try:
        return read()
    except _BadItem as bad:
        problems.add(f"the feed: {bad}; ignored")
        return None


def _item_name(item: dict[str, Any]) -> str:
    ident = item.get("id")
    if isinstance(ident, (str, int)) and not isinstance(ident, bool):
        shown = str(ident)
        return f" (id {shown[:60]!r})"
    return ""


def _text_field(obj: dict[str, Any], key: str, problems: _Problems, where: str,
                *, bounded: bool = True) -> str | None:
    """A string field, stripped; None when absent, blank or of another type (warned).
    Raises ``_BadItem`` when a ``bounded`` one is longer than any real one."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.add(f"{where}: \"{key}\" is {_kind(value)}, not text; ignored")
        return None
    if bounded and len(value) > MAX_FIELD:
        raise _BadItem(f"\"{key}\" is {len(value):,} characters long")
    return _clean(value).strip() or None


def _url(obj: dict[str, Any], key: str, base: str | None, problems: _Problems, where: str) -> str | None:
    """A URL field, made absolute against ``base`` (``None`` if it cannot be)."""
    value = _text_field(obj, key, problems, where)
    if value is None:
        return None
    try:
        return urljoin(base, value) if base else value
    except ValueError:  # urljoin refuses some malformed hosts ("http://[x")
        problems.add(f"{where}: \"{key}\" is not a URL; ignored")
        return None


def _unescape(text: str) -> str:
    """Titles are plain text by the spec, but publishers escape them as HTML
    ("Blog &#8211; InfluxData", "Task &amp; Sub Tasks"): such entities are decoded."""
    return html.unescape(text) if _ENTITY.search(text) else text


def _item(item: dict[str, Any], home: str | None, problems: _Problems, where: str) -> EntryData:
    where = where + _item_name(item)
    ident = item.get("id")
    guid: str | None = None
    if isinstance(ident, str):
        if len(ident) > MAX_FIELD:
            raise _BadItem(f"\"id\" is {len(ident):,} characters long")
        guid = _clean(ident).strip() or None
    elif isinstance(ident, int) and not isinstance(ident, bool):
        guid = str(ident)  # JSON Feed 1.0 readers met numeric ids in the wild
    elif ident is not None:
        problems.add(f"{where}: \"id\" is {_kind(ident)}, not text; ignored")

    link = _url(item, "url", home, problems, where) or _url(item, "external_url", home, problems, where)
    title = _text_field(item, "title", problems, where)
    content_html = _text_field(item, "content_html", problems, where, bounded=False)
    content_text = _text_field(item, "content_text", problems, where, bounded=False)
    summary = _text_field(item, "summary", problems, where, bounded=False)
    content = (TextBlock(content_html, is_html=True) if content_html
               else TextBlock(content_text, is_html=False) if content_text else None)
    language = _text_field(item, "language", problems, where)
    if not (link or title or content or summary):
        raise _BadItem("it has no url, title, content or summary")
    return entry_data(
        guid=guid,
        link=link,
        title=TextBlock(_unescape(title), is_html=False) if title else None,
        summary=TextBlock(summary, is_html=bool(_HTML_TAG.search(summary))) if summary else None,
        content=content,
        published=_date(item, "date_published", problems, where),
        updated=_date(item, "date_modified", problems, where),
        authors=_authors(item, problems, where),
        categories=_tags(item, problems, where),
        enclosures=_attachments(item, home, problems, where),
        language=language,
        base=home,
    )


def _date(item: dict[str, Any], key: str, problems: _Problems, where: str) -> datetime | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        note_unreadable(json.dumps(value)[:80])
        problems.add(f"{where}: \"{key}\" is {_kind(value)}, not a date; ignored")
        return None
    if len(value) > MAX_FIELD:
        raise _BadItem(f"\"{key}\" is {len(value):,} characters long")
    return read_date(value)


def _authors(obj: dict[str, Any], problems: _Problems, where: str) -> tuple[Person, ...]:
    """JSON Feed 1.1 ``authors``, else 1.0 ``author``: objects with a name and a URL."""
    raw = obj.get("authors")
    if raw is None or raw == []:
        raw = [obj["author"]] if obj.get("author") is not None else []
    elif isinstance(raw, str):  # one name, not a list of objects
        raw = [raw]
    elif not isinstance(raw, list):
        problems.add(f"{where}: \"authors\" is {_kind(raw)}, not a list; ignored")
        raw = [obj["author"]] if obj.get("author") is not None else []
    people: list[Person] = []
    for author in _first(raw, "authors", problems, where):
        if isinstance(author, str):  # a bare name, as some 1.0 feeds write it
            author = {"name": author}
        if not isinstance(author, dict):
            problems.add(f"{where}: an author is {_kind(author)}, not an object; ignored")
            continue
        name = _text_field(author, "name", problems, where)
        url = _text_field(author, "url", problems, where)
        email = None
        if url and url.lower().startswith("mailto:"):
            email, url = url[len("mailto:"):].split("?")[0] or None, None
        if not name and email:
            name = email.split("@")[0]
        if not name and url:
            name = url
        if name:
            people.append(Person(name=_unescape(name), email=email, uri=url))
    return tuple(people)


def _first(values: list[Any], key: str, problems: _Problems, where: str) -> list[Any]:
    if len(values) > MAX_LIST:
        problems.add(f"{where}: {len(values):,} {key}; only the first {MAX_LIST} kept")
    return values[:MAX_LIST]


def _tags(item: dict[str, Any], problems: _Problems, where: str) -> list[str]:
    raw = item.get("tags")
    if raw is None:
        return []
    if isinstance(raw, str):  # "workflow,omnifocus": a list written as one string
        if len(raw) > MAX_FIELD:
            raise _BadItem(f"\"tags\" is {len(raw):,} characters long")
        return [t.strip() for t in _clean(raw).split(",") if t.strip()][:MAX_LIST]
    if not isinstance(raw, list):
        problems.add(f"{where}: \"tags\" is {_kind(raw)}, not a list; ignored")
        return []
    tags = []
    for tag in _first(raw, "tags", problems, where):
        if isinstance(tag, str) and len(tag) <= MAX_FIELD and _clean(tag).strip():
            tags.append(_unescape(_clean(tag).strip()))
        elif not isinstance(tag, str):
            problems.add(f"{where}: a tag is {_kind(tag)}, not text; ignored")
    return tags


def _attachments(item: dict[str, Any], home: str | None, problems: _Problems,
                 where: str) -> list[Enclosure]:
    raw = item.get("attachments")
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add(f"{where}: \"attachments\" is {_kind(raw)}, not a list; ignored")
        return []
    out: list[Enclosure] = []
    for attachment in _first(raw, "attachments", problems, where):
        if not isinstance(attachment, dict):
            problems.add(f"{where}: an attachment is {_kind(attachment)}, not an object; ignored")
            continue
        url = _url(attachment, "url", home, problems, where)
        if not url:
            problems.add(f"{where}: an attachment has no \"url\"; ignored")
            continue
        kind = _text_field(attachment, "mime_type", problems, where) or "application/octet-stream"
        size = attachment.get("size_in_bytes")
        length = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else 0
        if isinstance(size, float) and size.is_integer() and 0 <= size < 2 ** 63:
            length = int(size)
        out.append(Enclosure(url=url, type=kind, length=min(length, 2 ** 63 - 1)))
    return out
