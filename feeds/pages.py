"""HTML pages: the index of topics, and a page for each local article.

Pure string rendering; no JavaScript, readable on a phone. Deterministic: no
clock, only what the entries say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from feeds.emit import FeedView, Item, ordered_items
from feeds.jsonfeed import json_feed_url

_STYLE = """
:root { color-scheme: light dark; --muted: #666; --rule: #ddd; --accent: #0b57d0; }
@media (prefers-color-scheme: dark) { :root { --muted: #aaa; --rule: #444; --accent: #8ab4f8; } }
* { box-sizing: border-box; }
body { font: 17px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       max-width: 46rem; margin: 0 auto; padding: 1rem; }
header { border-bottom: 1px solid var(--rule); margin-bottom: 1.5rem; }
h1 { font-size: 1.6rem; margin: .5rem 0; }
h2 { font-size: 1.25rem; margin: 2rem 0 .25rem; }
a { color: var(--accent); }
.sub { color: var(--muted); font-size: .9rem; margin: 0 0 .75rem; }
.subscribe a { margin-right: .75rem; }
ol { padding-left: 1.2rem; }
li { margin: .5rem 0; }
.meta { color: var(--muted); font-size: .85rem; display: block; }
article img, article video { max-width: 100%; height: auto; }
footer { border-top: 1px solid var(--rule); margin-top: 2rem; color: var(--muted); font-size: .85rem; }
""".strip()

HEADLINES_PER_TOPIC = 10


@dataclass(frozen=True)
class Site:
    title: str
    description: str
    base_url: str
    language: str
    status_page: bool = False  # link status.html ([site] public_status)


def _date(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def _head(site: Site, title: str, extra: str = "") -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(site.language)}">\n<head>\n'
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n{extra}<style>\n{_STYLE}\n</style>\n</head>\n"
    )


def _headline(item: Item) -> str:
    e = item.entry
    title = escape(e.title)
    link = f'<a href="{escape(e.link)}">{title}</a>' if e.link else title
    when = e.published.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f'<li>{link}<span class="meta">{escape(item.source_title)} · '
        f'<time datetime="{when}">{_date(e.published)}</time></span></li>'
    )


def render_index(site: Site, views: Sequence[FeedView]) -> bytes:
    """The front page: every topic, its latest headlines, and links to subscribe."""
    alternates = "".join(
        f'<link rel="alternate" type="application/atom+xml" title="{escape(v.title)} (Atom)" '
        f'href="{escape(v.atom_url)}">\n'
        f'<link rel="alternate" type="application/rss+xml" title="{escape(v.title)} (RSS)" '
        f'href="{escape(v.rss_url)}">\n'
        f'<link rel="alternate" type="application/feed+json" title="{escape(v.title)} (JSON Feed)" '
        f'href="{escape(json_feed_url(v.atom_url))}">\n'
        for v in views
    )
    parts = [_head(site, site.title, alternates), "<body>\n<header>\n",
             f"<h1>{escape(site.title)}</h1>\n"]
    if site.description:
        parts.append(f'<p class="sub">{escape(site.description)}</p>\n')
    parts.append("<nav><p class=\"sub\">Topics: " + " · ".join(
        f'<a href="#{escape(v.topic)}">{escape(v.label or v.title)}</a>' for v in views) + "</p></nav>\n")
    parts.append("</header>\n<main>\n")
    for v in views:
        parts.append(f'<section id="{escape(v.topic)}">\n<h2>{escape(v.label or v.title)}</h2>\n')
        if v.description:
            parts.append(f'<p class="sub">{escape(v.description)}</p>\n')
        parts.append(
            f'<p class="sub subscribe">Subscribe: <a href="{escape(v.atom_url)}">Atom</a>'
            f'<a href="{escape(v.rss_url)}">RSS</a>'
            f'<a href="{escape(json_feed_url(v.atom_url))}">JSON Feed</a></p>\n'
        )
        latest = ordered_items(v.items)
        if latest:
            parts.append("<ol>\n" + "\n".join(
                _headline(i) for i in latest[:HEADLINES_PER_TOPIC]) + "\n</ol>\n")
        else:
            parts.append('<p class="sub">No entries yet.</p>\n')
        parts.append("</section>\n")
    parts.append(
        "</main>\n<footer><p>"
        f'<a href="{escape(site.base_url)}sources.opml">All sources (OPML)</a> · '
        f'<a href="{escape(site.base_url)}health.atom">Source health</a> · '
        + (f'<a href="{escape(site.base_url)}status.html">Source status</a> · '
           if site.status_page else "") +
        "Made with feeds.</p></footer>\n</body>\n</html>\n")
    # Entries hold no lone surrogates (xmlchars); "replace" keeps the page if one slips through.
    return "".join(parts).encode("utf-8", "replace")


def render_article(site: Site, item: Item) -> bytes:
    """A page for a local article, so that its link in the feeds leads somewhere."""
    e = item.entry
    authors = ", ".join(a.name for a in e.authors)
    when = e.published.strftime("%Y-%m-%dT%H:%M:%SZ")
    canonical = f'<link rel="canonical" href="{escape(e.link)}">\n' if e.link else ""
    body = e.content_html or e.summary_html
    return (
        _head(site, f"{e.title} · {site.title}", canonical)
        + "<body>\n<header>\n"
        + f'<p class="sub"><a href="{escape(site.base_url)}">{escape(site.title)}</a></p>\n'
        + "</header>\n<main>\n<article>\n"
        + f"<h1>{escape(e.title)}</h1>\n"
        + f'<p class="sub">{escape(authors)} · <time datetime="{when}">{_date(e.published)}</time></p>\n'
        + f"{body}\n</article>\n</main>\n</body>\n</html>\n"
    ).encode("utf-8")
