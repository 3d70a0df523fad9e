"""Storing what one source gave: its entries planned against those stored, new
ones joined to the stories they copy, its cache and health; and stored entries
given their topics again when the rules change.

The only I/O is through the store, in one transaction per source.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import chain

from feeds.errors import FetchError, SourceError
from feeds.run.ingest import Ingest, Seen, ingest
from feeds.sources.fetch import Result, body_hash
from feeds.sources.health import CADENCE_SAMPLE, after_failure, after_success, cadence, reset_if_reconfigured
from feeds.store.protocol import StoreProtocol
from feeds.store.rows import Carried, Retopic, Row, StillSeen, changed_entry, new_entry, retopic
from feeds.stories.classify import Classifier
from feeds.stories.dedupe import Action, Alias, Insert, Update, plan, unique_in_batch
from feeds.stories.similar import Thresholds, judge, worth_judging
from feeds.types import (
    Config,
    Document,
    Entry,
    HttpCache,
    LocalFolder,
    NotModified,
    Source,
    SourceHealth,
    SourceOutcome,
    TopicMatch,
)

log = logging.getLogger("feeds")


def cluster(store: StoreProtocol, config: Config, entry_id: str, entry: Entry,
            thresholds: Thresholds | None = None) -> tuple[int, int]:
    """Join a new entry to the stories it is a copy of, from other sources.
    ``thresholds``: the judge's (default: the configured title and text thresholds).
    Returns how many candidates the store gave and how many of them were judged:
    the cost of adding the entry, which must stay bounded whatever its text."""
    d = config.settings.dedupe
    if thresholds is None:
        thresholds = Thresholds(title=d.title_threshold, text=d.text_threshold)
    matches: dict[str, str] = {}
    candidates = store.cluster_candidates(entry_id, entry, entry.published - d.window,
                                          entry.published + d.window)
    judged = 0
    for c in candidates:
        if c.cluster_id in matches or not worth_judging(entry.title, entry.summary_text, c.title,
                                                         c.summary_text, thresholds):
            continue
        judged += 1
        verdict = judge(entry.title, entry.summary_text, c.title, c.summary_text, thresholds)
        if verdict.same:
            matches[c.cluster_id] = f"near-duplicate of {c.entry_id} ({c.source_id}): {verdict.reason}"
    if matches:
        # Several matches join their clusters: the result does not depend on arrival order.
        store.join_clusters(entry_id, sorted(matches), "; ".join(matches[k] for k in sorted(matches)))
    return len(candidates), judged


TopicsOf = Callable[[Entry, Iterable[str]], tuple[TopicMatch, ...]]


@dataclass(frozen=True)
class Topics:
    """How a run gives stored entries their topics."""

    of: TopicsOf  # classify an entry as carried by its own source and these others
    carrying_matters: Callable[[Source], bool]  # can this source carrying an entry change them?


def topics_function(config: Config, classifier: Classifier) -> TopicsOf:
    """Classify an entry as carried by its own source and every other that carries it."""
    by_id = {s.id: s for s in config.sources}

    def topics_of(entry: Entry, other_sources: Iterable[str]) -> tuple[TopicMatch, ...]:
        carriers = [by_id[s] for s in (entry.source_id, *sorted(other_sources)) if s in by_id]
        return classifier.classify(entry, carriers)

    return topics_of


def finished_rows(store: StoreProtocol, source_id: str, actions: Iterable[Action], topics_of: TopicsOf, *,
                  encoded: Mapping[int, str] | None = None, preclassified: bool = True,
                  carrying_matters: bool = True) -> Iterator[Row]:
    """The rows the store writes for one source's planned actions, with their topics
    decided here. A generator on purpose: the store writes each row before the next
    is decided, so a story this source carries is classified with the carriers
    written just before (its own item included).

    ``preclassified``: new entries already carry the topics of their own source alone
    (workers classify them); entries other sources also carry are classified again.
    ``encoded``: ``entry_json`` of entries made elsewhere, by ``id()`` of the entry
    object it was made from (used only for that very object). ``carrying_matters``:
    False when this source carrying a story can never change its topics
    (``Classifier.carrying_matters``).
    """
    for action in actions:
        entry = action.entry
        if isinstance(action, Insert):
            if not preclassified:
                entry = replace(entry, topics=topics_of(entry, ()))
            made = encoded.get(id(action.entry)) if encoded and entry is action.entry else None
            yield new_entry(action.entry_id, entry, made)
        elif isinstance(action, Update):
            others = store.carriers(action.entry_id) - {source_id}
            if others or not preclassified:
                entry = replace(entry, topics=topics_of(entry, others))
            yield changed_entry(action.entry_id, entry)
        elif isinstance(action, Alias):
            yield Carried(action.entry_id, entry.item_key, action.remap)
            if carrying_matters:
                yield from _topics_again(store, action.entry_id, topics_of)
        else:
            yield StillSeen(action.entry_id, entry.item_key)


def _topics_again(store: StoreProtocol, entry_id: str, topics_of: TopicsOf) -> Iterator[Retopic]:
    """A ``Retopic`` row when the story's carriers (as stored now) give it other topics."""
    stored = store.stored_entry(entry_id)
    if stored is None:
        return
    topics = topics_of(stored, store.carriers(entry_id) - {stored.source_id})
    if topics != stored.topics:
        yield retopic(entry_id, replace(stored, topics=topics))


def seen_items(store: StoreProtocol, run_key: str | None, source: Source) -> Seen | None:
    """What the store holds of ``source``'s items by hash, for ``ingest`` to skip
    those sent again unchanged (None: ``run_key`` None, skip nothing)."""
    if run_key is None:
        return None
    return Seen(run_key, {raw: key for raw, (key, _) in store.raw_items(source.id).items()})


def _still_seen(store: StoreProtocol, source_id: str, keys: list[str]) -> Iterator[StillSeen]:
    """Items sent again unchanged: what ``plan`` makes of an item whose entry is stored
    as it is (``Seen``), without normalising it."""
    held = dict(store.raw_items(source_id).values())
    for key in keys:
        if key in held:
            yield StillSeen(held[key], key)


def store_outcome(config: Config, store: StoreProtocol, topics: Topics, source: Source,
                  result: Result, now: datetime, jitter: float,
                  ingested: Ingest | SourceError | None = None,
                  known: SourceHealth | None = None, seconds: float | None = None,
                  run_key: str | None = None) -> SourceOutcome:
    """Store what fetching ``source`` gave, in one transaction: its entries (ingested
    here unless a worker did, ``ingested``), their clusters, its cache and health.
    ``known``: its health as the run found it (else read from the store). ``run_key``:
    the run's ``skip.run_key``; with it, items of a document sent again unchanged
    are not normalised (None: every item is)."""
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
        seen = seen_items(store, run_key, source) if isinstance(result, Document) else None
        ingested = ingest(config, source, result, now, seen)
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
        # First: another worker storing a copy of one of these stories now waits,
        # or is waited for, so lookup and clustering see its copy (PostgreSQL).
        store.lock_stories(got.entries)
        by_item, by_url, by_story = store.lookup(source.id, got.entries)
        actions = plan(got.entries, by_item, by_url, now, by_story, also_present=got.unchanged)
        rows: Iterable[Row] = finished_rows(
            store, source.id, actions, topics.of, encoded=dict(zip(map(id, got.entries), got.encoded,
                                                                   strict=False)),
            carrying_matters=topics.carrying_matters(source))
        if got.unchanged:
            rows = chain(rows, _still_seen(store, source.id, got.unchanged))
        applied = store.apply(source.id, rows, now)
        if got.raw:
            # The items that counted (a repeated id: the first), as sent, for the next run.
            raw = {id(e): r for e, r in zip(got.entries, got.raw, strict=True) if r is not None}
            store.remember_raw(source.id, [(e.item_key, raw[id(e)]) for e in unique_in_batch(got.entries)
                                           if id(e) in raw])
        new = applied.new
        met = judged = 0
        if config.settings.dedupe.enabled:
            for new_id, entry in applied.inserted:
                c, j = cluster(store, config, new_id, entry)
                met += c
                judged += j
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
            entries_seen=got.items, new_entries=new,
            warning=got.partly_broken,
            usual_gap=cadence(store.first_seen_times(source.id, CADENCE_SAMPLE)), jitter=jitter,
            unreadable_dates=got.unreadable_dates)
        store.save_health(health, events)
        store.record_fetch(source.id, now, failed=False, new_entries=new, seconds=seconds)
        if got.feed_info is not None:
            store.save_feed_info(source.id, got.feed_info)
    count = got.items
    message = f"{count} entr{'y' if count == 1 else 'ies'}"
    return SourceOutcome(source.id, "ok", message, new, applied.updated, tuple(got.warnings),
                         candidates=met, judged=judged)


def reclassify_all(store: StoreProtocol, topics_of: TopicsOf) -> int:
    """Give every stored story the topics the rules give it now. Returns how many
    moved between topics (a change of evidence alone is written, not counted)."""
    moved = 0
    rows: list[Retopic] = []
    for entry_id, entry, carriers in store.all_entries():
        topics = topics_of(entry, carriers[1:])
        if topics != entry.topics:
            rows.append(retopic(entry_id, replace(entry, topics=topics)))
            moved += set(entry.topic_ids) != {t.topic for t in topics}
    store.retopic(rows)
    return moved


def reclassify_if_rules_changed(config: Config, store: StoreProtocol, classifier: Classifier) -> None:
    fingerprint = classifier.fingerprint
    if store.get_meta("rules") == fingerprint:
        return
    moved = reclassify_all(store, topics_function(config, classifier))
    if moved:
        log.info("topic rules changed: %d stored entries moved between topics", moved)
    with store.transaction():
        store.set_meta("rules", fingerprint)
