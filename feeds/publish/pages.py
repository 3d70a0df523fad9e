"""HTML pages: the index of topics, and a page for each local article.

Each page is a template (``feeds/templates/``, or the operator's own in
``config/templates/``: see ``feeds.publish.templating``) given the plain values built
here. Deterministic: no clock, only what the entries say. Links to our own files
are relative, so the site can be previewed from ``feeds serve`` or the file
system; the feeds' own addresses (autodiscovery, canonical) stay absolute.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup

from feeds.publish.emit import FeedView, Item, ordered_items
from feeds.publish.jsonfeed import json_feed_url
from feeds.publish.templating import Templates
from feeds.types import Entry, Person

HEADLINES_PER_TOPIC = 10
SUMMARY_CHARS = 200  # about two lines on a desktop, three or four on a phone


@dataclass(frozen=True)
class Site:
    title: str
    description: str
    base_url: str
    language: str
    status_page: bool = False  # link status.html ([site] public_status)


@dataclass(frozen=True)
class Moment:
    """A time as pages show it: ``iso`` for ``<time datetime>``, ``date`` and
    ``text`` (with its zone, UTC) for readers without scripts."""

    iso: str
    date: str
    text: str

    @classmethod
    def of(cls, value: datetime) -> Moment:
        value = value.astimezone(UTC)
        return cls(value.strftime("%Y-%m-%dT%H:%M:%SZ"), value.strftime("%Y-%m-%d"),
                   value.strftime("%Y-%m-%d %H:%M UTC"))


@dataclass(frozen=True)
class FeedLinks:
    atom: str
    rss: str
    json: str


@dataclass(frozen=True)
class Headline:
    title: str
    href: str | None  # relative when it is a page of ours
    source: str
    also: tuple[str, ...]  # other sources that carried the same story
    published: Moment
    summary: str  # plain text, cut at a word


@dataclass(frozen=True)
class TopicSection:
    id: str
    name: str  # the topic's own name
    title: str  # its feeds' title (with the site's)
    description: str
    count: int  # stories the topic holds, its archive included
    updated: Moment | None  # None while it has no entries
    headlines: tuple[Headline, ...]
    feeds: FeedLinks  # relative, for people
    feed_urls: FeedLinks  # absolute, for feed readers' autodiscovery
    archive_href: str | None  # the newest archive page, when there are older stories


@dataclass(frozen=True)
class SiteLinks:
    opml: str
    health: str
    status: str | None = None  # the status page, when it is public


@dataclass(frozen=True)
class ArticleView:
    title: str
    source: str
    authors: str
    published: Moment
    updated: Moment
    body: Markup  # sanitised when the article was read
    canonical: str | None


# What a relative link may be: our own file names (topics, archive/<topic>/<n>.atom,
# articles/<source>/<slug>.html). Anything else (a ":" that would read as a scheme,
# a leading "/" or "\" that would leave the site's folder) stays absolute.
_RELATIVE = re.compile(r"[A-Za-z0-9_~.-][A-Za-z0-9_~.%/-]*")


def site_href(url: str, base_url: str, up: str = "") -> str:
    """``url`` relative to a page ``up`` (``""`` or ``"../../"``) below the site's
    root, when it is a file of the site; otherwise ``url`` as it is."""
    if base_url and url.startswith(base_url):
        rest = url[len(base_url):]
        if not rest:
            return up + "index.html"
        if _RELATIVE.fullmatch(rest) and "//" not in rest:
            return up + rest
    return url


def summary_line(text: str, title: str = "", limit: int = SUMMARY_CHARS) -> str:
    """``text`` on one line, cut at a word within ``limit`` characters with "…";
    empty when it only repeats the title."""
    flat = " ".join(text.split())
    if not flat or flat == " ".join(title.split()):
        return ""
    if len(flat) <= limit:
        return flat
    cut = flat[: limit + 1]
    space = cut.rfind(" ")
    # No space in the second half: a word that long (a URL) is cut where it stands.
    cut = cut[:space] if space > limit // 2 else flat[:limit]
    return cut.rstrip(" ,;:-–—") + "…"


def _headline(item: Item, base_url: str) -> Headline:
    e = item.entry
    return Headline(
        title=e.title, href=site_href(e.link, base_url) if e.link else None, source=item.source_title,
        also=tuple(dict.fromkeys(r.title for r in item.related if r.title != item.source_title)),
        published=Moment.of(e.published), summary=summary_line(e.summary_text, e.title))


def _section(view: FeedView, base_url: str, count: int | None) -> TopicSection:
    latest = ordered_items(view.items)
    archive = next((href for rel, href in view.links if rel == "prev-archive"), None)
    absolute = FeedLinks(view.atom_url, view.rss_url, json_feed_url(view.atom_url))
    return TopicSection(
        id=view.topic, name=view.label or view.title, title=view.title, description=view.description,
        count=len(view.items) if count is None else count,
        updated=Moment.of(view.updated) if view.items else None,
        headlines=tuple(_headline(i, base_url) for i in latest[:HEADLINES_PER_TOPIC]),
        feeds=FeedLinks(*(site_href(u, base_url) for u in (absolute.atom, absolute.rss, absolute.json))),
        feed_urls=absolute,
        archive_href=site_href(archive, base_url) if archive else None)


def index_context(site: Site, views: Sequence[FeedView], counts: Mapping[str, int] | None = None,
                  status_url: str | None = None) -> dict[str, object]:
    """What ``index.html`` is given. ``counts``: each topic's stories, archive included
    (without it, the stories in its feed)."""
    if status_url is None and site.status_page:
        status_url = f"{site.base_url}status.html"
    counts = counts or {}
    return {
        "site": site, "home": "index.html",
        "topics": [_section(v, site.base_url, counts.get(v.topic)) for v in views],
        "links": SiteLinks(opml=site_href(f"{site.base_url}sources.opml", site.base_url),
                           health=site_href(f"{site.base_url}health.atom", site.base_url),
                           status=site_href(status_url, site.base_url) if status_url else None),
    }


def article_context(site: Site, item: Item) -> dict[str, object]:
    """What ``article.html`` is given. Article pages live at ``articles/<source>/``."""
    e = item.entry
    return {
        "site": site, "home": "../../index.html",
        "article": ArticleView(
            title=e.title, source=item.source_title, authors=", ".join(a.name for a in e.authors),
            published=Moment.of(e.published), updated=Moment.of(e.updated),
            # Sanitised by nh3 when the article was normalised: it is HTML to show as it is.
            body=Markup(e.content_html or e.summary_html), canonical=e.link),
    }


def render_index(site: Site, views: Sequence[FeedView], counts: Mapping[str, int] | None = None, *,
                 templates: Templates | None = None, status_url: str | None = None) -> bytes:
    """The front page: every topic, its latest headlines, and links to subscribe."""
    return (templates or Templates()).render("index.html", **index_context(site, views, counts, status_url))


def render_article(site: Site, item: Item, *, templates: Templates | None = None) -> bytes:
    """A page for a local article, so that its link in the feeds leads somewhere."""
    return (templates or Templates()).render("article.html", **article_context(site, item))


def sample_contexts() -> dict[str, dict[str, object]]:
    """Each page template's context with made-up data that uses every field: a
    topic with an archive and a summary, one with no entries, an article with
    authors. ``feeds check`` renders the templates with these."""
    site = Site("Sample site", "What the site is about", "https://example.org/news/", "en")
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def entry(n: int, link: str | None) -> Entry:
        return Entry(
            source_id="sample", item_key=f"guid:{n}", url_key=link, link=link, title=f"Sample story {n}",
            summary_html="<p>A summary.</p>", content_html="<p>The <em>story</em> itself.</p>",
            summary_text="A summary of the story, long enough to be cut at a word " * 5,
            published=when, updated=when, authors=(Person("A. Writer"), Person("B. Editor")),
            categories=("sample",), enclosures=(), language="en", content_hash="sample")

    items = [Item(f"urn:sample:{n}", entry(n, link), "Sample source", None)
             for n, link in ((1, "https://example.org/elsewhere/1"),
                             (2, f"{site.base_url}articles/sample/2.html"), (3, None))]

    def view(topic: str, with_items: bool) -> FeedView:
        return FeedView(
            topic=topic, title=f"Sample site: {topic}", description=f"Stories about {topic}",
            site_url=site.base_url, atom_url=f"{site.base_url}{topic}.atom",
            rss_url=f"{site.base_url}{topic}.rss", author="Sample desk", language="en",
            items=items if with_items else [], label=topic.title(),
            links=(("prev-archive", f"{site.base_url}archive/{topic}/3.atom"),) if with_items else ())

    views = [view("sample", True), view("empty", False)]
    return {
        "index.html": index_context(site, views, {"sample": 123, "empty": 0},
                                    status_url=f"{site.base_url}status.html"),
        "article.html": article_context(site, items[1]),
    }
