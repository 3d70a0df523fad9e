"""One run: retrieve, parse, normalise, classify, dedupe, store, publish.

``run_once`` wires the stages. The only I/O here is through the store, the
fetcher and the output files; the clock comes in as ``now``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from feeds.articles import parse_article
from feeds.classify import Classifier
from feeds.clusters import cluster_item
from feeds.dedupe import entry_id, plan, url_identity
from feeds.emit import FeedView, Item, render_atom, render_rss
from feeds.errors import EmitError, FeedsError, ParseError, SourceError
from feeds.fetch import Result, Retrieved, body_hash, make_client
from feeds.files import write_if_changed
from feeds.health import CADENCE_SAMPLE, after_failure, after_success, cadence, reset_if_reconfigured
from feeds.jsonfeed import render_json
from feeds.normalize import Context, normalize
from feeds.opml import render_opml
from feeds.pages import Site, render_article, render_index
from feeds.parse import parse_document
from feeds.polling import is_due
from feeds.sanitize import text_to_html
from feeds.similar import Thresholds, judge
from feeds.state import Store
from feeds.types import (
    Config,
    Document,
    Entry,
    HttpCache,
    LocalFolder,
    NotModified,
    Person,
    RunReport,
    Source,
    SourceHealth,
    SourceOutcome,
    TopicMatch,
)
from feeds.websub import ping_hub

log = logging.getLogger("feeds")

ALL_TOPIC = "all"


class Fetcher(Protocol):
    def stream(self, sources: Sequence[Source], caches: dict[str, HttpCache],
               urls: dict[str, str] | None = None) -> AsyncIterator[Retrieved]: ...


@dataclass
class _Ingest:
    entries: list[Entry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ttl: int | None = None
    partly_broken: str | None = None  # the parser recovered what it could


def _ingest_document(config: Config, source: Source, doc: Document, now: datetime) -> _Ingest:
    feed = parse_document(doc)
    out = _Ingest(warnings=list(feed.warnings), ttl=feed.ttl,
                  partly_broken=feed.warnings[0] if feed.warnings else None)
    ctx = Context(source=source, base_url=config.settings.base_url, now=now,
                  document_url=doc.url, feed=feed)
    for data in feed.entries:
        out.entries.append(_with_identity(normalize(data, ctx), config))
    return out


def _with_identity(entry: Entry, config: Config) -> Entry:
    if entry.url_key is None:
        return entry
    return replace(entry, url_key=url_identity(entry.url_key, config.settings.dedupe.tracking_params))


def _ingest_folder(config: Config, source: Source, folder: LocalFolder, now: datetime) -> _Ingest:
    out = _Ingest(warnings=list(folder.warnings))
    ctx = Context(source=source, base_url=config.settings.base_url, now=now)
    for file in folder.files:
        try:
            data = parse_article(file, source.id)
        except ParseError as exc:
            out.warnings.append(exc.message)
            continue
        if data.date_from_mtime:
            out.warnings.append(f"{file.relpath}: no date found; using the file's modification time")
        out.entries.append(_with_identity(normalize(data, ctx), config))
    return out


def _cluster(store: Store, config: Config, entry_id: str, entry: Entry) -> None:
    """Join a new entry to the stories it is a copy of, from other sources."""
    d = config.settings.dedupe
    thresholds = Thresholds(title=d.title_threshold, text=d.text_threshold)
    matches: dict[str, str] = {}
    for c in store.cluster_candidates(entry_id, entry, entry.published - d.window,
                                      entry.published + d.window):
        if c.cluster_id in matches:
            continue
        verdict = judge(entry.title, entry.summary_text, c.entry.title, c.entry.summary_text, thresholds)
        if verdict.same:
            matches[c.cluster_id] = f"near-duplicate of {c.entry_id} ({c.source_id}): {verdict.reason}"
    if matches:
        # Several matches join their clusters: the result does not depend on arrival order.
        store.join_clusters(entry_id, sorted(matches), "; ".join(matches[k] for k in sorted(matches)))


TopicsOf = Callable[[Entry, Iterable[str]], tuple[TopicMatch, ...]]


def _topics_function(config: Config, classifier: Classifier) -> TopicsOf:
    """Classify an entry as carried by its own source and every other that carries it."""
    by_id = {s.id: s for s in config.sources}

    def topics_of(entry: Entry, other_sources: Iterable[str]) -> tuple[TopicMatch, ...]:
        carriers = [by_id[s] for s in (entry.source_id, *sorted(other_sources)) if s in by_id]
        return classifier.classify(entry, carriers)

    return topics_of


def _process(config: Config, store: Store, classifier: Classifier, source: Source,
             result: Result, now: datetime, jitter: float) -> SourceOutcome:
    settings = config.settings.fetch
    prev = reset_if_reconfigured(store.health(source.id), source)
    if isinstance(result, SourceError):
        health, events = after_failure(prev, source, settings, now, result, jitter)
        with store.transaction():
            store.save_health(health, events)
        status = "gone" if health.state == "gone" else "failed"
        return SourceOutcome(source.id, status, result.message)
    if isinstance(result, NotModified):
        health, events = after_success(
            prev, source, settings, now, http_status=304 if result.reason == "304" else 200,
            hints=result.hints, ttl_minutes=None, permanent_redirect=result.permanent_redirect,
            entries_seen=None, new_entries=0, warning=prev.last_warning,
            usual_gap=cadence(store.first_seen_times(source.id, CADENCE_SAMPLE)), jitter=jitter)
        with store.transaction():
            store.save_health(health, events)
        why = "304 Not Modified" if result.reason == "304" else "same content as last time"
        return SourceOutcome(source.id, "not-modified", why)
    ttl: int | None = None
    try:
        if isinstance(result, Document):
            ingest = _ingest_document(config, source, result, now)
            ttl = ingest.ttl
        else:
            ingest = _ingest_folder(config, source, result, now)
    except SourceError as exc:
        health, events = after_failure(prev, source, settings, now, exc, jitter)
        with store.transaction():
            store.save_health(health, events)
        return SourceOutcome(source.id, "failed", exc.message)

    topics_of = _topics_function(config, classifier)
    with store.transaction():
        by_item, by_url, by_story = store.lookup(source.id, ingest.entries)
        actions = plan(ingest.entries, by_item, by_url, now, by_story)
        new, updated = store.apply(source.id, actions, now, topics_of)
        if config.settings.dedupe.enabled:
            for new_id, entry in store.inserted:
                _cluster(store, config, new_id, entry)
        if isinstance(result, LocalFolder):
            gone = store.mark_gone(source.id, {e.item_key for e in ingest.entries}, now)
            if gone:
                ingest.warnings.append(f"{gone} article(s) no longer in the folder; they stay "
                                       "published until retention ends")
        else:
            store.save_cache(source.id, HttpCache(result.etag, result.last_modified,
                                                  body_hash(result.body)))
        health, events = after_success(
            prev, source, settings, now,
            http_status=200 if isinstance(result, Document) else None,
            hints=result.hints if isinstance(result, Document) else None, ttl_minutes=ttl,
            permanent_redirect=result.permanent_redirect if isinstance(result, Document) else None,
            entries_seen=len(ingest.entries), new_entries=new,
            warning=ingest.partly_broken,
            usual_gap=cadence(store.first_seen_times(source.id, CADENCE_SAMPLE)), jitter=jitter)
        store.save_health(health, events)
    count = len(ingest.entries)
    message = f"{count} entr{'y' if count == 1 else 'ies'}"
    return SourceOutcome(source.id, "ok", message, new, updated, tuple(ingest.warnings))


def _reclassify_if_rules_changed(config: Config, store: Store, classifier: Classifier) -> None:
    fingerprint = classifier.fingerprint
    if store.get_meta("rules") == fingerprint:
        return
    moved = store.reclassify_all(_topics_function(config, classifier))
    if moved:
        log.info("topic rules changed: %d stored entries moved between topics", moved)
    with store.transaction():
        store.set_meta("rules", fingerprint)


def build_views(config: Config, store: Store) -> list[FeedView]:
    s = config.settings
    empty_updated = _empty_updated(store)
    views: list[FeedView] = []
    topics: list[tuple[str, str, str, int]] = [
        (t.id, t.title, t.description, t.max_entries or s.max_entries) for t in config.topics]
    topics.append((ALL_TOPIC, f"{s.title}: all topics", s.description or f"Every entry of {s.title}",
                   s.max_entries))
    sources = {src.id: src for src in config.sources}
    for topic_id, title, description, limit in topics:
        ids = store.cluster_ids_for(None if topic_id == ALL_TOPIC else topic_id)
        items = [cluster_item(c, sources) for c in store.clusters(ids[:limit])]
        pages = archive_pages(len(ids), limit)
        links = (("prev-archive", archive_url(s.base_url, topic_id, pages)),) if pages else ()
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


def archive_pages(count: int, size: int) -> int:
    """RFC 5005 archive pages for a topic of ``count`` stories, ``size`` a page.

    Pages are counted from the oldest story and are always full, so that a page
    does not change as newer stories arrive: the newest page may repeat a few
    stories that are still in the subscription feed.
    """
    older = count - size
    return 0 if older <= 0 else -(-older // size)


def archive_url(base_url: str, topic: str, page: int) -> str:
    return f"{base_url}archive/{topic}/{page}.atom"


def archive_views(config: Config, store: Store, views: Sequence[FeedView]) -> list[FeedView]:
    """The archive pages of every topic feed, oldest stories first."""
    s = config.settings
    sources = {src.id: src for src in config.sources}
    limits = {t.id: t.max_entries or s.max_entries for t in config.topics}
    out: list[FeedView] = []
    for view in views:
        size = limits.get(view.topic, s.max_entries)
        ids = store.cluster_ids_for(None if view.topic == ALL_TOPIC else view.topic)
        pages = archive_pages(len(ids), size)
        oldest_first = ids[::-1]
        for page in range(1, pages + 1):
            chunk = oldest_first[(page - 1) * size : page * size]
            links = [("current", view.atom_url)]
            if page > 1:
                links.append(("prev-archive", archive_url(s.base_url, view.topic, page - 1)))
            if page < pages:
                links.append(("next-archive", archive_url(s.base_url, view.topic, page + 1)))
            url = archive_url(s.base_url, view.topic, page)
            out.append(replace(
                view, title=f"{view.title} (archive {page} of {pages})",
                atom_url=url, rss_url=url.removesuffix(".atom") + ".rss",
                items=[cluster_item(c, sources) for c in store.clusters(chunk)],
                links=tuple(links), archive=True, hub=None))
    return out


HEALTH_TOPIC = "health"
HEALTH_ENTRIES = 100


def health_view(config: Config, store: Store) -> FeedView:
    """The operators' feed: one entry per change in a source's health."""
    s = config.settings
    sources = {src.id: src for src in config.sources}
    namespace = store.get_meta("created") or ""
    items: list[Item] = []
    for event_id, event in store.events(HEALTH_ENTRIES):
        source = sources.get(event.source_id)
        title = source.title if source else event.source_id
        message = event.message
        entry = Entry(
            source_id=event.source_id, item_key=f"event:{event_id}", url_key=None,
            link=source.url if source and source.url else None,
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


def _empty_updated(store: Store) -> datetime:
    newest = store.newest_update()
    created = store.get_meta("created")
    return newest or (datetime.fromisoformat(created) if created else datetime.now(UTC))


def publish(config: Config, store: Store) -> tuple[list[str], int]:
    """Render every output and write those whose bytes changed. Returns (written, unchanged)."""
    s = config.settings
    out_dir = s.output_dir
    views = build_views(config, store)
    site = Site(title=s.title, description=s.description, base_url=s.base_url, language=s.language)
    files: dict[Path, bytes] = {}
    for view in views:
        files[out_dir / f"{view.topic}.atom"] = render_atom(view)
        files[out_dir / f"{view.topic}.rss"] = render_rss(view)
        files[out_dir / f"{view.topic}.json"] = render_json(view)
    for archived in archive_views(config, store, views):
        stem = out_dir / "archive" / archived.atom_url.removeprefix(s.base_url + "archive/")
        files[stem] = render_atom(archived)
        files[stem.with_suffix(".rss")] = render_rss(archived)
    hidden = {t.id for t in config.topics if not t.index}
    files[out_dir / "index.html"] = render_index(site, [v for v in views if v.topic not in hidden])
    files[out_dir / "sources.opml"] = render_opml(config)
    health = health_view(config, store)
    files[out_dir / "health.atom"] = render_atom(health)
    files[out_dir / "health.rss"] = render_rss(health)
    files.update(_article_pages(config, store, site))
    written: list[str] = []
    unchanged = 0
    for path, data in files.items():
        try:
            changed = write_if_changed(path, data)
        except OSError as exc:
            raise EmitError(path.name, f"cannot write {path}: {exc.strerror or exc}") from None
        if changed:
            written.append(path.relative_to(out_dir).as_posix())
        else:
            unchanged += 1
    _remove_stale_pages(out_dir / "articles", {p for p in files if "articles" in p.parts}, "*.html")
    _remove_stale_pages(out_dir / "archive", {p for p in files if "archive" in p.parts}, "*.*")
    return written, unchanged


def _article_pages(config: Config, store: Store, site: Site) -> dict[Path, bytes]:
    prefix = config.settings.base_url + "articles/"
    local = {s.id: s for s in config.sources if s.is_local}
    pages: dict[Path, bytes] = {}
    for eid, entry in store.entries_of_sources(sorted(local)):
        if not entry.link or not entry.link.startswith(prefix):
            continue
        rel = entry.link[len(prefix):]
        item = Item(eid, entry, local[entry.source_id].title, None)
        pages[config.settings.output_dir / "articles" / rel] = render_article(site, item)
    return pages


def _remove_stale_pages(folder: Path, keep: set[Path], pattern: str) -> None:
    if not folder.is_dir():
        return
    for path in folder.rglob(pattern):
        if path not in keep and not path.name.startswith("."):
            path.unlink(missing_ok=True)


@dataclass(frozen=True)
class _Selection:
    sources: list[Source]  # to fetch
    skipped: list[SourceOutcome]  # not due, or gone
    urls: dict[str, str]  # adopted permanent redirects
    caches: dict[str, HttpCache]  # validators to send


def _select(config: Config, store: Store, now: datetime, only: set[str] | None,
            force: bool) -> _Selection:
    health = store.all_health()
    chosen: list[Source] = []
    skipped: list[SourceOutcome] = []
    urls: dict[str, str] = {}
    caches: dict[str, HttpCache] = {}
    for source in config.sources:
        if not source.enabled or (only is not None and source.id not in only):
            continue
        h = reset_if_reconfigured(health.get(source.id, SourceHealth(source.id)), source)
        if not (force or only is not None or source.is_local):
            if h.state == "gone":
                skipped.append(SourceOutcome(source.id, "gone", h.last_error or "HTTP 410 Gone"))
                continue
            if not is_due(h.next_due, now):
                due = h.next_due.strftime("%Y-%m-%d %H:%M UTC") if h.next_due else ""
                skipped.append(SourceOutcome(source.id, "skipped", f"not due until {due}"))
                continue
        if h.fetch_url:
            urls[source.id] = h.fetch_url
        if not source.is_local:
            # Validators of another URL mean nothing for this one.
            reconfigured = source.id in health and health[source.id].config_url not in (None, source.url)
            caches[source.id] = HttpCache() if reconfigured else store.http_cache(source.id)
        chosen.append(source)
    return _Selection(chosen, skipped, urls, caches)


async def run_once(config: Config, *, store: Store, fetcher: Fetcher, now: datetime,
                   only: set[str] | None = None, force: bool = False,
                   rng: random.Random | None = None, publish_outputs: bool = True) -> RunReport:
    """One run. Sources that are not due (or gone) are skipped unless ``force``
    or named in ``only``; local folders are read every time. The daemon passes
    ``publish_outputs=False`` and publishes once fetches settle."""
    rng = rng or random.Random()
    if store.get_meta("created") is None:
        with store.transaction():
            store.set_meta("created", now.isoformat())
    selection = _select(config, store, now, only, force)
    outcomes = list(selection.skipped)
    classifier = Classifier(config.topics, config.sources)
    _reclassify_if_rules_changed(config, store, classifier)
    async for item in fetcher.stream(selection.sources, selection.caches, selection.urls):
        source, result = item.source, item.result
        try:
            outcome = _process(config, store, classifier, source, result, now, rng.random())
        except FeedsError:
            raise
        except Exception as exc:  # a bug meeting odd input must not cost the other sources
            log.exception("internal error while processing source %s", source.id)
            error = SourceError(source.id, f"internal error while processing: {type(exc).__name__}: {exc}")
            outcome = _process(config, store, classifier, source, error, now, rng.random())
        outcome = replace(outcome, seconds=item.seconds)
        outcomes.append(outcome)
        log.debug("%s: %s %s", source.id, outcome.status, outcome.message)
    purged = store.purge(now - timedelta(days=config.settings.retention_days))
    written, unchanged = publish(config, store) if publish_outputs else ([], 0)
    warnings = await ping_hub_for(config, written)
    return RunReport(
        started=now,
        finished=now,
        outcomes=tuple(outcomes),
        files_written=tuple(written),
        files_unchanged=unchanged,
        entries_published=store.count_entries(),
        purged=purged,
        warnings=tuple(warnings),
    )


async def ping_hub_for(config: Config, written: Sequence[str]) -> list[str]:
    """Tell the WebSub hub about every topic feed this run changed."""
    s = config.settings
    changed = [s.base_url + rel for rel in written
               if "/" not in rel and rel.endswith((".atom", ".rss", ".json"))
               and not rel.startswith(f"{HEALTH_TOPIC}.")]
    if not s.hub or not changed:
        return []
    async with make_client(s.fetch) as client:
        return await ping_hub(client, s.hub, changed)
