"""Find and check a feed from a URL an operator gives: the feed itself, or a page
that advertises it with <link rel="alternate"> (RSS, Atom or JSON Feed)."""

from __future__ import annotations

from dataclasses import dataclass

from feeds.errors import FetchError, ParseError, SourceError
from feeds.parse.adapter import advertised_feeds, parse_document
from feeds.sources.fetch import fetch_one, make_client
from feeds.types import Document, FetchSettings, HttpCache, Source

# The given URL and at most this many of the feeds its page advertises.
MAX_CANDIDATES = 4


@dataclass(frozen=True)
class Discovery:
    """The feed found for a URL, and what the page offered besides."""

    feed_url: str  # where the feed was fetched (after redirects)
    title: str | None  # the feed's own title, as it gave it
    # The feeds the given page advertises, in its order (empty when the URL
    # was a feed itself); the chosen one is among them.
    advertised: tuple[str, ...] = ()
    chosen: str | None = None  # the advertised URL that was taken, as the page wrote it
    failed: tuple[tuple[str, str], ...] = ()  # advertised URLs tried before it: (url, why)


async def discover_feed(url: str, settings: FetchSettings, source_id: str = "new") -> Discovery:
    """The working feed at or advertised by ``url``.

    The feeds a page advertises are tried in the page's order, and the first that
    works is taken. Raises ``FetchError`` or ``ParseError`` for ``source_id`` (the
    id the new source would have) when there is none: the error of ``url``
    itself, or of the first advertised feed when the page advertises some.
    """
    async with make_client(settings) as client:
        candidates = [url]
        tried: list[str] = []
        advertised: list[str] = []
        failed: list[tuple[str, str]] = []
        first_error: SourceError | None = None
        while candidates and len(tried) < MAX_CANDIDATES:
            candidate = candidates.pop(0)
            tried.append(candidate)
            page: Document | None = None
            try:
                got = await fetch_one(client, Source(source_id, source_id, url=candidate), HttpCache(),
                                      settings)
                if not isinstance(got, Document):  # a 304 to a request without validators
                    raise FetchError(source_id, f"unexpected answer from {candidate}")
                page = got
                feed = parse_document(page)
            except (FetchError, ParseError) as failure:
                if candidate == url:
                    advertised = (advertised_feeds(page.body, page.url) if page is not None else [])
                    found = [u for u in advertised if u not in tried]
                    if not found:
                        raise
                    candidates.extend(found)
                else:
                    failed.append((candidate, failure.message))
                    if first_error is None:
                        first_error = failure
                continue
            return Discovery(page.url, feed.title, tuple(advertised),
                             None if candidate == url else candidate, tuple(failed))
    if first_error is not None:
        raise first_error
    raise ParseError(source_id, f"no feed found at {url}")
