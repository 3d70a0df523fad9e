"""Find and check a feed from a URL an operator gives: the feed itself, or a page
that advertises it with <link rel="alternate"> (RSS, Atom or JSON Feed)."""

from __future__ import annotations

from feeds.errors import FetchError, ParseError, SourceError
from feeds.fetch import fetch_one, make_client
from feeds.parse import advertised_feeds, parse_document
from feeds.types import Document, FetchSettings, HttpCache, Source

# The given URL and at most this many of the feeds its page advertises.
MAX_CANDIDATES = 4


async def discover_feed(url: str, settings: FetchSettings) -> tuple[str, str | None]:
    """The URL of a working feed at or advertised by ``url``, and the feed's title.

    The feeds a page advertises are tried in the page's order, and the first that
    works is taken. Raises ``FetchError`` or ``ParseError`` (for the source id
    ``new``) when there is none: the error of ``url`` itself, or of the first
    advertised feed when the page advertises some.
    """
    async with make_client(settings) as client:
        candidates = [url]
        tried: list[str] = []
        first_error: SourceError | None = None
        while candidates and len(tried) < MAX_CANDIDATES:
            candidate = candidates.pop(0)
            tried.append(candidate)
            page: Document | None = None
            try:
                got = await fetch_one(client, Source("new", "new", url=candidate), HttpCache(), settings)
                if not isinstance(got, Document):  # a 304 to a request without validators
                    raise FetchError("new", f"unexpected answer from {candidate}")
                page = got
                feed = parse_document(page)
            except (FetchError, ParseError) as failure:
                if candidate == url:
                    found = ([u for u in advertised_feeds(page.body, page.url) if u not in tried]
                             if page is not None else [])
                    if not found:
                        raise
                    candidates.extend(found)
                elif first_error is None:
                    first_error = failure
                continue
            return page.url, feed.title
    if first_error is not None:
        raise first_error
    raise ParseError("new", f"no feed found at {url}")
