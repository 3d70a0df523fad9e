"""The feedgen adapter: a topic's entries → Atom 1.0 and RSS 2.0 bytes.

Pure and deterministic: the same view gives the same bytes. Every date is
explicit (feedgen would otherwise stamp the current time), and each format gets
its own generator because some feedgen setters write to both formats at once
(``description()`` replaces the Atom content, for one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem
from lxml import etree

from feeds import __version__
from feeds.errors import EmitError
from feeds.stories.sanitize import text_to_html
from feeds.types import Entry

GENERATOR = "feeds"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Related:
    """Another source that carried the same story."""

    title: str
    url: str | None


@dataclass(frozen=True)
class Item:
    id: str
    entry: Entry
    source_title: str
    source_url: str | None  # the source's feed or home page, for <source>
    related: tuple[Related, ...] = ()


@dataclass(frozen=True)
class FeedView:
    """Everything that goes into one topic's feed files."""

    topic: str
    title: str
    description: str
    site_url: str  # the index page
    atom_url: str
    rss_url: str
    author: str
    language: str
    items: Sequence[Item]
    # For a feed with no entries: a fixed time, so that re-rendering it gives the same bytes.
    empty_updated: datetime = _EPOCH
    hub: str | None = None  # WebSub hub to advertise
    # RFC 5005 paging: (rel, href) links such as prev-archive, and whether this
    # document is an archive page (then it also carries fh:archive).
    links: tuple[tuple[str, str], ...] = ()
    archive: bool = False
    label: str = ""  # the topic's own name, for the index page (the title adds the site's)

    @property
    def updated(self) -> datetime:
        return max((i.entry.updated for i in self.items), default=self.empty_updated)


def ordered_items(items: Sequence[Item]) -> list[Item]:
    """Newest published first: the order of every format and of the index page."""
    return sorted(items, key=lambda i: (i.entry.published, i.entry.updated, i.id), reverse=True)


def _base(view: FeedView) -> FeedGenerator:
    fg = FeedGenerator()
    fg.title(view.title)
    fg.language(view.language)
    fg.generator(GENERATOR, version=__version__)
    return fg


class Fragments:
    """Entries already rendered, by format: an entry is in the archive of "all" and
    in those of its topics, and serialising its HTML is most of what rendering
    costs. Pages rendered with the same ``Fragments`` reuse them; the bytes are
    those of rendering each page whole (tests check it)."""

    def __init__(self) -> None:
        self._done: dict[tuple[str, str], tuple[Item, bytes]] = {}
        # Entries that could not be rendered and were left out, by (format, id): why.
        self.skipped: dict[tuple[str, str], str] = {}

    def get(self, kind: str, item: Item, render: Callable[[Item], bytes]) -> bytes:
        """The item rendered, or b"" (and a note in ``skipped``) when the renderer
        refuses it: one entry must not take its whole feed down."""
        key = (kind, item.id)
        hit = self._done.get(key)
        if hit is not None and (hit[0] is item or hit[0] == item):
            return hit[1]
        try:
            data = render(item)
        except (ValueError, TypeError) as exc:
            e = item.entry
            self.skipped[key] = (f"entry {item.id} of source {e.source_id} ({e.link or 'no link'}) "
                                 f"left out of the {kind} feeds: cannot render it: {exc}")
            data = b""
        self._done[key] = (item, data)
        return data

    def problems(self) -> list[str]:
        """What ``skipped`` says, one line an entry and format, in a stable order."""
        return [self.skipped[key] for key in sorted(self.skipped)]


def _spliced(head: bytes, close: bytes, items: Sequence[Item], kind: str,
             render: Callable[[Item], bytes], fragments: Fragments | None) -> bytes:
    """``head`` (a document rendered without entries) with each item's entry put in
    before ``close``, the tag that follows the entries."""
    at = head.rindex(close)
    cache = fragments or Fragments()
    return b"".join([head[:at], *(cache.get(kind, i, render) for i in ordered_items(items)), head[at:]])


def _entry_bytes(data: bytes, open_tag: bytes, close: bytes) -> bytes:
    """The entry of a one-entry document, with its indentation and line end."""
    return data[data.index(open_tag) + 1 : data.rindex(close)]


def render_atom(view: FeedView, fragments: Fragments | None = None) -> bytes:
    fg = _atom_feed(view)
    try:
        return _spliced(bytes(fg.atom_str(pretty=True)), b"</feed>", view.items, "atom",
                        _atom_entry, fragments)
    except (ValueError, TypeError) as exc:
        raise EmitError(view.topic, f"cannot render Atom: {exc}") from None


def _atom_feed(view: FeedView) -> FeedGenerator:
    """The feed's own elements, without its entries."""
    fg = _base(view)
    fg.id(view.atom_url)
    fg.updated(view.updated)
    fg.author({"name": view.author})
    if view.description:
        fg.subtitle(view.description)
    fg.link(href=view.atom_url, rel="self", type="application/atom+xml")
    if view.hub:
        fg.link(href=view.hub, rel="hub")
    for rel, href in view.links:
        fg.link(href=href, rel=rel, type="application/atom+xml")
    if view.archive:
        fg.register_extension("feeds_history", _ArchiveMark, atom=True, rss=False)
    fg.link(href=view.site_url, rel="alternate", type="text/html")
    return fg


_scratch: dict[str, FeedGenerator] = {}
_ATOM = "http://www.w3.org/2005/Atom"
_RSS_NAMESPACES = {"dc": "http://purl.org/dc/elements/1.1/", "atom": _ATOM,
                   "content": "http://purl.org/rss/1.0/modules/content/"}


def _scratch_feed(kind: str) -> FeedGenerator:
    """A feed of each format to build entries with (it gives them their extensions).
    Only the entry is serialised: a document around each one cost as much as the
    entry. Rendering is single-threaded in each process (pages render in worker
    processes, not threads)."""
    fg = _scratch.get(kind)
    if fg is None:
        fg = FeedGenerator()
        if kind == "rss":
            fg.load_extension("dc", atom=False, rss=True)
        _scratch[kind] = fg
    return fg


def _detached(kind: str, item: Item, add: Callable[[FeedGenerator, Item], Any]) -> Any:
    """``item`` as feedgen builds it on the scratch feed of ``kind``, taken off again."""
    fg = _scratch_feed(kind)
    try:
        fe = add(fg, item)
        fg.remove_entry(fe)
    except BaseException:
        _scratch.pop(kind, None)  # it may still hold the entry that failed
        raise
    return fe


def _atom_entry(item: Item) -> bytes:
    fe = _detached("atom", item, _add_atom_entry)
    # Serialised where feedgen puts it, so that indentation and namespaces match.
    feed = etree.Element("feed", xmlns=_ATOM)
    feed.append(fe.atom_entry())
    return _entry_bytes(etree.tostring(feed, pretty_print=True, encoding="UTF-8"), b"\n  <entry>", b"</feed>")


def _add_atom_entry(fg: FeedGenerator, item: Item) -> Any:
    e = item.entry
    fe = fg.add_entry(order="append")
    fe.id(item.id)
    fe.title(e.title)
    fe.published(e.published)
    fe.updated(e.updated)
    for a in e.authors:
        person: dict[str, str] = {"name": a.name}
        if a.email:
            person["email"] = a.email
        if a.uri:
            person["uri"] = a.uri
        fe.author(person)
    if e.link:
        # Written without rel, which Atom reads as alternate (see _AtomEntryExtras).
        fe.link(href=e.link, rel="alternate")
    fe.register_extension("feeds_atom", _AtomEntryExtras, atom=True, rss=False)
    extras: _AtomEntryExtras = fe.feeds_atom
    for enc in e.enclosures:
        extras.links.append({"href": enc.url, "rel": "enclosure", "type": enc.type,
                             "length": str(enc.length)})
    for other in item.related:
        if other.url and other.url != e.link:
            extras.links.append({"href": other.url, "rel": "related", "title": other.title})
    for c in e.categories:
        fe.category(term=c)
    if e.summary_html and e.summary_html != e.content_html:
        fe.summary(e.summary_html, type="html")
    content = e.content_html
    if not content and not e.link:
        # An Atom entry without an alternate link must have content.
        content = e.summary_html or text_to_html(e.title)
    if content:
        fe.content(content, type="html")
    if item.source_url:
        # The source feed's own id and updated are not kept: its URL stands in
        # for the id, and it was updated at least when this entry was.
        extras.source = (item.source_url, item.source_title, e.updated.isoformat())
    return fe


class _AtomEntryExtras(BaseEntryExtension):  # type: ignore[misc]
    """What feedgen 1.0 gets wrong in Atom entries, written by its extension hook.

    Its entry writer drops every link's rel, type and length (the loop variable
    shadows the link), so enclosures and related links would read as alternate
    links; and its <source> has no id or updated, which validators ask for.
    """

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []
        self.source: tuple[str, str, str] | None = None  # url, title, updated

    def extend_atom(self, entry: Any) -> Any:
        for attrs in self.links:
            xml_elem("link", entry, **attrs)
        if self.source is not None:
            url, title, updated = self.source
            source = xml_elem("source", entry)
            xml_elem("id", source).text = url
            xml_elem("title", source).text = title
            xml_elem("updated", source).text = updated
            xml_elem("link", source, href=url, rel="self")
        return entry


def render_rss(view: FeedView, fragments: Fragments | None = None) -> bytes:
    fg = _rss_feed(view)
    try:
        data = _spliced(bytes(fg.rss_str(pretty=True)), b"  </channel>", view.items, "rss",
                        _rss_item, fragments)
    except (ValueError, TypeError) as exc:
        raise EmitError(view.topic, f"cannot render RSS: {exc}") from None
    return _rss_links_added(view, data)


def _rss_feed(view: FeedView) -> FeedGenerator:
    """The channel's own elements, without its items."""
    fg = _base(view)
    fg.load_extension("dc", atom=False, rss=True)
    fg.description(view.description or view.title)
    fg.lastBuildDate(view.updated)
    fg.pubDate(view.updated)
    fg.link(href=view.rss_url, rel="self", type="application/rss+xml")
    # feedgen makes the channel <link> from the last link() call.
    fg.link(href=view.site_url, rel="alternate")
    return fg


def _rss_links_added(view: FeedView, data: bytes) -> bytes:
    links = ([("hub", view.hub)] if view.hub else []) + [
        (rel, href.removesuffix(".atom") + ".rss") for rel, href in view.links]
    if links or view.archive:
        data = _with_rss_links(data, links, view.archive)
    return data


def _rss_item(item: Item) -> bytes:
    fe = _detached("rss", item, _add_rss_item)
    rss = etree.Element("rss", version="2.0", nsmap=_RSS_NAMESPACES)
    etree.SubElement(rss, "channel").append(fe.rss_entry())
    return _entry_bytes(etree.tostring(rss, pretty_print=True, encoding="UTF-8"), b"\n    <item>",
                        b"  </channel>")


def _add_rss_item(fg: FeedGenerator, item: Item) -> Any:
    e = item.entry
    fe = fg.add_entry(order="append")
    fe.guid(item.id, permalink=False)
    fe.title(e.title)
    fe.pubDate(e.published)
    if e.link:
        fe.link(href=e.link)
    # RSS <author> must be an e-mail address; dc:creator takes a name.
    for a in e.authors:
        fe.dc.dc_creator(a.name)
    if e.enclosures:  # RSS allows one enclosure per item
        enc = e.enclosures[0]
        fe.enclosure(url=enc.url, length=str(enc.length), type=enc.type)
    for c in e.categories:
        fe.category(term=c)
    fe.description(e.summary_html or e.content_html or text_to_html(e.title))
    if e.content_html:
        fe.content(e.content_html)
    if item.source_url:
        fe.source(url=item.source_url, title=item.source_title)
    return fe


_HISTORY_NS = "http://purl.org/syndication/history/1.0"


def _with_rss_links(data: bytes, links: Sequence[tuple[str, str]], archive: bool) -> bytes:
    """feedgen writes only the self link in RSS; add the others beside it."""
    marker = b' rel="self" type="application/rss+xml"/>'
    at = data.index(marker) + len(marker)
    extra = "".join(f'\n    <atom:link href="{xml_escape(href, {chr(34): "&quot;"})}" rel="{rel}"/>'
                    for rel, href in links)
    if archive:
        extra += f'\n    <fh:archive xmlns:fh="{_HISTORY_NS}"/>'
    return data[:at] + extra.encode() + data[at:]


class _ArchiveMark(BaseExtension):  # type: ignore[misc]
    """RFC 5005's fh:archive: this document is an archive page that will not change."""

    def extend_ns(self) -> dict[str, str]:
        return {"fh": _HISTORY_NS}

    def extend_atom(self, feed: Any) -> Any:
        xml_elem(f"{{{_HISTORY_NS}}}archive", feed)
        return feed
