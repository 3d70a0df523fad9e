"""Worker processes that die (the kernel's OOM killer, an operator's kill) cost
nothing but time: the main process parses and renders what they would have."""

from __future__ import annotations

import asyncio
import logging
import os
import random
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import DATA, FeedServer

import feeds.pipeline
from feeds.config import load_config
from feeds.fetch import HttpFetcher
from feeds.state import Store


def broken_pool() -> ProcessPoolExecutor:
    pool = ProcessPoolExecutor(max_workers=1)
    with pytest.raises(BrokenProcessPool):
        pool.submit(os._exit, 1).result(timeout=30)
    return pool


def test_a_dead_worker_pool_falls_back_to_the_main_process(make_project: Any, server: FeedServer,
                                                           monkeypatch: pytest.MonkeyPatch,
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
        if broken:
            monkeypatch.setattr(feeds.pipeline, "_worker_pool", lambda *_a: broken_pool())
        with Store(config.settings.state_path) as store:
            report = asyncio.run(run(config, store))
        assert len(report.outcomes) == len(names) >= 8
        files = {p.relative_to(project.public).as_posix(): p.read_bytes()
                 for p in sorted(project.public.rglob("*")) if p.is_file() and p.name != "status.json"}
        outputs.append(({o.source_id: (o.status, o.message) for o in report.outcomes}, files))
    assert outputs[0] == outputs[1]
    assert "a worker process died" in caplog.text


async def run(config: Any, store: Store) -> Any:
    return await asyncio.wait_for(feeds.pipeline.run_once(
        config, store=store, fetcher=HttpFetcher(config.settings.fetch),
        now=datetime(2026, 11, 27, 12, tzinfo=UTC), rng=random.Random(1)), 120)
