"""Worker processes that die (the kernel's OOM killer, an operator's kill) cost
nothing but time: the main process parses and renders what they would have."""

from __future__ import annotations

import asyncio
import errno
import logging
import multiprocessing
import os
import random
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, FeedServer

import feeds.errors
import feeds.publish.files
import feeds.publish.publisher
import feeds.run.pipeline
import feeds.run.workers
from feeds.config import load_config
from feeds.sources.fetch import HttpFetcher
from feeds.store.state import Store


def broken_pool() -> ProcessPoolExecutor:
    pool = ProcessPoolExecutor(max_workers=1)
    with pytest.raises(BrokenProcessPool):
        pool.submit(os._exit, 1).result(timeout=30)
    return pool


def test_a_dead_worker_pool_falls_back_to_the_main_process(make_project: Any, server: FeedServer,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    names = sorted(p.name for p in (DATA / "corpus").iterdir() if p.suffix in (".rss", ".atom", ".xml"))[:10]
    for name in names:
        server.add(f"/c/{name}", (DATA / "corpus" / name).read_bytes(), content_type="application/xml")
    # A CLI test earlier in the same process may have left the root logger at ERROR (-q).
    caplog.set_level(logging.WARNING, logger="feeds")
    outputs = []
    for broken in (False, True):
        project = make_project(f"b{broken}")
        project.write_sources([{"id": f"s{n}", "url": server.url(f"/c/{name}")}
                               for n, name in enumerate(names)])
        config = load_config(project.root)
        workers = (lambda *_a: broken_pool()) if broken else feeds.run.workers.worker_pool
        with Store(config.settings.state_path) as store:
            report = asyncio.run(run(config, store, workers))
        assert len(report.outcomes) == len(names) >= 8
        files = {p.relative_to(project.public).as_posix(): p.read_bytes()
                 for p in sorted(project.public.rglob("*")) if p.is_file() and p.name != "status.json"}
        outputs.append(({o.source_id: (o.status, o.message) for o in report.outcomes}, files))
    assert outputs[0] == outputs[1]
    assert "a worker process died" in caplog.text


async def run(config: Any, store: Store,
              workers: feeds.run.workers.PoolFactory = feeds.run.workers.worker_pool) -> Any:
    return await asyncio.wait_for(feeds.run.pipeline.run_once(
        config, store=store, fetcher=HttpFetcher(config.settings.fetch),
        now=datetime(2026, 11, 27, 12, tzinfo=UTC), rng=random.Random(1), workers=workers), 120)


def _no_space_for_page_3_rss() -> None:
    """A worker's initializer: staging the RSS of archive page 3 fails as on a full disk."""
    stage = feeds.publish.files._stage

    def failing(path: Path, data: bytes, *, sync: bool = True) -> str:
        if path.name == "3.rss":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return stage(path, data, sync=sync)

    feeds.publish.files._stage = failing


def test_pages_staged_by_workers_are_removed_when_publishing_fails(make_project: Any,
                                                                   server: FeedServer) -> None:
    """Workers stage the pages they render. When one cannot be written, publishing
    fails with its name, and leaves no temp file (those of the pages rendered
    before it and of those still rendering) and no output changed."""
    names = sorted(p.name for p in (DATA / "corpus").iterdir() if p.suffix in (".rss", ".atom", ".xml"))[:10]
    for name in names:
        server.add(f"/c/{name}", (DATA / "corpus" / name).read_bytes(), content_type="application/xml")
    project = make_project("fail")
    project.write_feeds(max_entries=5)
    project.write_sources([{"id": f"s{n}", "url": server.url(f"/c/{name}")} for n, name in enumerate(names)])
    config = load_config(project.root)
    with Store(config.settings.state_path) as store:
        asyncio.run(run(config, store))
        before = {p: p.read_bytes() for p in project.public.rglob("*") if p.is_file()}
        pages = sorted((project.public / "archive" / "all").iterdir())
        assert len(pages) >= 16
        for page in pages:  # every page must be rendered again
            page.unlink()
        store.touch()
        with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_no_space_for_page_3_rss) as pool, \
                pytest.raises(feeds.errors.EmitError) as caught:
            feeds.publish.publisher.publish(config, store, pool)
    assert "archive/all/3.rss" in str(caught.value)
    assert "No space left on device" in str(caught.value)
    left = {p: p.read_bytes() for p in project.public.rglob("*") if p.is_file()}
    assert [p.name for p in left if p.name.endswith(".tmp")] == []
    assert left == {p: b for p, b in before.items() if p not in pages}


def test_the_forkserver_preloads_what_the_workers_run() -> None:
    """The forkserver skips a preload name it cannot import without a word, and the
    workers then import their modules one by one: every name must import, and the
    functions handed to workers must live in modules it names."""
    import importlib

    from feeds.publish.render import render_staged

    for name in feeds.run.workers.PRELOAD:
        importlib.import_module(name)
    submitted = {feeds.run.workers._ingest_in_worker.__module__, render_staged.__module__}
    assert submitted <= set(feeds.run.workers.PRELOAD)


def test_the_forkserver_preloads_no_http_client() -> None:
    """Workers parse and render, never fetch: the modules the forkserver preloads
    must not bring httpx (36 MiB of every worker's share of a run's peak)."""
    import subprocess
    import sys

    code = ("import sys, feeds.run.workers as w\n"
            "for m in w.PRELOAD: __import__(m)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('httpx', 'aiohttp', 'httpcore')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
