"""Local articles: plain text, Markdown with front matter, and HTML pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.errors import ParseError
from feeds.parse.articles import kind_of, parse_article, parse_date, without_site_link
from feeds.stories.slugs import article_slugs, is_safe_slug, on_site, page_slug, slug_forms, slugify
from feeds.types import EntryData, LocalFile

HERE = Path(__file__).parent
DATA = HERE / "data" / "articles"
SEED = HERE.parent / "seeds" / "000_b68ede34d4090fc6.txt"
MTIME = datetime(2023, 3, 4, 5, 6, 7, tzinfo=UTC)
FURNITURE = ("Related Articles", "Latest Articles", "Most Popular", "Most Read", "Latest News")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
    micro: int = 0,
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def parse_bytes(name: str, body: bytes) -> EntryData:
    return parse_article(LocalFile(name, body, MTIME), "local")


def parse_text(name: str, text: str) -> EntryData:
    return parse_bytes(name, text.encode("utf-8"))


def parse_fixture(name: str) -> EntryData:
    return parse_bytes(name, (DATA / name).read_bytes())


def title_of(entry: EntryData) -> str:
    assert entry.title is not None
    return entry.title.value


def summary_of(entry: EntryData) -> str:
    assert entry.summary is not None
    return entry.summary.value


def content_of(entry: EntryData) -> str:
    assert entry.content is not None
    assert entry.content.is_html
    return entry.content.value


# --- the seed article -----------------------------------------------------------


def test_seed_article() -> None:
    entry = parse_bytes("000_b68ede34d4090fc6.txt", SEED.read_bytes())
    assert title_of(entry) == (
        "China remains optimistic despite US tech restrictions as it advances to next phase "
        "of internet evolution"
    )
    assert entry.published == utc(2024, 7, 13, 12)
    assert entry.published is not None and entry.published.date().isoformat() == "2024-07-13"
    assert not entry.date_from_mtime
    assert summary_of(entry) == (
        "China Internet Conference Highlights Country’s Determination in AI and Future "
        "Internet Technologies amid US Restrictions"
    )
    assert entry.guid == "file:000_b68ede34d4090fc6.txt"
    content = content_of(entry)
    body = [p for p in content.split("\n") if not p.startswith("<p><strong>")]
    assert len(body) == 4
    assert body[0].startswith("<p>Delegates at the China Internet Conference, marking the 30th")
    assert body[1].startswith("<p>Despite past reliance on US funding")
    assert body[2].startswith("<p>With export restrictions limiting access")
    assert "“controllable”" in body[2]
    assert body[3].endswith("the world of technology and artificial intelligence.</p>")
    for heading in FURNITURE:
        assert heading not in content


# --- plain-text fixtures ------------------------------------------------------------


@dataclass(frozen=True)
class TextCase:
    file: str
    title: str
    published: datetime
    from_mtime: bool
    summary: str
    paragraphs: int  # <p> elements in the content, standfirst included
    authors: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    dropped: tuple[str, ...] = field(default=FURNITURE)


TEXT_CASES = [
    TextCase(
        file="reuters_crlf_bom.txt",
        title="Port operators brace for strike as talks with dockworkers stall",
        published=utc(2024, 9, 5, 14, 30),
        from_mtime=False,
        summary="Negotiators for East Coast ports have not met since June, union says",
        paragraphs=5,
        kept=(
            "NEWARK, New Jersey, Sept 5 (Reuters) - Container terminals",
            "Reporting by Dana Whitcombe in Newark; Editing by Paul Ferrante",
            '"We are ready to bargain tomorrow',
        ),
        dropped=(*FURNITURE, "Sign up here", "Freight rates climb", "\ufeff", "\r"),
    ),
    TextCase(
        file="byline.txt",
        title="Town council approves riverside cycle path after decade of debate",
        published=utc(2025, 2, 12, 12),
        from_mtime=False,
        summary=(
            "The Millbrook town council voted 7-2 on Tuesday night to build a 4-kilometre cycle "
            "path along the east bank of the river, ending a dispute that has outlasted three "
            "mayors."
        ),
        paragraphs=3,
        authors=("Jane Doe",),
        kept=("Residents of Weir Lane",),
        dropped=(*FURNITURE, "By Jane Doe", "Library reopens", "School bus timetable"),
    ),
    TextCase(
        file="nodate.txt",
        title="Volunteers count 212 species in weekend garden bird survey",
        published=MTIME,
        from_mtime=True,
        summary="Record numbers of households took part in this year's count, organisers say",
        paragraphs=4,
        kept=("House sparrows were once again", "The full results will be published next month."),
    ),
    TextCase(
        file="related_midbody.txt",
        title="Regional hospitals adopt shared patient records system",
        published=utc(2024, 11, 2, 12),
        from_mtime=False,
        summary=(
            "Three hospital trusts in the north of the county moved their patient records onto "
            "a single system over the weekend, the health authority said on Saturday."
        ),
        paragraphs=5,
        kept=(
            "<p>Related coverage of the project has focused on its cost",
            "<p>Related</p>",
            "Staff at the three trusts were trained over six weeks",
            "once a security review by an outside firm has been completed.</p>",
        ),
        dropped=("Most Read", "Bypass reopens", "Council tax to rise"),
    ),
]


@pytest.mark.parametrize("case", TEXT_CASES, ids=lambda c: c.file)
def test_plain_text_fixture(case: TextCase) -> None:
    entry = parse_fixture(case.file)
    assert title_of(entry) == case.title
    assert entry.published == case.published
    assert entry.date_from_mtime is case.from_mtime
    assert summary_of(entry) == case.summary
    assert entry.summary is not None and not entry.summary.is_html
    assert tuple(a.name for a in entry.authors) == case.authors
    assert entry.link is None
    assert entry.guid == f"file:{case.file}"
    content = content_of(entry)
    assert content.count("<p>") == case.paragraphs
    for text in case.kept:
        assert text in content
    for text in case.dropped:
        assert text not in content


def test_crlf_bom_fixture_really_has_crlf_and_bom() -> None:
    raw = (DATA / "reuters_crlf_bom.txt").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in raw


def test_standfirst_is_bold_first_paragraph() -> None:
    content = content_of(parse_fixture("nodate.txt"))
    assert content.split("\n")[0] == (
        "<p><strong>Record numbers of households took part in this year's count, "
        "organisers say</strong></p>"
    )


@pytest.mark.parametrize(
    ("text", "title", "authors", "summary", "first_paragraph"),
    [
        # Date and headline in one block, byline after the standfirst.
        (
            "July 1, 2024\nHarbour wall repairs finish early\n\n"
            "Contractor hands back quay two weeks ahead of schedule\n\n"
            "By Omar Haddad and Li Wei\n\n"
            "The repaired wall was reopened to fishing boats on Monday morning, the harbour "
            "master said, after eleven weeks of work.\n",
            "Harbour wall repairs finish early",
            ("Omar Haddad", "Li Wei"),
            "Contractor hands back quay two weeks ahead of schedule",
            "<p>The repaired wall was reopened",
        ),
        # An upper-case byline with the agency after a comma.
        (
            "2024-07-01\n\nHarbour wall repairs finish early\n\nBY JANE DOE, Reuters\n\n"
            "The repaired wall was reopened to fishing boats on Monday morning, the harbour "
            "master said.\n",
            "Harbour wall repairs finish early",
            ("JANE DOE", "Reuters"),
            "The repaired wall was reopened to fishing boats on Monday morning, the harbour "
            "master said.",
            "<p>The repaired wall was reopened",
        ),
        # "By Tuesday, ..." is a sentence, not a byline.
        (
            "2024-07-01\n\nHarbour wall repairs finish early\n\nBy Tuesday, boats were back.\n\n"
            "The repaired wall was reopened to fishing boats on Monday morning, the harbour "
            "master said.\n",
            "Harbour wall repairs finish early",
            (),
            "By Tuesday, boats were back.",
            "<p>By Tuesday, boats were back.</p>",
        ),
    ],
    ids=["byline-after-standfirst", "upper-case-byline", "not-a-byline"],
)
def test_bylines(
    text: str, title: str, authors: tuple[str, ...], summary: str, first_paragraph: str
) -> None:
    entry = parse_text("a.txt", text)
    assert title_of(entry) == title
    assert entry.published == utc(2024, 7, 1, 12)
    assert tuple(a.name for a in entry.authors) == authors
    assert summary_of(entry) == summary
    body = [p for p in content_of(entry).split("\n") if not p.startswith("<p><strong>")]
    assert body[0].startswith(first_paragraph)


LONG = (
    "The repaired wall was reopened to fishing boats on Monday morning, the harbour master "
    "said, after eleven weeks of work that cost rather more than the council had planned."
)


@pytest.mark.parametrize(
    ("tail", "kept", "dropped"),
    [
        ("Related Articles\nFirst linked headline\nSecond linked headline\n", (), ("Related",)),
        ("Most Popular\n\nFirst linked headline\nSecond linked headline\nThird\n", (), ("Most",)),
        ("Latest Articles\n\nOne\n\nTwo\n\nAdvertisement\n\n© 2024 Harbour News\n", (), ("One",)),
        # A heading mid-article, followed by real paragraphs, is body text.
        ("Read more\n\n" + LONG + "\n", ("<p>Read more</p>", "cost rather more"), ()),
        # A hard-wrapped paragraph after a heading is not a list of links.
        (
            "Related\n\nThe council said the work\nwould be paid for from reserves\nand not "
            "from a rise in rents.\n",
            ("<p>Related</p>", "would be paid for from reserves and not from a rise in rents."),
            (),
        ),
    ],
    ids=["heading-with-list", "heading-then-list", "headings", "mid-heading", "wrapped"],
)
def test_trailing_furniture(tail: str, kept: tuple[str, ...], dropped: tuple[str, ...]) -> None:
    entry = parse_text("a.txt", f"2024-07-01\n\nHarbour wall repairs finish early\n\n{LONG}\n\n{tail}")
    content = content_of(entry)
    assert content.startswith(f"<p>{LONG}</p>")
    for text in kept:
        assert text in content
    for text in dropped:
        assert text not in content


def test_plain_text_cp1252_fallback_and_cr_line_ends() -> None:
    body = "13 July 2024\r\rCaf\xe9 owners welcome \u201cpavement licence\u201d plan\r".encode("cp1252")
    entry = parse_bytes("cafe.txt", body)
    assert title_of(entry) == "Café owners welcome “pavement licence” plan"
    assert entry.published == utc(2024, 7, 13, 12)
    assert entry.content is None
    assert entry.summary is None


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("empty.txt", b""),
        ("blank.txt", b"\xef\xbb\xbf \r\n\r\n  \n"),
        ("dateonly.txt", b"Saturday, July 13, 2024\n"),
        ("empty.md", b"---\ntitle: ''\n---\n\nNo heading here.\n"),
        ("bad-yaml.md", b"---\ntitle: [unclosed\n---\nbody\n"),
        ("bad-toml.md", b'+++\ntitle = "unclosed\n+++\nbody\n'),
        ("empty.html", b"<html><body><p>No title anywhere</p></body></html>"),
    ],
)
def test_no_article_raises_parse_error(name: str, body: bytes) -> None:
    with pytest.raises(ParseError) as info:
        parse_bytes(name, body)
    assert info.value.source_id == "local"
    assert name in str(info.value)


# --- markdown ---------------------------------------------------------------------


@dataclass(frozen=True)
class MarkdownCase:
    file: str
    title: str
    published: datetime
    authors: tuple[str, ...]
    tags: tuple[str, ...]
    link: str
    content: str


MARKDOWN_CASES = [
    MarkdownCase(
        file="yaml_front.md",
        title="Notes from the harbour: a week with the pilot boats",
        published=utc(2024, 6, 21, 5, 45),
        authors=("Jane Doe",),
        tags=("shipping", "harbour", "photo essay"),
        link="https://example.org/posts/pilot-boats",
        content=(
            "<p>The pilot boats leave <strong>before dawn</strong>, whatever the weather.</p>\n"
            "<h2>Going aboard</h2>\n<ul>\n<li>Pilots climb a rope ladder</li>\n"
            "<li>The ship keeps moving at 8 knots</li>\n</ul>\n"
            '<p>Read the <a href="https://example.org/report.pdf">harbour authority\'s '
            "report</a>.</p>"
        ),
    ),
    MarkdownCase(
        file="toml_front.md",
        title="Release notes for the spring timetable",
        published=utc(2025, 3, 9, 12),
        authors=("Omar Haddad", "Li Wei"),
        tags=("transport", "timetable"),
        link="https://example.org/timetable/spring",
        content=(
            "<p>From <strong>9 March</strong>, weekday trains on the coast line run every "
            "20 minutes.</p>\n<table>\n<thead>\n<tr>\n<th>Line</th>\n<th>Peak</th>\n"
            "<th>Off-peak</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>Coast</td>\n<td>20</td>\n"
            "<td>30</td>\n</tr>\n</tbody>\n</table>"
        ),
    ),
]


@pytest.mark.parametrize("case", MARKDOWN_CASES, ids=lambda c: c.file)
def test_markdown_fixture(case: MarkdownCase) -> None:
    entry = parse_fixture(case.file)
    assert title_of(entry) == case.title
    assert entry.published == case.published
    assert not entry.date_from_mtime
    assert tuple(a.name for a in entry.authors) == case.authors
    assert entry.categories == case.tags
    assert entry.link == case.link
    assert content_of(entry) == case.content
    assert entry.content is not None and entry.content.base == case.link
    assert "title" not in content_of(entry)


@pytest.mark.parametrize(
    ("text", "title", "published", "updated", "summary", "content"),
    [
        (
            "\ufeff---\r\ntitle: Windows file\r\ndate: 2024-05-01\r\nlastmod: 2024-05-03 "
            "10:00:00\r\nsummary: Short one\r\n---\r\n\r\nHello *there*.\r\n",
            "Windows file",
            utc(2024, 5, 1, 12),
            utc(2024, 5, 3, 10),
            "Short one",
            "<p>Hello <em>there</em>.</p>",
        ),
        (
            "# Heading as title\n\nPublished text with <b>raw html</b>.\n",
            "Heading as title",
            None,
            None,
            None,
            "<p>Published text with &lt;b&gt;raw html&lt;/b&gt;.</p>",
        ),
        (
            "---\ntitle: Date as text\ndate: Sept. 5, 2024 10:30 AM EDT\ntags: a, b\n---\nx\n",
            "Date as text",
            utc(2024, 9, 5, 14, 30),
            None,
            None,
            "<p>x</p>",
        ),
        (
            '+++\ntitle = "Local time"\ndate = 2024-01-02T03:04:05\n+++\nx\n',
            "Local time",
            utc(2024, 1, 2, 3, 4, 5),
            None,
            None,
            "<p>x</p>",
        ),
        # A date that cannot be shifted into UTC is no date, not a crash.
        (
            "---\ntitle: Year one\ndate: 0001-01-01T00:00:00+01:00\n---\nx\n",
            "Year one",
            None,
            None,
            None,
            "<p>x</p>",
        ),
    ],
    ids=["crlf-bom-yaml", "no-front-matter", "text-date", "toml-local-time", "overflow"],
)
def test_markdown_variants(
    text: str,
    title: str,
    published: datetime | None,
    updated: datetime | None,
    summary: str | None,
    content: str,
) -> None:
    entry = parse_text("post.md", text)
    assert title_of(entry) == title
    assert entry.published == (published or MTIME)
    assert entry.date_from_mtime is (published is None)
    assert entry.updated == updated
    assert (entry.summary.value if entry.summary else None) == summary
    assert content_of(entry) == content


# --- html ---------------------------------------------------------------------------


def test_html_fixture() -> None:
    entry = parse_fixture("page_jsonld.html")
    assert title_of(entry) == "Ferry fares frozen for a second year"
    assert summary_of(entry) == "Operator says winter fares will stay at 2023 levels."
    assert entry.published == utc(2024, 10, 8, 5, 30)
    assert not entry.date_from_mtime
    assert tuple(a.name for a in entry.authors) == ("Jane Doe",)
    assert entry.link == "https://courier.example.com/news/ferry-fares-frozen"
    assert entry.language == "en-GB"
    content = content_of(entry)
    assert "<p>The island ferry operator will keep its winter fares at 2023 levels" in content
    assert "<p>Season tickets bought before December will also be honoured until May.</p>" in content
    for gone in ("<h1>", "Coastal Courier", "News", "Sport", "Related:", "Harbour dredging",
                 "loadAds", "analytics", "<script", "All rights reserved", "schema.org"):
        assert gone not in content


def _page(head: str, body: str) -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


@pytest.mark.parametrize(
    ("name", "text", "title", "published", "authors", "content", "tags"),
    [
        (
            "meta.html",
            _page(
                '<meta property="og:title" content="OG title">'
                '<meta property="article:published_time" content="2024-03-01T09:00:00-05:00">'
                '<meta name="author" content="Li Wei"><meta name="keywords" content="a, b ,c">',
                "<main><h1>Other heading</h1><p>Main text</p></main>",
            ),
            "OG title",
            utc(2024, 3, 1, 14),
            ("Li Wei",),
            "<h1>Other heading</h1><p>Main text</p>",
            ("a", "b", "c"),
        ),
        (
            "time.htm",
            _page(
                "<title>From title tag</title>",
                '<article><time datetime="2024-02-03">3 Feb</time> Lead text '
                "<!-- ad slot --> after comment<p>Para</p></article>",
            ),
            "From title tag",
            utc(2024, 2, 3, 12),
            (),
            '<time datetime="2024-02-03">3 Feb</time> Lead text  after comment<p>Para</p>',
            (),
        ),
        (
            "graph.html",
            _page(
                '<script type="application/ld+json">{"@graph": [{"@type": "WebSite"}, '
                '{"@type": "NewsArticle", "headline": "Graph headline", '
                '"datePublished": "Sat, 13 Jul 2024 15:30:00 GMT", '
                '"author": [{"name": "Jane Doe"}, "Omar Haddad"]}]}</script>'
                '<meta property="article:author" content="https://example.com/jane">',
                "<article>Lead only <b>bold</b></article>",
            ),
            "Graph headline",
            utc(2024, 7, 13, 15, 30),
            ("Jane Doe", "Omar Haddad"),
            "Lead only <b>bold</b>",
            (),
        ),
        (
            "page.xhtml",
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>XHTML page</title></head>'
            "<body><article><h1>XHTML page</h1><p>Body</p></article></body></html>",
            "XHTML page",
            None,
            (),
            "<p>Body</p>",
            (),
        ),
    ],
    ids=["meta", "time-element", "json-ld-graph", "xhtml-declaration"],
)
def test_html_variants(
    name: str,
    text: str,
    title: str,
    published: datetime | None,
    authors: tuple[str, ...],
    content: str,
    tags: tuple[str, ...],
) -> None:
    entry = parse_text(name, text)
    assert title_of(entry) == title
    assert entry.published == (published or MTIME)
    assert entry.date_from_mtime is (published is None)
    assert tuple(a.name for a in entry.authors) == authors
    assert content_of(entry) == content
    assert entry.categories == tags


@pytest.mark.parametrize(
    ("relpath", "body", "kind"),
    [
        ("a/b/story.TXT", b"<html>", "text"),
        ("post.markdown", b"hello", "markdown"),
        ("page.HTM", b"hello", "html"),
        ("noext", b"\xef\xbb\xbf  <!DOCTYPE html><html>", "html"),
        ("noext", b"---\r\ntitle: x\r\n---\r\n", "markdown"),
        ("noext", b"+++\ntitle = 'x'\n+++\n", "markdown"),
        ("dir.d/noext", b"Just text", "text"),
    ],
)
def test_kind_of(relpath: str, body: bytes, kind: str) -> None:
    assert kind_of(relpath, body) == kind


# --- dates --------------------------------------------------------------------------

DATES: list[tuple[str, datetime]] = [
    # Date only: noon UTC.
    ("Saturday, July 13, 2024", utc(2024, 7, 13, 12)),
    ("July 13, 2024", utc(2024, 7, 13, 12)),
    ("July 13 2024", utc(2024, 7, 13, 12)),
    ("JULY 13, 2024", utc(2024, 7, 13, 12)),
    ("July 13th, 2024", utc(2024, 7, 13, 12)),
    ("Jul. 13, 2024", utc(2024, 7, 13, 12)),
    ("Sept 5, 2024", utc(2024, 9, 5, 12)),
    ("Sep. 5, 2024", utc(2024, 9, 5, 12)),
    ("Tuesday, Feb 29, 2024", utc(2024, 2, 29, 12)),
    ("12 February 2025", utc(2025, 2, 12, 12)),
    ("13 Jul 2024", utc(2024, 7, 13, 12)),
    ("Saturday 13 July 2024", utc(2024, 7, 13, 12)),
    ("13th of July, 2024", utc(2024, 7, 13, 12)),
    ("2024-11-02", utc(2024, 11, 2, 12)),
    ("2024/11/02", utc(2024, 11, 2, 12)),
    ("2024-7-3", utc(2024, 7, 3, 12)),
    ("13.07.2024", utc(2024, 7, 13, 12)),
    ("13/07/2024", utc(2024, 7, 13, 12)),
    ("07/13/2024", utc(2024, 7, 13, 12)),
    ("Published: July 13, 2024", utc(2024, 7, 13, 12)),
    ("Posted on July 13, 2024", utc(2024, 7, 13, 12)),
    ("Last updated: 13 July 2024", utc(2024, 7, 13, 12)),
    ("Published: 13/07/2024", utc(2024, 7, 13, 12)),
    ("  Saturday,   July 13,\t2024  ", utc(2024, 7, 13, 12)),
    # With a time and a zone.
    ("Sept. 5, 2024 10:30 AM EDT", utc(2024, 9, 5, 14, 30)),
    ("Jul 13, 2024 10:30 AM EDT", utc(2024, 7, 13, 14, 30)),
    ("March 3, 2025, 9:00 a.m. PT", utc(2025, 3, 3, 17)),
    ("July 13, 2024 4:00 PM PT", utc(2024, 7, 13, 23)),
    ("Jan 15, 2025 3:15 PM ET", utc(2025, 1, 15, 20, 15)),
    ("Jul 13, 2024 at 3:15 p.m. ET", utc(2024, 7, 13, 19, 15)),
    ("Thursday, January 2, 2025 — 7:45 PM EST", utc(2025, 1, 3, 0, 45)),
    ("July 13, 2024 | 4:05 PM", utc(2024, 7, 13, 16, 5)),
    ("July 13, 2024 at 12:00 AM", utc(2024, 7, 13, 0, 0)),
    ("July 13, 2024 at 12:30 PM", utc(2024, 7, 13, 12, 30)),
    ("July 13, 2024 15:30 +05:30", utc(2024, 7, 13, 10)),
    ("July 13, 2024 10:00 -0530", utc(2024, 7, 13, 15, 30)),
    ("July 13, 2024 10:00 GMT+1", utc(2024, 7, 13, 9)),
    ("13 July 2024 10:00 UTC+02:00", utc(2024, 7, 13, 8)),
    ("Sat 13 Jul 2024 09:00 BST", utc(2024, 7, 13, 8)),
    ("13 July 2024 09:00 CEST", utc(2024, 7, 13, 7)),
    ("12 February 2025 at 10:00", utc(2025, 2, 12, 10)),
    ("5 September 2024 10:30 am", utc(2024, 9, 5, 10, 30)),
    ("Friday, 12 July 2024 - 23:10", utc(2024, 7, 12, 23, 10)),
    ("Published 13 July 2024, 10:00 GMT", utc(2024, 7, 13, 10)),
    ("13.07.2024 14:30", utc(2024, 7, 13, 14, 30)),
    ("12.02.2025, 10:15", utc(2025, 2, 12, 10, 15)),
    ("Updated: 2024-11-02 08:00 UTC", utc(2024, 11, 2, 8)),
    # The clock first.
    ("Updated 3:15 PM ET, Sat July 13, 2024", utc(2024, 7, 13, 19, 15)),
    ("3:15 PM ET Sat July 13, 2024", utc(2024, 7, 13, 19, 15)),
    ("12:30 PM EDT, Sat July 13, 2024", utc(2024, 7, 13, 16, 30)),
    ("10:30 AM EDT July 13, 2024", utc(2024, 7, 13, 14, 30)),
    ("10:30 AM Saturday, July 13, 2024", utc(2024, 7, 13, 10, 30)),
    ("Updated 13:05 GMT, 13 July 2024", utc(2024, 7, 13, 13, 5)),
    ("09:41 GMT+2 | 13.07.2024", utc(2024, 7, 13, 7, 41)),
    # RFC 822 and ISO 8601.
    ("Sat, 13 Jul 2024 15:30:00 +0000", utc(2024, 7, 13, 15, 30)),
    ("Sat, 13 Jul 2024 15:30:00 GMT", utc(2024, 7, 13, 15, 30)),
    ("Sat, 13 Jul 2024 15:30:00 -0400", utc(2024, 7, 13, 19, 30)),
    ("Wed, 02 Oct 2002 08:00:00 EST", utc(2002, 10, 2, 13)),
    ("2024-07-13T15:30:00Z", utc(2024, 7, 13, 15, 30)),
    ("2024-07-13T15:30Z", utc(2024, 7, 13, 15, 30)),
    ("2024-07-13T15:30:00+02:00", utc(2024, 7, 13, 13, 30)),
    ("2024-07-13T15:30:00+0200", utc(2024, 7, 13, 13, 30)),
    ("2024-07-13T15:30:00", utc(2024, 7, 13, 15, 30)),
    ("2024-07-13 15:30", utc(2024, 7, 13, 15, 30)),
    ("2024-07-13 15:30:00+00:00", utc(2024, 7, 13, 15, 30)),
    ("2024-07-13T15:30:00.123456Z", utc(2024, 7, 13, 15, 30, 0, 123456)),
]

NOT_DATES = [
    "",
    "   ",
    "Hello world",
    "The year 2024 was great",
    "China remains optimistic despite US tech restrictions",
    "2024",
    "1 hour ago",
    "July 32, 2024",
    "Sep 31, 2024",
    "Feb 29, 2023",
    "2024-13-01",
    "2024-07-13T25:00:00",
    "July 13, 2024 3:15 PM XYZ",
    "July 13, 2024 10:00 +25",
    "1:00 2:00 3:00",
    "Saturday, 13. Juli 2024",
    "July 13, 2024 " + "x" * 80,
    # Out of datetime's range once shifted to UTC.
    "Dec 31, 9999 11:00 PM EST",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:00:00-05:00",
    # The email module would read year 0001 as 2001.
    "Mon, 1 Jan 0001 00:00:00 +0100",
]


@pytest.mark.parametrize(("text", "expected"), DATES, ids=[d for d, _ in DATES])
def test_parse_date(text: str, expected: datetime) -> None:
    got = parse_date(text)
    assert got == expected
    assert got is not None and got.utcoffset() is not None and not got.utcoffset()


@pytest.mark.parametrize("text", NOT_DATES)
def test_parse_date_rejects(text: str) -> None:
    assert parse_date(text) is None


@pytest.mark.parametrize(("text", "expected"), DATES[:10] + DATES[24:30])
def test_date_line_of_plain_article(text: str, expected: datetime) -> None:
    entry = parse_text("a.txt", f"{text}\n\nHeadline\n\n{LONG}\n")
    assert entry.published == expected
    assert title_of(entry) == "Headline"


# --- robustness ---------------------------------------------------------------------

_FRAGMENTS = [
    b"---\n", b"+++\n", b"title: x\n", b'title = "x"\n', b"date: 0001-01-01T00:00:00+01:00\n",
    b"<html>", b"<h1>", b"</h1>", b"<article>", b"<script>", b"<?xml version='1.0'?>",
    b'<meta property="article:published_time" content="', b'">',
    b'<script type="application/ld+json">{"datePublished": 1}</script>',
    b"\xef\xbb\xbf", b"\r\n", b"\n\n", b"\x00", b"\xff\xfe", b"July 13, 2024 ", b"10:30 PM ET",
    b"Related Articles", b"By Jane Doe", b"# ", b"\xe2\x80\x9c",
]


@settings(max_examples=200, deadline=None)
@given(
    ext=st.sampled_from([".txt", ".md", ".html"]),
    body=st.one_of(
        st.binary(max_size=400),
        st.lists(st.sampled_from(_FRAGMENTS) | st.binary(max_size=12), max_size=16).map(b"".join),
    ),
)
def test_parse_article_only_raises_parse_error(ext: str, body: bytes) -> None:
    try:
        entry = parse_bytes(f"fuzz{ext}", body)
    except ParseError:
        return
    assert entry.title is not None and entry.title.value
    assert entry.published is not None and entry.published.tzinfo is not None
    assert entry.date_from_mtime is (entry.published == MTIME)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_parse_date_never_raises(text: str) -> None:
    got = parse_date(text)
    assert got is None or got.utcoffset() is not None


# --- page names -------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(names=st.lists(
    st.tuples(st.sampled_from(["", "sub/", "Sub/", "日本/"]),
              st.text(st.characters(exclude_categories=["Cs"], exclude_characters="/\x00"),
                      min_size=1, max_size=12),
              st.sampled_from([".txt", ".md", ".html", ""])).map("".join),
    max_size=12))
def test_article_slugs_are_distinct_safe_and_stable(names: list[str]) -> None:
    slugs = article_slugs(names)
    assert set(slugs) == set(names)
    assert len(set(slugs.values())) == len(slugs)
    assert all(is_safe_slug(s) for s in slugs.values())
    assert article_slugs(reversed(names)) == slugs
    for name, slug in slugs.items():
        assert slug in slug_forms(name)
        assert page_slug(f"https://x.test/articles/src/{slug}.html", "https://x.test/", "src", name) == slug


def test_article_slugs_keep_plain_names_and_hash_the_rest() -> None:
    slugs = article_slugs(["000_b68ede34d4090fc6.txt", "ai.txt", "a b.txt", "A-B.txt", "x.md",
                           "x.html", "Москва.txt", "x-" + "0" * 8 + ".txt"])
    assert slugs["000_b68ede34d4090fc6.txt"] == "000-b68ede34d4090fc6"
    assert slugs["ai.txt"] == "ai"
    assert slugs["x-00000000.txt"] == "x-00000000"
    for name in ("a b.txt", "A-B.txt", "x.md", "x.html"):
        assert slugs[name] == slug_forms(name)[1]
    assert slugs["Москва.txt"].startswith("moskva-")
    assert slugify("日本") == "riben" and slugify("!!!") == "article"


def test_page_slug_never_takes_a_path_from_the_link() -> None:
    base = "https://x.test/"
    for link in ("https://x.test/articles/src/../../config/sources.toml",
                 "https://x.test/articles/src/%2e%2e/evil.html", "https://x.test/articles/src/a/b.html",
                 "https://elsewhere.test/a.html", None, ""):
        assert page_slug(link, base, "src", "story.txt") is None
    assert page_slug("https://x.test/articles/src/story.html", base, "src", "story.txt") == "story"


@pytest.mark.parametrize(("link", "ours"), [
    ("https://x.test/articles/../../config/sources.toml", True),
    ("https://X.TEST:443/anything", True),
    ("https://x.test/articles/%2e%2e/%2E%2E/x", True),
    ("http://x.test/page", False),
    ("https://x.test:8443/page", False),
    ("https://y.test/articles/a.html", False),
    ("https://x.test.evil/articles/a.html", False),
])
def test_on_site(link: str, ours: bool) -> None:
    assert on_site(link, "https://x.test/") is ours


def test_on_site_under_a_path() -> None:
    assert on_site("https://x.test/feeds/../feeds/articles/a.html", "https://x.test/feeds/")
    assert on_site("https://x.test//feeds/a.html", "https://x.test/feeds/")
    assert not on_site("https://x.test/feeds/../blog/post", "https://x.test/feeds/")
    assert not on_site("https://x.test/feedsx/post", "https://x.test/feeds/")


def test_without_site_link() -> None:
    entry = parse_text("a.md", "---\ntitle: T\nlink: https://x.test/articles/../../etc\n---\n\nBody [x](y)\n")
    assert entry.content is not None and entry.content.base
    kept, problem = without_site_link(entry, "a.md", "https://x.test/")
    assert kept.link is None and kept.content is not None and kept.content.base is None
    assert problem
    assert problem.startswith("a.md: its link https://x.test/articles/../../etc lies on this site")
    external = parse_text("b.md", "---\ntitle: T\nlink: https://elsewhere.test/b\n---\n\nBody\n")
    assert without_site_link(external, "b.md", "https://x.test/") == (external, None)
    odd = parse_text("c.md", "---\ntitle: T\nlink: javascript:alert(1)\n---\n\nBody\n")
    assert without_site_link(odd, "c.md", "https://x.test/")[0].link is None


# --- files that are not text, and front matter that is hostile ----------------------------


@pytest.mark.parametrize(("body", "why"), [
    (b"\x89PNG\r\n\x1a\nrest", "PNG image"),
    (b"%PDF-1.4\nHeadline\n", "PDF document"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image, audio or video"),
    (b"\x00\x00\x00\x18ftypmp42", "video or audio"),
    (b"Headline\n\nbo\x00dy\n", "NUL bytes"),
    (b"\xff\xfeH\x00\x00\xd8", "UTF-16 mark"),  # a lone surrogate
    (b"Headline \x81 text\n", "neither UTF-8"),
    (b'<meta charset="utf-8"><title>T \xe9</title>', "not valid UTF-8 as it declares"),
    (b"\x01\x02\x03\x04 Headline\n", "control characters"),
    (b"", "empty"),
    (b"\xef\xbb\xbf \n\t\r\n", "empty"),
])
def test_not_text_is_refused_with_a_reason(body: bytes, why: str) -> None:
    with pytest.raises(ParseError) as raised:
        parse_bytes("file.txt", body)
    assert raised.value.message.startswith("file.txt: skipped")
    assert why in raised.value.message


@pytest.mark.parametrize(("body", "title"), [
    ("Headline in UTF-16\n\nBody.\n".encode("utf-16"), "Headline in UTF-16"),
    ('<meta charset="koi8-r"><title>Привет</title><p>Тело</p>'.encode("koi8-r"), "Привет"),
    (b'<?xml version="1.0" encoding="iso-8859-1"?><html><head><title>Caf\xe9</title></head></html>',
     "Café"),
    # A declaration of a codec that is no text encoding is not believed.
    (b'<meta charset="hex"><title>Caf\xe9 hex</title>', "Café hex"),
    (b"Tabs\tand form\x0cfeeds\n\nBody.\n", "Tabs and form feeds"),
])
def test_text_in_other_encodings_is_read(body: bytes, title: str) -> None:
    assert title_of(parse_bytes("file.html" if b"<" in body else "file.txt", body)) == title


@pytest.mark.parametrize(("front", "why"), [
    ("title: &a T\nsummary: *a\n", "anchors and aliases"),
    ("title: T\n<<: *base\n", "anchors and aliases"),
    ("title: T\ntags: " + "[" * 40 + "]" * 40 + "\n", "nested more than 16 levels"),
    ("title: T\nx: " + "{a: " * 20 + "1" + "}" * 20 + "\n", "nested more than 16 levels"),
])
def test_yaml_front_matter_refuses_aliases_and_depth(front: str, why: str) -> None:
    with pytest.raises(ParseError, match=why):
        parse_text("a.md", f"---\n{front}---\n\nBody\n")


def test_yaml_front_matter_nine_levels_of_aliases_is_refused_at_once() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    with pytest.raises(ParseError, match="anchors and aliases"):
        parse_text("bomb.md", "---\ntitle: Bomb\n" + "\n".join(levels) + "\ntags: *a8\n---\n\nBody\n")


def test_ordinary_yaml_front_matter_still_reads() -> None:
    entry = parse_text("a.md", "---\ntitle: 'A: title'\ntags:\n  - one\n  - two\nauthor: {name: x}\n"
                               "date: 2024-07-13\n---\n\nBody\n")
    assert title_of(entry) == "A: title"
    assert entry.categories == ("one", "two")


# --- reading the folder ----------------------------------------------------------------


def test_read_folder_reads_no_link_and_no_more_than_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import feeds.sources.fetch
    from feeds.types import Source

    folder = tmp_path / "in"
    (folder / "b" / ".hidden").mkdir(parents=True)
    (folder / "z.txt").write_text("Z\n", encoding="utf-8")
    (folder / "b" / "a.txt").write_text("A\n", encoding="utf-8")
    (folder / "b" / ".hidden" / "h.txt").write_text("H\n", encoding="utf-8")
    (folder / "a b.txt").write_text("AB\n", encoding="utf-8")
    (folder / "big.txt").write_bytes(b"x" * 101)
    (folder / "link.txt").symlink_to(folder / "z.txt")
    monkeypatch.setattr(feeds.sources.fetch, "MAX_LOCAL_FILE", 100)
    got = feeds.sources.fetch.read_folder(Source(id="src", title="Src", path=folder))
    # Files of a folder before those of its subfolders, each in name order.
    assert [f.relpath for f in got.files] == ["a b.txt", "z.txt", "b/a.txt"]
    assert got.warnings == ("big.txt: skipped, larger than 100 bytes",
                            "link.txt: skipped, a symbolic link (links are not followed)")
