"""Items a source sends again unchanged are not normalised again (``feeds.run.skip``),
and skipping them changes nothing: the outputs and the state are those of a run that
normalises every item. A change of the rules, the settings or the code normalises
everything again."""

from __future__ import annotations

import asyncio
import random
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, FeedServer

import feeds.run.ingest
import feeds.run.pipeline
import feeds.run.skip
import feeds.run.workers
from feeds.config import load_config
from feeds.sources.fetch import HttpFetcher
from feeds.store.state import Store

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
CORPUS = DATA / "corpus"
# Every fifth real-world feed: RSS 0.9x to 2.0, RSS 1.0, Atom, JSON Feed, odd encodings.
NAMES = sorted(p.name for p in CORPUS.iterdir() if p.suffix in (".rss", ".atom", ".xml", ".json"))[::5]

_BLOCK = re.compile(rb"<(item|entry)[\s>].*?</\1>", re.S)
_TITLE = re.compile(rb"<title([^>]*)>")


def changed(body: bytes, n: int) -> bytes:
    """A new version of a feed: a third gain an item at the top, a third also see their
    first item's title edited, the rest only change bytes outside the items."""
    first = _BLOCK.search(body)
    if first is None or n % 3 == 2:
        return body + b"\n<!-- a later build -->\n" if not body.lstrip().startswith(b"{") else body + b"\n"
    block = first.group(0)
    new = block
    for value in set(re.findall(rb"<(?:guid|id|link)[^>]*>([^<]+)<", block)):
        new = new.replace(value, value + b"-later")
    new = _TITLE.sub(rb"<title\1>Later: ", new, count=1)
    old = _TITLE.sub(rb"<title\1>Edited: ", block, count=1) if n % 3 == 1 else block
    return body[:first.start()] + new + b"\n" + old + body[first.end():]


def serve(server: FeedServer, later: bool) -> None:
    for n, name in enumerate(NAMES):
        body = (CORPUS / name).read_bytes()
        server.add(f"/c/{name}", changed(body, n) if later else body,
                   content_type="application/json" if name.endswith(".json") else "application/xml")


def normalised(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the items normalised in this process (the runs here use no workers)."""
    calls = [0]
    real = feeds.run.ingest._normalized

    def counting(*args: Any) -> Any:
        calls[0] += 1
        return real(*args)

    monkeypatch.setattr(feeds.run.ingest, "_normalized", counting)
    return calls


def run(root: Path, now: datetime, workers: Any = lambda *_: None) -> Any:
    config = load_config(root)
    with Store(config.settings.state_path) as store:
        return asyncio.run(asyncio.wait_for(feeds.run.pipeline.run_once(
            config, store=store, fetcher=HttpFetcher(config.settings.fetch), now=now,
            rng=random.Random(1), workers=workers, force=True), 120))


def state(root: Path) -> dict[str, Any]:
    db = sqlite3.connect(root / "var" / "state.db")
    try:
        return {
            "entries": db.execute("SELECT id, source_id, item_key, url_key, first_seen, last_seen, gone,"
                                  " published, updated, content_hash, data, cluster_id, story_key"
                                  " FROM entries ORDER BY id").fetchall(),
            "items": db.execute("SELECT source_id, item_key, entry_id, last_seen FROM items"
                                " ORDER BY 1, 2").fetchall(),
            "topics": db.execute("SELECT e.id, t.* FROM entry_topics t JOIN entries e"
                                 " ON e.num = t.entry ORDER BY 1, 2").fetchall(),
        }
    finally:
        db.close()


def outputs(public: Path) -> dict[str, bytes]:
    return {p.relative_to(public).as_posix(): p.read_bytes() for p in sorted(public.rglob("*"))
            if p.is_file() and p.name != "status.json"}


def report_of(report: Any) -> dict[str, Any]:
    return {o.source_id: (o.status, o.message, o.new_entries, o.updated_entries, o.warnings)
            for o in report.outcomes}


def project_for(make_project: Any, server: FeedServer, name: str, **feeds_toml: object) -> Any:
    project = make_project(name)
    if feeds_toml:
        project.write_feeds(**feeds_toml)
    project.write_sources([{"id": f"s{n}", "url": server.url(f"/c/{name}")} for n, name in enumerate(NAMES)])
    return project


def test_skipping_unchanged_items_gives_the_outputs_and_state_of_normalising_them(
        make_project: Any, server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    results = []
    counts = []
    for skipping in (True, False):
        with monkeypatch.context() as m:
            if not skipping:
                m.setattr(feeds.run.pipeline, "run_key", lambda config: None)
            calls = normalised(m)
            project = project_for(make_project, server, f"skip{skipping}")
            serve(server, later=False)
            run(project.root, NOW)
            first = calls[0]
            serve(server, later=True)
            report = run(project.root, NOW + timedelta(days=1))
            counts.append((first, calls[0] - first))
            results.append((report_of(report), outputs(project.public), state(project.root)))
    assert results[0][0] == results[1][0]
    assert results[0][1] == results[1][1]
    assert results[0][2] == results[1][2]
    (cold, again), (cold_all, again_all) = counts
    assert cold == cold_all > 100
    # Every item was normalised again without the skip, and only the new and edited
    # ones (a few per changed feed) with it.
    assert again_all > cold_all
    assert 0 < again < again_all / 4, (again, again_all)


def test_worker_processes_skip_as_the_main_process_does(make_project: Any, server: FeedServer) -> None:
    results = []
    for workers in (feeds.run.workers.worker_pool, lambda *_: None):
        project = project_for(make_project, server, f"w{workers is feeds.run.workers.worker_pool}")
        serve(server, later=False)
        run(project.root, NOW, workers)
        serve(server, later=True)
        report = run(project.root, NOW + timedelta(days=1), workers)
        results.append((report_of(report), outputs(project.public), state(project.root)))
    assert len(NAMES) >= feeds.run.workers.PARALLEL_MIN
    assert results[0] == results[1]


@pytest.mark.parametrize("change", ["rules", "settings", "code"])
def test_a_change_of_rules_settings_or_code_normalises_every_item_again(
        change: str, make_project: Any, server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    project = project_for(make_project, server, f"c-{change}")
    serve(server, later=False)
    calls = normalised(monkeypatch)
    run(project.root, NOW)
    cold = calls[0]
    if change == "rules":
        (project.root / "config" / "feeds.toml").write_text(
            (project.root / "config" / "feeds.toml").read_text(encoding="utf-8")
            + '\n[topics.later]\ntitle = "Later"\nkeywords = ["later"]\n', encoding="utf-8")
    elif change == "settings":
        project.write_feeds(max_bytes=2_000_000)
    else:
        monkeypatch.setattr(feeds.run.skip, "code_digest", lambda: "another version of the code")
    serve(server, later=True)
    run(project.root, NOW + timedelta(days=1))
    assert calls[0] - cold >= cold
