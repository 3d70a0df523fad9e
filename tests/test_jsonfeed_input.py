"""JSON Feed 1.0 and 1.1 as input (feeds/jsonparse.py): the real-world corpus, hand-made
documents, discovery, and whole runs against a loopback server."""

from __future__ import annotations

import codecs
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import DATA, FeedServer, Project
from helpers import parsed, run_cli

from feeds.errors import ParseError
from feeds.parse.adapter import parse_document
from feeds.stories.normalize import Context, normalize
from feeds.types import Document, Enclosure, FeedData, Person, Source

CORPUS = DATA / "corpus"
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
V11 = "https://jsonfeed.org/version/1.1"


def _doc(body: bytes | str, content_type: str | None = "application/feed+json",
         url: str = "https://feeds.example.org/feed.json") -> Document:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return Document("src", url, raw, {"content-type": content_type} if content_type else {})


def _feed(**fields: Any) -> str:
    return json.dumps({"version": V11, "title": "T", "items": [], **fields})


def _corpus(name: str) -> FeedData:
    # Served without a Content-Type, as a careless server would: sniffing must find the JSON.
    return parse_document(_doc((CORPUS / name).read_bytes(), None, f"https://feeds.example.org/{name}"))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- the real-world corpus ------------------------------------------------------------

# (file, items, feed title, feed link, first item: title, link, published, updated)
CORPUS_FEEDS = [
    ("feed-rs--jsonfeed_elastic_1.1.json", 3, "Blog – InfluxData", "https://www.influxdata.com/blog/",
     "InfluxDB vs. Graphite for Time Series Data & Metrics Benchmark",
     "https://www.influxdata.com/blog/influxdb-outperforms-graphite-in-time-series-data-metrics-benchmark",
     utc(2019, 5, 31, 19, 17, 58), utc(2019, 5, 31, 19, 17, 58)),
    ("feedjira--json_feed_with_escaped_uris.json", 30, "Luke Dorny's v6", "https://lukedorny.com",
     "New Font", "https://lukedorny.com/updates/new-font",
     utc(2025, 1, 6, 1, 40), utc(2025, 1, 7, 1, 2, 25)),
    ("netnewswire--3960.json", 20, "fboës - Der Blog | Startseite", "https://journal.3960.org/",
     "Lecker, lecker", "https://journal.3960.org/posts/2020-02-21-lecker-lecker/",
     utc(2020, 2, 21, 17, 8, 6), utc(2020, 2, 21, 17, 8, 6)),
    ("netnewswire--inessential.json", 20, "inessential.com", "http://inessential.com/",
     "James Dempsey and the Breakpoints Benefit App Camp for Girls",
     "http://inessential.com/2017/06/02/james_dempsey_and_the_breakpoints_benefi",
     utc(2017, 6, 3, 5, 5, 47), None),
    ("netnewswire--pxlnv.json", 20, "Pixel Envy", "https://pxlnv.com",
     "Uber Lost $4.5 Billion in 2017", "https://pxlnv.com/linklog/uber-losses-2017/",
     utc(2018, 2, 13, 23, 23, 12), utc(2018, 2, 13, 23, 51, 35)),
    ("netnewswire--rose.json", 84, "Rosemary Orchard", "https://www.rosemaryorchard.com/blog",
     "Workflow: Add Task & Sub Tasks To OmniFocus",
     "https://www.rosemaryorchard.com/blog/workflow-add-task-sub-tasks-to-omnifocus",
     utc(2018, 8, 24, 5, 0), utc(2018, 8, 24, 12, 55, 45)),
]


@pytest.mark.parametrize("case", CORPUS_FEEDS, ids=[c[0] for c in CORPUS_FEEDS])
def test_corpus_json_feeds(case: tuple[Any, ...]) -> None:
    name, count, title, link, first_title, first_link, published, updated = case
    feed = _corpus(name)
    assert len(feed.entries) == count
    assert (feed.title, feed.link) == (title, link)
    assert feed.warnings == () and feed.unreadable_dates == 0
    first = feed.entries[0]
    assert first.title is not None and first.title.value == first_title
    assert (first.link, first.published, first.updated) == (first_link, published, updated)
    ctx = Context(source=Source("src", "Src"), base_url="https://me.test/", now=NOW,
                  document_url=f"https://feeds.example.org/{name}", feed=feed)
    entries = [normalize(e, ctx) for e in feed.entries]
    assert len({e.item_key for e in entries}) == count  # every item its own identity
    assert all(e.link and e.link.startswith("http") for e in entries)
    assert all(e.title and e.title == e.title.strip() for e in entries)
    assert sum(e.date_guessed for e in entries) == (1 if name.startswith("feed-rs") else 0)


def test_corpus_details() -> None:
    elastic = _corpus("feed-rs--jsonfeed_elastic_1.1.json")
    # 1.1 "authors" wins over 1.0 "author"; the item without either keeps none.
    assert elastic.entries[0].authors[0] == Person(
        "Chris Churilo", uri="https://www.influxdata.com/blog/author/chrisc/")
    assert elastic.entries[0].categories == ("InfluxDB", "Community", "Elasticsearch",
                                             "Time Series Database")
    assert elastic.language == "en-US"
    assert elastic.icon == "https://www.influxdata.com/wp-content/uploads/cubo.svg"
    fboes = _corpus("netnewswire--3960.json")
    assert fboes.entries[0].authors == (Person("Frank Boës", email="info@3960.org"),)  # mailto: URL
    assert fboes.entries[0].language == "de-DE"
    assert fboes.feed_url == "https://journal.3960.org/feed.json"
    pxlnv = _corpus("netnewswire--pxlnv.json")  # version URL with http:, not https:
    assert pxlnv.entries[-1].link == "https://pxlnv.com/linklog/publishers-abandoning-instant-articles/"
    rose = _corpus("netnewswire--rose.json")
    assert rose.entries[0].categories == ("workflow", "omnifocus")  # tags written as one string
    assert rose.entries[0].content is not None and rose.entries[0].content.is_html
    dorny = _corpus("feedjira--json_feed_with_escaped_uris.json")
    assert dorny.entries[-1].link == "https://lukedorny.com/updates/play"  # url before external_url


def test_rss_written_as_json_is_named() -> None:
    with pytest.raises(ParseError, match="JSON, but not a JSON Feed: it is RSS written as JSON"):
        _corpus("netnewswire--ScriptingNews.json")


def test_truncated_json_is_named() -> None:
    with pytest.raises(ParseError, match=r"^src: truncated JSON at line 1 column 12171"):
        _corpus("netnewswire--allthis-partial.json")


# --- reading ---------------------------------------------------------------------------------


def test_every_field() -> None:
    body = _feed(
        title="Wire &amp; Co", home_page_url="/blog/", feed_url="feed.json", language="fr",
        icon="/icon.png", authors=[{"name": "Desk", "url": "https://e.test/desk"}],
        _private={"x": 1},
        items=[{
            "id": 42, "url": "posts/one", "external_url": "https://elsewhere.test/",
            "title": "One &#8211; two", "content_html": "<p>Body <a href='/x'>x</a></p>",
            "content_text": "Body x", "summary": "Short", "date_published": "2024-05-01T10:00:00+02:00",
            "date_modified": "mer, 16 nov 2022", "tags": ["a", "b", 3, "a"], "language": "de",
            "authors": [{"name": "Ann"}, {"url": "mailto:bob@e.test"}, "Cy"],
            "attachments": [{"url": "/a.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 123},
                            {"url": "https://cdn.test/b.pdf", "size_in_bytes": -4}, {"title": "no url"}],
            "_ext": {"anything": True},
        }, {"id": "x2", "external_url": "https://elsewhere.test/2", "content_text": "only text"}],
    )
    feed = parse_document(_doc(body, url="https://e.test/feeds/feed.json"))
    assert feed.title == "Wire & Co"
    assert feed.link == "https://e.test/blog/"
    assert feed.feed_url == "https://e.test/feeds/feed.json"
    assert feed.icon == "https://e.test/icon.png"
    assert feed.language == "fr"
    assert feed.authors == (Person("Desk", uri="https://e.test/desk"),)
    one, two = feed.entries
    assert one.guid == "42"
    assert one.link == "https://e.test/blog/posts/one"  # relative to home_page_url
    assert one.title is not None and one.title.value == "One – two" and not one.title.is_html
    assert one.content is not None and one.content.is_html and "Body" in one.content.value
    assert one.summary is not None and one.summary.value == "Short" and not one.summary.is_html
    assert one.published == utc(2024, 5, 1, 8, 0)
    assert one.updated == utc(2022, 11, 16)
    assert one.categories == ("a", "b")
    assert one.language == "de"
    assert one.authors == (Person("Ann"), Person("bob", email="bob@e.test"), Person("Cy"))
    assert one.enclosures == (Enclosure("https://e.test/a.mp3", "audio/mpeg", 123),
                              Enclosure("https://cdn.test/b.pdf", "application/octet-stream", 0))
    assert two.link == "https://elsewhere.test/2"
    assert two.content is not None and not two.content.is_html
    assert any("a tag is a number" in w for w in feed.warnings)
    assert any("attachment has no \"url\"" in w for w in feed.warnings)
    assert feed.unreadable_dates == 0
    ctx = Context(source=Source("src", "Src"), base_url="https://me.test/", now=NOW,
                  document_url="https://e.test/feeds/feed.json", feed=feed)
    entry = normalize(one, ctx)
    assert 'href="https://e.test/x"' in entry.content_html  # relative URLs in content resolved


@pytest.mark.parametrize(("body", "content_type"), [
    (_feed(), "application/feed+json"),
    (_feed(), "application/json; charset=utf-8"),
    (_feed(), "text/html"),  # mislabelled: the bytes say JSON
    (_feed(), None),
    ("\n\n  " + _feed(), "text/plain"),
    (codecs.BOM_UTF8 + _feed().encode(), "application/xml"),
    (codecs.BOM_UTF16_LE + _feed().encode("utf-16-le"), None),
])
def test_json_is_found_by_its_bytes_or_its_type(body: bytes | str, content_type: str | None) -> None:
    assert parse_document(_doc(body, content_type)).title == "T"


def test_xml_labelled_as_json_is_read_as_xml() -> None:
    rss = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>X</title>'
           b"<item><title>i</title><guid>g</guid></item></channel></rss>")
    assert parse_document(_doc(rss, "application/json")).title == "X"


@pytest.mark.parametrize(("body", "message"), [
    ('{"title": "no version", "items": []}', r"JSON, but not a JSON Feed \(no \"version\" of jsonfeed.org\)"),
    ('{"version": "https://example.com/version/1", "items": []}', "not a JSON Feed"),
    ('{"version": 1.1, "items": []}', "not a JSON Feed"),
    ("[1, 2, 3]", r"the top level is a list, not an object"),
    ('"just a string"', r"the top level is text"),
    (f'{{"version": "{V11}"}}', r'JSON Feed without an "items" list'),
    (f'{{"version": "{V11}", "items": {{"a": 1}}}}', r'"items" is an object'),
    ('{"version": "https://jsonfeed.org/version/1.1", "items": [', "truncated JSON at line 1"),
    ('{"version": "https://jsonfeed.org/version/1.1", "title": "cut', "truncated JSON at line 1"),
    ('{"version": "https://jsonfeed.org/version/1.1",, "items": []}', "not valid JSON: Expecting "),
    ("  \n", "the document is empty"),
])
def test_json_that_is_not_a_feed(body: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_document(_doc(body))


def test_a_newer_version_is_read_with_a_warning() -> None:
    feed = parse_document(_doc(_feed(version="https://jsonfeed.org/version/2",
                                     items=[{"id": "1", "content_text": "x"}])))
    assert len(feed.entries) == 1
    assert feed.warnings == ("JSON Feed version 2 is newer than this program knows; read as version 1.1",)


def test_unreadable_dates_are_counted() -> None:
    items = [{"id": str(n), "content_text": "x", "date_published": d}
             for n, d in enumerate(["10/01/2020", "2020/1/10 14:33:00", 20200110, "yesterday"])]
    feed = parse_document(_doc(_feed(items=items)))
    assert [e.published for e in feed.entries] == [None, utc(2020, 1, 10, 14, 33), None, None]
    assert feed.unreadable_dates == 3
    assert feed.warnings[-1].startswith("3 dates could not be read, e.g. '10/01/2020'")


# --- round trip through our own output -------------------------------------------------------


def test_our_json_feed_reads_back(project: Project, server: FeedServer, make_project: Any) -> None:
    """A second site subscribed to the first one's all.json gets the same stories."""
    server.add_file("/ai.rss", "ai-news.rss")
    project.write_sources([{"id": "ai", "title": "AI", "url": server.url("/ai.rss")}])
    assert run_cli(project.root, "run")[0] == 0
    server.add("/all.json", (project.public / "all.json").read_bytes(), content_type="application/feed+json")
    reader = make_project("reader")
    reader.write_feeds()
    reader.write_sources([{"id": "wire", "title": "Wire", "url": server.url("/all.json")}])
    code, out, err = run_cli(reader.root, "run")
    assert code == 0, err + out
    original = {e.link: e for e in parsed(project.public / "all.atom").entries}
    copied = {e.link: e for e in parsed(reader.public / "all.atom").entries}
    assert copied.keys() == original.keys() and len(copied) == 3
    for link, entry in copied.items():
        assert entry.title == original[link].title
        assert entry.published_parsed == original[link].published_parsed


# --- end to end ------------------------------------------------------------------------------


def test_a_run_publishes_a_json_feed(project: Project, server: FeedServer) -> None:
    server.add_file("/rose.json", "../corpus/netnewswire--rose.json", content_type="application/feed+json")
    server.add_file("/partial.json", "../corpus/netnewswire--allthis-partial.json",
                    content_type="application/json")
    project.write_sources([
        {"id": "rose", "title": "Rose", "url": server.url("/rose.json")},
        {"id": "partial", "title": "Partial", "url": server.url("/partial.json")},
    ])
    code, out, err = run_cli(project.root, "run")
    assert code == 0, err
    assert "failed  partial: truncated JSON at line 1 column 12171" in out
    everything = parsed(project.public / "all.atom")
    assert len(everything.entries) == 50  # max_entries of the test site; the feed has 84
    by_link = {e.link: e for e in everything.entries}
    first = by_link["https://www.rosemaryorchard.com/blog/workflow-add-task-sub-tasks-to-omnifocus"]
    assert first.title == "Workflow: Add Task & Sub Tasks To OmniFocus"
    assert first.published_parsed[:6] == (2018, 8, 24, 5, 0, 0)
    assert first.author == "Rosemary Orchard"


def test_sources_add_follows_a_json_feed_link(project: Project, server: FeedServer) -> None:
    server.add_file("/feed.json", "../corpus/netnewswire--inessential.json",
                    content_type="application/feed+json")
    server.add("/blog", '<html><head><link rel="alternate" type="application/feed+json" href="/feed.json">'
                        "</head><body>blog</body></html>", content_type="text/html")
    code, out, err = run_cli(project.root, "sources", "add", server.url("/blog"))
    assert code == 0, err
    assert f"found the feed {server.url('/feed.json')}" in out
    assert "inessential.com" in (project.root / "config" / "sources.toml").read_text(encoding="utf-8")


def test_sources_add_tries_the_next_advertised_feed(project: Project, server: FeedServer) -> None:
    server.add_file("/good.json", "../corpus/netnewswire--pxlnv.json", content_type="application/feed+json")
    server.add("/blog", '<html><head>'
                        '<link rel="alternate" type="application/rss+xml" href="/status/404">'
                        '<link rel="alternate" type="application/feed+json" href="/good.json">'
                        "</head><body>blog</body></html>", content_type="text/html")
    code, out, err = run_cli(project.root, "sources", "add", server.url("/blog"))
    assert code == 0, err
    assert f"found the feed {server.url('/good.json')}" in out
