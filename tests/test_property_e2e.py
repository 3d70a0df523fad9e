"""End to end, whatever the bytes: hostile text in every field of every kind of source.

Hypothesis builds RSS 2.0, Atom 1.0, RSS 1.0 (RDF) and JSON Feed documents, and
plain-text, Markdown and HTML local articles, whose every field holds arbitrary
Unicode: C0 and C1 controls, U+FFFE/U+FFFF, lone surrogates written as character
references, bidi controls, and now and then 100 KB of it. Each example serves them
from a loopback server next to one well-behaved feed, runs `feeds run` in a fresh
project and checks what a subscriber relies on: the run exits 0, every output
parses as XML 1.0 (or JSON), every Atom file is valid against RFC 4287, every JSON
Feed against its schema, no source fails, and the well-behaved feed's entries are
all published.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from atomschema import atom_errors
from click.testing import CliRunner
from conftest import DATA, FEEDS_TOML, FeedServer, Project
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.cli.commands import cli

SCHEMA = json.loads((DATA / "jsonfeed-1.1.schema.json").read_text("utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
CLEAN_FEED = (DATA / "feeds" / "ai-news.rss").read_bytes()

# Characters a stranger's feed may carry that XML 1.0 forbids or that confuse readers.
_NASTY = (
    [chr(c) for c in range(0x20)]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + ["\ufffe", "\uffff", "\u202e", "\u202d", "\u2066", "\u200b", "\ufeff", "\u2028", "\u2029"]
)
# Written into XML or JSON as escapes: references to characters XML forbids.
_REFS = ["&#1;", "&#x1F;", "&#xD800;", "&#xDFFF;", "&#xFFFE;", "&#0;", "&#x80;"]

_plain = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
_piece = st.one_of(_plain, st.sampled_from(_NASTY), st.sampled_from(_REFS),
                   st.sampled_from(["AI", "artificial intelligence", "chip", "<b>", "&amp;", "]]>"]))


@st.composite
def nasty_text(draw: st.DrawFn) -> str:
    text = "".join(draw(st.lists(_piece, min_size=0, max_size=8)))
    if draw(st.integers(0, 9)) == 0:  # now and then, a very long field
        text = (text or "\x01") * (100_000 // max(1, len(text or "x")) + 1)
        text = text[:100_000]
    return text


def _xml_text(value: str) -> str:
    """Escape what would end the element, but leave controls raw and keep the
    character references that `_REFS` put in, as a careless generator would."""
    out = value.replace("&", "&amp;").replace("<", "&lt;")
    for ref in _REFS:
        out = out.replace(ref.replace("&", "&amp;"), ref)
    return out


def _json_text(value: str) -> str:
    """JSON escapes; a `_REFS` piece becomes a lone-surrogate escape where it names one."""
    out = json.dumps(value)[1:-1]
    return out.replace("&#xD800;", "\\ud800").replace("&#xDFFF;", "\\udfff")


Fields = dict[str, str]

FIELD_NAMES = ("title", "summary", "content", "author", "category", "guid", "link", "enclosure",
               "feed_title", "date")


def _fields() -> st.SearchStrategy[Fields]:
    return st.fixed_dictionaries({name: nasty_text() for name in FIELD_NAMES})


def rss(items: list[Fields], base: str) -> bytes:
    head = items[0] if items else {"feed_title": "t"}
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
             'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
             'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>',
             f"<title>{_xml_text(head['feed_title'])}</title><link>{base}/</link>"
             "<description>d</description>"]
    for n, f in enumerate(items):
        parts.append(
            f"<item><title>{_xml_text(f['title'])}</title>"
            f"<link>{base}/rss/{n}?{_xml_text(f['link'])}</link>"
            f"<guid isPermaLink=\"false\">{_xml_text(f['guid'])}-{n}</guid>"
            f"<description>{_xml_text(f['summary'])}</description>"
            f"<content:encoded>{_xml_text(f['content'])}</content:encoded>"
            f"<dc:creator>{_xml_text(f['author'])}</dc:creator>"
            f"<category>{_xml_text(f['category'])}</category>"
            f"<pubDate>{_xml_text(f['date'])}</pubDate>"
            f"<enclosure url=\"{base}/e{n}.mp3?{_xml_text(f['enclosure']).replace(chr(34), '')}\" "
            f"type=\"audio/mpeg\" length=\"1\"/></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8", "surrogatepass")


def atom(items: list[Fields], base: str) -> bytes:
    head = items[0] if items else {"feed_title": "t"}
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
             f"<title>{_xml_text(head['feed_title'])}</title><id>{base}/atom</id>"
             f"<updated>2026-01-01T00:00:00Z</updated><link href=\"{base}/\"/>"]
    for n, f in enumerate(items):
        parts.append(
            f"<entry><title type=\"html\">{_xml_text(f['title'])}</title>"
            f"<id>{base}/atom/{n}#{_xml_text(f['guid'])}</id>"
            f"<link href=\"{base}/atom/{n}\"/>"
            f"<updated>2026-01-0{1 + n % 9}T00:00:00Z</updated>"
            f"<published>{_xml_text(f['date'])}</published>"
            f"<author><name>{_xml_text(f['author'])}</name><uri>{_xml_text(f['link'])}</uri></author>"
            f"<category term=\"{_xml_text(f['category']).replace(chr(34), '')}\"/>"
            f"<summary type=\"html\">{_xml_text(f['summary'])}</summary>"
            f"<content type=\"html\">{_xml_text(f['content'])}</content></entry>")
    parts.append("</feed>")
    return "".join(parts).encode("utf-8", "surrogatepass")


def rdf(items: list[Fields], base: str) -> bytes:
    head = items[0] if items else {"feed_title": "t"}
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<rdf:RDF '
             'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" '
             'xmlns:dc="http://purl.org/dc/elements/1.1/">',
             f"<channel rdf:about=\"{base}/rdf\"><title>{_xml_text(head['feed_title'])}</title>"
             f"<link>{base}/</link><description>d</description></channel>"]
    for n, f in enumerate(items):
        parts.append(
            f"<item rdf:about=\"{base}/rdf/{n}\"><title>{_xml_text(f['title'])}</title>"
            f"<link>{base}/rdf/{n}</link><description>{_xml_text(f['summary'])}</description>"
            f"<dc:creator>{_xml_text(f['author'])}</dc:creator>"
            f"<dc:subject>{_xml_text(f['category'])}</dc:subject>"
            f"<dc:date>{_xml_text(f['date'])}</dc:date></item>")
    parts.append("</rdf:RDF>")
    return "".join(parts).encode("utf-8", "surrogatepass")


def json_feed(items: list[Fields], base: str) -> bytes:
    head = items[0] if items else {"feed_title": "t"}
    entries = []
    for n, f in enumerate(items):
        entries.append(
            "{" + f'"id": "{_json_text(f["guid"])}-{n}", "url": "{base}/json/{n}", '
            f'"title": "{_json_text(f["title"])}", "summary": "{_json_text(f["summary"])}", '
            f'"content_html": "{_json_text(f["content"])}", '
            f'"date_published": "{_json_text(f["date"])}", '
            f'"authors": [{{"name": "{_json_text(f["author"])}", "url": "{_json_text(f["link"])}"}}], '
            f'"tags": ["{_json_text(f["category"])}"], '
            f'"attachments": [{{"url": "{base}/a{n}.mp3", "mime_type": "audio/mpeg", '
            f'"title": "{_json_text(f["enclosure"])}"}}]' + "}")
    doc = ('{"version": "https://jsonfeed.org/version/1.1", '
           f'"title": "{_json_text(head["feed_title"])}", "home_page_url": "{base}/", '
           f'"items": [{", ".join(entries)}]}}')
    return doc.encode("utf-8", "surrogatepass")


def article_txt(f: Fields) -> bytes:
    return (f"2025-03-0{1 + len(f['date']) % 9}\n{f['title']}\n{f['summary']}\n\n{f['content']}\n"
            ).encode("utf-8", "surrogatepass")


def article_md(f: Fields) -> bytes:
    title = json.dumps(f["title"])  # a YAML double-quoted scalar reads JSON escapes
    return (f"---\ntitle: {title}\nauthor: {json.dumps(f['author'])}\ndate: 2025-04-01\n"
            f"tags: [{json.dumps(f['category'])}]\n---\n\n{f['content']}\n").encode("utf-8", "surrogatepass")


def article_html(f: Fields) -> bytes:
    return (f"<!DOCTYPE html><html><head><title>{_xml_text(f['title'])}</title>"
            f"<meta name=\"description\" content=\"{_xml_text(f['summary']).replace(chr(34), '')}\">"
            "<meta property=\"article:published_time\" content=\"2025-05-01T10:00:00Z\"></head>"
            f"<body><article><h1>{_xml_text(f['title'])}</h1><p>{_xml_text(f['content'])}</p>"
            "</article></body></html>").encode("utf-8", "surrogatepass")


KINDS = {"rss": ("application/rss+xml", rss), "atom": ("application/atom+xml", atom),
         "rdf": ("application/rdf+xml", rdf), "json": ("application/feed+json", json_feed)}


@contextmanager
def _fresh_project() -> Iterator[Project]:
    with tempfile.TemporaryDirectory(prefix="feeds-e2e-") as tmp:
        root = Path(tmp) / "site"
        (root / "config").mkdir(parents=True)
        (root / "articles").mkdir()
        (root / "config" / "feeds.toml").write_text(FEEDS_TOML.format(
            max_entries=200, retention_days=90, read_timeout=2, total_timeout=5,
            max_bytes=50_000_000), encoding="utf-8")
        yield Project(root)


def _check_outputs(public: Path) -> None:
    files = sorted(p for p in public.rglob("*") if p.is_file())
    assert files, "nothing was published"
    for path in files:
        data = path.read_bytes()
        if path.suffix in {".atom", ".rss", ".opml"}:
            doc = etree.fromstring(data, etree.XMLParser(resolve_entities=False))  # raises if ill-formed
            if path.suffix == ".atom":
                assert atom_errors(data) == [], path.name
            assert doc is not None
        elif path.suffix == ".json" and path.name != "status.json":
            decoded: Any = json.loads(data)
            errors = [e.message for e in VALIDATOR.iter_errors(decoded)]
            assert errors == [], (path.name, errors[:3])
        elif path.suffix == ".html":
            data.decode("utf-8")  # pages are UTF-8 text, whatever the input was


@pytest.fixture(scope="module")
def loopback() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


_counter = iter(range(1_000_000))


# No shrinking: each example is a whole run, and shrinking one took minutes.
@settings(max_examples=25, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(items=st.lists(_fields(), min_size=1, max_size=3),
       kinds=st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=4, unique=True))
@pytest.mark.timeout(180)
def test_any_text_in_any_field_still_publishes_valid_feeds(
        loopback: FeedServer, items: list[Fields], kinds: list[str]) -> None:
    run = next(_counter)
    with _fresh_project() as project:
        clean = loopback.add(f"/clean{run}.rss", CLEAN_FEED)
        sources: list[dict[str, object]] = [{"id": "clean", "title": "Clean", "url": clean}]
        for kind in kinds:
            content_type, build = KINDS[kind]
            url = loopback.add(f"/{kind}{run}", build(items, loopback.base), content_type=content_type)
            sources.append({"id": f"h-{kind}", "title": f"Hostile {kind}", "url": url})
        for n, f in enumerate(items):
            (project.root / "articles" / f"a{n}.txt").write_bytes(article_txt(f))
            (project.root / "articles" / f"m{n}.md").write_bytes(article_md(f))
            (project.root / "articles" / f"h{n}.html").write_bytes(article_html(f))
        sources.append({"id": "local", "title": "Local", "path": "articles"})
        project.write_sources(sources)

        result = CliRunner().invoke(cli, ["--root", str(project.root), "run"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        # Not one source fails: controls and odd references are cleaned, not fatal.
        assert " 0 failed;" in result.output, result.output
        _check_outputs(project.public)
        published = etree.fromstring((project.public / "all.atom").read_bytes())
        titles = {t.text or "" for t in published.iter("{http://www.w3.org/2005/Atom}title")}
        expected = {t.text or "" for t in etree.fromstring(CLEAN_FEED).iter("title")}
        expected.discard(etree.fromstring(CLEAN_FEED).findtext("channel/title") or "")
        assert expected <= titles, sorted(expected - titles)
