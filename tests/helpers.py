"""Helpers shared by test modules: builders for test data, the CLI in-process, output
checks, a daemon subprocess and fault injectors. Test modules import shared code from
here (or fixtures from conftest), never from one another (test_layers checks it)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from atomschema import atom_errors
from click.testing import CliRunner
from conftest import FeedServer, Project
from lxml import etree

from feeds.cli.commands import cli
from feeds.config import load_config
from feeds.errors import ConfigErrors
from feeds.publish.files import Staged
from feeds.run.storing import finished_rows
from feeds.sources.fetch import HttpFetcher, Retrieved
from feeds.store.rows import Applied
from feeds.stories.dedupe import Action
from feeds.stories.normalize import content_hash
from feeds.types import Entry, HttpCache, Person, Source

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

SEED_TITLE = ("China remains optimistic despite US tech restrictions as it advances to next "
              "phase of internet evolution")
SEED_STANDFIRST = ("China Internet Conference Highlights Country’s Determination in AI and Future "
                   "Internet Technologies amid US Restrictions")


def make_entry(**kw: Any) -> Entry:
    base = Entry(
        source_id="src",
        item_key="guid:1",
        url_key="https://example.com/a",
        link="https://example.com/a",
        title="A title",
        summary_html="<p>Summary</p>",
        content_html="",
        summary_text="Summary",
        published=NOW,
        updated=NOW,
        authors=(Person("Jane"),),
        categories=(),
        enclosures=(),
        language=None,
        content_hash="h",
    )
    entry = replace(base, **kw)
    if "content_hash" not in kw:
        entry = replace(entry, content_hash=content_hash(entry.title, entry.summary_html, entry.link))
    return entry


# --- the command line and its outputs ---------------------------------------------


def write_actions(store: Any, source_id: str, actions: Sequence[Action], now: datetime,
                  topics_of: Any = None) -> Applied:
    """Write planned actions as a run does (``storing.finished_rows``), classifying new
    entries with ``topics_of`` (None: no topics). Call inside ``store.transaction()``."""
    of = topics_of if topics_of is not None else (lambda entry, others: ())
    applied: Applied = store.apply(
        source_id, finished_rows(store, source_id, actions, of, preclassified=False), now)
    return applied


def run_cli(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--root", str(root), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def parsed(path: Path) -> Any:
    return feedparser.parse(path.read_bytes())


def titles(path: Path) -> list[str]:
    return [e.title for e in parsed(path).entries]


def full_project(project: Project, server: FeedServer) -> None:
    server.add_file("/ai.rss", "ai-news.rss")
    server.add_file("/policy.atom", "policy.atom", content_type="application/atom+xml")
    server.add_file("/chips.rdf", "chips.rdf", content_type="application/rdf+xml")
    server.add("/page.html", "<!DOCTYPE html><html><head><title>Home</title></head><body>hi</body></html>",
               content_type="text/html; charset=utf-8")
    project.write_sources([
        {"id": "seeds", "title": "Local articles", "path": "seeds"},
        {"id": "ai", "title": "Example AI News", "url": server.url("/ai.rss")},
        {"id": "policy", "title": "Example Policy Watch", "url": server.url("/policy.atom")},
        {"id": "chipwire", "title": "Chip Wire", "url": server.url("/chips.rdf"), "topics": ["chips"]},
        {"id": "gone", "title": "Gone", "url": server.url("/status/404")},
        {"id": "html", "title": "A web page", "url": server.url("/page.html")},
        {"id": "off", "title": "Disabled", "url": server.url("/status/500"), "enabled": False},
    ])


def errors_of(project: Project, feeds: str | None = None, sources: str | None = None) -> list[str]:
    """The config errors of ``project`` with feeds.toml/sources.toml replaced if given."""
    if feeds is not None:
        (project.root / "config" / "feeds.toml").write_text(feeds, encoding="utf-8")
    if sources is not None:
        (project.root / "config" / "sources.toml").write_text(sources, encoding="utf-8")
    with pytest.raises(ConfigErrors) as info:
        load_config(project.root)
    return [str(e) for e in info.value.errors]


def output_ids(public: Path, checked: dict[tuple[str, str], list[str]]) -> dict[str, list[str]]:
    """Check every output file; return the ids each feed lists, in order.

    Fails if any file is incomplete or invalid, or if a feed lists an id twice.
    ``checked`` remembers files already found valid, by name and digest.
    """
    ids: dict[str, list[str]] = {}
    if not public.is_dir():
        return ids
    for path in sorted(public.rglob("*")):
        if path.is_dir() or path.name.startswith("."):
            continue
        rel = path.relative_to(public).as_posix()
        data = path.read_bytes()
        key = (rel, hashlib.sha256(data).hexdigest())
        if key in checked:
            ids[rel] = checked[key]
            continue
        if path.suffix in (".atom", ".rss"):
            feed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
            assert not feed.bozo, f"{rel}: {feed.bozo_exception}"
            etree.fromstring(data)
            if path.suffix == ".atom":
                assert atom_errors(data) == [], rel
            ids[rel] = [e.id for e in feed.entries]
        elif path.suffix == ".json":
            doc = json.loads(data)
            if rel != "status.json":
                assert doc["version"] == "https://jsonfeed.org/version/1.1", rel
                ids[rel] = [item["id"] for item in doc["items"]]
        elif path.suffix == ".opml":
            etree.fromstring(data)
        elif path.suffix == ".html":
            assert data.rstrip().endswith(b"</html>"), f"{rel} is incomplete"
        else:
            raise AssertionError(f"unexpected file in the output folder: {rel}")
        listed = ids.setdefault(rel, [])
        assert len(listed) == len(set(listed)), f"{rel} lists an entry twice"
        checked[key] = listed
    return ids


def skip_asked(environ: Mapping[str, str]) -> bool:
    """FEEDS_SKIP_BROWSER=1 skips the browser tests, except under CI (CI=true), which runs them."""
    asked = environ.get("FEEDS_SKIP_BROWSER", "").strip().lower() not in ("", "0", "false", "no")
    return asked and environ.get("CI", "").strip().lower() not in ("true", "1", "yes")


# --- the real API, gathered for tests ----------------------------------------------


async def retrieve_all(fetcher: HttpFetcher, sources: Sequence[Source],
                       caches: dict[str, HttpCache]) -> list[Retrieved]:
    """Every result of ``fetcher.stream``, in the order of ``sources``."""
    return [r async for r in fetcher.stream(sources, caches)]


def write_all_if_changed(files: Mapping[Path, bytes]) -> list[Path]:
    """Write every file of ``files`` whose bytes changed, all or nothing, through
    ``Staged`` as publishing does; return those written."""
    with Staged() as staged:
        for path, data in files.items():
            staged.add(path, data)
        return staged.commit()


# --- the daemon as a process --------------------------------------------------------


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


class DaemonProcess:
    def __init__(self, project: Project, log: Path, *args: str) -> None:
        self.log = log
        self.out = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "feeds", "--root", str(project.root), *args, "daemon",
             "--tick", "1s", "--debounce", "0.2s"],
            stdout=self.out, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONFAULTHANDLER": "1"})

    def text(self) -> str:
        return self.log.read_text()

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            self.proc.wait(timeout=10)
            raise AssertionError("the daemon did not stop:\n" + self.text()) from None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.out.close()


# --- faults ------------------------------------------------------------------------


def fail_fsync_on(nth: int, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the ``nth`` fsync of a regular file fail with ENOSPC; returns the call count.
    (Staged files are fsynced from threads, so which file that is may vary.)"""
    calls = [0]
    real = os.fsync
    lock = threading.Lock()

    def fsync(fd: int) -> None:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            with lock:
                calls[0] += 1
                fail = calls[0] == nth
            if fail:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


# --- a site with archive pages, as made by one version of the code or another -----

# Story n of the archive scenario: an AI note, every third also about chips.
ARCHIVE_BATCHES = ((1, 2, 3), (4, 5), (6, 7, 8, 9, 10, 11, 12, 13, 14), tuple(range(15, 23)))
ARCHIVE_START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class SeedsFetcher:
    """Reads the local folders; a project with other sources is not for it."""

    async def stream(self, sources: Sequence[Source], caches: dict[str, HttpCache],
                     urls: dict[str, str] | None = None) -> Any:
        from feeds.sources.fetch import read_folder

        for source in sources:
            yield Retrieved(source, read_folder(source), 0.0)


def archive_scenario(root: Path) -> None:
    """A project at ``root`` whose topics have RFC 5005 archive pages (four stories
    a page): 22 stories written in four runs a day apart, so that each batch has
    its own first-seen time and the three oldest can be purged alone."""
    import asyncio
    import random

    from feeds.run.pipeline import run_once
    from feeds.store.state import Store

    project = Project(root)
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "seeds").mkdir(exist_ok=True)
    project.write_feeds(max_entries=4, retention_days=3650)
    project.write_sources([{"id": "seeds", "title": "Local articles", "path": "seeds"}])
    for day, batch in enumerate(ARCHIVE_BATCHES):
        for n in batch:
            chips = " The new chip is made by TSMC." if n % 3 == 0 else ""
            (root / "seeds" / f"note-{n:02d}.md").write_text(
                f"---\ntitle: AI note {n}\ndate: 2026-10-{n:02d}\n---\nText about AI.{chips}\n",
                encoding="utf-8")
        config = load_config(root)
        with Store(config.settings.state_path) as store:
            asyncio.run(run_once(config, store=store, fetcher=SeedsFetcher(),
                                 now=ARCHIVE_START + timedelta(days=day), rng=random.Random(1)))


def archive_chain(public: Path, topic: str, base_url: str = "https://feeds.test/"
                  ) -> list[tuple[str, list[str]]]:
    """Follow a topic's prev-archive links from its feed: each page's file name and
    entry ids, newest page first. Fails on a link to a missing document or an
    archive page that is not valid Atom with fh:archive and a link to the feed."""
    feed = feedparser.parse((public / f"{topic}.atom").read_bytes())
    href = next((link.href for link in feed.feed.links if link.rel == "prev-archive"), "")
    pages: list[tuple[str, list[str]]] = []
    while href:
        name = href.removeprefix(base_url)
        assert (public / name).is_file(), f"{href} is linked but missing"
        data = (public / name).read_bytes()
        assert atom_errors(data) == [], name
        assert b"<fh:archive/>" in data, name
        page = feedparser.parse(data)
        assert [link.href for link in page.feed.links if link.rel == "current"] == [f"{base_url}{topic}.atom"]
        pages.append((name, [e.id for e in page.entries]))
        href = next((link.href for link in page.feed.links if link.rel == "prev-archive"), "")
        assert len(pages) < 10_000
    return pages
