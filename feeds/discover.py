"""Find and check a feed from a URL an operator gives: the feed itself, or a page
that advertises it with <link rel="alternate">."""

from __future__ import annotations

from feeds.errors import FetchError, ParseError
from feeds.fetch import fetch_one, make_client
from feeds.parse import advertised_feeds, parse_document
from feeds.types import Document, FetchSettings, HttpCache, Source


async def discover_feed(url: str, settings: FetchSettings) -> tuple[str, str | None]:
    """The URL of a working feed at or advertised by ``url``, and the feed's title.

    Raises ``FetchError`` or ``ParseError`` (for the source id ``new``) when there is none.
    """
    async with make_client(settings) as client:
        candidates = [url]
        tried: list[str] = []
        while candidates and len(tried) < 4:
            candidate = candidates.pop(0)
            tried.append(candidate)
            doc = await fetch_one(client, Source("new", "new", url=candidate), HttpCache(), settings)
            if not isinstance(doc, Document):  # a 304 to a request without validators
                raise FetchError("new", f"unexpected answer from {candidate}")
            try:
                feed = parse_document(doc)
            except ParseError:
                found = [u for u in advertised_feeds(doc.body, doc.url) if u not in tried]
                if not found or candidate != url:
                    raise
                candidates.extend(found)
                continue
            return doc.url, feed.title
    raise ParseError("new", f"no feed found at {url}")
