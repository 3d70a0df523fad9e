"""One run: retrieve, parse, normalise, classify, dedupe, store, publish.

``run_once`` wires the stages and chooses the sources; each stage has its own
module: ``ingest`` (parse and normalise, in workers), ``workers`` (the pool),
``storing`` (one source's outcome into the store), ``feeds.publish.publisher``
(the outputs). The clock comes in as ``now``.
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from feeds.errors import FeedsError, SourceError
from feeds.publish.publisher import publish, write_status_page
from feeds.run.skip import run_key
from feeds.run.storing import Topics, reclassify_if_rules_changed, seen_items, store_outcome, topics_function
from feeds.run.workers import PoolFactory, ingest_as_fetched, worker_pool
from feeds.sources.fetch import Retrieved
from feeds.sources.health import reset_if_reconfigured
from feeds.sources.polling import DUE_SLACK, is_due
from feeds.store.protocol import StoreProtocol
from feeds.stories.classify import Classifier
from feeds.stories.sourceinfo import with_feed_titles
from feeds.types import Config, Document, HttpCache, RunReport, Source, SourceHealth, SourceOutcome

# Re-exported: the command line calls them with run_once.
__all__ = ["Fetcher", "publish", "run_once", "write_status_page"]

log = logging.getLogger("feeds")


class Fetcher(Protocol):
    def stream(self, sources: Sequence[Source], caches: dict[str, HttpCache],
               urls: dict[str, str] | None = None) -> AsyncIterator[Retrieved]: ...


@dataclass(frozen=True)
class _Selection:
    sources: list[Source]  # to fetch
    skipped: list[SourceOutcome]  # not due, or gone
    urls: dict[str, str]  # adopted permanent redirects
    caches: dict[str, HttpCache]  # validators to send
    health: dict[str, SourceHealth]  # as the run found it: one query, not one per source


# How long a run's sources may wait to be committed. Each commit writes every page
# touched since the last one to the WAL, and the indexes take random inserts, so
# fewer commits write much less (docs/design.md, "Commits are batched").
BATCH_SECONDS = 5.0


def _select(config: Config, store: StoreProtocol, now: datetime, only: set[str] | None,
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


async def run_once(config: Config, *, store: StoreProtocol, fetcher: Fetcher, now: datetime,
                   only: set[str] | None = None, force: bool = False,
                   rng: random.Random | None = None, publish_outputs: bool = True,
                   due_slack: timedelta = DUE_SLACK, workers: PoolFactory = worker_pool) -> RunReport:
    """One run. Sources that are not due (or gone) are skipped unless ``force``
    or named in ``only``; local folders are read every time. The daemon passes
    ``publish_outputs=False`` and publishes once fetches settle. ``workers`` makes
    the pool to parse and render in from the config and the number of sources to
    fetch (None: this process does it all); the run shuts it down when done.
    What follows rendering (the hub ping, status.json) is the caller's:
    ``feeds.publish.publisher.finish_publish``."""
    rng = rng or random.Random()
    config = with_feed_titles(config, store.feed_infos())  # health events name sources so too
    if store.get_meta("created") is None:
        with store.transaction():
            store.set_meta("created", now.isoformat())
    selection = _select(config, store, now, only, force, due_slack)
    outcomes = list(selection.skipped)
    classifier = Classifier(config.topics, config.sources)
    reclassify_if_rules_changed(config, store, classifier)
    pool = workers(config, len(selection.sources))
    warnings: list[str] = []
    try:
        written, unchanged, purged = await _run_and_publish(
            config, store, fetcher, selection, classifier, now, rng, outcomes, pool, publish_outputs,
            warnings)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
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


def _record_dedupe_cost(store: StoreProtocol, outcomes: Sequence[SourceOutcome]) -> None:
    """What near-duplicate search cost this run, kept in the meta table
    (``dedupe_cost``: new entries, candidates met, pairs judged) for the benchmark
    to read (``feeds -v run`` prints it): a few candidates an entry, whatever the text."""
    new = sum(o.new_entries for o in outcomes)
    met = sum(o.candidates for o in outcomes)
    judged = sum(o.judged for o in outcomes)
    with store.transaction():
        store.set_meta("dedupe_cost", f"{new} {met} {judged}")


async def _run_and_publish(config: Config, store: StoreProtocol, fetcher: Fetcher, selection: _Selection,
                           classifier: Classifier, now: datetime, rng: random.Random,
                           outcomes: list[SourceOutcome], pool: Executor | None,
                           publish_outputs: bool, warnings: list[str]) -> tuple[list[str], int, int]:
    # Made once a run: each source's entries are classified with it, and it maps every
    # source by id.
    topics = Topics(topics_function(config, classifier), classifier.carrying_matters)
    # Items sent again unchanged are not normalised again (``skip``); the key reads the
    # code once, when the first document arrives (an all-304 run never does).
    key = functools.cache(lambda: run_key(config))
    with store.batch(BATCH_SECONDS):
        async for item, ingested in ingest_as_fetched(
                fetcher.stream(selection.sources, selection.caches, selection.urls), now, pool,
                lambda source: seen_items(store, key(), source)):
            source, result = item.source, item.result
            try:
                outcome = store_outcome(config, store, topics, source, result, now, rng.random(),
                                        ingested, selection.health.get(source.id), item.seconds,
                                        key() if isinstance(result, Document) else None)
            except FeedsError:  # the state database itself (StateError): nothing can go on
                raise
            except Exception as exc:  # a bug meeting odd input must not cost the other sources
                log.exception("internal error while processing source %s", source.id)
                error = SourceError(source.id,
                                    f"internal error while processing: {type(exc).__name__}: {exc}")
                outcome = store_outcome(config, store, topics, source, error, now, rng.random(),
                                        known=selection.health.get(source.id))
            outcome = replace(outcome, seconds=item.seconds)
            outcomes.append(outcome)
            log.debug("%s: %s %s", source.id, outcome.status, outcome.message)
            store.commit_if_due()
        _record_dedupe_cost(store, outcomes)
    store.release_cache()  # publishing reads far less than storing wrote
    purged = store.purge(now - timedelta(days=config.settings.retention_days))
    written, unchanged = publish(config, store, pool, warnings) if publish_outputs else ([], 0)
    return written, unchanged, purged
