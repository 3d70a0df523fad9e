"""OPML export and import: real-world files, duplicates, ids, topics, and a file that stays the operator's."""

from __future__ import annotations

import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from feeds.config import load_config
from feeds.publish.opml import (
    IMPORT_COMMENT,
    OpmlError,
    OpmlFeed,
    merge_into_sources,
    parse_opml,
    render_opml,
    slugify,
    url_key,
)
from feeds.types import Config, Settings, Source, Topic

DATA = Path(__file__).parent / "data" / "opml"

TOPICS = (Topic("ai", "AI"), Topic("internet-policy", "Internet policy"), Topic("security", "Security"),
          Topic("chips", "Semiconductors"))
TOPIC_IDS = {t.id for t in TOPICS}
TOPIC_TITLES = {t.id: t.title for t in TOPICS}


def config(*sources: Source) -> Config:
    settings = Settings(title="Wire & Co", base_url="https://w.test/", author="Desk <desk>")
    return Config(root=Path("/nowhere"), settings=settings, sources=sources, topics=TOPICS)


SOURCES = (
    Source("seeds", "Local articles", path=Path("/nowhere/seeds")),
    Source("lab", "Lab <Notes> & \"Co\"", "https://labs.example.com/feed.xml?a=1&b=2", topics=("ai",)),
    Source("eff", "EFF", "https://eff.example.org/rss", topics=("internet-policy", "security")),
    Source("off", "Disabled", "https://off.example.org/rss", topics=("ai",), enabled=False),
    Source("ars", "Ars", "https://ars.example.com/feed"),
)

EXISTING = """\
# The sources feeds reads.   (comments and spacing must survive an import)

[[sources]]
id = "seeds"
path = "seeds"

# --- policy ---
[[sources]]
id = "rights"
title = "Digital rights"
url = "https://Rights.Example.org/feed/"   # same feed as the OPML's, other spelling
topics = ["internet-policy"]
"""


# --- parse --------------------------------------------------------------------


def test_parse_nested_folders_titles_and_non_feeds() -> None:
    feeds = parse_opml((DATA / "nested.opml").read_bytes())
    assert feeds == [
        # Listed twice with the same URL: listparser merges them, keeping both folders.
        OpmlFeed("https://labs.example.com/feed.xml", "Lab Notes", (("Tech", "AI"), ("Policy",))),
        OpmlFeed("https://www.untitled.example.org/rss", "", (("Tech", "AI"),)),
        OpmlFeed("https://robots.example.net/atom.xml?format=atom&lang=en", "Robots & Rules",
                 (("Tech", "AI"),)),
        OpmlFeed("https://krebs.example.com/feed/", "Krebs on Security", (("Tech", "Security"),)),
        OpmlFeed("HTTPS://Krebs.Example.com/feed", "Krebs again", (("Tech", "Security"),)),
        OpmlFeed("https://rights.example.org/feed", "Digital Rights Watch", (("Policy",),)),
        OpmlFeed("feed://oldschool.example.com/index.rss", "Old reader link", (("Policy",),)),
        OpmlFeed("javascript:alert(1)", "Broken", (("Policy",),)),
        OpmlFeed("https://bad example.com/feed", "Spaces", (("Policy",),)),
        OpmlFeed("http://cafe.example.fr/rss", "Café Économie", ()),
    ]


def test_parse_category_attribute() -> None:
    feeds = {f.title: f for f in parse_opml((DATA / "categories.opml").read_bytes())}
    assert feeds["Chip News"].categories == (("Semiconductors",), ("Tech", "Hardware"))
    assert feeds["AI Weekly"].categories == (("AI",), ("news",))
    assert feeds["Café Tech"].categories == (("Tech",),)


def test_parse_malformed_xml_and_declared_encodings() -> None:
    assert parse_opml((DATA / "broken.opml").read_bytes()) == [
        OpmlFeed("https://q.example.com/feed?a=1&b=2", "Query & Feed", (("News",),)),
        OpmlFeed("https://next.example.com/rss", "Next", (("News",),)),
    ]
    [latin] = parse_opml((DATA / "latin1.opml").read_bytes())
    assert latin.title == "Société numérique"
    body = '<opml version="2.0"><body><outline xmlUrl="https://x.test/" text="Société 日本"/></body></opml>'
    for data in (body.encode("utf-8"), body.encode("utf-16"), b"\xef\xbb\xbf" + body.encode()):
        assert [f.title for f in parse_opml(data)] == ["Société 日本"]


@pytest.mark.parametrize("data", [(DATA / "not-opml.html").read_bytes(), b"", b"\x00\x01garbage"])
def test_parse_rejects_what_is_not_opml(data: bytes) -> None:
    with pytest.raises(OpmlError, match="not an OPML"):
        parse_opml(data)


def test_empty_opml_is_an_empty_list() -> None:
    assert parse_opml(b'<?xml version="1.0"?><opml version="2.0"><head/><body/></opml>') == []


# --- render -------------------------------------------------------------------


def test_render_groups_by_topic_and_escapes() -> None:
    data = render_opml(config(*SOURCES), home_pages={"eff": "https://eff.example.org/"})
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    root = ET.fromstring(data)  # well-formed, or this raises
    assert root.findtext("head/title") == "Wire & Co: sources"
    assert root.findtext("head/ownerName") == "Desk <desk>"
    groups = root.findall("body/outline")
    # Config order; the topic without sources has no folder; "Other" is last.
    assert [g.get("text") for g in groups] == ["AI", "Internet policy", "Security", "Other"]
    members = {g.get("text"): [o.attrib for o in g] for g in groups}
    assert members["AI"] == [{"type": "rss", "text": 'Lab <Notes> & "Co"', "title": 'Lab <Notes> & "Co"',
                              "xmlUrl": "https://labs.example.com/feed.xml?a=1&b=2"}]
    eff = {"type": "rss", "text": "EFF", "title": "EFF", "xmlUrl": "https://eff.example.org/rss",
           "htmlUrl": "https://eff.example.org/"}
    assert members["Internet policy"] == [eff]
    assert members["Security"] == [eff]
    assert [o["xmlUrl"] for o in members["Other"]] == ["https://ars.example.com/feed"]
    assert b"off.example.org" not in data and b"seeds" not in data
    assert b"&amp;b=2" in data and b"&lt;Notes&gt;" in data


def test_render_is_deterministic_and_survives_control_characters() -> None:
    odd = Source("odd", "Bell\x07 and tab\t", "https://odd.example.com/rss")
    data = render_opml(config(*SOURCES, odd))
    assert data == render_opml(config(*SOURCES, odd))
    ET.fromstring(data)
    assert parse_opml(data)[-1].title == "Bell and tab"


def test_render_with_no_feed_sources_is_valid() -> None:
    data = render_opml(config(SOURCES[0]))
    assert ET.fromstring(data).find("body") is not None
    assert parse_opml(data) == []


def test_round_trip_render_parse_merge_gives_the_same_sources() -> None:
    cfg = config(*SOURCES)
    feeds = parse_opml(render_opml(cfg))
    text, report = merge_into_sources("", feeds, TOPIC_IDS, TOPIC_TITLES)
    assert report.summary() == "3 added, 0 duplicate, 0 invalid"
    loaded = tomllib.loads(text)["sources"]
    expected = [s for s in cfg.sources if s.enabled and s.url]
    assert [(s["url"], s["title"], set(s.get("topics", []))) for s in loaded] == [
        (s.url, s.title, set(s.topics)) for s in expected]


# --- merge --------------------------------------------------------------------


def test_merge_keeps_the_file_and_reports_every_feed(tmp_path: Path) -> None:
    feeds = parse_opml((DATA / "nested.opml").read_bytes())
    text, report = merge_into_sources(EXISTING, feeds, TOPIC_IDS, TOPIC_TITLES)
    assert text.startswith(EXISTING.rstrip("\n") + "\n\n" + IMPORT_COMMENT + "\n\n[[sources]]\n")
    got = [(i.status, i.source_id, i.topics, i.reason) for i in report.items]
    assert got == [
        ("added", "lab-notes", ("ai",), ""),
        ("added", "untitled-example-org", ("ai",), ""),
        ("added", "robots-rules", ("ai",), ""),
        ("added", "krebs-on-security", ("security",), ""),
        ("duplicate", "krebs-on-security", (), "the same feed as 'krebs-on-security' earlier in this import"),
        ("duplicate", "rights", (), "already in sources.toml as 'rights'"),
        ("added", "old-reader-link", (), "feed:// read as http://"),
        ("invalid", None, (), "'javascript' is not http or https"),
        ("invalid", None, (), "the URL contains white space"),
        ("added", "cafe-economie", (), ""),
    ]
    assert report.summary() == "6 added, 2 duplicate, 2 invalid"
    assert report.items[4].describe() == (
        "skipped duplicate: Krebs again <HTTPS://Krebs.Example.com/feed>: "
        "the same feed as 'krebs-on-security' earlier in this import")
    assert report.added[0].describe() == "added lab-notes: Lab Notes <https://labs.example.com/feed.xml> " \
                                         "(topics: ai)"
    new = tomllib.loads(text)["sources"][2:]
    assert new[1] == {"id": "untitled-example-org", "title": "www.untitled.example.org",
                      "url": "https://www.untitled.example.org/rss", "topics": ["ai"]}
    assert new[4] == {"id": "old-reader-link", "title": "Old reader link",
                      "url": "http://oldschool.example.com/index.rss"}
    assert new[5]["title"] == "Café Économie"

    # What we write is what feeds itself accepts.
    (tmp_path / "config").mkdir()
    (tmp_path / "seeds").mkdir()
    (tmp_path / "config" / "feeds.toml").write_text(
        '[site]\ntitle = "T"\nbase_url = "https://t.test/"\n'
        + "".join(f'[topics.{t.id}]\ntitle = "{t.title}"\nkeywords = ["x"]\n' for t in TOPICS),
        encoding="utf-8")
    (tmp_path / "config" / "sources.toml").write_text(text, encoding="utf-8")
    loaded = load_config(tmp_path)
    assert [s.id for s in loaded.sources][-6:] == [i.source_id for i in report.added]


def test_merge_maps_categories_by_id_title_or_slug_ignoring_case() -> None:
    feeds = parse_opml((DATA / "categories.opml").read_bytes())
    _text, report = merge_into_sources("", feeds, TOPIC_IDS, TOPIC_TITLES)
    topics = {i.title: i.topics for i in report.items}
    assert topics == {"Chip News": ("chips",), "Net Policy Daily": ("internet-policy",),
                      "AI Weekly": ("ai",), "Café Tech": (), "Lab Notes": ()}
    # Without titles only ids match, still ignoring case.
    _text, report = merge_into_sources("", feeds, TOPIC_IDS)
    assert {i.title: i.topics for i in report.items}["Chip News"] == ()
    assert {i.title: i.topics for i in report.items}["AI Weekly"] == ("ai",)


def test_merge_makes_unique_valid_ids() -> None:
    existing = '[[sources]]\nid = "news"\nurl = "https://a.test/"\n'
    feeds = [
        OpmlFeed("https://b.test/rss", "News"),
        OpmlFeed("https://c.test/rss", "NEWS!"),
        OpmlFeed("https://d.test/rss", "日本語のニュース"),  # nothing ASCII: the host names it
        OpmlFeed("https://e.test/rss", "A" * 30 + " very long title that goes on and on"),
        OpmlFeed("https://www.f.test/rss", "—"),
    ]
    text, report = merge_into_sources(existing, feeds, set())
    assert [i.source_id for i in report.items] == [
        "news-2", "news-3", "d-test", "a" * 30 + "-very", "f-test"]
    assert [s["id"] for s in tomllib.loads(text)["sources"]] == [
        "news", "news-2", "news-3", "d-test", "a" * 30 + "-very", "f-test"]


def test_merge_with_nothing_new_returns_the_text_unchanged() -> None:
    feeds = [OpmlFeed("https://rights.example.org/feed", "Again"), OpmlFeed("ftp://x.test/", "FTP")]
    text, report = merge_into_sources(EXISTING, feeds, TOPIC_IDS)
    assert text is EXISTING
    assert [i.status for i in report.items] == ["duplicate", "invalid"]


def test_merge_into_inline_array_and_crlf_files() -> None:
    inline = 'sources = [\n  { id = "a", url = "https://a.test/feed" },\n]\n'
    text, _report = merge_into_sources(inline, [OpmlFeed("https://b.test/feed", "B")], set())
    assert [s["id"] for s in tomllib.loads(text)["sources"]] == ["a", "b"]
    crlf = EXISTING.replace("\n", "\r\n")
    text, _ = merge_into_sources(crlf, [OpmlFeed("https://b.test/feed", "B")], set())
    assert text.startswith(crlf.rstrip("\r\n")) and "\n" not in text.replace("\r\n", "")
    assert tomllib.loads(text)["sources"][-1]["id"] == "b"


def test_merge_escapes_strings() -> None:
    feeds = [OpmlFeed("https://q.test/feed?a=1&b=\"2\"", 'Say "hi" \\ back')]
    text, _ = merge_into_sources("", feeds, set())
    [src] = tomllib.loads(text)["sources"]
    assert src["title"] == 'Say "hi" \\ back'
    assert src["url"] == "https://q.test/feed?a=1&b=\"2\""


def test_merge_refuses_a_broken_sources_file() -> None:
    with pytest.raises(OpmlError, match="not valid TOML"):
        merge_into_sources("[[sources]\nid = 1", [], set())
    with pytest.raises(OpmlError, match="must be an array"):
        merge_into_sources('sources = "no"\n', [], set())


@pytest.mark.parametrize(("a", "b"), [
    ("https://x.test/feed/", "HTTPS://X.TEST/feed"),
    ("http://x.test:80/feed", "http://x.test/feed"),
    ("https://x.test/feed#top", "https://x.test/feed"),
])
def test_url_key_equates_spellings_of_one_feed(a: str, b: str) -> None:
    assert url_key(a) == url_key(b)


def test_url_key_keeps_what_matters() -> None:
    assert url_key("https://x.test/Feed") != url_key("https://x.test/feed")
    assert url_key("https://x.test/feed?a=1") != url_key("https://x.test/feed?a=2")
    assert url_key("http://x.test/feed") != url_key("https://x.test/feed")


def test_slugify() -> None:
    assert slugify("  Ça & Là: l'Économie ") == "ca-la-l-economie"
    assert slugify("日本") == ""
