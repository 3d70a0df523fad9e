"""The feedparser adapter: a document's bytes and headers → ``FeedData``.

feedparser always gets bytes and the response headers, never a URL or a path
(it would fetch or open them). Its sanitiser and URI resolver are off: that
work happens once, in ``normalize``, with nh3.
"""

from __future__ import annotations

import codecs
import contextlib
import html
import io
import re
import xml.sax
from dataclasses import replace
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import feedparser
from feedparser.mixin import _FeedParserMixin

from feeds.errors import ParseError
from feeds.parse.dates import collecting, unreadable_warning
from feeds.parse.fastparse import (
    enclosure_length,
    entry_data,
    fast_parse,
    item_base,
    ttl_minutes,
    utc_datetime,
)
from feeds.parse.jsonparse import is_json, parse_json_feed
from feeds.types import Document, Enclosure, EntryData, FeedData, Person, TextBlock
from feeds.xmlchars import xml_safe

# feedparser resolves hrefs against xml:base itself; these headers tell it the
# document's URL and language. Content-Type is rebuilt by ``_content_type``.
_PASSED_HEADERS = ("content-location", "content-language", "last-modified", "etag")

_HTML_TYPES = ("text/html", "application/xhtml+xml")

# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32le"),
    (codecs.BOM_UTF32_BE, "utf-32be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16le"),
    (codecs.BOM_UTF16_BE, "utf-16be"),
)
_CHARSET = re.compile(r";\s*charset\s*=\s*[\"']?([^\"';\s]+)", re.I)


def _bom(body: bytes) -> tuple[bytes, str | None]:
    for mark, encoding in _BOMS:
        if body.startswith(mark):
            return mark, encoding
    return b"", None


def _content_type(doc: Document) -> str:
    """The Content-Type to show feedparser: XML, with the charset that should win.

    feedparser follows RFC 3023: with no Content-Type at all it defaults to
    ISO-8859-1 (so UTF-8 names and hrefs come out as mojibake), and for text/*
    without a charset it tries US-ASCII and flags every such feed as malformed.
    RFC 7303, which replaced 3023, says: byte order mark, then the charset
    parameter, then the XML declaration, then UTF-8. Calling everything
    application/xml gets feedparser to do exactly that.
    """
    _, charset = _bom(doc.body)
    if charset is None:
        m = _CHARSET.search(doc.headers.get("content-type", ""))
        charset = m.group(1) if m else None
    return f"application/xml; charset={charset}" if charset else "application/xml"


def _without_leading_space(body: bytes) -> bytes:
    """A blank line before ``<?xml`` is common and makes the document not well-formed.

    feedparser would fall back to its loose parser and ignore the declared
    encoding; dropping the whitespace keeps the strict parser and the declaration.
    """
    mark, _ = _bom(body)
    rest = body[len(mark):]
    stripped = rest.lstrip(b" \t\r\n")
    if len(stripped) != len(rest) and stripped.startswith(b"<?xml"):
        return mark + stripped
    return body


def _text(detail: Any, document_url: str | None = None, fallback: Any = None) -> TextBlock | None:
    if detail:
        value = detail.get("value")
        if value is None or not str(value).strip():
            return None
        kind = str(detail.get("type") or "text/plain")
        base = detail.get("base") or None
        if base == document_url:
            # No xml:base in scope, only feedparser's default. Publishers write
            # relative URLs for the item's own page, so normalize should use the
            # entry's link instead (the feed may live on another host).
            base = None
        return TextBlock(str(value), is_html="html" in kind, base=base)
    if fallback:
        return TextBlock(str(fallback), is_html=True)
    return None


def _own_details(obj: Any) -> None:
    """Make ``obj``'s title and summary details describe its own title and summary.

    feedparser keeps an entry's outermost ``<title>`` (and description) as the
    value, but the detail (type, language, base and value) of the last one met at
    any depth: the job title in an RSS ``<author><title>``, the ``<title>`` of an
    ``<image>`` or of an Open Graph block. A detail whose value is not the value
    belongs to that other element; what the value is is guessed as feedparser
    guesses it for RSS.
    """
    for key in ("title", "summary"):
        detail, value = obj.get(f"{key}_detail"), obj.get(key)
        if detail and isinstance(value, str) and detail.get("value") != value:
            kind = "text/html" if _FeedParserMixin.looks_like_html(value) else "text/plain"
            obj[f"{key}_detail"] = {**detail, "value": value, "type": kind}


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


def _entry(e: Any, document_url: str) -> EntryData:
    _own_details(e)
    contents = e.get("content") or []
    # Prefer the HTML body when a feed carries several content elements.
    content = None
    for c in sorted(contents, key=lambda c: "html" not in str(c.get("type", ""))):
        content = _text(c, document_url)
        if content:
            break
    summary = _text(e.get("summary_detail"), document_url)
    link = e.get("link")
    enclosures: list[Enclosure] = []
    for link_obj in e.get("links") or []:
        if link_obj.get("rel") == "enclosure" and link_obj.get("href"):
            enclosures.append(Enclosure(
                url=str(link_obj["href"]),
                type=str(link_obj.get("type") or "application/octet-stream"),
                length=enclosure_length(link_obj.get("length")),
            ))
    categories = []
    for tag in e.get("tags") or []:
        term = (tag.get("label") or tag.get("term") or "").strip()
        if term:
            categories.append(term)
    guid = e.get("id") or None
    return entry_data(
        guid=str(guid) if guid else None,
        link=str(link) if link else None,
        title=_text(e.get("title_detail"), document_url),
        summary=summary,
        content=content,
        published=utc_datetime(e.get("published_parsed")) or utc_datetime(e.get("created_parsed")),
        updated=utc_datetime(e.get("updated_parsed")),
        authors=_people(e),
        categories=categories,
        enclosures=enclosures,
        language=(e.get("title_detail") or {}).get("language") or None,
        base=(e.get("title_detail") or {}).get("base") or None,
    )


def _looks_like_html(doc: Document) -> bool:
    content_type = doc.headers.get("content-type", "").split(";")[0].strip().lower()
    mark, _ = _bom(doc.body)
    head = doc.body[len(mark):len(mark) + 1024].lstrip().lower()
    return content_type in _HTML_TYPES or head.startswith((b"<!doctype html", b"<html"))


_DECLARES_ENTITIES = re.compile(rb"<!ENTITY", re.I)
_PROLOG_SCAN = 1 << 16
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml",
               "application/feed+json", "application/json")


class _AlternateLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        a = {k.lower(): (v or "") for k, v in attrs}
        rels = a.get("rel", "").lower().split()
        kind = a.get("type", "").lower().split(";")[0].strip()
        if "alternate" in rels and kind in _FEED_TYPES and a.get("href", "").strip():
            self.found.append(a["href"].strip())


def advertised_feeds(body: bytes, page_url: str) -> list[str]:
    """Feed URLs an HTML page advertises with <link rel="alternate" type="...">."""
    finder = _AlternateLinks()
    with contextlib.suppress(ValueError, AssertionError):
        finder.feed(body[:1 << 20].decode("utf-8", errors="replace"))
    return list(dict.fromkeys(urljoin(page_url, href) for href in finder.found))[:5]


_CHANNEL_HEAD = re.compile(rb"<channel\b[^>]*>(.*?)<item\b", re.S)
_CHANNEL_LINK = re.compile(rb"<link>\s*(?:<!\[CDATA\[)?\s*([^<\]\s]+)")


def _channel_link_guess(body: bytes, document_url: str) -> str | None:
    """The base RSS items are likely to be resolved against (``fastparse.item_base``),
    from a look at the document's start; None for anything but RSS with such a link."""
    head = _CHANNEL_HEAD.search(body[:65536])
    found = _CHANNEL_LINK.search(head.group(1)) if head else None
    if found is None:
        return None
    try:
        link = urljoin(document_url, html.unescape(found.group(1).decode("utf-8")))
    except (UnicodeDecodeError, ValueError):
        return None
    base = item_base(link, document_url)
    return None if base == document_url else base


def _items_base(parsed: Any, document_url: str) -> str:
    """The base ``fastparse.item_base`` gives the items of a feedparser result."""
    if not str(parsed.get("version") or "").startswith("rss"):
        return document_url
    return item_base((parsed.get("feed") or {}).get("link") or None, document_url)


_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9A-Fa-f]{1,8})|([0-9]{1,10}));")


def _forbidden_ref(match: re.Match[bytes]) -> bytes:
    hex_digits, digits = match.groups()
    code = int(hex_digits, 16) if hex_digits else int(digits)
    if 0x80 <= code <= 0x9F:
        # feedparser reads these as the Windows-1252 characters publishers meant
        # (&#146; is ’), as the fast path does; normalising drops any C1 left.
        return match.group()
    if code > 0x10FFFF or not xml_safe(chr(code)):
        return b""
    return match.group()


def _without_forbidden_refs(body: bytes) -> bytes:
    """``body`` without character references to what XML 1.0 forbids (``&#1;``,
    ``&#xD800;``): feedparser's loose parser turns a lone surrogate into a string
    that cannot be encoded, and fails the whole document on it. Other references
    stay as written. (An encoding that is not ASCII-compatible, such as UTF-16,
    keeps them; feedparser then fails on them, which fails that source only.)"""
    return _CHAR_REF.sub(_forbidden_ref, body) if b"&#" in body else body


def _feedparser(doc: Document, headers: dict[str, str], base: str) -> Any:
    """feedparser's result for ``doc``, read with ``base`` as the document's URL."""
    try:
        parsed = feedparser.parse(
            io.BytesIO(_without_forbidden_refs(_without_leading_space(doc.body))),
            response_headers={**headers, "content-location": base},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as failure:
        # feedparser's loose parser has bugs on malformed input: an empty
        # </width> in a document that is not well-formed makes it call int(None).
        # A source with such a document has failed, the run has not.
        raise ParseError(doc.source_id, f"feed is malformed and could not be parsed "
                                        f"({type(failure).__name__}: {failure})") from None
    return parsed


def parse_document(doc: Document, max_items: int | None = None) -> FeedData:
    """Parse one fetched document. Raises ``ParseError`` if it is not a feed.

    JSON Feeds go to ``jsonparse``. Plain, well-formed RSS 2.0, RSS 1.0 (RDF) and
    Atom go through ``fastparse`` (lxml), which gives the
    same result; everything else through feedparser. ``max_items``: read only the
    first so many items (``FeedData.items_total`` then counts them all). Entry
    dates that could not be read are counted in ``unreadable_dates``, with a warning."""
    if is_json(doc):
        with collecting() as unread:
            feed = _capped(parse_json_feed(doc), max_items)
        return _with_unread_dates(feed, unread)
    if _DECLARES_ENTITIES.search(doc.body[:_PROLOG_SCAN]):
        # Entity declarations are how XML bombs and external-entity (XXE) attacks
        # work; no real feed needs them, so we refuse them before any parser runs.
        raise ParseError(doc.source_id, "refused: the document declares XML entities "
                                        "(a possible entity-expansion or XXE attack)")
    with collecting() as unread:
        fast = fast_parse(doc, max_items)
    if fast is not None:
        return _with_unread_dates(fast, unread)
    feed, unread = _parse_with_feedparser(doc, max_items)
    return _with_unread_dates(feed, unread)


def _capped(feed: FeedData, max_items: int | None) -> FeedData:
    if max_items is None or len(feed.entries) <= max_items:
        return feed
    return replace(feed, entries=feed.entries[:max_items], items_total=len(feed.entries))


def _with_unread_dates(feed: FeedData, unread: list[str]) -> FeedData:
    if not unread:
        return feed
    return replace(feed, unreadable_dates=len(unread),
                   warnings=(*feed.warnings, unreadable_warning(unread)))


def _unread_dates(entries: list[Any]) -> list[str]:
    """The date strings of feedparser's entries that it could not read (its
    stored keys, not the ones it makes up from others)."""
    unread: list[str] = []
    for e in entries:
        for key in ("published", "updated", "created"):
            raw = dict.get(e, key)
            if isinstance(raw, str) and raw.strip() and utc_datetime(dict.get(e, f"{key}_parsed")) is None:
                unread.append(raw)
    return unread


def parse_with_feedparser(doc: Document, max_items: int | None = None) -> FeedData:
    """``parse_document`` without the fast path (call that: it refuses entities)."""
    return _parse_with_feedparser(doc, max_items)[0]


def _parse_with_feedparser(doc: Document, max_items: int | None) -> tuple[FeedData, list[str]]:
    headers = {k: v for k, v in doc.headers.items() if k in _PASSED_HEADERS}
    headers.setdefault("content-location", doc.url)
    headers["content-type"] = _content_type(doc)
    document_url = headers["content-location"]
    # RSS items are resolved against the channel's <link> (fastparse.item_base), and
    # feedparser resolves against the document's base as it reads: so it is given
    # the channel link found by a quick look, and read again if the look was wrong.
    guess = _channel_link_guess(doc.body, document_url)
    base = guess or document_url
    parsed = _feedparser(doc, headers, base)
    wanted = _items_base(parsed, document_url)
    if wanted != base:
        if guess is not None:  # the channel link was read against a wrong guess
            parsed = _feedparser(doc, headers, document_url)
            base = document_url
            wanted = _items_base(parsed, document_url)
        if wanted != base:
            parsed = _feedparser(doc, headers, wanted)
            base = wanted
    version = parsed.get("version") or ""
    entries = parsed.get("entries") or []
    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    reason = (str(exc).strip() or type(exc).__name__) if exc is not None else ""
    if not version and not entries:
        if _looks_like_html(doc):
            alternates = advertised_feeds(doc.body, doc.url)
            hint = f"; the page advertises {', '.join(alternates)}" if alternates else ""
            raise ParseError(doc.source_id, f"not a feed: the server sent an HTML page{hint}")
        raise ParseError(doc.source_id, f"not a feed: {reason or 'no RSS or Atom root element'}")
    warnings: list[str] = []
    if exc is not None:
        if not entries and isinstance(exc, xml.sax.SAXException):
            # A truncated or broken document that yielded nothing is a failed
            # fetch, not a feed that is now empty.
            raise ParseError(doc.source_id, f"feed is malformed and has no readable entries: {reason}")
        warnings.append(f"feed is malformed ({reason}); {len(entries)} entries recovered")
    feed = parsed.get("feed") or {}
    _own_details(feed)
    title = _text(feed.get("title_detail"))
    return FeedData(
        title=title.value if title else None,
        link=feed.get("link") or None,
        language=feed.get("language") or None,
        authors=_people(feed),
        entries=tuple(_entry(e, base) for e in entries[:max_items]),
        warnings=tuple(warnings),
        ttl=ttl_minutes(feed.get("ttl")),
        items_total=len(entries) if max_items is not None and len(entries) > max_items else None,
    ), _unread_dates(entries[:max_items])
