"""The lxml fast path gives exactly what the feedparser path gives, or hands over.

Every document of a generated benchmark corpus, feeds built by hypothesis from
the features the fast path claims to handle (and some it must refuse), and
constructs feedparser reads its own way are parsed both ways: the fast path's
result must be None or equal, field for field, to feedparser's. Documents other
people wrote (the real-world corpus, feedparser's own tests) are in
tests/test_differential.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from conftest import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.parse.adapter import parse_document, parse_with_feedparser
from feeds.parse.fastparse import fast_parse
from feeds.types import Document

ROOT = Path(__file__).resolve().parent.parent


def doc(body: bytes, name: str = "feed.xml", content_type: str = "application/rss+xml") -> Document:
    return Document("s", f"https://host.example/feeds/{name}", body, {"content-type": content_type})


def agree(d: Document) -> bool:
    """True when the fast path took the document (and agreed), False when it handed over."""
    fast = fast_parse(d)
    if fast is None:
        return False
    assert fast == parse_with_feedparser(d)
    return True


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_generate"] = module
    spec.loader.exec_module(module)
    return module


def test_generated_corpus(tmp_path: Path) -> None:
    manifest = load_generator().generate(tmp_path / "corpus", n_sources=40, n_entries=20, seed=8)
    taken = 0
    for f in manifest["files"]:
        path = tmp_path / "corpus" / f["path"]
        taken += agree(doc(path.read_bytes(), path.name))
    assert taken >= 0.8 * len(manifest["files"])
    assert sum(f["format"] == "rdf" for f in manifest["files"]) >= 5  # seed 8 has seven


def test_parse_document_uses_the_fast_path_and_still_refuses_entities() -> None:
    body = (DATA / "corpus").joinpath("netnewswire--donthitsave.xml").read_bytes()
    assert fast_parse(doc(body)) is not None
    assert parse_document(doc(body)) == parse_with_feedparser(doc(body))


# --- hypothesis: feeds built from the features the fast path claims ----------------

TEXT = st.lists(st.sampled_from([*"ab Z<>&\"'é€—\u00c3\u00a9\t\n", "&amp;", "<b>x</b>", "  ", "&nbsp;"]),
                max_size=12).map("".join)
DATES = st.sampled_from(["Sat, 31 May 2025 23:29:53 +0000", "2025-06-01T01:46:29Z",
                         "Tue, 3 Jun 2025 10:00:00 GMT", "not a date", "", " 2025-06-01 ",
                         "Sun, 01 Jun 2025 25:61:00 +0000"])
URLS = st.sampled_from(["https://a.example/x?a=1&b=2", "/relative/path", "x.html", "",
                        "  https://b.example/ ", "urn:uuid:1234", "tag:a.example,2025:1",
                        "https://a.example/?a=1&amp;b=2", "mailto:x@y"])
CREATORS = st.sampled_from(["Ann Lee", "ann@x.example (Ann)", "", " Bo "])


def element(tag: str, text: str, attrs: dict[str, str] | None = None, cdata: bool = False) -> str:
    a = "".join(f" {k}={quoteattr(v)}" for k, v in (attrs or {}).items())
    body = f"<![CDATA[{text.replace(']]>', '')}]]>" if cdata else escape(text)
    return f"<{tag}{a}>{body}</{tag}>"


@st.composite
def rss_items(draw: st.DrawFn) -> str:
    parts: list[str] = []
    if draw(st.booleans()):
        parts.append(element("title", draw(TEXT), cdata=draw(st.booleans())))
    if draw(st.booleans()):
        parts.append(element("link", draw(URLS)))
    if draw(st.booleans()):
        attrs = draw(st.sampled_from([{}, {"isPermaLink": "false"}, {"isPermaLink": "true"},
                                      {"isPermaLink": "no"}]))
        parts.append(element("guid", draw(URLS), attrs))
    if draw(st.booleans()):
        parts.append(element("pubDate", draw(DATES)))
    if draw(st.booleans()):
        parts.append(element("description", draw(TEXT), cdata=draw(st.booleans())))
    if draw(st.booleans()):
        parts.append(element("content:encoded", draw(TEXT), cdata=True))
    for _ in range(draw(st.integers(0, 2))):
        parts.append(element("category", draw(TEXT), draw(st.sampled_from([{}, {"domain": "d"}]))))
    if draw(st.booleans()):
        length = draw(st.integers(-1, 9))
        parts.append(f'<enclosure url={quoteattr(draw(URLS))} type="audio/mpeg" length="{length}"/>')
    if draw(st.booleans()):
        parts.append(element("dc:creator", draw(CREATORS)))
    if draw(st.booleans()):
        parts.append(element("author", "ann@x.example (Ann)"))  # must hand over
    return "<item>" + "".join(draw(st.permutations(parts))) + "</item>"


@st.composite
def rss_feeds(draw: st.DrawFn) -> bytes:
    head = [element("title", draw(TEXT)), element("link", draw(URLS)),
            element("language", draw(st.sampled_from(["en-us", "fr", ""])))]
    if draw(st.booleans()):
        head.append(element("ttl", draw(st.sampled_from(["30", "0", "x", "99999999"]))))
    if draw(st.integers(0, 4)) == 0:  # a second title or link: feedparser keeps one of them
        head.append(element(draw(st.sampled_from(["title", "link"])), draw(TEXT)))
    items = draw(st.lists(rss_items(), max_size=4))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            + "".join(head) + "".join(items) + "</channel></rss>").encode()


@st.composite
def rdf_items(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for tag in ("title", "description"):
        if draw(st.booleans()):
            parts.append(element(tag, draw(TEXT), cdata=draw(st.booleans())))
    if draw(st.booleans()):
        parts.append(element("link", draw(URLS)))
    if draw(st.booleans()):
        parts.append(element("dc:date", draw(DATES)))
    if draw(st.booleans()):
        parts.append(element("content:encoded", draw(TEXT), cdata=True))
    for _ in range(draw(st.integers(0, 2))):
        parts.append(element("dc:subject", draw(TEXT)))
    for _ in range(draw(st.integers(0, 2))):
        parts.append(element("dc:creator", draw(CREATORS)))
    if draw(st.booleans()):
        parts.append(element("dc:language", "en"))  # must hand over
    about = draw(st.sampled_from([None, "https://a.example/1", " urn:x ", "", "rel/2"]))
    attrs = "" if about is None else f" rdf:about={quoteattr(about)}"
    return f"<item{attrs}>" + "".join(draw(st.permutations(parts))) + "</item>"


@st.composite
def rdf_feeds(draw: st.DrawFn) -> bytes:
    head = [element("title", draw(TEXT)), element("link", draw(URLS)), element("description", draw(TEXT))]
    if draw(st.booleans()):
        head.append(element("dc:date", draw(DATES)))
    items = draw(st.lists(rdf_items(), max_size=4))
    if draw(st.booleans()):
        head.append("<items><rdf:Seq>" + "".join('<rdf:li rdf:resource="https://a.example/1"/>'
                                                  for _ in items) + "</rdf:Seq></items>")
    channel = "<channel rdf:about=\"https://a.example/feed.rdf\">" + "".join(head) + "</channel>"
    parts = [channel, *items]
    if draw(st.booleans()):
        parts.append('<image rdf:about="https://a.example/i.png"><title>x</title></image>')  # hands over
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/">'
            + "".join(draw(st.permutations(parts))) + "</rdf:RDF>").encode()


@st.composite
def atom_entries(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for tag in ("title", "summary", "content"):
        if draw(st.booleans()):
            kind = draw(st.sampled_from([{}, {"type": "text"}, {"type": "html"}, {"type": "HTML"},
                                         {"type": "xhtml"}]))
            parts.append(element(tag, draw(TEXT), kind, cdata=draw(st.booleans())))
    for _ in range(draw(st.integers(0, 3))):
        attrs = {"href": draw(URLS)}
        attrs.update(draw(st.sampled_from([{}, {"rel": "alternate"}, {"rel": "enclosure", "length": "12"},
                                           {"rel": "related"}, {"rel": "alternate", "type": "text/html"},
                                           {"rel": "alternate", "type": "application/pdf"},
                                           {"rel": "enclosure"}, {"rel": "self"}])))
        parts.append(f"<link{''.join(f' {k}={quoteattr(v)}' for k, v in attrs.items())}/>")
    if draw(st.booleans()):
        parts.append(element("id", draw(URLS)))
    for tag in ("published", "updated"):
        if draw(st.booleans()):
            parts.append(element(tag, draw(DATES)))
    if draw(st.booleans()):
        parts.append("<author>" + element("name", draw(TEXT)) + "</author>")
    for _ in range(draw(st.integers(0, 2))):
        parts.append(f"<category term={quoteattr(draw(TEXT))}"
                     + (f" label={quoteattr(draw(TEXT))}" if draw(st.booleans()) else "") + "/>")
    return "<entry>" + "".join(draw(st.permutations(parts))) + "</entry>"


@st.composite
def atom_feeds(draw: st.DrawFn) -> bytes:
    root_attrs = draw(st.sampled_from(['', ' xml:lang="en"', ' xml:base="https://base.example/dir/"',
                                       ' xml:base="sub/" xml:lang="de"', ' xml:lang="en_GB"']))
    head = [element("title", draw(TEXT)), element("id", draw(URLS))]
    if draw(st.integers(0, 4)) == 0:  # a second title or id: feedparser keeps the first
        head.append(element(draw(st.sampled_from(["title", "id"])), draw(TEXT)))
    if draw(st.booleans()):
        head.append(f"<link href={quoteattr(draw(URLS))}/>")
    entries = draw(st.lists(atom_entries(), max_size=4))
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"{root_attrs}>'
            + "".join(head) + "".join(entries) + "</feed>").encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rss_feeds())
def test_generated_rss_agrees_with_feedparser(body: bytes) -> None:
    agree(doc(body))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(atom_feeds())
def test_generated_atom_agrees_with_feedparser(body: bytes) -> None:
    agree(doc(body, "feed.atom", "application/atom+xml"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rdf_feeds())
def test_generated_rdf_agrees_with_feedparser(body: bytes) -> None:
    agree(doc(body, "feed.rdf", "application/rdf+xml"))


# --- what a stranger's feed can do that feedparser reads its own way -------------

RSS_HEAD = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
ATOM_HEAD = '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'


@pytest.mark.parametrize("body", [
    # feedparser keeps a channel's first title (and its last link)
    RSS_HEAD + "<title>First</title><title>Second</title><item><title>i</title></item></channel></rss>",
    ATOM_HEAD + "<title>First</title><title>Second</title><entry><title>e</title></entry></feed>",
    ATOM_HEAD + "<id>https://a.example/1</id><id>https://a.example/2</id><entry><title>e</title></entry></feed>",
    # an item inside an element the fast path does not read is still an entry to feedparser
    RSS_HEAD + "<title>T</title><description>d<item><title>hidden</title></item></description>"
               "<item><title>i</title></item></channel></rss>",
    RSS_HEAD + "<item><title>i</title><comments>c<link>https://evil.example/</link></comments></item>"
               "</channel></rss>",
    RSS_HEAD + '<item><title>i</title><enclosure url="https://a.example/a.mp3" type="audio/mpeg">'
               "<link>https://evil.example/</link></enclosure></item></channel></rss>",
    # the text of an Atom person without a <name> is its name to feedparser
    ATOM_HEAD + "<title>T</title><entry><title>e</title><author>Mallory</author></entry></feed>",
    # feedparser reads no <ttl> that carries attributes
    RSS_HEAD + '<ttl type="html">60</ttl><item><title>i</title></item></channel></rss>',
], ids=["rss-two-titles", "atom-two-titles", "atom-two-ids", "item-in-description", "link-in-comments",
        "link-in-enclosure", "text-in-atom-author", "ttl-attribute"])
def test_constructs_feedparser_reads_its_own_way_agree_or_hand_over(body: str) -> None:
    d = doc(body.encode())
    fast = fast_parse(d)
    assert fast is None or fast == parse_with_feedparser(d)
