"""Rendering: valid, deterministic, and what we write is what readers parse back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser
from atomschema import atom_errors
from helpers import NOW, make_entry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.publish.emit import FeedView, Item, Related, render_atom, render_rss
from feeds.types import Enclosure, Person


def view(items: list[Item]) -> FeedView:
    return FeedView(topic="ai", title="Wire: AI", description="About AI", site_url="https://w.test/",
                    atom_url="https://w.test/ai.atom", rss_url="https://w.test/ai.rss", author="Desk",
                    language="en", items=items)


def item(n: int, **kw: object) -> Item:
    entry = make_entry(item_key=f"guid:{n}", title=f"Story {n}", link=f"https://e.test/{n}",
                       published=NOW - timedelta(hours=n), updated=NOW - timedelta(hours=n), **kw)
    return Item(f"urn:uuid:00000000-0000-4000-8000-{n:012d}", entry, "Source", "https://e.test/feed")


def test_outputs_are_deterministic_and_newest_first() -> None:
    items = [item(2), item(1), item(3)]
    atom, rss = render_atom(view(items)), render_rss(view(items))
    assert atom == render_atom(view(list(reversed(items))))
    assert rss == render_rss(view(items))
    assert [e.title for e in feedparser.parse(atom).entries] == ["Story 1", "Story 2", "Story 3"]
    assert [e.title for e in feedparser.parse(rss).entries] == ["Story 1", "Story 2", "Story 3"]


def test_atom_has_self_link_author_updated_and_html_content() -> None:
    atom = render_atom(view([item(1, content_html="<p>Body &amp; more</p>")]))
    assert atom_errors(atom) == []
    feed = feedparser.parse(atom)
    assert feed.feed.id == "https://w.test/ai.atom"
    assert any(link.rel == "self" and link.href == "https://w.test/ai.atom" for link in feed.feed.links)
    assert feed.feed.updated_parsed[:4] == (NOW - timedelta(hours=1)).timetuple()[:4]
    entry = feed.entries[0]
    assert entry.content[0].type == "text/html"
    assert entry.content[0].value == "<p>Body &amp; more</p>"
    assert entry.source.title == "Source"
    assert b'type="html"' in atom


def test_rss_has_atom_self_link_guid_dc_creator_and_enclosure() -> None:
    rss = render_rss(view([item(1, authors=(Person("Jane Doe"), Person("Bob", "bob@e.test")),
                                enclosures=(Enclosure("https://e.test/a.mp3", "audio/mpeg", 1234),),
                                categories=("AI", "Policy"))]))
    text = rss.decode()
    assert '<atom:link href="https://w.test/ai.rss" rel="self" type="application/rss+xml"/>' in text
    assert '<guid isPermaLink="false">urn:uuid:' in text
    assert "<dc:creator>Jane Doe</dc:creator>" in text and "<dc:creator>Bob</dc:creator>" in text
    assert "<link>https://w.test/</link>" in text
    feed = feedparser.parse(rss)
    entry = feed.entries[0]
    assert entry.enclosures[0].href == "https://e.test/a.mp3"
    assert entry.enclosures[0].length == "1234"
    assert [t.term for t in entry.tags] == ["AI", "Policy"]
    assert feed.feed.language == "en"


def test_atom_enclosures_and_related_links_keep_rel_type_and_length() -> None:
    it = item(1, enclosures=(Enclosure("https://e.test/a.mp3", "audio/mpeg", 1234),))
    it = Item(it.id, it.entry, it.source_title, it.source_url,
              related=(Related("Other", "https://other.test/x"),))
    atom = render_atom(view([it]))
    assert atom_errors(atom) == []
    entry = feedparser.parse(atom).entries[0]
    assert entry.link == "https://e.test/1"
    assert [(e.href, e.type, e.length) for e in entry.enclosures] == [
        ("https://e.test/a.mp3", "audio/mpeg", "1234")]
    assert [(link.href, link.title) for link in entry.links if link.rel == "related"] == [
        ("https://other.test/x", "Other")]
    assert entry.source.id == "https://e.test/feed"


def test_empty_feed_is_valid_and_stable() -> None:
    empty = FeedView(**{**view([]).__dict__, "empty_updated": datetime(2026, 1, 1, tzinfo=UTC)})
    atom = render_atom(empty)
    assert atom_errors(atom) == []
    assert atom == render_atom(empty)
    assert b"2026-01-01T00:00:00" in atom


def test_entry_without_link_or_content_still_valid_atom() -> None:
    it = item(1)
    bare = Item(it.id, make_entry(link=None, url_key=None, summary_html="", title="Only a title"), "S", None)
    atom = render_atom(view([bare]))
    assert atom_errors(atom) == []
    assert feedparser.parse(atom).entries[0].title == "Only a title"


text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60).filter(
    lambda s: s.strip() != "")
moments = st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2035, 1, 1),
                       timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=text, path=st.from_regex(r"[a-z0-9/_-]{0,20}", fullmatch=True), published=moments,
       delta=st.integers(0, 10**6))
def test_emit_then_parse_keeps_id_title_link_and_dates(title: str, path: str, published: datetime,
                                                        delta: int) -> None:
    title = " ".join(title.split())
    updated = published + timedelta(seconds=delta)
    entry = make_entry(title=title, link=f"https://e.test/{path}", published=published, updated=updated)
    it = Item("urn:uuid:12345678-1234-4123-8123-123456789abc", entry, "S", None)
    for data in (render_atom(view([it])), render_rss(view([it]))):
        parsed = feedparser.parse(data)
        assert not parsed.bozo
        [e] = parsed.entries
        assert e.id == it.id
        # feedparser "repairs" text that looks like double-encoded UTF-8 ("Â¡" comes back
        # as "¡"), so the title is read with a plain XML parser.
        titles = etree.fromstring(data).xpath("//*[local-name()='entry' or local-name()='item']"
                                              "/*[local-name()='title']/text()")
        assert titles == [title]
        assert e.link == entry.link
        assert datetime(*e.published_parsed[:6]).replace(tzinfo=UTC) == published
    atom_entry = feedparser.parse(render_atom(view([it]))).entries[0]
    assert datetime(*atom_entry.updated_parsed[:6]).replace(tzinfo=UTC) == updated


def whole_document(view: FeedView, kind: str) -> bytes:
    """The straightforward path: feedgen renders the document with every entry in it."""
    from feeds.publish.emit import (
        _add_atom_entry,
        _add_rss_item,
        _atom_feed,
        _rss_feed,
        _rss_links_added,
        ordered_items,
    )

    fg = _atom_feed(view) if kind == "atom" else _rss_feed(view)
    for it in ordered_items(view.items):
        (_add_atom_entry if kind == "atom" else _add_rss_item)(fg, it)
    if kind == "atom":
        return bytes(fg.atom_str(pretty=True))
    return _rss_links_added(view, bytes(fg.rss_str(pretty=True)))


html = st.sampled_from(["", "<p>a &amp; b</p>", "<p>x</p>\n<pre>  code\n</pre>", "plain <b>bold</b>",
                        "</feed></channel>", "<![CDATA[x]]>"])


@st.composite
def items(draw: st.DrawFn, n: int) -> Item:
    published = draw(moments)
    entry = make_entry(
        item_key=f"guid:{n}", title=" ".join(draw(text).split()),
        link=draw(st.one_of(st.none(), st.just(f"https://e.test/{n}"))),
        url_key=None, summary_html=draw(html), content_html=draw(html),
        published=published, updated=published + timedelta(seconds=draw(st.integers(0, 10**6))),
        authors=tuple(Person(a, e) for a, e in draw(
            st.lists(st.tuples(text, st.sampled_from(["", "a@e.test"])), max_size=2))),
        categories=tuple(draw(st.lists(text, max_size=3, unique=True))),
        enclosures=tuple(Enclosure(f"https://e.test/{n}.mp3", "audio/mpeg", k)
                         for k in draw(st.lists(st.integers(0, 10**6), max_size=2))))
    related = tuple(Related(t, u) for t, u in draw(st.lists(
        st.tuples(text, st.sampled_from([None, "https://r.test/1"])), max_size=2)))
    source = draw(st.sampled_from([("Source & Co", "https://e.test/feed"), ("S", None)]))
    return Item(f"urn:uuid:00000000-0000-4000-8000-{n:012d}", entry, *source, related=related)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 6).flatmap(lambda k: st.tuples(*(items(n) for n in range(k)))),
       st.booleans(), st.booleans(), st.booleans())
def test_pages_spliced_from_rendered_entries_are_the_whole_documents(
        drawn: tuple[Item, ...], archive: bool, hub: bool, shared: bool) -> None:
    """Entries are rendered one at a time and put into the document feedgen renders
    without them; reusing them across pages (``Fragments``) changes no byte."""
    from dataclasses import replace

    from feeds.publish.emit import Fragments

    v = replace(view(list(drawn)), archive=archive, hub="https://hub.test/" if hub else None,
                links=(("prev-archive", "https://w.test/archive/ai/1.atom"),) if archive else ())
    fragments = Fragments() if shared else None
    for _ in range(2):  # the second time from the fragments, when shared
        assert render_atom(v, fragments) == whole_document(v, "atom")
        assert render_rss(v, fragments) == whole_document(v, "rss")
    if drawn:  # a page with fewer entries, from the same fragments
        fewer = replace(v, items=list(drawn[1:]))
        assert render_atom(fewer, fragments) == whole_document(fewer, "atom")
        assert render_rss(fewer, fragments) == whole_document(fewer, "rss")


def test_fragments_are_not_reused_for_a_changed_item_of_the_same_id() -> None:
    from dataclasses import replace

    from feeds.publish.emit import Fragments

    fragments = Fragments()
    first = item(1)
    changed = replace(first, entry=replace(first.entry, title="Story 1, corrected"))
    render_atom(view([first]), fragments)
    assert render_atom(view([changed]), fragments) == whole_document(view([changed]), "atom")
    assert b"corrected" in render_rss(view([changed]), fragments)
