"""What a feed says about itself that the config need not: its title and its site.

A source whose ``[[sources]]`` table gives no ``title`` is shown under the title
its feed gives (in the feeds' ``<source>``, the index page, the health feed,
``sources.opml`` and ``feeds status``); a title in the config always wins. The
feed's site link becomes the source's ``htmlUrl`` in OPML exports.

Both are a stranger's text, kept in the state database between runs: they are
cleaned when the feed is read and again when they are read back, so that a
title is one line of XML-safe text without control characters or direction
overrides, at most ``MAX_TITLE_CHARS`` long, and a site link is an absolute
http(s) URL. Pure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from feeds.redact import strip_controls
from feeds.types import Config
from feeds.xmlchars import xml_safe

MAX_TITLE_CHARS = 120
MAX_URL_CHARS = 2048

_MARKUP = re.compile(r"<[A-Za-z/!?]")
_WEB = re.compile(r"https?://[^\s/?#]+", re.I)


@dataclass(frozen=True)
class FeedInfo:
    """A feed's own title and site link, cleaned (None when it gave none)."""

    title: str | None = None
    home_page: str | None = None


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:-–—") or text[:limit]
    return cut + "…"


def clean_title(raw: str | None) -> str | None:
    """``raw`` as a source's display title: one line of plain, XML-safe text
    without controls or direction marks, cut at a word past ``MAX_TITLE_CHARS``;
    None if nothing is left. Markup (a title given as HTML) is reduced to its text."""
    if not raw:
        return None
    text = raw[: MAX_TITLE_CHARS * 8]  # what cleaning can shrink, it shrinks from this much
    if _MARKUP.search(text):
        from feeds.stories.sanitize import html_to_text

        text = html_to_text(text)
    text = strip_controls(xml_safe(text))
    return _cut(text, MAX_TITLE_CHARS) or None


def _plain_web_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL of sane length without controls or spaces."""
    if not url or len(url) > MAX_URL_CHARS or not _WEB.match(url):
        return None
    if url != strip_controls(xml_safe(url)) or " " in url:
        return None
    return url


def clean_home_page(raw: str | None, document_url: str | None = None) -> str | None:
    """The feed's site link as an absolute, canonical http(s) URL, or None."""
    if not raw or len(raw) > MAX_URL_CHARS:
        return None
    from feeds.stories.normalize import web_url

    return _plain_web_url(web_url(raw, document_url))


def encode(info: FeedInfo) -> str:
    return json.dumps({"title": info.title, "home_page": info.home_page}, ensure_ascii=False,
                      sort_keys=True)


def decode(text: str) -> FeedInfo:
    """A stored ``FeedInfo``, cleaned again: the database may have been written by
    another version, or by hand. Anything unreadable is an empty ``FeedInfo``."""
    try:
        raw = json.loads(text)
    except ValueError:
        return FeedInfo()
    if not isinstance(raw, dict):
        return FeedInfo()
    title, home = raw.get("title"), raw.get("home_page")
    return FeedInfo(clean_title(title) if isinstance(title, str) else None,
                    _plain_web_url(home) if isinstance(home, str) else None)


def with_feed_titles(config: Config, infos: Mapping[str, FeedInfo]) -> Config:
    """``config`` with each source that has no title of its own in the config
    named by its feed's title, where the state database knows one."""
    sources = tuple(
        replace(s, title=info.title)
        if not s.title_given and (info := infos.get(s.id)) is not None and info.title else s
        for s in config.sources)
    if sources == config.sources:
        return config
    return replace(config, sources=sources)


def home_pages(infos: Mapping[str, FeedInfo]) -> dict[str, str]:
    """Source id → the site its feed links to, for OPML's ``htmlUrl``."""
    return {sid: info.home_page for sid, info in infos.items() if info.home_page}
