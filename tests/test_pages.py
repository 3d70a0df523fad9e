"""The HTML pages: themes from config/templates/, and what the index page shows."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import Project
from helpers import NOW, SEED_TITLE, make_entry, run_cli

from feeds.errors import EmitError
from feeds.publish.emit import FeedView, Item, Related
from feeds.publish.pages import Site, render_article, render_index, site_href, summary_line
from feeds.publish.templating import Templates, check_templates

BASE = "https://feeds.test/"
SITE = Site("Test Wire", "Feeds under test", BASE, "en")
VOID = {"meta", "link", "br", "img", "hr", "input", "source", "wbr", "area", "col", "embed", "track"}


class _Structure(HTMLParser):
    """Tags as a browser's tokenizer sees them, and whether each closes what it opened."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.links: list[str] = []
        self.anchors: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in ("href", "src")]
        if tag == "a":
            self.anchors += [v or "" for k, v in attrs if k == "href"]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def structure(page: bytes) -> _Structure:
    parser = _Structure()
    parser.feed(page.decode("utf-8"))
    parser.close()
    assert parser.problems == [] and parser.stack == [], (parser.problems, parser.stack)
    assert page.startswith(b"<!DOCTYPE html>\n")
    return parser


def write_template(project: Project, name: str, text: str) -> Path:
    path = project.root / "config" / "templates" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def view(topic: str, items: list[Item], links: tuple[tuple[str, str], ...] = ()) -> FeedView:
    return FeedView(topic=topic, title=f"Test Wire: {topic}", description="", site_url=BASE,
                    atom_url=f"{BASE}{topic}.atom", rss_url=f"{BASE}{topic}.rss", author="Desk",
                    language="en", items=items, links=links, label=topic.upper())


# --- themes -------------------------------------------------------------------------


def test_an_index_template_in_config_templates_replaces_the_shipped_one(project: Project) -> None:
    write_template(project, "index.html", (
        "<!DOCTYPE html>\n<title>{{ site.title }}</title>\n<h1>My own theme</h1>\n"
        "{% for t in topics %}{% for h in t.headlines %}<p class=mine>{{ h.title }} / {{ h.source }}</p>"
        "{% endfor %}{% endfor %}\n"))
    code, _out, err = run_cli(project.root, "run")
    assert code == 0, err
    index = (project.public / "index.html").read_text(encoding="utf-8")
    assert "<h1>My own theme</h1>" in index and "<section" not in index
    assert f"<p class=mine>{SEED_TITLE} / Local articles</p>" in index
    # The article pages keep the shipped template: only index.html was overridden.
    page = next((project.public / "articles" / "seeds").glob("*.html")).read_text(encoding="utf-8")
    assert "<article>" in page and "My own theme" not in page


def test_an_override_can_extend_the_shipped_template_and_change_one_block(project: Project) -> None:
    write_template(project, "index.html",
                   '{% extends "feeds/index.html" %}\n'
                   "{% block footer %}<footer><p>Run by the {{ site.title }} desk</p></footer>"
                   "{% endblock %}\n")
    write_template(project, "style.css", "body { background: #fed; }\n")
    assert run_cli(project.root, "run")[0] == 0
    index = (project.public / "index.html").read_bytes()
    text = index.decode()
    assert "<footer><p>Run by the Test Wire desk</p></footer>" in text
    assert "All sources (OPML)" not in text  # the shipped footer is gone...
    assert SEED_TITLE in text and '<section id="ai">' in text  # ...and the rest is the shipped page
    structure(index)
    # style.css alone restyles every page, the article pages too.
    page = next((project.public / "articles" / "seeds").glob("*.html")).read_text(encoding="utf-8")
    for html in (text, page):
        assert "<style>\nbody { background: #fed; }\n</style>" in html


def test_an_edited_template_is_published_though_no_entry_changed(project: Project) -> None:
    assert run_cli(project.root, "run")[0] == 0
    write_template(project, "index.html", '{% extends "feeds/index.html" %}{% block title %}v1{% endblock %}')
    code, out, _err = run_cli(project.root, "-v", "run")
    assert code == 0 and "index.html" in out
    assert "<title>v1</title>" in (project.public / "index.html").read_text(encoding="utf-8")
    write_template(project, "index.html", '{% extends "feeds/index.html" %}{% block title %}v2{% endblock %}')
    assert run_cli(project.root, "run")[0] == 0
    assert "<title>v2</title>" in (project.public / "index.html").read_text(encoding="utf-8")


def test_a_broken_template_is_a_config_error_with_file_and_line(project: Project) -> None:
    write_template(project, "index.html",
                   '{% extends "base.html" %}\n{% block main %}\n<p>{{ site.title }</p>\n{% endblock %}\n')
    code, _out, err = run_cli(project.root, "check")
    assert code == 2
    assert "error: config/templates/index.html:3: template syntax error: unexpected '}'" in err
    assert "Traceback" not in err
    # feeds run refuses it the same way, before fetching or writing anything.
    code, _out, err = run_cli(project.root, "run")
    assert code == 2 and "config/templates/index.html:3:" in err and "nothing was done" in err
    assert not project.public.exists()
    assert not (project.root / "var" / "state.db").exists()


def test_check_renders_templates_with_sample_data(project: Project) -> None:
    """Errors that only rendering finds: a misspelt variable, an error in a template
    another includes (named once, with the page it broke), an unknown include."""
    write_template(project, "article.html",
                   '{% extends "feeds/article.html" %}\n{% block main %}\n\n{{ article.titel }}\n'
                   "{% endblock %}\n")
    write_template(project, "base.html", '{% extends "feeds/base.html" %}\n{% block script %}'
                   '{% include "missing.html" %}{% endblock %}\n')
    errors = [str(e) for e in check_templates(project.root)]
    assert ("config/templates/article.html:4: undefined: 'feeds.publish.pages.ArticleView object' "
            "has no attribute 'titel'") in errors
    missing = [e for e in errors if "missing.html" in e]
    assert missing == [
        "config/templates/base.html:2: template not found: missing.html (rendering index.html)"]
    code, _out, err = run_cli(project.root, "check")
    assert code == 2 and "2 problems in the templates" in err


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("index.html", b"\xff\xfe{{ x }}", "config/templates/index.html: the template is not UTF-8 text"),
    ("partial.html", b"{% if %}", "config/templates/partial.html:1: template syntax error: Expected an "
                                  "expression"),
])
def test_every_file_in_config_templates_must_compile(project: Project, name: str, data: bytes,
                                                      expected: str) -> None:
    (project.root / "config" / "templates").mkdir()
    (project.root / "config" / "templates" / name).write_bytes(data)
    assert any(str(e).startswith(expected) for e in check_templates(project.root)), \
        [str(e) for e in check_templates(project.root)]


def test_config_templates_must_be_a_folder(project: Project) -> None:
    (project.root / "config" / "templates").write_text("oops", encoding="utf-8")
    code, _out, err = run_cli(project.root, "run")
    assert code == 2 and "config/templates: is not a folder" in err


def test_a_template_failing_only_on_real_data_falls_back_with_a_warning(project: Project) -> None:
    """The sample data has two topics; this project has four. The run still
    publishes, with the shipped index, and says which line failed."""
    write_template(project, "index.html", '{% extends "feeds/index.html" %}\n{% block title %}\n'
                   "{% if topics | length != 2 %}{{ no_such_thing }}{% endif %}\n{% endblock %}\n")
    assert run_cli(project.root, "check")[0] == 0
    code, out, err = run_cli(project.root, "run")
    assert code == 0, err
    assert "warning config/templates/index.html:3: undefined: 'no_such_thing' is undefined; index.html was " \
           "rendered with the shipped template instead" in out
    index = (project.public / "index.html").read_bytes()
    assert SEED_TITLE.encode() in index and b"<title>Test Wire</title>" in index
    structure(index)


def test_shipped_templates_pass_the_check(tmp_path: Path) -> None:
    assert check_templates(tmp_path) == []


# --- the index page ----------------------------------------------------------------------


def test_index_shows_source_date_summary_count_and_archive(project: Project) -> None:
    project.write_feeds(max_entries=2)
    (project.root / "seeds" / "000.txt").unlink(missing_ok=True)
    for path in (project.root / "seeds").iterdir():
        path.unlink()
    for day in range(1, 6):
        (project.root / "seeds" / f"n{day}.md").write_text(
            f"---\ntitle: AI note {day}\ndate: 2026-11-0{day}T08:30:00Z\n---\n"
            f"Text about AI, day {day}. " + "More words follow here. " * 20 + "\n", encoding="utf-8")
        assert run_cli(project.root, "run")[0] == 0  # one new story a run: archive pages
    index = (project.public / "index.html").read_bytes()
    page = structure(index)
    text = index.decode()
    ai = text[text.index('<section id="ai">'):text.index("</section>", text.index('<section id="ai">'))]
    assert "5 stories · updated <time datetime=\"2026-11-05T08:30:00Z\" data-local=\"time\">" \
           "2026-11-05 08:30 UTC</time>" in ai
    assert '<a href="archive/ai/2.atom" type="application/atom+xml" rel="prev-archive">' in ai
    assert ai.count("<li>") == 2  # the feed's entries; the rest are in the archive
    assert 'Local articles · <time datetime="2026-11-05T08:30:00Z" data-local="date">2026-11-05</time>' in ai
    summary = re.search(r'<span class="summary">([^<]*)</span>', ai)
    assert summary is not None
    assert summary.group(1).startswith("Text about AI, day 5. More words") and summary.group(1).endswith("…")
    assert len(summary.group(1)) <= 201 and not summary.group(1).endswith(" …")
    # Every link into the site is relative and leads to a file that is there.
    inside = [h for h in page.links if not urlsplit(h).scheme and not h.startswith("#")]
    assert {"ai.atom", "ai.rss", "ai.json", "archive/ai/2.atom", "sources.opml", "health.atom"} <= set(inside)
    assert any(h.startswith("articles/seeds/") for h in inside)
    for href in inside:
        assert (project.public / href).is_file(), href
    assert not [h for h in page.anchors if h.startswith(BASE)]  # no link to a page of ours is absolute
    # The feeds keep absolute addresses, and so does autodiscovery.
    assert ('<link rel="alternate" type="application/atom+xml" title="Test Wire: AI (Atom)" '
            f'href="{BASE}ai.atom">') in text
    assert b"https://feeds.test/archive/ai/2.atom" in (project.public / "ai.atom").read_bytes()
    # An article page links back to the index relatively, and keeps its canonical address.
    article = next((project.public / "articles" / "seeds").glob("*.html"))
    links = structure(article.read_bytes()).links
    assert "../../index.html" in links and (article.parent / "../../index.html").is_file()
    assert any(h.startswith(f"{BASE}articles/seeds/") for h in links)  # rel="canonical"


def test_index_escapes_what_sources_say_and_is_deterministic() -> None:
    hostile = "<script>alert(1)</script> & \"quotes\" 'too'"
    item = Item("urn:x:1", make_entry(title=hostile, summary_text=f"<img src=x onerror=alert(1)> {hostile}",
                                      link="https://example.com/a?x=1&y=\"2\""),
                f"<b>{hostile}</b>", None, (Related("<i>other</i>", None),))
    views = [view("ai", [item], links=(("prev-archive", f"{BASE}archive/ai/1.atom"),))]
    site = Site('Wire <em>"x"</em>', "<b>d</b>", BASE, 'en"><script>')
    first = render_index(site, views, {"ai": 7})
    assert first == render_index(site, views, {"ai": 7})
    page = structure(first)
    assert page.tags.count("script") == 1  # ours, for local times; none from the data
    text = first.decode()
    assert "<script>alert" not in text and "<img" not in text and "<b>" not in text and "<em>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34; &#39;too&#39;" in text
    assert 'href="https://example.com/a?x=1&amp;y=&#34;2&#34;"' in text
    assert "(also &lt;i&gt;other&lt;/i&gt;)" in text and "7 stories" in text
    assert '<html lang="en&#34;&gt;&lt;script&gt;">' in text


def test_article_page_is_escaped_and_keeps_its_sanitised_body() -> None:
    entry = make_entry(title="<script>x</script>", content_html="<p>Body <em>kept</em></p>",
                       link=f"{BASE}articles/seeds/a.html")
    page = render_article(SITE, Item("urn:x:1", entry, "Seeds", None))
    text = page.decode()
    structure(page)
    assert "<h1>&lt;script&gt;x&lt;/script&gt;</h1>" in text and "<p>Body <em>kept</em></p>" in text
    assert f'<link rel="canonical" href="{BASE}articles/seeds/a.html">' in text
    assert '<a href="../../index.html">Test Wire</a>' in text  # works from the file system too


def test_headlines_link_to_our_pages_relatively_and_elsewhere_absolutely() -> None:
    entries = [make_entry(item_key=f"guid:{n}", link=link, title=f"T{n}", published=NOW)
               for n, link in enumerate([f"{BASE}articles/seeds/a.html", "https://elsewhere.example/b",
                                         f"{BASE}javascript:alert(1)", None])]
    text = render_index(SITE, [view("ai", [Item(f"urn:x:{n}", e, "S", None)
                                           for n, e in enumerate(entries)])]).decode()
    assert '<a href="articles/seeds/a.html">T0</a>' in text
    assert '<a href="https://elsewhere.example/b">T1</a>' in text
    assert f'<a href="{BASE}javascript:alert(1)">T2</a>' in text  # never a scheme of its own
    assert '<li>T3<span class="meta">' in text  # no link, no anchor


@pytest.mark.parametrize(("url", "up", "expected"), [
    (f"{BASE}ai.atom", "", "ai.atom"),
    (f"{BASE}archive/ai/3.atom", "", "archive/ai/3.atom"),
    (f"{BASE}articles/s/x.html", "../../", "../../articles/s/x.html"),
    (BASE, "../../", "../../index.html"),
    # What would leave the site's folder or read as a scheme stays absolute.
    (f"{BASE}javascript:alert(1)", "", f"{BASE}javascript:alert(1)"),
    (f"{BASE}/evil.example/x", "", f"{BASE}/evil.example/x"),
    (f"{BASE}\\evil.example", "", f"{BASE}\\evil.example"),
    (f"{BASE}a//b", "", f"{BASE}a//b"),
    (f"{BASE}a b", "", f"{BASE}a b"),
    (f"{BASE}x?q=1", "", f"{BASE}x?q=1"),
    ("https://feeds.test.evil.example/x", "", "https://feeds.test.evil.example/x"),
    ("https://elsewhere.example/ai.atom", "", "https://elsewhere.example/ai.atom"),
])
def test_site_href(url: str, up: str, expected: str) -> None:
    assert site_href(url, BASE, up) == expected


def test_summary_line() -> None:
    text = "word " * 100
    cut = summary_line(text, limit=50)
    assert cut.endswith("…") and len(cut) <= 51 and cut[:-1] == ("word " * 10).strip()
    assert summary_line("  one\n two  ") == "one two"
    assert summary_line("The Title", "The  Title") == ""  # only repeats the headline
    assert summary_line("x" * 300, limit=50) == "x" * 50 + "…"  # no word to cut at
    assert summary_line("a, " + "b" * 60, limit=50) == "a, " + "b" * 47 + "…"


def test_an_error_in_a_shipped_template_is_an_emit_error_not_a_fallback() -> None:
    shipped = r"index.html: cannot render the shipped template: .*'topics' is undefined"
    with pytest.raises(EmitError, match=shipped):
        Templates(None).render("index.html", site=SITE, home="index.html")


def test_the_shipped_templates_are_package_data() -> None:
    """Every file in feeds/publish/templates/ goes into the wheel (pyproject's package-data)."""
    import fnmatch
    import tomllib

    from feeds.publish.templating import SHIPPED_DIR

    globs = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))[
        "tool"]["setuptools"]["package-data"]["feeds.publish"]
    files = sorted(p.relative_to(SHIPPED_DIR.parent).as_posix()
                   for p in SHIPPED_DIR.rglob("*") if p.is_file())
    assert {"templates/index.html", "templates/article.html", "templates/base.html",
            "templates/style.css"} <= set(files)
    assert all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files), (files, globs)
