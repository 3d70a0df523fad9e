"""The feedparser adapter: a document's bytes and headers → ``FeedData``.

feedparser always gets bytes and the response headers, never a URL or a path
(it would fetch or open them). Its sanitiser and URI resolver are off: that
work happens once, in ``normalize``, with nh3.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import re
import xml.sax
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import feedparser
from feedparser.mixin import _FeedParserMixin

from feeds.errors import ParseError
from feeds.fastparse import enclosure_length, entry_data, fast_parse, ttl_minutes, utc_datetime
from feeds.types import Document, Enclosure, EntryData, FeedData, Person, TextBlock

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


def parse_document(doc: Document) -> FeedData:
    """Parse one fetched document. Raises ``ParseError`` if it is not a feed.

    Plain, well-formed RSS 2.0, RSS 1.0 (RDF) and Atom go through ``fastparse``
    (lxml, about ten times faster), which gives the same result; everything else
    through feedparser."""
    if _DECLARES_ENTITIES.search(doc.body[:_PROLOG_SCAN]):
        # Entity declarations are how XML bombs and external-entity (XXE) attacks
        # work; no real feed needs them, so we refuse them before any parser runs.
        raise ParseError(doc.source_id, "refused: the document declares XML entities "
                                        "(a possible entity-expansion or XXE attack)")
    fast = fast_parse(doc)
    return fast if fast is not None else parse_with_feedparser(doc)


def parse_with_feedparser(doc: Document) -> FeedData:
    """``parse_document`` without the fast path (call that: it refuses entities)."""
    headers = {k: v for k, v in doc.headers.items() if k in _PASSED_HEADERS}
    headers.setdefault("content-location", doc.url)
    headers["content-type"] = _content_type(doc)
    try:
        parsed = feedparser.parse(
            io.BytesIO(_without_leading_space(doc.body)),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as failure:
        # feedparser's loose parser has bugs on malformed input: an empty
        # </width> in a document that is not well-formed makes it call int(None).
        # A source with such a document has failed, the run has not.
        raise ParseError(doc.source_id, f"feed is malformed and could not be parsed "
                                        f"({type(failure).__name__}: {failure})") from None
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
        entries=tuple(_entry(e, headers["content-location"]) for e in entries),
        warnings=tuple(warnings),
        ttl=ttl_minutes(feed.get("ttl")),
    )
