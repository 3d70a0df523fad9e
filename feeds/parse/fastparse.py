"""A fast path for plain, well-formed RSS 2.0, RSS 1.0 (RDF) and Atom 1.0 documents.

lxml reads a document many times faster than feedparser (docs/design.md,
"Performance facts"). This module reads a document with lxml and builds the very
``FeedData`` that ``parse.parse_document`` builds from feedparser's result, and
it takes only documents it understands completely: well-formed UTF-8, a known
root, and only elements and attributes whose meaning it reproduces. Anything
else (another encoding, xml:base inside entries, XHTML content, RSS
``<author>``, media elements, source elements, markup inside an element it does
not read, an element repeated where feedparser keeps the first...) returns None
and goes to feedparser. Where feedparser post-processes a value (whitespace, relative URIs,
guessing HTML in RSS titles, repairing UTF-8 read as Latin-1, Windows-1252
code points, its date parsers), the same feedparser helpers are called, so the
two paths cannot drift apart silently: tests/test_differential.py compares them
on every feed of the real-world corpus and every document of feedparser's own
test suite, tests/test_fastparse.py on generated feeds.
"""

from __future__ import annotations

import calendar
import contextlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from lxml import etree

from feeds.types import Document, Enclosure, EntryData, FeedData, Person, TextBlock

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
RSS1 = "{http://purl.org/rss/1.0/}"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# Elements of an RSS item, and of an Atom entry, that the fast path reproduces.
# Any other child element (in any namespace) sends the document to feedparser.
_RSS_ITEM = frozenset({"title", "link", "guid", "pubDate", "description", "category", "enclosure",
                       "comments", f"{CONTENT}encoded", f"{DC}creator"})
_RSS_CHANNEL = frozenset({"title", "link", "description", "language", "lastBuildDate", "pubDate",
                          "generator", "ttl", "item", "copyright", "docs", f"{ATOM}link"})
# The elements a channel, feed, item or entry may hold more than once. feedparser
# keeps the first of some repeated elements and the last of others (a channel's
# first <title> but its last <link>), so any other repeat goes to feedparser.
_RSS_CHANNEL_REPEATED = frozenset({"item", f"{ATOM}link"})
_ATOM_FEED_REPEATED = frozenset({f"{ATOM}entry", f"{ATOM}link", f"{ATOM}author"})
_RSS_REPEATED = frozenset({"category", "enclosure"})
_RDF_REPEATED = frozenset({f"{DC}subject"})
_ATOM_REPEATED = frozenset({f"{ATOM}category", f"{ATOM}link"})
_RDF_ITEM = frozenset({f"{RSS1}title", f"{RSS1}link", f"{RSS1}description", f"{CONTENT}encoded",
                       f"{DC}date", f"{DC}creator", f"{DC}subject"})
_RDF_CHANNEL = frozenset({f"{RSS1}title", f"{RSS1}link", f"{RSS1}description", f"{DC}date",
                          f"{RSS1}items"})
_ATOM_ENTRY = frozenset({f"{ATOM}{n}" for n in ("title", "link", "id", "published", "updated",
                                                "summary", "content", "author", "category")})
_ATOM_FEED = frozenset({f"{ATOM}{n}" for n in ("title", "subtitle", "link", "id", "updated",
                                               "author", "generator", "entry", "rights", "icon",
                                               "logo")})


class Unsupported(Exception):
    """The document uses something the fast path does not reproduce."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                           remove_comments=True, remove_pis=True, recover=False)


def fast_parse(doc: Document, max_items: int | None = None) -> FeedData | None:
    """The document's ``FeedData``, or None when feedparser must read it.
    ``max_items``: read only the first so many items (``FeedData.items_total`` counts all)."""
    content_type = doc.headers.get("content-type", "").lower()
    if "charset" in content_type and "utf-8" not in content_type:
        return None
    if "content-location" in doc.headers or "content-language" in doc.headers:
        return None
    body = doc.body
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    head = body[:200].lstrip()
    if head.startswith(b"<?xml"):
        declaration = head[: head.find(b"?>")].lower()
        if b"encoding" in declaration and not re.search(rb"encoding\s*=\s*[\"']utf-?8[\"']", declaration):
            return None
    elif body[:1] != b"<":  # leading space, another encoding's byte order mark...
        return None
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError:
        return None
    if "<!DOCTYPE" in body[:4096].decode("utf-8", "replace").upper():
        return None
    total = _drop_items(root, max_items)
    try:
        if root.tag == "rss" and root.get("version") == "2.0":
            return replace(_rss(root, doc.url), items_total=total)
        if root.tag == f"{ATOM}feed":
            return replace(_atom(root, doc.url), items_total=total)
        if root.tag == f"{RDF}RDF":
            return replace(_rdf(root, doc.url), items_total=total)
    except Unsupported:
        return None
    return None


def _drop_items(root: Any, max_items: int | None) -> int | None:
    """Remove the items after the first ``max_items`` from the tree, before they cost
    anything (a 100,000-item feed); their number before, if any were removed."""
    if max_items is None:
        return None
    items = [el for parent in (root, *root.iterchildren("channel")) for el in parent
             if el.tag in ("item", f"{ATOM}entry", f"{RSS1}item")]
    for el in items[max_items:]:
        el.getparent().remove(el)
    return len(items) if len(items) > max_items else None


# --- what feedparser does to every value (mixin.pop) -------------------------


def _finish(value: str, *, uri_base: str | None = None, plain_in_rss: bool = False) -> tuple[str, bool]:
    """feedparser's post-processing of an element's text. Returns (value, html guessed)."""
    value = value.strip()
    if uri_base is not None and value:
        value = _urljoin(uri_base, value)
    guessed = plain_in_rss and _FeedParserMixin.looks_like_html(value)
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("iso-8859-1").decode("utf-8")  # text that was UTF-8 read as Latin-1
    return value.translate(_cp1252), guessed


def _leaf(el: Any) -> str:
    """The text of an element that must hold only text."""
    if len(el):
        raise Unsupported("markup inside a text element")
    return str(el.text or "")


# --- shared with parse.py's feedparser path ----------------------------------


def utc_datetime(parsed: Any) -> datetime | None:
    """A date as feedparser parses it (a UTC struct_time), as an aware datetime."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def enclosure_length(value: Any) -> int:
    try:
        return max(0, int(str(value or "").strip() or 0))
    except ValueError:
        return 0


def ttl_minutes(value: Any) -> int | None:
    """An RSS <ttl>, if it is a plausible number of minutes."""
    ttl = str(value or "").strip()
    return int(ttl) if ttl.isdigit() and 0 < int(ttl) < 60 * 24 * 365 else None


def entry_data(*, guid: str | None, link: str | None, title: TextBlock | None,
               summary: TextBlock | None, content: TextBlock | None, published: datetime | None,
               updated: datetime | None, authors: Iterable[Person], categories: Iterable[str],
               enclosures: Iterable[Enclosure], language: str | None, base: str | None) -> EntryData:
    """An item as both parse paths hand it on: a summary that only repeats the
    content is dropped, ids and links are stripped, categories kept once."""
    if content is not None and summary is not None and summary.value == content.value:
        summary = None
    return EntryData(
        guid=guid.strip() if guid and guid.strip() else None,
        link=link.strip() if link else None,
        title=title, summary=summary, content=content, published=published, updated=updated,
        authors=tuple(authors), categories=tuple(dict.fromkeys(categories)),
        enclosures=tuple(enclosures), language=language, base=base,
    )


# --- what only the fast path needs --------------------------------------------


def _date(value: str) -> datetime | None:
    # feedparser repairs a date's text like any other value before it reads it
    value = _finish(value)[0]
    return utc_datetime(_parse_date(value) if value else None)


def _no_attributes(el: Any, allowed: frozenset[str] = frozenset()) -> None:
    if any(name not in allowed for name in el.attrib):
        raise Unsupported(f"attribute on {el.tag}")


def _children(parent: Any, allowed: frozenset[str], seen: set[str],
              repeatable: frozenset[str] = frozenset()) -> Iterator[tuple[str, Any]]:
    """``parent``'s child elements with their tags: only ``allowed`` ones, each at most
    once unless ``repeatable``. ``seen`` collects the tags met."""
    for el in parent:
        tag = el.tag
        if tag not in allowed:
            raise Unsupported(f"element {tag} in {parent.tag}")
        if tag in seen and tag not in repeatable:
            raise Unsupported(f"repeated {tag}")
        seen.add(tag)
        yield tag, el


def _channel_link(el: Any, url: str) -> str | None:
    """An RSS channel's link, as feedparser reads it."""
    _no_attributes(el)
    return re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", _finish(_leaf(el), uri_base=url)[0]) or None


def item_base(channel_link: str | None, url: str) -> str:
    """What an RSS item's relative URLs are resolved against: the channel's link
    (the site the items live on), when it is http(s); else the document's URL.
    parse.py passes feedparser the same base."""
    if channel_link and channel_link[:8].lower().startswith(("http://", "https://")):
        return channel_link
    return url


# --- RSS 2.0 ------------------------------------------------------------------


def _rss(root: Any, url: str) -> FeedData:
    _no_attributes(root, frozenset({"version"}))
    channels = [c for c in root if c.tag == "channel"]
    if len(channels) != 1 or len(root) != 1:
        raise Unsupported("not one channel")
    channel = channels[0]
    _no_attributes(channel)
    title = link = language = ttl = None
    entries: list[EntryData] = []
    for tag, el in _children(channel, _RSS_CHANNEL, set(), _RSS_CHANNEL_REPEATED):
        if tag == "item":
            entries.append(_rss_item(el, item_base(link, url)))
            continue
        if entries:
            raise Unsupported("channel element after the items")
        if len(el):
            # feedparser reads what is nested even in elements we ignore (an
            # <item> inside the <description> is an entry to it)
            raise Unsupported(f"markup inside {tag}")
        if tag != f"{ATOM}link":
            _no_attributes(el)
        if el.tag == "title":
            title = _finish(_leaf(el), plain_in_rss=True)[0] or None
        elif el.tag == "link":
            link = _channel_link(el, url)
        elif el.tag == f"{ATOM}link" and el.get("rel") != "self":
            raise Unsupported("an Atom link in the channel other than self")
        elif el.tag == f"{ATOM}link":
            _no_attributes(el, frozenset({"rel", "href", "type", "title", "hreflang"}))
        elif el.tag == "language":
            language = _finish(_leaf(el))[0] or None
        elif el.tag == "ttl":
            ttl = ttl_minutes(_leaf(el))
    return FeedData(title=title, link=link, language=language, authors=(),
                    entries=tuple(entries), ttl=ttl)


def _fix_query(link: str) -> str:
    # feedparser undoes what it takes for escaped entities in link query strings
    return re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", link.replace("&amp;", "&"))


def _item_title(el: Any) -> TextBlock | None:
    """An RSS 2.0 or 1.0 item's title: plain text unless it holds markup."""
    value, html = _finish(_leaf(el), plain_in_rss=True)
    return TextBlock(value, is_html=html) if value else None


def _item_html(el: Any) -> TextBlock | None:
    """An item's description or content:encoded: HTML, None when blank."""
    value = _finish(_leaf(el))[0]
    return TextBlock(value, is_html=True) if value.strip() else None


def _creator(el: Any) -> Person | None:
    """A dc:creator, a name; one with an e-mail address goes to feedparser."""
    name = _finish(_leaf(el))[0]
    if "@" in name or "(" in name:
        raise Unsupported("an author with an email address")
    return Person(name=name) if name else None


def _rss_item(item: Any, url: str) -> EntryData:
    _no_attributes(item)
    seen: set[str] = set()
    title = summary = content = None
    link = guid = None
    guid_is_link = False
    published = None
    authors: list[Person] = []
    categories: list[str] = []
    enclosures: list[Enclosure] = []
    for tag, el in _children(item, _RSS_ITEM, seen, _RSS_REPEATED):
        if tag == "title":
            _no_attributes(el)
            title = _item_title(el)
        elif tag == "link":
            _no_attributes(el)
            link = _fix_query(_finish(_leaf(el), uri_base=url)[0])
        elif tag == "guid":
            _no_attributes(el, frozenset({"isPermaLink"}))
            if "isPermaLink" in el.attrib and el.get("isPermaLink") not in ("true", "false"):
                raise Unsupported("isPermaLink")
            guid_is_link = el.get("isPermaLink", "true") == "true"
            guid = _finish(_leaf(el), uri_base=url if guid_is_link else None)[0]
        elif tag == "pubDate":
            _no_attributes(el)
            published = _date(_leaf(el))
        elif tag == "description":
            _no_attributes(el)
            summary = _item_html(el)
        elif tag == f"{CONTENT}encoded":
            _no_attributes(el)
            content = _item_html(el)
        elif tag == "category":
            _no_attributes(el, frozenset({"domain"}))
            term = _finish(_leaf(el))[0].strip()
            if term:
                categories.append(term)
        elif tag == "enclosure":
            _no_attributes(el, frozenset({"url", "type", "length"}))
            if _leaf(el).strip():
                raise Unsupported("text in an enclosure")
            href = el.get("url")
            if href:  # feedparser keeps an RSS enclosure's URL as it is
                enclosures.append(Enclosure(url=href, type=el.get("type") or "application/octet-stream",
                                            length=enclosure_length(el.get("length"))))
        elif tag == f"{DC}creator":
            _no_attributes(el)
            person = _creator(el)
            if person:
                authors.append(person)
        elif tag == "comments":
            _no_attributes(el)
            _leaf(el)  # not read, but feedparser would read what it holds
    if len(authors) > 1:
        raise Unsupported("several authors")
    if link is None and guid_is_link:  # feedparser: a permalink guid is the link if there is none
        link = guid
    return entry_data(
        guid=guid, link=link, title=title, summary=summary, content=content,
        # feedparser answers a missing updated date with the published one
        published=published, updated=published,
        authors=authors, categories=categories, enclosures=enclosures,
        # parse.py reads the entry's base and language from its title's details
        language=None, base=url if "title" in seen else None,
    )


# --- RSS 1.0 (RDF) -----------------------------------------------------------


def _rdf(root: Any, url: str) -> FeedData:
    _no_attributes(root)
    # feedparser reads a channel that follows an item as part of it
    if not len(root) or root[0].tag != f"{RSS1}channel" or any(c.tag != f"{RSS1}item" for c in root[1:]):
        raise Unsupported("not a channel and then its items")
    channel = root[0]
    _no_attributes(channel, frozenset({f"{RDF}about"}))
    title = link = None
    seen: set[str] = set()
    for tag, el in _children(channel, _RDF_CHANNEL, seen):
        if tag == f"{RSS1}title":
            _no_attributes(el)
            title = _finish(_leaf(el), plain_in_rss=True)[0] or None
        elif tag == f"{RSS1}link":
            link = _channel_link(el, url)
        elif tag == f"{RSS1}items":
            _rdf_sequence(el)
        else:
            _no_attributes(el)
            _leaf(el)
    entries = tuple(_rdf_item(el, item_base(link, url)) for el in root if el.tag == f"{RSS1}item")
    return FeedData(title=title, link=link, language=None, authors=(), entries=entries, ttl=None)


def _rdf_sequence(items: Any) -> None:
    """The channel's table of contents (rdf:Seq of rdf:li): feedparser reads nothing in it."""
    _no_attributes(items)
    if (items.text or "").strip() or len(items) != 1 or items[0].tag != f"{RDF}Seq":
        raise Unsupported("items that are not one rdf:Seq")
    seq = items[0]
    _no_attributes(seq)
    for li in seq:
        if li.tag != f"{RDF}li" or len(li) or (li.text or "").strip():
            raise Unsupported("an rdf:Seq entry other than an empty rdf:li")
        _no_attributes(li, frozenset({f"{RDF}resource"}))


def _rdf_item(item: Any, url: str) -> EntryData:
    _no_attributes(item, frozenset({f"{RDF}about"}))
    seen: set[str] = set()
    title = summary = content = link = updated = None
    authors: list[Person] = []
    categories: list[str] = []
    for tag, el in _children(item, _RDF_ITEM, seen, _RDF_REPEATED):
        _no_attributes(el)
        if tag == f"{RSS1}title":
            title = _item_title(el)
        elif tag == f"{RSS1}link":
            link = _fix_query(_finish(_leaf(el), uri_base=url)[0])
        elif tag == f"{RSS1}description":
            summary = _item_html(el)
        elif tag == f"{CONTENT}encoded":
            content = _item_html(el)
        elif tag == f"{DC}date":  # feedparser reads dc:date as the updated date only
            updated = _date(_leaf(el))
        elif tag == f"{DC}subject":
            term = _finish(_leaf(el))[0].strip()
            if term:
                categories.append(term)
        elif tag == f"{DC}creator":
            person = _creator(el)
            if person:
                authors.append(person)
    return entry_data(
        guid=item.get(f"{RDF}about"),  # feedparser's id, taken as it is written
        link=link, title=title, summary=summary, content=content,
        published=None, updated=updated,
        authors=authors, categories=categories, enclosures=(),
        language=None, base=url if f"{RSS1}title" in seen else None,
    )


# --- Atom 1.0 -----------------------------------------------------------------


def _base(el: Any, parent_base: str) -> str:
    value = el.get(XML_BASE)
    return (make_safe_absolute_uri(parent_base, value) or parent_base) if value else parent_base


def _atom_text(el: Any, base: str, url: str) -> TextBlock | None:
    _no_attributes(el, frozenset({"type"}))
    kind = _FeedParserMixin.map_content_type(el.get("type", "text"))
    if kind not in ("text/plain", "text/html"):
        raise Unsupported("xhtml or another text type")
    value = _finish(_leaf(el))[0]
    if not value:
        return None
    # as parse._text: the document's own URL is no xml:base
    return TextBlock(value, is_html=kind == "text/html", base=None if base == url else base)


def _atom_person(el: Any) -> Person | None:
    _no_attributes(el)
    if (el.text or "").strip():
        raise Unsupported("text in a person construct")  # feedparser would make it the name
    name = email = uri = ""
    for child in el:
        _no_attributes(child)
        if (child.tail or "").strip():
            raise Unsupported("text in a person construct")
        if child.tag == f"{ATOM}name":
            name = _leaf(child).strip()  # feedparser does not post-process names
        elif child.tag == f"{ATOM}email":
            email = _finish(_leaf(child))[0]
        elif child.tag == f"{ATOM}uri":
            uri = _finish(_leaf(child))[0]
        else:
            raise Unsupported(f"person element {child.tag}")
    if email or uri:
        raise Unsupported("author email or uri")
    return Person(name=name) if name else None


def _atom_link(el: Any, base: str, link: str | None, enclosures: list[Enclosure]) -> str | None:
    """feedparser's reading of an Atom link: the last alternate HTML link is the
    link; enclosures are kept; other relations are not used."""
    _no_attributes(el, frozenset({"rel", "type", "href", "length", "title", "hreflang"}))
    href = el.get("href")
    if href is None or len(el) or (el.text or "").strip():
        raise Unsupported("a link without href, or with content")
    rel = el.get("rel", "alternate")
    kind = el.get("type", "application/atom+xml" if rel == "self" else "text/html")
    href = str(_urljoin(base, href))
    if rel == "alternate" and _FeedParserMixin.map_content_type(kind) in ("text/html",
                                                                          "application/xhtml+xml"):
        return href
    if rel == "enclosure" and href:
        enclosures.append(Enclosure(url=href, type=kind or "application/octet-stream",
                                    length=enclosure_length(el.get("length"))))
    return link


def _atom(root: Any, url: str) -> FeedData:
    _no_attributes(root, frozenset({XML_BASE, XML_LANG}))
    base = _base(root, url)
    language = root.get(XML_LANG) or None
    if language is not None and "_" in language:
        raise Unsupported("a language tag that feedparser rewrites")
    title = link = feed_id = None
    authors: list[Person] = []
    entries: list[EntryData] = []
    for tag, el in _children(root, _ATOM_FEED, set(), _ATOM_FEED_REPEATED):
        if tag == f"{ATOM}entry":
            entries.append(_atom_entry(el, base, language, url))
            continue
        if entries:
            raise Unsupported("feed element after the entries")
        if len(el) and tag != f"{ATOM}author":
            raise Unsupported(f"markup inside {tag}")  # as in an RSS channel
        if el.tag == f"{ATOM}title":
            block = _atom_text(el, base, url)
            title = block.value if block else None
        elif el.tag == f"{ATOM}link":
            link = _atom_link(el, base, link, [])
        elif el.tag == f"{ATOM}id":
            _no_attributes(el)
            feed_id = _finish(_leaf(el), uri_base=base)[0]
        elif el.tag == f"{ATOM}author":
            person = _atom_person(el)
            if person:
                authors.append(person)
    if link is None and feed_id is not None:  # feedparser: the id is the link if there is none
        link = feed_id
    return FeedData(title=title, link=link or None, language=language, authors=tuple(authors),
                    entries=tuple(entries))


def _atom_entry(entry: Any, feed_base: str, language: str | None, url: str) -> EntryData:
    _no_attributes(entry)
    base = feed_base
    seen: set[str] = set()
    title = summary = content = None
    link = guid = None
    published = updated = None
    authors: list[Person] = []
    categories: list[str] = []
    enclosures: list[Enclosure] = []
    for tag, el in _children(entry, _ATOM_ENTRY, seen, _ATOM_REPEATED):
        if tag == f"{ATOM}title":
            title = _atom_text(el, base, url)
        elif tag == f"{ATOM}summary":
            summary = _atom_text(el, base, url)
        elif tag == f"{ATOM}content":
            if "src" in el.attrib:
                raise Unsupported("content src")
            content = _atom_text(el, base, url)
        elif tag == f"{ATOM}link":
            link = _atom_link(el, base, link, enclosures)
        elif tag == f"{ATOM}id":
            _no_attributes(el)
            guid = _finish(_leaf(el), uri_base=base)[0]
        elif tag == f"{ATOM}published":
            _no_attributes(el)
            published = _date(_leaf(el))
        elif tag == f"{ATOM}updated":
            _no_attributes(el)
            updated = _date(_leaf(el))
        elif tag == f"{ATOM}author":
            person = _atom_person(el)
            if person:
                authors.append(person)
        elif tag == f"{ATOM}category":
            _no_attributes(el, frozenset({"term", "label", "scheme"}))
            if len(el) or (el.text or "").strip():
                raise Unsupported("category content")
            term = (el.get("label") or el.get("term") or "").strip()
            if term:
                categories.append(term)
    if link is None and guid is not None:  # feedparser: the id is the link if there is none
        link = guid
    return entry_data(
        guid=guid, link=link, title=title, summary=summary, content=content,
        published=published, updated=updated if f"{ATOM}updated" in seen else published,
        authors=authors, categories=categories, enclosures=enclosures,
        language=language if f"{ATOM}title" in seen else None,
        base=base if f"{ATOM}title" in seen else None,
    )
