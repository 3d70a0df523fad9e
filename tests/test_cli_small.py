"""Small things users noticed (issue #20): feed titles for untitled sources, htmlUrl
in OPML, status.json's content type, `topics diff` read as a review, `sources add`
naming its source and the feeds a page offers, the licence metadata and the
browser-test switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import feedparser
import listparser
from conftest import DATA, REPO, FeedServer, Project
from test_run import run_cli

from feeds.serve import content_type
from feeds.sourceinfo import FeedInfo, clean_home_page, clean_title, decode, encode
from feeds.state import Store

CORPUS = DATA / "corpus"


def _serve_corpus(server: FeedServer, path: str, name: str, **kwargs: object) -> str:
    return server.add(path, (CORPUS / name).read_bytes(), **kwargs)


def _opml_outlines(data: bytes) -> dict[str, dict[str, str]]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(data)
    return {o.attrib["xmlUrl"]: dict(o.attrib) for o in root.iter("outline") if "xmlUrl" in o.attrib}


# --- a source without a title takes its feed's ---------------------------------


def test_untitled_source_is_shown_under_its_feeds_title(project: Project, server: FeedServer) -> None:
    df = _serve_corpus(server, "/df.rss", "netnewswire--DaringFireball.rss")
    pg = _serve_corpus(server, "/pg.xml", "feedjira--PaulGraham.xml")
    rsc = _serve_corpus(server, "/rsc.atom", "netnewswire--russcox.atom",
                        content_type="application/atom+xml")
    project.write_sources([
        {"id": "seeds", "title": "Local articles", "path": "seeds"},
        {"id": "df", "url": df},
        {"id": "pg", "title": "Essays (config title)", "url": pg},
        {"id": "rsc", "url": rsc},
    ])
    project.write_feeds(max_entries=100)
    code, out, err = run_cli(project.root, "run")
    assert code == 0, err + out

    everything = feedparser.parse((project.public / "all.atom").read_bytes())
    shown = {e.link: e.source.get("title") for e in everything.entries if "source" in e}
    df_titles = {t for link, t in shown.items() if "daringfireball" in link}
    assert df_titles == {"Daring Fireball"}
    assert {t for link, t in shown.items() if "swtch.com" in link} == {"research!rsc"}
    assert {t for link, t in shown.items() if "paulgraham" in link} == {"Essays (config title)"}
    index = (project.public / "index.html").read_text(encoding="utf-8")
    assert "<span class=\"meta\">research!rsc · " in index and "<span class=\"meta\">rsc · " not in index
    json_feed = json.loads((project.public / "all.json").read_text(encoding="utf-8"))
    assert {i["_source"]["title"] for i in json_feed["items"]
            if "daringfireball" in i.get("url", "")} == {"Daring Fireball"}

    # OPML, published and exported: the feed's title and its site (htmlUrl); the
    # Atom feed whose "link" is a tag: URI gets no htmlUrl rather than a bad one.
    for data in ((project.public / "sources.opml").read_bytes(),
                 run_cli(project.root, "sources", "export")[1].encode()):
        outlines = _opml_outlines(data)
        assert outlines[df]["text"] == "Daring Fireball"
        assert outlines[df]["htmlUrl"] == "http://daringfireball.net/"
        assert outlines[pg]["text"] == "Essays (config title)"
        assert outlines[pg]["htmlUrl"] == "http://paulgraham.infogami.com/blog"
        assert outlines[rsc]["text"] == "research!rsc" and "htmlUrl" not in outlines[rsc]
        assert listparser.parse(data).feeds

    code, out, _ = run_cli(project.root, "status", "--json")
    titles = {r["id"]: r["title"] for r in json.loads(out)["sources"]}
    assert titles == {"seeds": "Local articles", "df": "Daring Fireball",
                      "pg": "Essays (config title)", "rsc": "research!rsc"}

    # The health feed names it so too, in the entry's title and its text.
    server.add("/df.rss", b"gone", status=410)
    assert run_cli(project.root, "run", "--force")[0] == 0
    health = feedparser.parse((project.public / "health.atom").read_bytes())
    gone = [e for e in health.entries if e.title.endswith(": gone")]
    assert [e.title for e in gone] == ["Daring Fireball: gone"]
    assert "Daring Fireball is gone (HTTP 410)" in gone[0].summary


HOSTILE_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">&lt;b&gt;Evil&lt;/b&gt; &#x202E;news&#x1B;[31m\u0007 {pad}&lt;script&gt;alert(1)&lt;/script&gt;</title>
  <link rel="alternate" href="javascript:alert(1)"/>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2024-01-01T00:00:00Z</updated>
  <author><name>x</name></author>
  <entry><title>One</title><link href="https://evil.test/1"/><id>urn:uuid:1</id>
    <updated>2024-01-01T00:00:00Z</updated></entry>
</feed>"""


def test_a_feeds_title_is_cleaned_before_anything_shows_it(project: Project, server: FeedServer) -> None:
    url = server.add("/evil.atom", HOSTILE_ATOM.format(pad="word " * 100),
                     content_type="application/atom+xml")
    project.write_sources([{"id": "evil", "url": url}])
    code, _out, err = run_cli(project.root, "run")
    assert code == 0, err
    with Store(project.root / "var" / "state.db") as store:
        info = store.feed_infos()["evil"]
    assert info.home_page is None  # javascript: is no site
    title = info.title or ""
    assert title.startswith("Evil news[31m") and title.endswith("…")
    assert len(title) <= 121
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c == "\u202e" for c in title)
    assert "<" not in title
    outlines = _opml_outlines((project.public / "sources.opml").read_bytes())
    assert outlines[url]["text"] == title and "htmlUrl" not in outlines[url]
    assert "&lt;script" not in (project.public / "index.html").read_text(encoding="utf-8")
    code, out, _ = run_cli(project.root, "status", "--json")
    assert json.loads(out)["sources"][0]["title"] == title


# --- topics diff reads as a review of the working config ------------------------


def test_topics_diff_against_a_revision_reviews_an_added_exclude(project: Project) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(project.root), "-c", "user.email=t@t", "-c", "user.name=t",
                        *args], check=True, capture_output=True, timeout=30)

    assert run_cli(project.root, "run")[0] == 0
    git("init", "-q")
    git("add", "config")
    git("commit", "-q", "-m", "config")
    feeds_toml = project.root / "config" / "feeds.toml"
    text = feeds_toml.read_text(encoding="utf-8")
    marker = 'keywords = ["AI", "artificial intelligence", "language model", "LLM", "OpenAI"]\n'
    assert marker in text
    feeds_toml.write_text(text.replace(marker, marker + 'exclude = ["China"]\n'), encoding="utf-8")
    code, out, err = run_cli(project.root, "topics", "diff", "--against", "HEAD")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "from HEAD to the working config (config/), over 1 stored entry:"
    assert lines[1] == "ai: 0 would enter, 1 would leave"
    assert lines[2].startswith("  - China remains optimistic")
    # Against itself, nothing moves.
    git("commit", "-q", "-am", "exclude")
    code, out, _ = run_cli(project.root, "topics", "diff", "--against", "HEAD")
    assert out.splitlines()[1:] == ["  no entry would change topic"]
