"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1) from the same ``FeedView`` as Atom and RSS.

Pure and deterministic like ``emit``: the same view gives the same bytes, so a
run that changes nothing rewrites nothing. The items, their order and their ids
are those of the Atom and RSS files, so a reader that switches format sees the
same entries and does not mark them unread again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from feeds.publish.emit import FeedView, Item, ordered_items
from feeds.stories.sanitize import text_to_html
from feeds.types import Person

VERSION = "https://jsonfeed.org/version/1.1"
MEDIA_TYPE = "application/feed+json"


def json_feed_url(atom_url: str) -> str:
    """The .json address beside a topic's .atom address (``ai.atom`` → ``ai.json``)."""
    return atom_url.removesuffix(".atom") + ".json"


def rfc3339(moment: datetime) -> str:
    # Entries hold aware UTC times; "Z" rather than "+00:00" is what most
    # JSON Feed readers and validators expect. Whole seconds stay short.
    moment = moment.astimezone(UTC)
    spec = "seconds" if moment.microsecond == 0 else "microseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _author(person: Person) -> dict[str, str]:
    out = {"name": person.name}
    # JSON Feed has no e-mail field; the spec allows a mailto: URL instead.
    url = person.uri or (f"mailto:{person.email}" if person.email else None)
    if url:
        out["url"] = url
    return out


def _item(item: Item) -> dict[str, Any]:
    e = item.entry
    out: dict[str, Any] = {"id": item.id}
    if e.link:
        out["url"] = e.link
    out["title"] = e.title
    # The spec requires content_html or content_text; fall back the way
    # render_atom does so an entry without a body still says something.
    out["content_html"] = e.content_html or e.summary_html or text_to_html(e.title)
    if e.summary_text:
        out["summary"] = e.summary_text
    out["date_published"] = rfc3339(e.published)
    out["date_modified"] = rfc3339(e.updated)
    authors = [_author(a) for a in e.authors if a.name]
    if authors:
        out["authors"] = authors
    if e.categories:
        out["tags"] = list(e.categories)
    if e.language:
        out["language"] = e.language
    if e.enclosures:
        attachments: list[dict[str, Any]] = []
        for enc in e.enclosures:
            attachment: dict[str, Any] = {"url": enc.url, "mime_type": enc.type}
            if enc.length > 0:  # 0 means unknown in our model; the spec wants it left out
                attachment["size_in_bytes"] = enc.length
            attachments.append(attachment)
        out["attachments"] = attachments
    # An extension object (leading underscore, which readers must ignore if
    # they do not know it) plays the part of Atom's <source>.
    source: dict[str, str] = {"title": item.source_title}
    if item.source_url:
        source["url"] = item.source_url
    out["_source"] = source
    return out


def render_json(view: FeedView) -> bytes:
    """The topic's JSON Feed as UTF-8 bytes ending in a newline.

    ``view.hub``: a WebSub hub to advertise, so that readers can subscribe for pushes.
    """
    feed: dict[str, Any] = {
        "version": VERSION,
        "title": view.title,
        "home_page_url": view.site_url,
        "feed_url": json_feed_url(view.atom_url),
    }
    if view.description:
        feed["description"] = view.description
    if view.language:
        feed["language"] = view.language
    if view.author:
        feed["authors"] = [{"name": view.author}]
    if view.hub:
        feed["hubs"] = [{"type": "WebSub", "url": view.hub}]
    feed["items"] = [_item(i) for i in ordered_items(view.items)]
    # Insertion order is fixed above, so no sort_keys: the file reads in the
    # order of the spec. ensure_ascii=False keeps titles readable and small.
    # "replace": entries are xml_safe (no lone surrogates) when normalised and when
    # read back; should one slip through, it costs a character, not the feed.
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8", "replace")
