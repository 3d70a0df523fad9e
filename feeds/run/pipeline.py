"""One run: retrieve, parse, normalise, classify, dedupe, store, publish.

``run_once`` wires the stages. The only I/O here is through the store, the
fetcher and the output files; the clock comes in as ``now``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import random
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeAlias

from feeds import __version__
from feeds.errors import EmitError, FeedsError, FetchError, ParseError, SourceError
from feeds.publish.files import Staged, discard_staged, stage_if_changed, write_if_changed
from feeds.publish.websub import ping_hub
from feeds.redact import public_sources, strip_controls, url_policy
from feeds.sources.fetch import Result, Retrieved, body_hash, make_client
from feeds.sources.health import CADENCE_SAMPLE, after_failure, after_success, cadence, reset_if_reconfigured
from feeds.sources.polling import DUE_SLACK, is_due
from feeds.store.state import ClusterRow, Store, clusters_from_rows, entry_json
from feeds.stories.classify import Classifier
from feeds.stories.dedupe import entry_id, plan, story_key, url_identity
from feeds.stories.similar import Thresholds, bands, judge, sketch
from feeds.stories.sourceinfo import FeedInfo, clean_home_page, clean_title, home_pages, with_feed_titles
from feeds.types import (
    Config,
    Document,
    Entry,
    EntryData,
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

if TYPE_CHECKING:
    from feeds.publish.emit import FeedView
    from feeds.publish.pages import Site
    from feeds.publish.templating import Templates
    from feeds.stories.normalize import Context
    from feeds.types import EntryData

# The parsers (feedparser, markdown-it, nh3) and the renderers (feedgen, lxml) are
# imported by the functions that use them: a run where every source answers 304
# needs neither, and importing them was most of such a run's start-up.

log = logging.getLogger("feeds")

ALL_TOPIC = "all"


class Fetcher(Protocol):
    def stream(self, sources: Sequence[Source], caches: dict[str, HttpCache],
               urls: dict[str, str] | None = None) -> AsyncIterator[Retrieved]: ...


@dataclass
class _Ingest:
    entries: list[Entry] = field(default_factory=list)
    # entry_json() of each entry, when the worker process made it: storing is the
    # serial part of a run, and encoding was a seventh of it.
    encoded: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ttl: int | None = None
    partly_broken: str | None = None  # the parser recovered what it could
    unreadable_dates: int = 0  # entry dates the parser could not read
    feed_info: FeedInfo | None = None  # the feed's own title and site (None: a folder)


_classifiers: dict[int, Classifier] = {}


def _classifier(config: Config) -> Classifier:
    """The config's classifier, built once per process and config (looked up by
    value: the daemon reloads the config, and each worker holds its own copy)."""
    key = hash((config.topics, config.sources))
    classifier = _classifiers.get(key)
    if classifier is None:
        _classifiers.clear()
        classifier = _classifiers[key] = Classifier(config.topics, config.sources)
    return classifier


def _with_topics(entry: Entry, source: Source, classifier: Classifier) -> Entry:
    """The entry's topics as if its own source were its only carrier, worked out
    where it is parsed (a worker process, in a large run): that is what a new
    entry gets, and classifying was a sixth of the main process's time."""
    return replace(entry, topics=classifier.classify(entry, [source]))


def _ingest_document(config: Config, source: Source, doc: Document, now: datetime) -> _Ingest:
    from feeds.parse.adapter import parse_document
    from feeds.stories.normalize import Context

    limits = config.settings.fetch
    cap = source.max_items or limits.max_items
    feed = parse_document(doc, cap)
    out = _Ingest(warnings=list(feed.warnings), ttl=feed.ttl,
                  partly_broken=feed.warnings[0] if feed.warnings else None,
                  unreadable_dates=feed.unreadable_dates,
                  feed_info=FeedInfo(clean_title(feed.title), clean_home_page(feed.link, doc.url)))
    ctx = Context(source=source, base_url=config.settings.base_url, now=now,
                  document_url=doc.url, feed=feed, limits=limits)
    entries = feed.entries[:cap]
    if feed.items_total is not None:
        # Document order: feeds put their newest items first.
        out.warnings.append(f"the feed has {feed.items_total} items; only the first {cap} were read "
                            f"({feed.items_total - cap} dropped; max_items = {cap})")
    classifier = _classifier(config)
    for data in entries:
        entry = _normalized(data, ctx, config, out)
        if entry is not None:
            out.entries.append(_with_topics(entry, source, classifier))
    out.warnings.extend(_summarised(ctx.notes))
    out.encoded = [entry_json(e) for e in out.entries]
    return out


def _summarised(notes: list[str], shown: int = 3) -> list[str]:
    """A few of normalising's notes, and how many more: one hostile feed must not
    flood the run's report."""
    if len(notes) <= shown:
        return list(notes)
    return [*notes[:shown], f"... and {len(notes) - shown} more item(s) kept as plain text"]


def _normalized(data: EntryData, ctx: Context, config: Config, out: _Ingest) -> Entry | None:
    """The entry normalised, or None with a warning: one item that breaks the
    normaliser (a bug meeting odd input) costs that item, not its source's others."""
    from feeds.stories.normalize import normalize

    try:
        return _with_identity(normalize(data, ctx), config)
    except Exception as exc:
        where = data.link or data.guid or (data.title.value[:80] if data.title else "an item")
        log.exception("internal error while normalising an item of %s", ctx.source.id)
        out.warnings.append(f"item {where!r} left out: internal error while normalising it "
                            f"({type(exc).__name__}: {exc})")
        return None


def _with_identity(entry: Entry, config: Config) -> Entry:
    url_key = entry.url_key
    if url_key is not None:
        url_key = url_identity(url_key, config.settings.dedupe.tracking_params)
    return replace(entry, url_key=url_key, story_key=story_key(entry.title, entry.summary_text),
                   bands=tuple(bands(sketch(entry.title, entry.summary_text))))


def _ingest_folder(config: Config, source: Source, folder: LocalFolder, now: datetime) -> _Ingest:
    from feeds.parse.articles import parse_article, without_site_link
    from feeds.stories.normalize import Context
    from feeds.stories.slugs import article_slugs

    out = _Ingest(warnings=list(folder.warnings))
    base_url = config.settings.base_url
    classifier = _classifier(config)
    parsed: list[EntryData] = []
    for file in folder.files:
        try:
            data = parse_article(file, source.id)
        except ParseError as exc:
            out.warnings.append(exc.message)
            continue
        data, problem = without_site_link(data, file.relpath, base_url)
        if problem:
            out.warnings.append(problem)
        if data.date_from_mtime:
            out.warnings.append(f"{file.relpath}: no date found; using the file's modification time")
        out.warnings.extend(f"{file.relpath}: {note}" for note in data.notes)
        parsed.append(data)
    # Page names are given across the folder, so that two files never share one.
    slugs = article_slugs(d.guid[len("file:"):] for d in parsed if d.guid and not d.link)
    ctx = Context(source=source, base_url=base_url, now=now, local_slugs=slugs,
                  limits=config.settings.fetch)
    for data in parsed:
        entry = _normalized(data, ctx, config, out)
        if entry is not None:
            out.entries.append(_with_topics(entry, source, classifier))
    out.warnings.extend(_summarised(ctx.notes))
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
        verdict = judge(entry.title, entry.summary_text, c.title, c.summary_text, thresholds)
        if verdict.same:
            matches[c.cluster_id] = f"near-duplicate of {c.entry_id} ({c.source_id}): {verdict.reason}"
    if matches:
        # Several matches join their clusters: the result does not depend on arrival order.
        store.join_clusters(entry_id, sorted(matches), "; ".join(matches[k] for k in sorted(matches)))


TopicsOf = Callable[[Entry, Iterable[str]], tuple[TopicMatch, ...]]


@dataclass(frozen=True)
class _Topics:
    """How a run gives stored entries their topics."""

    of: TopicsOf  # classify an entry as carried by its own source and these others
    carrying_matters: Callable[[Source], bool]  # can this source carrying an entry change them?


def _topics_function(config: Config, classifier: Classifier) -> TopicsOf:
    """Classify an entry as carried by its own source and every other that carries it."""
    by_id = {s.id: s for s in config.sources}

    def topics_of(entry: Entry, other_sources: Iterable[str]) -> tuple[TopicMatch, ...]:
        carriers = [by_id[s] for s in (entry.source_id, *sorted(other_sources)) if s in by_id]
        return classifier.classify(entry, carriers)

    return topics_of


def ingest(config: Config, source: Source, result: Document | LocalFolder,
           now: datetime) -> _Ingest | SourceError:
    """Parse and normalise one document or folder. Pure and picklable, so that it can
    run in a worker process; failures come back as values."""
    try:
        if isinstance(result, Document):
            return _ingest_document(config, source, result, now)
        return _ingest_folder(config, source, result, now)
    except SourceError as exc:
        return exc


def _process(config: Config, store: Store, topics: _Topics, source: Source,
             result: Result, now: datetime, jitter: float,
             ingested: _Ingest | SourceError | None = None,
             known: SourceHealth | None = None, seconds: float | None = None) -> SourceOutcome:
    settings = config.settings.fetch
    prev = reset_if_reconfigured(known if known is not None else store.health(source.id), source)
    if isinstance(result, SourceError):
        health, events = after_failure(prev, source, settings, now, result, jitter)
        with store.transaction():
            store.save_health(health, events)
            store.record_fetch(source.id, now, failed=True)
        return SourceOutcome(source.id, "gone" if health.state == "gone" else "failed", result.message,
                             unreachable=isinstance(result, FetchError) and result.unreachable)
    if isinstance(result, NotModified):
        health, events = after_success(
            prev, source, settings, now, http_status=304 if result.reason == "304" else 200,
            hints=result.hints, ttl_minutes=None, permanent_redirect=result.permanent_redirect,
            entries_seen=None, new_entries=0, warning=prev.last_warning,
            usual_gap=cadence(store.first_seen_times(source.id, CADENCE_SAMPLE)), jitter=jitter)
        with store.transaction():
            store.save_health(health, events)
            store.record_fetch(source.id, now, failed=False, seconds=seconds)
        why = "304 Not Modified" if result.reason == "304" else "same content as last time"
        return SourceOutcome(source.id, "not-modified", why)
    if ingested is None:
        ingested = ingest(config, source, result, now)
    if isinstance(ingested, SourceError):
        exc = ingested
        health, events = after_failure(prev, source, settings, now, exc, jitter)
        with store.transaction():
            store.save_health(health, events)
            store.record_fetch(source.id, now, failed=True)
        return SourceOutcome(source.id, "failed", exc.message)
    got = ingested
    ttl = got.ttl

    with store.transaction():
        by_item, by_url, by_story = store.lookup(source.id, got.entries)
        actions = plan(got.entries, by_item, by_url, now, by_story)
        encoded = {id(e): (e, text) for e, text in zip(got.entries, got.encoded, strict=False)}
        new, updated = store.apply(source.id, actions, now, topics.of, preclassified=True,
                                   encoded=encoded, carrying_matters=topics.carrying_matters(source))
        if config.settings.dedupe.enabled:
            for new_id, entry in store.inserted:
                _cluster(store, config, new_id, entry)
        if isinstance(result, LocalFolder):
            gone = store.mark_gone(source.id, {e.item_key for e in got.entries}, now)
            if gone:
                got.warnings.append(f"{gone} article(s) no longer in the folder; they stay "
                                       "published until retention ends")
        else:
            store.save_cache(source.id, HttpCache(result.etag, result.last_modified,
                                                  body_hash(result.body)))
        health, events = after_success(
            prev, source, settings, now,
            http_status=200 if isinstance(result, Document) else None,
            hints=result.hints if isinstance(result, Document) else None, ttl_minutes=ttl,
            permanent_redirect=result.permanent_redirect if isinstance(result, Document) else None,
            entries_seen=len(got.entries), new_entries=new,
            warning=got.partly_broken,
            usual_gap=cadence(store.first_seen_times(source.id, CADENCE_SAMPLE)), jitter=jitter,
            unreadable_dates=got.unreadable_dates)
        store.save_health(health, events)
        store.record_fetch(source.id, now, failed=False, new_entries=new, seconds=seconds)
        if got.feed_info is not None:
            store.save_feed_info(source.id, got.feed_info)
    count = len(got.entries)
    message = f"{count} entr{'y' if count == 1 else 'ies'}"
    return SourceOutcome(source.id, "ok", message, new, updated, tuple(got.warnings))


def _reclassify_if_rules_changed(config: Config, store: Store, classifier: Classifier) -> None:
    fingerprint = classifier.fingerprint
    if store.get_meta("rules") == fingerprint:
        return
    moved = store.reclassify_all(_topics_function(config, classifier))
    if moved:
        log.info("topic rules changed: %d stored entries moved between topics", moved)
    with store.transaction():
        store.set_meta("rules", fingerprint)


def _topic_ids(config: Config, store: Store) -> dict[str, list[str]]:
    """Each topic's cluster ids (and the all-topics feed's), newest first: read once
    per publication, for the feeds and their archives alike."""
    found = store.topic_cluster_ids(t.id for t in config.topics)
    ids = {t.id: found[t.id] for t in config.topics}
    ids[ALL_TOPIC] = found[None]
    return ids


def build_views(config: Config, store: Store, topic_ids: dict[str, list[str]]) -> list[FeedView]:
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


@dataclass(frozen=True)
class ArchivePage:
    topic: str
    page: int
    pages: int
    ids: Sequence[str]  # the page's stories, oldest first
    url: str


def archive_plan(config: Config, views: Sequence[FeedView],
                 topic_ids: dict[str, list[str]]) -> list[ArchivePage]:
    """Every topic's archive pages: full pages of stories counted from the oldest."""
    s = config.settings
    limits = {t.id: t.max_entries or s.max_entries for t in config.topics}
    out: list[ArchivePage] = []
    for view in views:
        size = limits.get(view.topic, s.max_entries)
        ids = topic_ids[view.topic]
        pages = archive_pages(len(ids), size)
        oldest_first = ids[::-1]
        for page in range(1, pages + 1):
            out.append(ArchivePage(view.topic, page, pages, oldest_first[(page - 1) * size : page * size],
                                   archive_url(s.base_url, view.topic, page)))
    return out


def _archive_header(config: Config, view: FeedView, page: ArchivePage) -> FeedView:
    """An archive page's view, without its items."""
    s = config.settings
    links = [("current", view.atom_url)]
    if page.page > 1:
        links.append(("prev-archive", archive_url(s.base_url, view.topic, page.page - 1)))
    if page.page < page.pages:
        links.append(("next-archive", archive_url(s.base_url, view.topic, page.page + 1)))
    # No page count in the title: a page must not change when newer pages are added.
    return replace(view, title=f"{view.title} (archive {page.page})", atom_url=page.url,
                   rss_url=page.url.removesuffix(".atom") + ".rss", items=[],
                   links=tuple(links), archive=True, hub=None)


@dataclass(frozen=True)
class _ArchiveJob:
    """Archive pages before their entries are decoded, rendered together: decoding
    is most of the cost of a page besides rendering, so it is done where the pages
    are rendered (a worker process, in a large run), once per job; and an entry is
    on a page of "all" and of each of its topics, so a job holds pages of about
    the same time and renders each entry once (``Fragments``)."""

    pages: Sequence[tuple[FeedView, Sequence[str]]]  # each page's header and cluster ids
    rows: list[ClusterRow]  # the members of every cluster of those pages
    sources: dict[str, Source]  # those the rows name


# Stories rendered per job, counting each page's: large enough that most of a
# job's entries are on several of its pages, small enough that two workers share
# the pages evenly and a job's rows stay a few MB.
ARCHIVE_JOB_STORIES = 1000


_Page: TypeAlias = "tuple[FeedView, ArchivePage, tuple[Path, ...]]"  # the topic's view, the page, its files


def _archive_jobs(config: Config, store: Store, pages: Iterable[_Page]
                  ) -> Iterator[tuple[tuple[Path, ...], _ArchiveJob]]:
    """``pages`` (in the order of ``_time_ordered``) in jobs of about
    ``ARCHIVE_JOB_STORIES`` stories, with the files of each job's pages."""
    job: list[_Page] = []
    stories = 0
    for page in pages:
        job.append(page)
        stories += len(page[1].ids)
        if stories >= ARCHIVE_JOB_STORIES:
            yield _archive_job(config, store, job)
            job, stories = [], 0
    if job:
        yield _archive_job(config, store, job)


def _time_ordered(plan: list[ArchivePage], all_ids: list[str]) -> list[ArchivePage]:
    """Archive pages by the place of their oldest story in the all-topics order, so
    that pages next to one another share stories (a job renders each once)."""
    order = {cid: n for n, cid in enumerate(reversed(all_ids))}
    return sorted(plan, key=lambda p: (order.get(p.ids[0], 0) if p.ids else 0, p.topic))


def _archive_job(config: Config, store: Store, pages: list[_Page]) -> tuple[tuple[Path, ...], _ArchiveJob]:
    ids = list(dict.fromkeys(i for _view, page, _files in pages for i in page.ids))
    rows = store.cluster_rows(ids)
    named = {r[6] for r in rows} | {sid for r in rows for sid in (r[5] or "").split()}
    sources = public_sources((src for src in config.sources if src.id in named),
                             url_policy(config.settings))
    files = tuple(f for _view, _page, pair in pages for f in pair)
    return files, _ArchiveJob([(_archive_header(config, view, page), page.ids) for view, page, _f in pages],
                              rows, sources)


def _archive_views(job: _ArchiveJob) -> list[FeedView]:
    from feeds.publish.clusters import cluster_item

    ids = list(dict.fromkeys(i for _header, page_ids in job.pages for i in page_ids))
    items = {c.id: cluster_item(c, job.sources) for c in clusters_from_rows(ids, job.rows)}
    return [replace(header, items=[items[i] for i in page_ids if i in items])
            for header, page_ids in job.pages]


def _archive_settings(config: Config) -> str:
    """What every archive page's bytes depend on besides its stories: hashed once
    per run, not per page (it names every source)."""
    s = config.settings
    shown = public_sources(config.sources, url_policy(s)).values()  # the URLs pages show
    setting = [s.base_url, s.author, s.language,
               [(src.id, src.title, src.url, src.priority) for src in shown]]
    return body_hash(repr(setting).encode())


def _archive_fingerprint(digests: dict[str, bytes], view: FeedView, page: ArchivePage,
                         settings: str) -> str:
    """Everything an archive page's bytes depend on (``Store.cluster_digests``), read
    without decoding entries."""
    stories = hashlib.sha256()
    for cid in page.ids:
        stories.update(cid.encode() + b"\0" + digests.get(cid, b""))
    page_setting = repr([settings, view.title, page.page < page.pages]).encode()
    return stories.hexdigest()[:32] + body_hash(page_setting)[:16]


HEALTH_TOPIC = "health"
HEALTH_ENTRIES = 100


def health_view(config: Config, store: Store) -> FeedView:
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


def _empty_updated(store: Store) -> datetime:
    newest = store.newest_update()
    created = store.get_meta("created")
    return newest or (datetime.fromisoformat(created) if created else datetime.now(UTC))


# Bumped when a change to the code changes what the outputs hold for the same state.
OUTPUT_FORMAT = 1


def _outputs_key(config: Config) -> str:
    """What the outputs depend on besides the state database: the code and the config."""
    from feeds.publish.templating import templates_fingerprint

    # The operator's templates too: an edited template must show without a new entry.
    templates = templates_fingerprint(config.root)
    return body_hash(f"{__version__} {OUTPUT_FORMAT} {config!r} {templates}".encode())


def _outputs_current(config: Config, store: Store, generation: int) -> int | None:
    """How many files the last publication wrote, if nothing they show has changed
    since and they are all still there; None if they must be rendered."""
    record = store.get_meta("outputs")
    if record is None:
        return None
    try:
        last = json.loads(record)
        names: list[str] = last["files"]
        if last["generation"] != generation or last["key"] != _outputs_key(config):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    # One listing per folder: a stat per file was a thousand system calls a run. Names
    # stay strings: a Path per file was most of the time for 7,000 archive pages.
    out = config.settings.output_dir
    listed: dict[str, set[str]] = {}
    for name in names:
        folder, _, base = name.rpartition("/")
        present = listed.get(folder)
        if present is None:
            try:
                present = listed[folder] = set(os.listdir(out / folder))
            except OSError:
                return None
        if base not in present:
            return None
    return len(names)


def _render(job: FeedView | _ArchiveJob, kinds: tuple[str, ...],
            problems: list[str] | None = None) -> Iterator[bytes]:
    """A view, or each page of an archive job, in the given formats, one file at a
    time (a job's pages are megabytes). Pure, so that it can run in a worker process.
    Entries the renderer refuses are left out, and said in ``problems``."""
    from feeds.publish.emit import Fragments, render_atom, render_rss
    from feeds.publish.jsonfeed import render_json

    views = _archive_views(job) if isinstance(job, _ArchiveJob) else [job]
    fragments = Fragments()
    renderers = {"atom": lambda v: render_atom(v, fragments), "rss": lambda v: render_rss(v, fragments),
                 "json": render_json}
    for view in views:
        for kind in kinds:
            yield renderers[kind](view)
    if problems is not None:
        problems.extend(fragments.problems())


def _render_staged(job: FeedView | _ArchiveJob, kinds: tuple[str, ...],
                   paths: tuple[Path, ...]) -> tuple[list[str | None], list[str]]:
    """Render in a worker process and stage each changed file beside its target:
    sending the pages' bytes back through a pipe cost both processes more than
    writing them (a cold run renders hundreds of MB of archive pages). Returns
    each file's temp file, or None where the target already holds the bytes, and
    the entries left out (``_render``)."""
    staged: list[str | None] = []
    problems: list[str] = []
    try:
        for path, data in zip(paths, _render(job, kinds, problems), strict=True):
            staged.append(stage_if_changed(path, data))
    except BaseException:
        discard_staged(staged)
        raise
    return staged, problems


class _Renderer:
    """Renders views here, or in worker processes when given a pool: a cold run
    renders every archive page, and feedgen is CPU-bound. Every file goes into
    ``staged`` in the order the views were added, and the bytes are the same
    either way. At most ``AHEAD`` jobs wait in the pool besides the one being
    added, so memory stays bounded however many pages there are: an archive job
    carries the rows of about a thousand stories, and four waiting held 19 MB
    more in the main process than two, for no speed."""

    AHEAD = 2

    def __init__(self, pool: Executor | None, staged: Staged) -> None:
        self.pool = pool
        self.staged = staged
        self.pending: deque[tuple[tuple[Path, ...], FeedView | _ArchiveJob, tuple[str, ...],
                                 Future[tuple[list[str | None], list[str]]]]] = deque()
        self.problems: list[str] = []  # entries left out of the feeds, and why

    def add(self, paths: tuple[Path, ...], view: FeedView | _ArchiveJob, kinds: tuple[str, ...]) -> None:
        if self.pool is not None:
            try:
                future = self.pool.submit(_render_staged, view, kinds, paths)
                self.pending.append((paths, view, kinds, future))
            except BrokenExecutor:
                self.pool = None
            else:
                while len(self.pending) > self.AHEAD:
                    self._collect()
                return
        self.finish()  # keep the order
        self._here(paths, view, kinds)

    def _here(self, paths: tuple[Path, ...], view: FeedView | _ArchiveJob, kinds: tuple[str, ...]) -> None:
        for path, data in zip(paths, _render(view, kinds, self.problems), strict=True):
            self.staged.add(path, data)

    def _collect(self) -> None:
        paths, view, kinds, future = self.pending.popleft()
        try:
            temps, problems = future.result()
        except BrokenExecutor:  # a worker the kernel killed: render the rest here
            log.warning("a worker process died while rendering; rendering in the main process")
            self.pool = None
            self._here(paths, view, kinds)
            return
        self.problems.extend(problems)
        for path, tmp in zip(paths, temps, strict=True):
            self.staged.adopt(path, tmp)

    def finish(self) -> None:
        while self.pending:
            self._collect()

    def abandon(self) -> None:
        """After a failure: wait for the pages still rendering and remove their temp files."""
        while self.pending:
            future = self.pending.popleft()[3]
            with contextlib.suppress(Exception):
                discard_staged(future.result()[0])


def publish(config: Config, store: Store, pool: Executor | None = None,
            warnings: list[str] | None = None) -> tuple[list[str], int]:
    """Render every output and write those whose bytes changed. Returns (written, unchanged).

    An entry that cannot be rendered is left out of its feeds, logged, and said in
    ``warnings``; the rest publishes.

    Nothing is rendered when no entry, topic, cluster or health event has changed
    since the last publication (``Store.touch``), the config and code are the same
    and every file is still there: a run where every source answered 304 costs
    no rendering at all. ``pool``: worker processes to render in.
    """
    feed_infos = store.feed_infos()
    config = with_feed_titles(config, feed_infos)
    s = config.settings
    out_dir = s.output_dir
    generation = store.generation()
    current = _outputs_current(config, store, generation)
    if current is not None:
        return [], current
    from feeds.publish.opml import render_opml
    from feeds.publish.pages import Site, render_index
    from feeds.publish.templating import Templates

    topic_ids = _topic_ids(config, store)
    views = build_views(config, store, topic_ids)
    site = Site(title=s.title, description=s.description, base_url=s.base_url, language=s.language,
                status_page=s.public_status)
    archived: set[Path] = set()
    fingerprints: dict[str, str] = {}
    # Every changed file is staged and fsynced as soon as it is rendered, and renamed
    # only when all are on disk: a full disk leaves the last good outputs, not a mix
    # of old and new, and no rendered file waits in memory.
    try:
        with Staged() as staged:
            renderer = _Renderer(pool, staged)
            try:
                _render_feeds(config, store, views, topic_ids, renderer, archived, fingerprints)
                renderer.finish()
            except BaseException:
                renderer.abandon()
                raise
            for problem in dict.fromkeys(renderer.problems):
                log.warning("%s", problem)
                if warnings is not None:
                    warnings.append(problem)
            listed = [v for v in views if v.topic not in {t.id for t in config.topics if not t.index}]
            templates = Templates(config.root)
            counts = {topic: len(ids) for topic, ids in topic_ids.items()}
            staged.add(out_dir / "index.html", render_index(site, listed, counts, templates=templates))
            staged.add(out_dir / "sources.opml", render_opml(config, home_pages(feed_infos)))
            for path, data in _article_pages(config, store, site, templates).items():
                staged.add(path, data)
            for problem in dict.fromkeys(templates.problems):
                log.warning("%s", problem)
                if warnings is not None:
                    warnings.append(problem)
            changed = staged.commit()
    except OSError as exc:
        name = Path(exc.filename).name if exc.filename else "outputs"
        raise EmitError(name, f"cannot write {exc.filename}: {exc.strerror or exc}") from None
    files = set(staged.paths)
    written = [path.relative_to(out_dir).as_posix() for path in changed]
    unchanged = len(files) - len(changed)
    record = {"key": _outputs_key(config), "generation": generation,
              "files": sorted(path.relative_to(out_dir).as_posix() for path in files | archived)}
    with store.transaction():
        for key, value in fingerprints.items():
            store.set_meta(key, value)
        store.set_meta("outputs", json.dumps(record))
    _remove_stale_pages(out_dir / "articles", {p for p in files if "articles" in p.parts}, "*.html")
    _remove_stale_pages(out_dir / "archive", archived, "*.*")
    return written, unchanged


def _render_feeds(config: Config, store: Store, views: list[FeedView], topic_ids: dict[str, list[str]],
                  renderer: _Renderer, archived: set[Path], fingerprints: dict[str, str]) -> None:
    """The topic feeds, the archive pages whose stories changed, and the health feed."""
    s = config.settings
    out_dir = s.output_dir
    for view in views:
        renderer.add(tuple(out_dir / f"{view.topic}.{kind}" for kind in ("atom", "rss", "json")),
                     view, ("atom", "rss", "json"))
    by_topic = {v.topic: v for v in views}
    settings = _archive_settings(config)

    def changed() -> Iterator[_Page]:
        # Pages are many and mostly unchanged: render only those whose stories changed.
        # A generator, so that working out which changed goes on while workers render.
        plan = _time_ordered(archive_plan(config, views, topic_ids), topic_ids[ALL_TOPIC])
        digests = store.cluster_digests() if plan else {}
        for page in plan:
            stem = out_dir / "archive" / page.url.removeprefix(s.base_url + "archive/")
            pair = (stem, stem.with_suffix(".rss"))
            archived.update(pair)
            key = f"archive:{page.topic}:{page.page}"
            fingerprint = _archive_fingerprint(digests, by_topic[page.topic], page, settings)
            if store.get_meta(key) == fingerprint and all(p.exists() for p in pair):
                continue
            fingerprints[key] = fingerprint
            yield by_topic[page.topic], page, pair

    for files, job in _archive_jobs(config, store, changed()):
        renderer.add(files, job, ("atom", "rss"))
    renderer.add((out_dir / "health.atom", out_dir / "health.rss"), health_view(config, store),
                 ("atom", "rss"))


def _article_pages(config: Config, store: Store, site: Site, templates: Templates) -> dict[Path, bytes]:
    """A page for each stored local article that links to a page of ours, at
    ``articles/<source>/<slug>.html``. The slug is made from the file's path in its
    folder (the item key); the stored link only tells which of that path's forms
    the entry was given. Entries stored by older versions may hold any link an
    article's front matter gave, so a link never becomes a path."""
    from feeds.publish.emit import Item
    from feeds.publish.pages import render_article
    from feeds.stories.slugs import is_safe_slug, page_slug

    local = {s.id: s for s in config.sources if s.is_local}
    articles = config.settings.output_dir / "articles"
    pages: dict[Path, bytes] = {}
    for eid, entry in store.entries_of_sources(sorted(local)):
        if not entry.item_key.startswith("file:"):
            continue
        slug = page_slug(entry.link, config.settings.base_url, entry.source_id,
                         entry.item_key[len("file:"):])
        if slug is None or not is_safe_slug(slug):
            continue  # the article gave its own address: the link leads there
        folder = articles / entry.source_id
        path = folder / f"{slug}.html"
        # Defence in depth: whatever made the name, the page stays in its source's folder.
        if not path.resolve().is_relative_to(folder.resolve()) or path.parent != folder:
            continue
        # Entries come newest first: when a file gone from the folder held the name a
        # new file now has (the only way two can share one), the new file's page wins.
        if path not in pages:
            item = Item(eid, entry, local[entry.source_id].title, None)
            pages[path] = render_article(site, item, templates=templates)
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
    health: dict[str, SourceHealth]  # as the run found it: one query, not one per source


# Below this many sources a run parses in the main process: starting workers costs more.
PARALLEL_MIN = 8
# Documents fetched (and being parsed) ahead of the one the main process stores.
WAITING = 16
# How long a run's sources may wait to be committed. Each commit writes every page
# touched since the last one to the WAL, and the indexes take random inserts: on the
# 200-feed bench corpus a cold run wrote 1.0 GB with a commit a second and 0.58 GB
# with one every 5 s (0.51 GB with a single commit; 0.4 GB of it are the outputs).
BATCH_SECONDS = 5.0


def _worker_pool(config: Config, sources: int) -> ProcessPoolExecutor | None:
    """Processes for parsing and rendering, or None for a small run. No process
    starts until the first task is submitted, so a run where every source
    answers 304 starts none. Each process gets the config once, when it starts:
    sent with every document, it was pickled and unpickled a thousand times a
    run on a thousand sources."""
    workers = config.settings.fetch.parse_workers
    if workers == 0 or sources < PARALLEL_MIN:
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["feeds.run.pipeline"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=_start_worker, initargs=(config,))


_worker_state: dict[str, Config] = {}


def _start_worker(config: Config) -> None:
    _worker_state["config"] = config


def _ingest_in_worker(source: Source, result: Document | LocalFolder, now: datetime
                      ) -> _Ingest | SourceError:
    return ingest(_worker_state["config"], source, result, now)


async def _ingested(config: Config, fetcher: Fetcher, selection: _Selection, now: datetime,
                    pool: Executor | None) -> AsyncIterator[tuple[Retrieved, _Ingest | SourceError | None]]:
    """Fetched results in source order, parsed in worker processes when there is a pool.

    Parsing is CPU-bound and most of a cold run, so it runs on the other cores
    while this process stores what is ready; a document is handed to a worker as
    soon as it arrives. Same inputs, same results: the workers run the very
    function the main process would. At most a few documents wait for this
    process at a time, so memory does not grow with the number of sources.
    """
    stream = fetcher.stream(selection.sources, selection.caches, selection.urls)
    if pool is None:
        async for item in stream:
            yield item, None
        return
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[Retrieved, asyncio.Future[_Ingest | SourceError] | None] | None] = (
        asyncio.Queue(maxsize=WAITING))
    async def feed() -> None:
        try:
            async for item in stream:
                future = None
                if isinstance(item.result, Document | LocalFolder):
                    try:
                        future = loop.run_in_executor(pool, _ingest_in_worker, item.source, item.result, now)
                    except BrokenExecutor:  # a worker was killed: the main process parses the rest
                        log.warning("a worker process died; source %s is parsed in the main process",
                                    item.source.id)
                        future = None
                await queue.put((item, future))
        finally:
            await queue.put(None)

    feeder = asyncio.create_task(feed())
    try:
        while (got := await queue.get()) is not None:
            item, future = got
            result: _Ingest | SourceError | None = None
            if future is not None:
                try:
                    result = await future
                except BrokenExecutor:  # a worker the kernel killed: parse here instead
                    log.warning("a worker process died; source %s is parsed in the main process",
                                item.source.id)
                    result = None
                except Exception as exc:  # a bug
                    log.error("internal error while parsing source %s: %r", item.source.id, exc)
                    result = SourceError(item.source.id, "internal error while processing: "
                                                         f"{type(exc).__name__}: {exc}")
            yield item, result
        await feeder
    finally:
        feeder.cancel()


def _select(config: Config, store: Store, now: datetime, only: set[str] | None,
            force: bool, due_slack: timedelta = DUE_SLACK) -> _Selection:
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
            if not is_due(h.next_due, now, due_slack):
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
    return _Selection(chosen, skipped, urls, caches, health)


async def run_once(config: Config, *, store: Store, fetcher: Fetcher, now: datetime,
                   only: set[str] | None = None, force: bool = False,
                   rng: random.Random | None = None, publish_outputs: bool = True,
                   due_slack: timedelta = DUE_SLACK) -> RunReport:
    """One run. Sources that are not due (or gone) are skipped unless ``force``
    or named in ``only``; local folders are read every time. The daemon passes
    ``publish_outputs=False`` and publishes once fetches settle."""
    rng = rng or random.Random()
    config = with_feed_titles(config, store.feed_infos())  # health events name sources so too
    if store.get_meta("created") is None:
        with store.transaction():
            store.set_meta("created", now.isoformat())
    selection = _select(config, store, now, only, force, due_slack)
    outcomes = list(selection.skipped)
    classifier = Classifier(config.topics, config.sources)
    _reclassify_if_rules_changed(config, store, classifier)
    pool = _worker_pool(config, len(selection.sources))
    warnings: list[str] = []
    try:
        written, unchanged, purged = await _run_and_publish(
            config, store, fetcher, selection, classifier, now, rng, outcomes, pool, publish_outputs,
            warnings)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    warnings += await ping_hub_for(config, written)
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


async def _run_and_publish(config: Config, store: Store, fetcher: Fetcher, selection: _Selection,
                           classifier: Classifier, now: datetime, rng: random.Random,
                           outcomes: list[SourceOutcome], pool: Executor | None,
                           publish_outputs: bool, warnings: list[str]) -> tuple[list[str], int, int]:
    # Made once a run: each source's entries are classified with it, and it maps every
    # source by id.
    topics = _Topics(_topics_function(config, classifier), classifier.carrying_matters)
    with store.batch(BATCH_SECONDS):
        async for item, ingested in _ingested(config, fetcher, selection, now, pool):
            source, result = item.source, item.result
            try:
                outcome = _process(config, store, topics, source, result, now, rng.random(), ingested,
                                   selection.health.get(source.id), item.seconds)
            except FeedsError:
                raise
            except sqlite3.DatabaseError as exc:  # the state database itself: nothing can go on
                raise store.failure(exc) from None
            except Exception as exc:  # a bug meeting odd input must not cost the other sources
                log.exception("internal error while processing source %s", source.id)
                error = SourceError(source.id,
                                    f"internal error while processing: {type(exc).__name__}: {exc}")
                outcome = _process(config, store, topics, source, error, now, rng.random(),
                                   known=selection.health.get(source.id))
            outcome = replace(outcome, seconds=item.seconds)
            outcomes.append(outcome)
            log.debug("%s: %s %s", source.id, outcome.status, outcome.message)
            store.commit_if_due()
    purged = store.purge(now - timedelta(days=config.settings.retention_days))
    written, unchanged = publish(config, store, pool, warnings) if publish_outputs else ([], 0)
    return written, unchanged, purged


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


def status_page_paths(config: Config) -> tuple[Path, Path]:
    """Where status.html goes and where it must not be: the output folder when
    ``[site] public_status`` is true, else beside the state database."""
    s = config.settings
    public, private = s.output_dir / "status.html", s.state_path.parent / "status.html"
    return (public, private) if s.public_status else (private, public)


def write_status_page(config: Config, store: Store, now: datetime) -> Path:
    """Render status.html as of ``now`` and write it if its bytes changed, like
    status.json; a copy left in the other place is removed, so that setting
    ``public_status`` back to false takes the page off the site."""
    from feeds.publish.status import page_rows
    from feeds.publish.statuspage import chart_days, render_status_page

    days = chart_days(now)
    rows = page_rows(config, store.all_health(), store.entry_counts(),
                     store.source_days(days[0], days[-1]), url_policy(config.settings))
    target, other = status_page_paths(config)
    s = config.settings
    write_if_changed(target, render_status_page(s.title, rows, now, language=s.language))
    other.unlink(missing_ok=True)
    return target
