"""What the feeds show, read from the store: each topic's view (and the
all-topics one) and the operators' health feed.

Reads the store; renders nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from feeds.publish.archive import ArchivePage, archive_plan, archive_url
from feeds.redact import public_sources, strip_controls, url_policy
from feeds.store.protocol import StoreProtocol
from feeds.stories.dedupe import entry_id
from feeds.types import Config, Entry, Person

if TYPE_CHECKING:
    from feeds.publish.emit import FeedView

ALL_TOPIC = "all"


def read_topic_ids(config: Config, store: StoreProtocol) -> dict[str, list[str]]:
    """Each topic's cluster ids (and the all-topics feed's), newest first: read once
    per publication, for the feeds and their archives alike."""
    found = store.topic_cluster_ids(t.id for t in config.topics)
    ids = {t.id: found[t.id] for t in config.topics}
    ids[ALL_TOPIC] = found[None]
    return ids


def read_archive_plan(config: Config, store: StoreProtocol,
                      topic_ids: dict[str, list[str]]) -> list[ArchivePage]:
    """Every topic's archive pages (and the all-topics feed's), from the stories'
    stable positions; stories new to a topic get theirs here (``Store.archive_positions``)."""
    orders = store.archive_positions({None if t == ALL_TOPIC else t: ids for t, ids in topic_ids.items()})
    return archive_plan(config, topic_ids, {ALL_TOPIC if t is None else t: o for t, o in orders.items()})


def build_views(config: Config, store: StoreProtocol, topic_ids: dict[str, list[str]],
                newest_archive: Mapping[str, int]) -> list[FeedView]:
    """Each topic's view and then the all-topics one: its newest ``max_entries``
    stories, with a link to its newest archive page (``newest_archive``) when it
    has one."""
    from feeds.publish.clusters import cluster_item
    from feeds.publish.emit import FeedView

    s = config.settings
    empty_updated = _empty_updated(store)
    views: list[FeedView] = []
    topics: list[tuple[str, str, str, int]] = [
        (t.id, t.title, t.description, t.max_entries or s.max_entries) for t in config.topics]
    topics.append((ALL_TOPIC, f"{s.title}: all topics", s.description or f"Every entry of {s.title}",
                   s.max_entries))
    sources = public_sources(config.sources, url_policy(s))  # for <source>: no secrets
    for topic_id, title, description, limit in topics:
        ids = topic_ids[topic_id]
        items = [cluster_item(c, sources) for c in store.clusters(ids[:limit])]
        newest = newest_archive.get(topic_id)
        links = (("prev-archive", archive_url(s.base_url, topic_id, newest)),) if newest else ()
        label = "All topics" if topic_id == ALL_TOPIC else title
        if topic_id != ALL_TOPIC:
            title = f"{s.title}: {title}"
        views.append(FeedView(
            topic=topic_id, title=title, description=description,
            site_url=s.base_url, atom_url=f"{s.base_url}{topic_id}.atom",
            rss_url=f"{s.base_url}{topic_id}.rss", author=s.author, language=s.language,
            items=items, empty_updated=empty_updated, hub=s.hub, links=links, label=label,
        ))
    return views


HEALTH_TOPIC = "health"
HEALTH_ENTRIES = 100


def health_view(config: Config, store: StoreProtocol) -> FeedView:
    """The operators' feed: one entry per change in a source's health."""
    from feeds.publish.emit import FeedView, Item
    from feeds.stories.sanitize import text_to_html

    s = config.settings
    policy = url_policy(s)
    sources = {src.id: src for src in config.sources}
    namespace = store.get_meta("created") or ""
    items: list[Item] = []
    for event_id, event in store.events(HEALTH_ENTRIES):
        source = sources.get(event.source_id)
        title = source.title if source else event.source_id
        # Messages quote the URLs fetched and the server's words: secrets go, and
        # so do control characters (a reason phrase may hold any; XML holds none).
        message = strip_controls(policy.text(event.message, known_urls=(source.url,) if source else ()))
        entry = Entry(
            source_id=event.source_id, item_key=f"event:{event_id}", url_key=None,
            link=policy.url(source.url) if source and source.url else None,
            title=f"{title}: {event.kind}", summary_html=text_to_html(message), content_html="",
            summary_text=message, published=event.at, updated=event.at,
            authors=(Person(s.author),), categories=(event.kind,), enclosures=(), language=None,
            content_hash="")
        # The database's creation time keeps ids unique if the database is ever rebuilt.
        items.append(Item(entry_id(f"health {namespace}", str(event_id)), entry, title, None))
    return FeedView(
        topic=HEALTH_TOPIC, title=f"{s.title}: source health",
        description="Sources that started failing, recovered, moved, went quiet or went away",
        site_url=s.base_url, atom_url=f"{s.base_url}{HEALTH_TOPIC}.atom",
        rss_url=f"{s.base_url}{HEALTH_TOPIC}.rss", author=s.author, language=s.language,
        items=items, empty_updated=_empty_updated(store))


def _empty_updated(store: StoreProtocol) -> datetime:
    newest = store.newest_update()
    created = store.get_meta("created")
    return newest or (datetime.fromisoformat(created) if created else datetime.now(UTC))
