"""The feedparser adapter and normalisation, on real feeds and on small hand-made ones."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from html_safety import safety_problems

from feeds.errors import ParseError
from feeds.parse.adapter import parse_document
from feeds.stories.normalize import FUTURE_TOLERANCE, Context, canonical_url, normalize
from feeds.types import Document, Entry, FeedData, Source

CORPUS = Path(__file__).parent / "data" / "corpus"
SOURCE = Source(id="src", title="The Source")
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def _manifest() -> list[dict[str, str]]:
    with open(CORPUS / "MANIFEST.tsv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return sorted(rows, key=lambda r: r["file"])


MANIFEST = _manifest()


def _json_feed_items(row: dict[str, str]) -> int | None:
    """A JSON Feed's item count, from the manifest's notes (feedparser reads no JSON,
    so its columns say 0); None for anything else."""
    found = re.search(r"\[JSON Feed [\d.]+ with (\d+) items;", row["notes"])
    return int(found.group(1)) if found else None


def _is_not_a_feed(row: dict[str, str]) -> bool:
    """HTML pages, JSON that is not a JSON Feed, and broken documents from which
    feedparser recovers nothing."""
    if _json_feed_items(row) is not None:
        return False
    if row["format"] == "-":
        return True
    return row["bozo"].startswith("1 SAXParseException") and row["entries"] == "0"


def _doc(body: bytes, url: str = "https://feeds.example.org/feed.xml",
         headers: dict[str, str] | None = None) -> Document:
    return Document(source_id=SOURCE.id, url=url, body=body, headers=headers or {})


def _corpus_doc(name: str) -> Document:
    # Served the way a careless server would: no Content-Type at all.
    return _doc((CORPUS / name).read_bytes(), url=f"https://feeds.example.org/{name}")


def _normalized(feed: FeedData, doc: Document, now: datetime = NOW) -> list[Entry]:
    ctx = Context(source=SOURCE, base_url="https://me.example.net/", now=now,
                  document_url=doc.url, feed=feed)
    return [normalize(e, ctx) for e in feed.entries]


def _one(body: bytes, now: datetime = NOW, url: str = "https://feeds.example.org/feed.xml") -> Entry:
    doc = _doc(body, url=url)
    entries = _normalized(parse_document(doc), doc, now)
    assert len(entries) == 1
    return entries[0]


def _rss(items: str, encoding: str | None = "utf-8") -> bytes:
    decl = f'<?xml version="1.0" encoding="{encoding}"?>' if encoding else ""
    return (f'{decl}<rss version="2.0"><channel><title>T</title>'
            f"<link>https://example.com/</link>{items}</channel></rss>").encode(encoding or "utf-8")


# --- the corpus ---------------------------------------------------------------


def test_corpus_is_vendored() -> None:
    names = {p.name for p in CORPUS.iterdir() if p.is_file()} - {"MANIFEST.tsv", "README.md"}
    assert names == {row["file"] for row in MANIFEST}
    assert len(MANIFEST) >= 15


@pytest.mark.parametrize("row", MANIFEST, ids=lambda r: r["file"])
def test_corpus_file_parses_to_the_manifest_count(row: dict[str, str]) -> None:
    doc = _corpus_doc(row["file"])
    if _is_not_a_feed(row):
        with pytest.raises(ParseError) as info:
            parse_document(doc)
        assert info.value.source_id == SOURCE.id
        return
    feed = parse_document(doc)
    expected = _json_feed_items(row)
    assert len(feed.entries) == (int(row["entries"]) if expected is None else expected)


@pytest.mark.parametrize("row", [r for r in MANIFEST if not _is_not_a_feed(r)],
                         ids=lambda r: r["file"])
def test_corpus_entries_normalise_cleanly(row: dict[str, str]) -> None:
    doc = _corpus_doc(row["file"])
    now = datetime.now(UTC)
    for entry in _normalized(parse_document(doc), doc, now):
        if entry.link is not None:
            assert urlsplit(entry.link).scheme in {"http", "https"}
            assert urlsplit(entry.link).netloc
            assert canonical_url(entry.link) == entry.link
        assert entry.url_key == entry.link
        assert entry.title.strip() == entry.title
        assert entry.title
        for when in (entry.published, entry.updated):
            assert when.tzinfo is not None
            assert when.utcoffset() == timedelta(0)
            assert when <= now + FUTURE_TOLERANCE
        assert entry.updated >= entry.published
        if entry.date_guessed:
            assert entry.published == now
        assert entry.authors
        assert all(a.name.strip() for a in entry.authors)
        for fragment in (entry.content_html, entry.summary_html):
            assert list(safety_problems(fragment)) == []
        # the plain text comes from the content when there is no summary
        assert "<" not in entry.summary_text or "&lt;" in entry.summary_html + entry.content_html


@pytest.mark.parametrize(("name", "title"), [
    # ISO-8859-1, declared
    ("feed-rs--rss_0.91_encoding_1.xml", "bash - Expansão de Parâmetros"),
    ("feed-rs--rss_1.0_iso8859.xml", "Digitalministerium: Neue Glasfaserförderung mit Schnellkasse"),
    # declared ISO-8859-1 behind a blank line
    ("rss-parser--rss091.rss", "Respeitar as características"),
    # windows-1252 bytes, no declaration at all
    ("rss-parser--uolNoticias.rss",
     "Ibope: Bolsonaro perde de Haddad, Ciro e Alckmin em simulações de 2º turno"),
    # declared gb2312
    ("rss-parser--encoding-gb2312.xml", "拟298亿元重组盛大游戏后 世纪华通发20亿回购预案"),
])
def test_corpus_non_ascii_titles_decode(name: str, title: str) -> None:
    doc = _corpus_doc(name)
    titles = [e.title for e in _normalized(parse_document(doc), doc)]
    assert title in titles


def test_corpus_feed_titles_decode() -> None:
    assert parse_document(_corpus_doc("rss-parser--encoding-gb2312.xml")).title == "互联网"
    dicas = parse_document(_corpus_doc("feed-rs--rss_0.91_encoding_1.xml"))
    assert dicas.title == "Dicas-L: Dicas técnicas de Linux e Software Livre"


def test_corpus_bom_and_blank_line_parse_without_warnings() -> None:
    for name in ("netnewswire--donthitsave.xml", "feedjira--AtomFeedWithSpacesAroundEquals.xml",
                 "rss-parser--rss091.rss"):
        feed = parse_document(_corpus_doc(name))
        assert feed.entries, name
        assert feed.warnings == (), name
    assert parse_document(_corpus_doc("netnewswire--donthitsave.xml")).title == "Don't Hit Save"


def test_corpus_recovered_entries_come_with_a_warning() -> None:
    feed = parse_document(_corpus_doc("feed-rs--rss_2.0_dbengines.xml"))
    assert len(feed.entries) == 1
    assert len(feed.warnings) == 1
    assert "1 entries recovered" in feed.warnings[0]


def test_corpus_empty_feed_is_a_feed() -> None:
    feed = parse_document(_corpus_doc("feedjira--GoogleBlogSearchpauldix.xml"))
    assert feed.entries == ()
    assert feed.warnings == ()


def test_corpus_html_page_is_reported_as_html() -> None:
    with pytest.raises(ParseError, match="HTML page"):
        parse_document(_corpus_doc("feedjira--titleunknown.xml"))


def test_corpus_truncated_feed_is_an_error() -> None:
    with pytest.raises(ParseError, match="malformed"):
        parse_document(_corpus_doc("feed-rs--rss_2.0_invalid_1.xml"))


def test_corpus_relative_xml_base_resolves_against_the_document() -> None:
    doc = _doc((CORPUS / "netnewswire--qemu.atom").read_bytes(), url="https://www.qemu.org/feed.xml")
    entries = _normalized(parse_document(doc), doc)
    assert entries[0].link == "https://www.qemu.org/2025/08/26/qemu-10-1-0/"
    assert entries[0].published == datetime(2025, 8, 26, 23, 25, tzinfo=UTC)


def test_corpus_relative_links_without_xml_base() -> None:
    doc = _doc((CORPUS / "rss-parser--gulp-atom.atom").read_bytes(),
               url="https://github.com/gulpjs/gulp/releases.atom")
    entries = _normalized(parse_document(doc), doc)
    assert entries[0].link == "https://github.com/gulpjs/gulp/releases/tag/v3.9.0"


def test_corpus_rss_091_without_dates_is_guessed() -> None:
    doc = _corpus_doc("feed-rs--rss_0.91_encoding_1.xml")
    (entry,) = _normalized(parse_document(doc), doc)
    assert entry.date_guessed
    assert entry.published == entry.updated == NOW
    # The feed names no author: the source's title stands in.
    assert [a.name for a in entry.authors] == [SOURCE.title]


def test_corpus_content_encoded_and_dc_creator() -> None:
    doc = _corpus_doc("feedjira--MachineLearningTheory.xml")
    entries = _normalized(parse_document(doc), doc)
    first = entries[0]
    assert first.title == "Nearly all natural problems require nonlinearity"
    assert first.link == "http://hunch.net/?p=524"
    assert [a.name for a in first.authors] == ["jl"]
    # content:encoded is the full post; description the teaser.
    assert len(first.content_html) > len(first.summary_html) > 0
    assert first.content_html.startswith("<p>")


def test_corpus_items_without_titles_and_duplicate_guids() -> None:
    doc = _corpus_doc("netnewswire--scriptingNews.rss")
    feed = parse_document(doc)
    untitled = [e for e in feed.entries if e.title is None]
    assert len(untitled) == 39
    entries = _normalized(feed, doc)
    assert all(e.title and e.title != "(untitled)" for e in entries)
    keys = [e.item_key for e in entries]
    assert len(set(keys)) == len(keys) - 2


def test_corpus_named_zone_without_weekday() -> None:
    doc = _corpus_doc("feedjira--JoelonSoftware.xml")
    entries = _normalized(parse_document(doc), doc)
    # <pubDate>17 Jan 2009 21:02:58 EST</pubDate>
    assert entries[0].published == datetime(2009, 1, 18, 2, 2, 58, tzinfo=UTC)
    assert not entries[0].date_guessed


def test_corpus_item_with_nothing_but_a_title() -> None:
    doc = _corpus_doc("feedjira--RobertEvansHome.xml")
    (entry,) = _normalized(parse_document(doc), doc)
    assert entry.title == "Feed has moved"
    assert entry.link is None
    assert entry.item_key.startswith("hash1:")
    assert entry.date_guessed


# --- targeted cases -------------------------------------------------------------


XML_BASE_ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="/blog/">
  <title>Base</title><id>urn:feed</id><updated>2024-01-01T00:00:00Z</updated>
  <entry xml:base="posts/2024/">
    <id>urn:entry:1</id>
    <title>Hello</title>
    <updated>2024-01-02T03:04:05Z</updated>
    <link rel="alternate" href="hello.html?utm_source=rss&amp;id=3#top"/>
    <link rel="enclosure" type="audio/mpeg" length="123" href="audio/hello.mp3"/>
    <content type="html" xml:base="media/">&lt;p&gt;&lt;img src="cat.png"&gt;
      &lt;a href="../other.html"&gt;other&lt;/a&gt; &lt;a href="/root"&gt;root&lt;/a&gt;
      &lt;a href="//cdn.example.net/x"&gt;cdn&lt;/a&gt;&lt;/p&gt;</content>
  </entry>
</feed>"""


def test_xml_base_resolves_links_content_and_enclosures() -> None:
    entry = _one(XML_BASE_ATOM, url="https://Blog.Example.com/feed.atom")
    assert entry.link == "https://blog.example.com/blog/posts/2024/hello.html?id=3"
    assert entry.enclosures[0].url == "https://blog.example.com/blog/posts/2024/audio/hello.mp3"
    assert entry.enclosures[0].length == 123
    # Only links are canonical; URLs inside content keep the host's spelling.
    html = entry.content_html.replace("Blog.Example.com", "blog.example.com")
    assert 'src="https://blog.example.com/blog/posts/2024/media/cat.png"' in html
    assert 'href="https://blog.example.com/blog/posts/2024/other.html"' in html
    assert 'href="https://blog.example.com/root"' in html
    assert 'href="https://cdn.example.net/x"' in html
    assert list(safety_problems(html)) == []


def test_relative_links_in_rss_resolve_against_the_item() -> None:
    # No xml:base: the link is relative to the channel's <link> (the site the items
    # live on, which may be another host than the feed's: FeedBurner and the like),
    # the HTML to the item's page.
    body = _rss("<item><title>R</title><link>https://news.example.com/2024/r.html</link>"
                "<guid>r</guid>"
                '<description>&lt;a href="more.html"&gt;more&lt;/a&gt;</description></item>'
                "<item><title>S</title><link>/2024/s.html</link><guid>s</guid>"
                '<description>&lt;img src="/s.png"&gt;</description></item>')
    doc = _doc(body, url="https://feeds.example.net/news/main.rss")
    first, second = _normalized(parse_document(doc), doc)
    assert first.link == "https://news.example.com/2024/r.html"
    assert 'href="https://news.example.com/2024/more.html"' in first.summary_html
    assert second.link == "https://example.com/2024/s.html"
    assert 'src="https://example.com/s.png"' in second.summary_html


def test_relative_html_without_any_link_resolves_against_the_channel_link() -> None:
    body = _rss('<item><guid isPermaLink="false">x</guid><title>X</title>'
                '<description>&lt;img src="x.png"&gt;</description></item>')
    entry = _one(body, url="https://feeds.example.net/news/main.rss")
    assert entry.link is None
    assert 'src="https://example.com/x.png"' in entry.summary_html


@pytest.mark.parametrize(("stamp", "utc"), [
    ("Sat, 17 Jan 2009 21:02:58 EST", datetime(2009, 1, 18, 2, 2, 58, tzinfo=UTC)),
    ("Sat, 17 Jan 2009 21:02:58  EST", datetime(2009, 1, 18, 2, 2, 58, tzinfo=UTC)),
    ("Fri, 04 Jul 2014 12:00:00 EDT", datetime(2014, 7, 4, 16, 0, tzinfo=UTC)),
    ("Thu, 10 Oct 2019 10:00:00 PST", datetime(2019, 10, 10, 18, 0, tzinfo=UTC)),
    ("Thu, 10 Oct 2019 10:00:00 PDT", datetime(2019, 10, 10, 17, 0, tzinfo=UTC)),
    ("Mon, 01 Jan 2024 09:30:00 GMT", datetime(2024, 1, 1, 9, 30, tzinfo=UTC)),
    ("Mon, 01 Jan 2024 09:30:00 +0530", datetime(2024, 1, 1, 4, 0, tzinfo=UTC)),
    ("07 Nov 2015 12:00:00 EST", datetime(2015, 11, 7, 17, 0, tzinfo=UTC)),
])
def test_named_time_zones(stamp: str, utc: datetime) -> None:
    entry = _one(_rss(f"<item><title>Z</title><guid>z</guid><pubDate>{stamp}</pubDate></item>"))
    assert entry.published == utc
    assert entry.published.tzinfo is UTC or entry.published.utcoffset() == timedelta(0)
    assert not entry.date_guessed


def test_far_future_date_is_clamped_to_now() -> None:
    entry = _one(_rss("<item><title>F</title><guid>f</guid>"
                      "<pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>"))
    assert entry.published == NOW
    assert entry.updated == NOW
    # Not believed, so treated as a guess: kept from first seen, left out of the content hash.
    assert entry.date_guessed


def test_slightly_future_date_is_believed() -> None:
    ahead = NOW + timedelta(hours=3)
    stamp = ahead.strftime("%a, %d %b %Y %H:%M:%S GMT")
    entry = _one(_rss(f"<item><title>F</title><guid>f</guid><pubDate>{stamp}</pubDate></item>"))
    assert entry.published == ahead


def test_missing_date_is_now_and_guessed() -> None:
    entry = _one(_rss("<item><title>Undated</title><guid>u</guid></item>"))
    assert entry.published == NOW
    assert entry.updated == NOW
    assert entry.date_guessed


def test_unparseable_date_is_now_and_guessed() -> None:
    # Day and month could be either way round: nobody can tell, so we do not guess.
    # (Italian names, once the example here, are read: tests/test_dates.py.)
    entry = _one(_rss("<item><title>I</title><guid>i</guid>"
                      "<pubDate>03/04/2022 00:38:15 +0100</pubDate></item>"))
    assert entry.published == NOW
    assert entry.date_guessed


def test_updated_only_is_used_for_published() -> None:
    body = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:f</id>'
            b"<entry><id>urn:e</id><title>u</title><updated>2020-02-03T04:05:06+02:00</updated>"
            b"</entry></feed>")
    entry = _one(body)
    assert entry.published == entry.updated == datetime(2020, 2, 3, 2, 5, 6, tzinfo=UTC)
    assert not entry.date_guessed


LATIN1_RSS = ('<rss version="2.0"><channel><title>Caf\u00e9 Cr\u00e8me</title>'
              "<link>https://latin.example.com/</link>"
              "<item><title>Na\u00efve fa\u00e7ade \u00bd</title><guid>l1</guid>"
              "<author>jose@example.com (Jos\u00e9 M\u00fcller)</author>"
              "<category>Pr\u00e9sentation</category></item></channel></rss>")


@pytest.mark.parametrize("content_type", [
    "application/rss+xml; charset=ISO-8859-1",
    "text/xml; charset=iso-8859-1",
    'application/xml;charset="latin1"',
    "text/html; charset=ISO-8859-1",
])
def test_charset_from_the_content_type_header(content_type: str) -> None:
    body = LATIN1_RSS.encode("iso-8859-1")
    doc = _doc(body, headers={"content-type": content_type})
    feed = parse_document(doc)
    assert feed.title == "Café Crème"
    (entry,) = _normalized(feed, doc)
    assert entry.title == "Naïve façade ½"
    assert [a.name for a in entry.authors] == ["José Müller"]
    assert entry.categories == ("Présentation",)
    assert feed.warnings == ()


def test_charset_header_beats_the_xml_declaration() -> None:
    body = ('<?xml version="1.0" encoding="utf-8"?>' + LATIN1_RSS).encode("iso-8859-1")
    feed = parse_document(_doc(body, headers={"content-type": "text/xml; charset=ISO-8859-1"}))
    assert feed.title == "Café Crème"


UTF8_ATOM = ('<feed xmlns="http://www.w3.org/2005/Atom"><title>Gr\u00fc\u00dfe</title>'
             "<id>urn:f</id><entry><id>urn:e</id><title>Stra\u00dfe</title>"
             '<link href="https://example.org/stra\u00dfe/caf\u00e9"/>'
             "<author><name>Jos\u00e9</name></author><category term=\"M\u00fcll\"/>"
             "<updated>2024-01-01T00:00:00Z</updated></entry></feed>").encode("utf-8")


@pytest.mark.parametrize("headers", [
    {},
    {"content-type": "text/xml"},
    {"content-type": "application/atom+xml"},
    {"content-type": "application/octet-stream"},
])
def test_utf8_without_any_declaration(headers: dict[str, str]) -> None:
    # With no charset anywhere, XML means UTF-8: attribute values and names
    # must not come out as Latin-1 mojibake ("JosÃ©").
    doc = _doc(UTF8_ATOM, headers=headers)
    feed = parse_document(doc)
    assert feed.warnings == ()
    (entry,) = _normalized(feed, doc)
    assert entry.title == "Straße"
    assert [a.name for a in entry.authors] == ["José"]
    assert entry.categories == ("Müll",)
    assert entry.link == "https://example.org/stra%C3%9Fe/caf%C3%A9"


def test_byte_order_mark_wins() -> None:
    body = b"\xff\xfe" + LATIN1_RSS.encode("utf-16-le")
    feed = parse_document(_doc(body, headers={"content-type": "text/xml; charset=iso-8859-1"}))
    assert feed.title == "Café Crème"
    assert feed.entries[0].title is not None
    assert feed.entries[0].title.value == "Naïve façade ½"


def test_blank_line_before_the_declaration_keeps_the_declared_encoding() -> None:
    body = ('\r\n\n<?xml version="1.0" encoding="gb2312"?>'
            '<rss version="2.0"><channel><title>\u4e92\u8054\u7f51</title>'
            "<item><title>\u4e16\u7eaa\u534e\u901a</title><guid>g</guid></item>"
            "</channel></rss>").encode("gb2312")
    feed = parse_document(_doc(body))
    assert feed.title == "互联网"
    assert feed.warnings == ()
    assert feed.entries[0].title is not None
    assert feed.entries[0].title.value == "世纪华通"


def test_truncated_feed_with_entries_is_kept_with_a_warning() -> None:
    body = _rss("<item><title>One</title><guid>1</guid></item>"
                "<item><title>Two</title><guid>2</guid></item>")
    cut = body[: body.index(b"</channel>")]
    feed = parse_document(_doc(cut))
    assert [e.title.value for e in feed.entries if e.title] == ["One", "Two"]
    assert feed.warnings and "malformed" in feed.warnings[0]


def test_truncated_feed_without_entries_is_an_error() -> None:
    body = _rss("<item><title>One</title><guid>1</guid></item>")
    with pytest.raises(ParseError, match="malformed"):
        parse_document(_doc(body[: body.index(b"<item>")]))


@pytest.mark.parametrize(("body", "headers"), [
    (b"<!DOCTYPE html><html><head><title>Hi</title></head><body><p>Hello</body></html>", {}),
    (b"<html><body>Login &rsaquo; please</body></html>", {"content-type": "text/html"}),
    (b"", {}),
    (b"just some words", {"content-type": "text/plain"}),
])
def test_not_a_feed(body: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(ParseError, match="not a feed"):
        parse_document(_doc(body, headers=headers))


def test_hostile_markup_is_sanitised() -> None:
    body = _rss('<item><title>&lt;b onclick="x()"&gt;Bold&lt;/b&gt; &amp;amp; more</title>'
                "<guid>h</guid><description><![CDATA["
                '<p onmouseover="alert(1)">hi<script>alert(2)</script>'
                '<a href="javascript:alert(3)">j</a><a href=" JaVaScRiPt:alert(4)">k</a>'
                '<img src="x.png" onerror="alert(5)"><iframe src="https://evil.example/"></iframe>'
                '<a href="rel.html">r</a></p>]]></description></item>')
    entry = _one(body, url="https://safe.example.com/feed")
    assert list(safety_problems(entry.summary_html)) == []
    assert "alert" not in entry.summary_html
    assert 'src="https://example.com/x.png"' in entry.summary_html  # the channel's <link>
    assert 'href="https://example.com/rel.html"' in entry.summary_html
    assert entry.title == "Bold & more"


def test_title_falls_back_to_the_summary() -> None:
    body = _rss("<item><guid>n</guid><description>&lt;p&gt;Only a &lt;b&gt;body&lt;/b&gt; "
                "here.&lt;/p&gt;</description></item>")
    entry = _one(body)
    assert entry.title == "Only a body here."


def test_author_falls_back_to_the_feed_then_the_source() -> None:
    feed_author = _rss("<managingEditor>ed@example.com (The Editor)</managingEditor>"
                       "<item><title>a</title><guid>a</guid></item>")
    assert [a.name for a in _one(feed_author).authors] == ["The Editor"]
    nobody = _rss("<item><title>a</title><guid>a</guid></item>")
    assert [a.name for a in _one(nobody).authors] == [SOURCE.title]
    creator = _rss("<item><title>a</title><guid>a</guid>"
                   '<dc:creator xmlns:dc="http://purl.org/dc/elements/1.1/">Ann</dc:creator>'
                   "</item>")
    assert [a.name for a in _one(creator).authors] == ["Ann"]
