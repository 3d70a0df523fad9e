"""Normalisation invariants on real-world feeds (tests/data/corpus, not made by us),
as published and with forbidden characters slipped into every text they carry.

Whatever a document holds, each entry normalised from it has only characters
XML 1.0 allows in every text field and only absolute http(s) URLs, and renders
in every format.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from atomschema import atom_errors
from helpers import NOW
from lxml import etree

from feeds.errors import ParseError
from feeds.parse.adapter import parse_document
from feeds.publish.emit import FeedView, Fragments, Item, render_atom, render_rss
from feeds.publish.jsonfeed import render_json
from feeds.stories.normalize import Context, normalize
from feeds.types import Document, Entry, Source

CORPUS = Path(__file__).parent / "data" / "corpus"
FILES = sorted(p.name for p in CORPUS.glob("*.xml"))
SOURCE = Source(id="src", title="The Source", url="https://feeds.example.org/feed.xml")
UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
# What a broken publisher's CMS lets through: raw C0 controls, and references to
# controls, lone surrogates and noncharacters.
POISON = "\x01&#1;&#xD800;&#56320;&#xFFFE;&#x1b;\x08"


def _poisoned(body: bytes) -> bytes:
    """``body`` with POISON after the first word of every text node and attribute
    value it can find (by a plain search, as an attacker would edit the file)."""
    text = body.decode("utf-8", "surrogateescape")
    text = re.sub(r">([^<\s]+)", lambda m: ">" + m.group(1) + POISON, text)
    text = re.sub(r'(href|url|uri|src)="([^"]*)"', lambda m: f'{m.group(1)}="{m.group(2)}{POISON}"', text)
    return text.encode("utf-8", "surrogateescape")


def _entries(body: bytes, name: str) -> list[Entry]:
    doc = Document(source_id="src", url=f"https://feeds.example.org/{name}", body=body, headers={})
    try:
        feed = parse_document(doc)
    except ParseError:
        return []  # a document that is not a feed fails its source, cleanly
    ctx = Context(source=SOURCE, base_url="https://me.example.net/", now=NOW,
                  document_url=doc.url, feed=feed)
    return [normalize(e, ctx) for e in feed.entries]


def _check(entry: Entry) -> None:
    texts = [entry.title, entry.summary_html, entry.content_html, entry.summary_text, entry.item_key,
             *entry.categories, *(a.name for a in entry.authors), *(a.email or "" for a in entry.authors),
             *(e.type for e in entry.enclosures), entry.language or ""]
    for text in texts:
        assert not UNSAFE.search(text), text
    assert entry.title.strip()
    for url in (entry.link, *(a.uri for a in entry.authors), *(e.url for e in entry.enclosures)):
        assert url is None or re.match(r"https?://[^\s/]+", url), url


def _render_all(entries: list[Entry]) -> None:
    items = [Item(f"urn:uuid:00000000-0000-5000-8000-{n:012d}", e, "The Source", SOURCE.url)
             for n, e in enumerate(entries)]
    view = FeedView(topic="t", title="T", description="", site_url="https://me.example.net/",
                    atom_url="https://me.example.net/t.atom", rss_url="https://me.example.net/t.rss",
                    author="A", language="en", items=items, empty_updated=datetime(2026, 1, 1, tzinfo=UTC))
    fragments = Fragments()
    atom = render_atom(view, fragments)
    etree.fromstring(render_rss(view, fragments))
    render_json(view).decode("utf-8")
    assert fragments.problems() == []
    assert atom_errors(atom) == []


@pytest.mark.parametrize("name", FILES)
def test_real_feed_entries_hold_only_xml_characters(name: str) -> None:
    entries = _entries((CORPUS / name).read_bytes(), name)
    for entry in entries:
        _check(entry)
    _render_all(entries)


@pytest.mark.parametrize("name", FILES)
def test_real_feed_poisoned_everywhere_still_normalises_and_renders(name: str) -> None:
    entries = _entries(_poisoned((CORPUS / name).read_bytes()), name)
    for entry in entries:
        _check(entry)
    _render_all(entries)


def test_the_poison_reaches_the_entries() -> None:
    # Guards the test above: the mutation must put forbidden characters where the
    # parsers read them in most of the corpus, or that test proves little.
    from feeds.parse.adapter import parse_with_feedparser

    reached = 0
    for name in FILES:
        doc = Document(source_id="src", url="https://feeds.example.org/x", headers={},
                       body=_poisoned((CORPUS / name).read_bytes()))
        try:
            raw = parse_with_feedparser(doc).entries
        except ParseError:
            continue
        reached += any(e.title and UNSAFE.search(e.title.value) for e in raw)
    assert reached >= len(FILES) // 2


def test_xml_base_still_comes_first_in_rss() -> None:
    # RSS items resolve against the channel's <link>, but an xml:base the feed gives wins.
    body = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xml:base="https://base.example/x/">'
            b"<channel><title>R</title><link>https://site.example/</link><description>d</description>"
            b"<item><title>T</title><link>/2025/06/02/story</link><guid isPermaLink=\"false\">s</guid>"
            b"</item></channel></rss>")
    (entry,) = _entries(body, "f.rss")
    assert entry.link == "https://base.example/2025/06/02/story"
