"""The worker processes of a large run: parsing (``ingest``) and rendering
(``publish.render``) on the other cores while the main process stores.

Workers are a speed path only: same inputs, same results, and when one dies
(the kernel's OOM killer) the main process does its work instead.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import AsyncIterator, Callable
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

from feeds.errors import SourceError
from feeds.run.ingest import Ingest, Seen, ingest
from feeds.types import Config, Document, LocalFolder, Source

if TYPE_CHECKING:  # not at run time: the forkserver preloads this module, and no worker fetches
    from feeds.sources.fetch import Retrieved

log = logging.getLogger("feeds")

# The modules of the functions a worker process runs (parsing here, rendering in
# publish.render): imported once in the forkserver, so that no worker imports them again.
PRELOAD = ["feeds.run.workers", "feeds.publish.render"]

# Makes a run's worker pool from the config and the number of sources to fetch; None
# parses and renders in the main process. ``run_once`` takes one (``workers``), so
# that a test can hand it a pool of its own, a broken one for instance.
PoolFactory = Callable[[Config, int], Executor | None]


# Below this many sources a run parses in the main process: starting workers costs more.
PARALLEL_MIN = 8
# Documents fetched (and being parsed) ahead of the one the main process stores.
WAITING = 16


def worker_pool(config: Config, sources: int) -> ProcessPoolExecutor | None:
    """Processes for parsing and rendering, or None for a small run. No process
    starts until the first task is submitted, so a run where every source
    answers 304 starts none. Each process gets the config once, when it starts,
    rather than pickled with every document."""
    workers = config.settings.fetch.parse_workers
    if workers == 0 or sources < PARALLEL_MIN:
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=_start_worker, initargs=(config,))


_worker_state: dict[str, Config] = {}


def _start_worker(config: Config) -> None:
    _worker_state["config"] = config


def _ingest_in_worker(source: Source, result: Document | LocalFolder, now: datetime, seen: Seen | None
                      ) -> Ingest | SourceError:
    return ingest(_worker_state["config"], source, result, now, seen)


def _none(source: Source) -> Seen | None:
    return None


async def ingest_as_fetched(stream: AsyncIterator[Retrieved], now: datetime, pool: Executor | None,
                            seen: Callable[[Source], Seen | None] = _none,
                            ) -> AsyncIterator[tuple[Retrieved, Ingest | SourceError | None]]:
    """The fetcher's results in its order, each with what a worker process made of
    it when there is a pool (None: the main process ingests it).

    Parsing is CPU-bound and most of a cold run, so it runs on the other cores
    while this process stores what is ready; a document is handed to a worker as
    soon as it arrives, with ``seen(source)``: what the store holds of its items.
    Same inputs, same results: the workers run the very function the main process
    would. At most a few documents wait for this process at a time, so memory does
    not grow with the number of sources.
    """
    if pool is None:
        async for item in stream:
            yield item, None
        return
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[Retrieved, asyncio.Future[Ingest | SourceError] | None] | None] = (
        asyncio.Queue(maxsize=WAITING))

    async def feed() -> None:
        try:
            async for item in stream:
                future = None
                if isinstance(item.result, Document | LocalFolder):
                    try:
                        known = seen(item.source) if isinstance(item.result, Document) else None
                        future = loop.run_in_executor(pool, _ingest_in_worker, item.source, item.result,
                                                      now, known)
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
            result: Ingest | SourceError | None = None
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
