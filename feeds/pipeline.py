"""One run: retrieve, parse, normalise, classify, dedupe, store, publish.

``run_once`` wires the stages. The only I/O here is through the store, the
fetcher and the output files; the clock comes in as ``now``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from feeds.articles import parse_article
from feeds.classify import Classifier
from feeds.dedupe import plan
from feeds.emit import FeedView, Item, render_atom, render_rss
from feeds.errors import EmitError, FeedsError, ParseError, SourceError
from feeds.fetch import Result, body_hash
from feeds.files import write_if_changed
from feeds.normalize import Context, normalize
from feeds.pages import Site, render_article, render_index
from feeds.parse import parse_document
from feeds.state import Store
from feeds.types import (
    Config,
    Document,
    Entry,
    HttpCache,
    LocalFolder,
    NotModified,
    RunReport,
    Source,
    SourceOutcome,
    TopicMatch,
)

log = logging.getLogger("feeds")

ALL_TOPIC = "all"


class Fetcher(Protocol):
    async def retrieve(self, sources: Sequence[Source],
                       caches: dict[str, HttpCache]) -> list[tuple[Source, Result]]: ...


@dataclass
class _Ingest:
    entries: list[Entry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _ingest_document(config: Config, source: Source, doc: Document, now: datetime) -> _Ingest:
    feed = parse_document(doc)
    out = _Ingest(warnings=list(feed.warnings))
    ctx = Context(source=source, base_url=config.settings.base_url, now=now,
                  document_url=doc.url, feed=feed)
    for data in feed.entries:
        out.entries.append(normalize(data, ctx))
    return out


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
        out.entries.append(normalize(data, ctx))
    return out


TopicsOf = Callable[[Entry, Iterable[str]], tuple[TopicMatch, ...]]


def _topics_function(config: Config, classifier: Classifier) -> TopicsOf:
    """Classify an entry with the default topics of every source that carries it."""
    defaults = {s.id: s.topics for s in config.sources}

    def topics_of(entry: Entry, other_sources: Iterable[str]) -> tuple[TopicMatch, ...]:
        wanted = set(defaults.get(entry.source_id, ()))
        for other in other_sources:
            wanted.update(defaults.get(other, ()))
        return classifier.classify(entry, wanted)

    return topics_of


def _process(config: Config, store: Store, classifier: Classifier, source: Source,
             result: Result, now: datetime) -> SourceOutcome:
    if isinstance(result, SourceError):
        store.record_failure(source.id, now, result.message)
        return SourceOutcome(source.id, "failed", result.message)
    if isinstance(result, NotModified):
        with store.transaction():
            store.record_success(source.id, now, "not-modified", None)
        why = "304 Not Modified" if result.reason == "304" else "same content as last time"
        return SourceOutcome(source.id, "not-modified", why)
    try:
        if isinstance(result, Document):
            ingest = _ingest_document(config, source, result, now)
            cache = HttpCache(result.etag, result.last_modified, body_hash(result.body))
        else:
            ingest = _ingest_folder(config, source, result, now)
            cache = None
    except SourceError as exc:
        store.record_failure(source.id, now, exc.message)
        return SourceOutcome(source.id, "failed", exc.message)

    topics_of = _topics_function(config, classifier)
    with store.transaction():
        by_item, by_url = store.lookup(source.id, ingest.entries)
        actions = plan(ingest.entries, by_item, by_url, now)
        new, updated = store.apply(source.id, actions, now, topics_of)
        if isinstance(result, LocalFolder):
            gone = store.mark_gone(source.id, {e.item_key for e in ingest.entries}, now)
            if gone:
                ingest.warnings.append(f"{gone} article(s) no longer in the folder; they stay "
                                       "published until retention ends")
        store.record_success(source.id, now, "ok", cache)
    count = len(ingest.entries)
    message = f"{count} entr{'y' if count == 1 else 'ies'}"
    return SourceOutcome(source.id, "ok", message, new, updated, tuple(ingest.warnings))


def _reclassify_if_rules_changed(config: Config, store: Store, classifier: Classifier) -> None:
    defaults = sorted((s.id, s.topics) for s in config.sources)
    fingerprint = classifier.fingerprint + ":" + body_hash(repr(defaults).encode())[:16]
    if store.get_meta("rules") == fingerprint:
        return
    moved = store.reclassify_all(_topics_function(config, classifier))
    if moved:
        log.info("topic rules changed: %d stored entries moved between topics", moved)
    with store.transaction():
        store.set_meta("rules", fingerprint)


def build_views(config: Config, store: Store) -> list[FeedView]:
    s = config.settings
    newest = store.newest_update()
    created = store.get_meta("created")
    empty_updated = newest or (datetime.fromisoformat(created) if created else datetime.now(UTC))
    titles = {src.id: src.title for src in config.sources}
    urls = {src.id: src.url for src in config.sources}
    views: list[FeedView] = []
    topics: list[tuple[str, str, str]] = [(t.id, t.title, t.description) for t in config.topics]
    topics.append((ALL_TOPIC, f"{s.title}: all topics", s.description or f"Every entry of {s.title}"))
    for topic_id, title, description in topics:
        rows = store.entries_for(None if topic_id == ALL_TOPIC else topic_id, s.max_entries)
        items = [
            Item(id=eid, entry=entry, source_title=titles.get(entry.source_id, entry.source_id),
                 source_url=urls.get(entry.source_id))
            for eid, entry, _first in rows
        ]
        if topic_id != ALL_TOPIC:
            title = f"{s.title}: {title}"
        views.append(FeedView(
            topic=topic_id, title=title, description=description,
            site_url=s.base_url, atom_url=f"{s.base_url}{topic_id}.atom",
            rss_url=f"{s.base_url}{topic_id}.rss", author=s.author, language=s.language,
            items=items, empty_updated=empty_updated,
        ))
    return views


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
    files[out_dir / "index.html"] = render_index(site, views)
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
    _remove_stale_pages(out_dir / "articles", {p for p in files if "articles" in p.parts})
    return written, unchanged


def _article_pages(config: Config, store: Store, site: Site) -> dict[Path, bytes]:
    prefix = config.settings.base_url + "articles/"
    local = {s.id: s for s in config.sources if s.is_local}
    pages: dict[Path, bytes] = {}
    for eid, entry, _first in store.entries_for(None, 1_000_000):
        if entry.source_id not in local or not entry.link or not entry.link.startswith(prefix):
            continue
        rel = entry.link[len(prefix):]
        item = Item(eid, entry, local[entry.source_id].title, None)
        pages[config.settings.output_dir / "articles" / rel] = render_article(site, item)
    return pages


def _remove_stale_pages(folder: Path, keep: set[Path]) -> None:
    if not folder.is_dir():
        return
    for path in folder.rglob("*.html"):
        if path not in keep:
            path.unlink(missing_ok=True)


async def run_once(config: Config, *, store: Store, fetcher: Fetcher, now: datetime,
                   only: set[str] | None = None) -> RunReport:
    if store.get_meta("created") is None:
        with store.transaction():
            store.set_meta("created", now.isoformat())
    sources = [s for s in config.sources if s.enabled and (only is None or s.id in only)]
    caches = {s.id: store.http_cache(s.id) for s in sources if not s.is_local}
    results = await fetcher.retrieve(sources, caches)
    classifier = Classifier(config.topics)
    _reclassify_if_rules_changed(config, store, classifier)
    outcomes: list[SourceOutcome] = []
    for source, result in results:
        try:
            outcome = _process(config, store, classifier, source, result, now)
        except FeedsError:
            raise
        except Exception as exc:  # a bug meeting odd input must not cost the other sources
            log.exception("internal error while processing source %s", source.id)
            message = f"internal error while processing: {type(exc).__name__}: {exc}"
            store.record_failure(source.id, now, message)
            outcome = SourceOutcome(source.id, "failed", message)
        outcomes.append(outcome)
        log.debug("%s: %s %s", source.id, outcome.status, outcome.message)
    purged = store.purge(now - timedelta(days=config.settings.retention_days))
    written, unchanged = publish(config, store)
    return RunReport(
        started=now,
        finished=now,
        outcomes=tuple(outcomes),
        files_written=tuple(written),
        files_unchanged=unchanged,
        entries_published=store.count_entries(),
        purged=purged,
    )
