"""Hostile feeds and articles against normalisation and rendering: whatever bytes a
source sends, `feeds run` publishes every other entry and every output stays valid.

Each test here failed on commit 1c1bdc8.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
from atomschema import atom_errors
from click.testing import CliRunner
from conftest import DATA, FeedServer, Project
from helpers import make_entry
from lxml import etree

from feeds.cli.commands import cli
from feeds.config import load_config
from feeds.publish.emit import FeedView, Fragments, Item, render_atom, render_rss
from feeds.run.pipeline import run_once
from feeds.sources.fetch import HttpFetcher
from feeds.store.state import Store

# What XML 1.0 forbids or discourages, as the outputs must never hold it.
UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
POISONED = DATA / "poisoned-1c1bdc8"


def run_cli(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--root", str(root), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def assert_outputs_valid(public: Path) -> str:
    """Every output parses, Atom files pass RFC 4287, no text holds a forbidden
    character; returns all the outputs' text, for further checks."""
    texts: list[str] = []
    for path in sorted(public.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        text = data.decode("utf-8")  # strict: no lone surrogates slipped through
        texts.append(text)
        if path.suffix in (".atom", ".rss", ".opml"):
            etree.fromstring(data)  # raises on what XML 1.0 forbids
            assert not UNSAFE.search(text), path
            if path.suffix == ".atom":
                assert atom_errors(data) == [], path
        elif path.suffix == ".json":
            _walk(json.loads(text), path)
        elif path.suffix == ".html":
            assert not UNSAFE.search(text), path
    return "\n".join(texts)


def _walk(value: object, path: Path) -> None:
    if isinstance(value, str):
        assert not UNSAFE.search(value), (path, value)
    elif isinstance(value, dict):
        for v in value.values():
            _walk(v, path)
    elif isinstance(value, list):
        for v in value:
            _walk(v, path)


def titles(path: Path) -> list[str]:
    return [e.title for e in feedparser.parse(path.read_bytes()).entries]


# Control characters raw and as character references (C0, DEL, C1, lone surrogates,
# noncharacters) in every field of an item. Raw ones make the document ill-formed,
# so feedparser's loose parser reads it: what a broken publisher really sends.
BAD = "\x01\x02&#1;&#x8;&#xD800;&#xDFFF;&#xFFFE;&#x85;\x7f"

HOSTILE_RSS = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>Hostile {BAD} wire</title><link>https://hostile.example/</link><description>d</description>
<item><title>AI story one {BAD} title</title><link>https://hostile.example/one{BAD}</link>
<guid>one{BAD}</guid><pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate>
<description>AI summary {BAD} text &lt;b&gt;&amp;#1;&lt;/b&gt;</description>
<content:encoded><![CDATA[<p>AI content {BAD} &#1; &#xD800;</p>]]></content:encoded>
<dc:creator>Eve {BAD} Author</dc:creator><category>AI {BAD} tag</category>
<enclosure url="https://hostile.example/a{BAD}.mp3" type="audio/mpeg{BAD}" length="12"/></item>
<item><title>AI story two is clean</title><link>https://hostile.example/two</link><guid>two</guid>
<pubDate>Mon, 23 Nov 2026 09:00:00 GMT</pubDate><description>Clean AI text</description></item>
</channel></rss>"""

HOSTILE_ATOM = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom {BAD}</title><id>urn:x:hostile</id>
<updated>2026-11-23T10:00:00Z</updated><link href="https://atom.example/"/>
<entry><title type="html">AI &lt;i&gt;atom&lt;/i&gt; {BAD} &amp;#1; &amp;#xD800;</title><id>urn:x:1{BAD}</id>
<updated>2026-11-23T08:00:00Z</updated><link href="https://atom.example/1"/>
<author><name>Mal {BAD}</name><email>m{BAD}@atom.example</email><uri>https://atom.example/m{BAD}</uri></author>
<category term="AI{BAD}"/><summary type="html">AI &amp;#1; {BAD} summary</summary></entry>
</feed>"""


def test_control_characters_in_every_field_publish_every_source(project: Project, server: FeedServer) -> None:
    server.add("/hostile.rss", HOSTILE_RSS.encode("utf-8", "surrogatepass"),
               content_type="application/rss+xml")
    server.add("/hostile.atom", HOSTILE_ATOM.encode("utf-8"), content_type="application/atom+xml")
    # A local article with C0 controls in its title and body, as in issue #16.
    (project.root / "seeds" / "bad.txt").write_bytes(
        b"Saturday, July 13, 2024\n\nLocal AI \x01 article \x1b[31m with controls\n\n"
        b"Body \x02 about artificial intelligence \x0c and \x7f more.\n")
    project.write_sources([
        {"id": "seeds", "title": "Local articles", "path": "seeds"},
        {"id": "hostile", "title": "Hostile \\u0001 wire", "url": server.url("/hostile.rss")},
        {"id": "atomic", "title": "Atom \\u0002 source", "url": server.url("/hostile.atom")},
    ])
    code, out, err = run_cli(project.root, "run")
    assert code == 0, (out, err)
    text = assert_outputs_valid(project.public)
    for path in (project.public / "all.atom", project.public / "all.rss"):
        got = titles(path)
        assert "AI story two is clean" in got  # the other entries of that source
        assert any(t.startswith("China remains optimistic") for t in got)  # other sources
        assert any(t.startswith("AI story one") and "title" in t for t in got)  # cleaned, not dropped
        assert any(t.startswith("Local AI") and "with controls" in t for t in got)
        assert any(t.startswith("AI atom") for t in got)
    # &#x85; is read as Windows-1252 (an ellipsis), as feedparser reads it; the rest goes
    assert re.search(r"Eve \W{0,2} ?Author", text), "the author's name, cleaned"
    assert (project.public / "articles" / "seeds").is_dir()


def test_poisoned_database_from_1c1bdc8_publishes_on_the_next_run(project: Project,
                                                                  server: FeedServer) -> None:
    # The database the old code wrote (see tests/data/poisoned-1c1bdc8/README.md), and
    # the operator's natural fixes, which did not help then: the article is removed,
    # the feed fixed, the other source gone. Its stored entries must publish cleanly.
    (project.root / "var").mkdir()
    shutil.copy(POISONED / "state.db", project.root / "var" / "state.db")
    fixed = (POISONED / "www" / "feed.rss").read_text(encoding="utf-8").replace("&#1;", "")
    server.add("/feed.rss", fixed, content_type="application/rss+xml")
    project.write_sources([
        {"id": "seeds", "title": "Local articles", "path": "seeds"},
        {"id": "remote", "title": "Remote wire", "url": server.url("/feed.rss")},
        {"id": "atomsrc", "title": "Atom source", "url": server.url("/status/404")},
    ])
    code, out, err = run_cli(project.root, "run")
    assert code == 0, (out, err)
    text = assert_outputs_valid(project.public)
    got = titles(project.public / "all.atom")
    assert any(t.startswith("Local") and "article about AI" in t for t in got)  # stored, healed on read
    assert "Atom AI entry with a script author" in got
    assert "Remote AI story  with a control character" in got or \
        "Remote AI story with a control character" in got
    assert "javascript:" not in text
    code, out, err = run_cli(project.root, "run")
    assert code == 0, (out, err)


def test_an_entry_the_renderer_refuses_is_left_out_and_named() -> None:
    # The last line of defence, should a bad character ever get past normalising.
    bad = Item("urn:uuid:bad", make_entry(title="bad \x01 title", link="https://example.com/bad",
                                          source_id="evil"), "Evil", None)
    good = Item("urn:uuid:good", make_entry(title="good", item_key="guid:2",
                                            link="https://example.com/g"), "Good", None)
    view = FeedView(topic="t", title="T", description="", site_url="https://feeds.test/",
                    atom_url="https://feeds.test/t.atom", rss_url="https://feeds.test/t.rss",
                    author="A", language="en", items=[bad, good])
    fragments = Fragments()
    atom = render_atom(view, fragments)
    rss = render_rss(view, fragments)
    assert atom_errors(atom) == []
    for data in (atom, rss):
        got = titles_of(data)
        assert got == ["good"]
    problems = fragments.problems()
    assert len(problems) == 2 and all("evil" in p and "https://example.com/bad" in p for p in problems)


def titles_of(data: bytes) -> list[str]:
    return [e.title for e in feedparser.parse(data).entries]


def test_javascript_author_uri_is_not_republished(project: Project, server: FeedServer) -> None:
    server.add("/a.atom", """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id><updated>2026-11-23T10:00:00Z</updated>
<entry><title>AI entry</title><id>urn:a:1</id><updated>2026-11-23T08:00:00Z</updated>
<link href="https://a.example/1"/>
<author><name>Mallory</name><uri>javascript:alert(document.domain)</uri>
<email>x" onmouseover="y</email></author>
<author><name>Trent</name><uri> JaVaScRiPt:alert(1)</uri></author>
<author><name>Relative</name><uri>/people/r</uri></author>
<summary>AI summary</summary></entry></feed>""", content_type="application/atom+xml")
    project.write_sources([{"id": "a", "title": "A", "url": server.url("/a.atom")}])
    code, out, err = run_cli(project.root, "run")
    assert code == 0, (out, err)
    text = assert_outputs_valid(project.public)
    assert "javascript" not in text.lower()
    assert "onmouseover" not in text
    feed = json.loads((project.public / "all.json").read_text(encoding="utf-8"))
    authors = feed["items"][0]["authors"]
    assert [a["name"] for a in authors] == ["Mallory", "Trent", "Relative"]
    # Atom without xml:base: relative to the document.
    assert [a.get("url") for a in authors] == [None, None, server.url("/people/r")]


FUTURE = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>F</title><link>https://f.example/</link><description>d</description>
{extra}<item><title>From the future about AI</title><link>https://f.example/future</link><guid>future</guid>
<pubDate>Fri, 01 Jan 2999 00:00:00 GMT</pubDate><description>AI text</description></item>
</channel></rss>"""


def test_future_dated_entry_keeps_its_first_seen_date(project: Project, server: FeedServer) -> None:
    server.add("/f.rss", FUTURE.format(extra=""), content_type="application/rss+xml")
    project.write_sources([{"id": "f", "title": "F", "url": server.url("/f.rss")}])
    config = load_config(project.root)
    store = Store(config.settings.state_path)
    fetcher = HttpFetcher(config.settings.fetch)
    first = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    try:
        asyncio.run(run_once(config, store=store, fetcher=fetcher, now=first, force=True))
        # The feed's bytes change (a new item); the future one is the same.
        server.add("/f.rss", FUTURE.format(
            extra="<item><title>A real AI story</title><link>https://f.example/real</link><guid>real</guid>"
                  "<pubDate>Fri, 27 Nov 2026 13:00:00 GMT</pubDate></item>"),
            content_type="application/rss+xml")
        later = first + timedelta(hours=3)
        report = asyncio.run(run_once(config, store=store, fetcher=fetcher, now=later, force=True))
        assert report.new_entries == 1
    finally:
        store.close()
    entries = feedparser.parse((project.public / "all.atom").read_bytes()).entries
    future = next(e for e in entries if e.title == "From the future about AI")
    assert future.published_parsed[:5] == (2026, 11, 27, 12, 0)
    assert future.updated_parsed[:5] == (2026, 11, 27, 12, 0)
    assert entries[0].title == "A real AI story"  # newer news is not buried under it


def test_huge_feed_is_capped_with_a_warning(project: Project, server: FeedServer) -> None:
    items = "".join(f"<item><title>AI story {i}</title><link>https://big.example/{i}</link>"
                    f"<guid>g{i}</guid></item>" for i in range(100_000))
    body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Big</title>'
            f"<link>https://big.example/</link><description>d</description>{items}</channel></rss>")
    server.add("/big.rss", body, content_type="application/rss+xml")
    project.write_feeds(max_bytes=20_000_000)
    project.write_sources([{"id": "big", "title": "Big", "url": server.url("/big.rss")}])
    code, out, err = run_cli(project.root, "run")
    assert code == 0, (out, err)
    assert "the feed has 100000 items; only the first 500 were read (99500 dropped" in out
    store = Store(project.root / "var" / "state.db")
    try:
        assert store.count_entries() == 500
    finally:
        store.close()
    keys = [row[0] for row in sqlite3.connect(project.root / "var" / "state.db").execute(
        "SELECT item_key FROM entries")]
    assert "guid:https://big.example/g0" in keys and "guid:https://big.example/g499" in keys
    assert "guid:https://big.example/g500" not in keys


def test_per_source_max_items_overrides_the_default(project: Project, server: FeedServer) -> None:
    items = "".join(f"<item><title>AI story {i}</title><guid>g{i}</guid></item>" for i in range(30))
    body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>S</title>'
            f"<link>https://s.example/</link><description>d</description>{items}</channel></rss>")
    server.add("/s.rss", body, content_type="application/rss+xml")
    project.write_sources([{"id": "s", "title": "S", "url": server.url("/s.rss"), "max_items": 7}])
    code, out, err = run_cli(project.root, "run")
    assert code == 0, (out, err)
    assert "(23 dropped; max_items = 7)" in out
    assert len(titles(project.public / "all.atom")) == 7


def test_nine_megabyte_title_is_cut(project: Project, server: FeedServer) -> None:
    huge = ("AI " + "word " * 1_800_000).strip()  # 9 MB
    body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
            f"<link>https://t.example/</link><description>d</description>"
            f"<item><title>{huge}</title><link>https://t.example/1</link><guid>1</guid>"
            f"<description>{huge}</description></item></channel></rss>")
    server.add("/t.rss", body, content_type="application/rss+xml")
    project.write_feeds(max_bytes=30_000_000)
    project.write_sources([{"id": "t", "title": "T", "url": server.url("/t.rss")}])
    code, out, err = run_cli(project.root, "run")
    assert code == 0, (out, err)
    (title,) = titles(project.public / "all.atom")
    assert title.startswith("AI word") and title.endswith("…") and len(title) <= 501
    assert (project.public / "index.html").stat().st_size < 100_000
    assert (project.public / "all.atom").stat().st_size < 1_000_000


RELATIVE = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>R</title><link>{channel}</link><description>d</description>
<item><title>AI story from {channel}</title><link>/2025/06/02/story</link><guid isPermaLink="false">s1</guid>
{extra}<description>&lt;img src="/img/1.png"&gt; AI seen by {channel}</description></item>
</channel></rss>"""


def test_relative_rss_links_resolve_against_the_channel_link(project: Project, server: FeedServer) -> None:
    # Plain RSS (the lxml fast path) and RSS with an <author> (feedparser's path), and
    # a channel link itself relative to the feed's URL.
    server.add("/feeds/a.rss", RELATIVE.format(channel="https://site.example/blog/", extra=""),
               content_type="application/rss+xml")
    server.add("/feeds/b.rss", RELATIVE.format(channel="https://other.example/",
                                               extra="<author>x@y.example (X)</author>"),
               content_type="application/rss+xml")
    server.add("/feeds/c.rss", RELATIVE.format(channel="/home/", extra=""),
               content_type="application/rss+xml")
    project.write_sources([
        {"id": "a", "title": "A", "url": server.url("/feeds/a.rss")},
        {"id": "b", "title": "B", "url": server.url("/feeds/b.rss")},
        {"id": "c", "title": "C", "url": server.url("/feeds/c.rss")},
    ])
    code, out, err = run_cli(project.root, "run")
    assert code == 0, (out, err)
    links = {e.link for e in feedparser.parse((project.public / "all.atom").read_bytes()).entries}
    host = server.url("/").rstrip("/")
    assert links == {"https://site.example/2025/06/02/story", "https://other.example/2025/06/02/story",
                     f"{host}/2025/06/02/story"}
    text = (project.public / "all.atom").read_text(encoding="utf-8")
    assert "https://site.example/img/1.png" in text and "https://other.example/img/1.png" in text

