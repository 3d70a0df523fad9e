"""Three `feeds worker` processes against a few hundred sources on four loopback hosts,
one of them killed with SIGKILL mid-batch: the promises of issue #18.

- no host ever sees more requests at once than `per_host`;
- no source is fetched twice within its interval, except those in flight on the
  killed worker (at most one extra fetch each);
- every source is still processed after the kill;
- the outputs hold the same entries, ids and topics as one `feeds run`;
- nothing in the state database is duplicated.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import feedparser
import pg
import pytest
from conftest import FEEDS_TOML, FeedServer, Project
from queue_pg import pg_url, psycopg

__all__ = ["pg_url"]

pytestmark = pytest.mark.slow

HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
PER_HOST_SOURCES = 60
PER_HOST = 2
BATCH = 5
CONCURRENCY = 2
WORDS = ("AI", "chip", "semiconductor", "regulator internet", "language model", "weather")


def words(seed: str, n: int) -> str:
    """Made-up words from a hash: stories no two of which look alike (near-duplicates
    would make which copy is shown depend on arrival order, which is not under test)."""
    syllables = ("ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "pa", "do", "fe", "gu", "hi")
    digest = hashlib.sha256(seed.encode()).digest()
    return " ".join("".join(syllables[b % len(syllables)] for b in digest[i * 3:i * 3 + 3]).capitalize()
                    for i in range(n))


def feed(h: int, n: int) -> str:
    items = "".join(
        f"<item><title>{WORDS[(h + n + i) % len(WORDS)]} {words(f't{h}-{n}-{i}', 4)}</title>"
        f"<link>https://h{h}.test/{n}/{i}</link><guid>https://h{h}.test/{n}/{i}</guid>"
        f"<description>{words(f'd{h}-{n}-{i}', 10)}.</description>"
        f"<pubDate>Fri, 27 Nov 2026 {10 + i}:{n % 60:02d}:00 GMT</pubDate></item>" for i in range(2))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {h}-{n}</title>'
            f"<link>https://h{h}.test/</link><description>d</description>{items}</channel></rss>")


def write_project(root: Path, servers: list[FeedServer]) -> None:
    (root / "config").mkdir(parents=True)
    toml = FEEDS_TOML.format(max_entries=2000, retention_days=3650, read_timeout=5, total_timeout=10,
                             max_bytes=1_000_000)
    toml = toml.replace("concurrency = 4\n", f"concurrency = 8\nper_host = {PER_HOST}\n")
    (root / "config" / "feeds.toml").write_text(toml)
    Project(root).write_sources([
        {"id": f"h{h}-{n}", "url": srv.url(f"/{n}.xml"), "interval": "1h"}
        for h, srv in enumerate(servers) for n in range(PER_HOST_SOURCES)])


@pytest.fixture
def servers() -> Iterator[list[FeedServer]]:
    made: list[FeedServer] = []
    try:
        for h, host in enumerate(HOSTS):
            try:
                srv = FeedServer(host)
            except OSError as exc:
                pytest.skip(f"cannot listen on {host}: {exc}")
            made.append(srv)
            for n in range(PER_HOST_SOURCES):
                srv.add(f"/{n}.xml", feed(h, n), delay=0.1)
        yield made
    finally:
        for srv in made:
            srv.close()


def wait_for(what: str, check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(0.1)


def start_worker(root: Path, url: str, state_url: str, log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "feeds", "--root", str(root), "worker", "--database", url,
         "--dispatch-every", "1", "--spread", "1s", "--batch-size", str(BATCH),
         "--concurrency", str(CONCURRENCY), "--budget", "60", "--lease", "8s", "--stalled-after", "3"],
        stdout=log.open("w"), stderr=subprocess.STDOUT, text=True,
        # the state on the queue's PostgreSQL database (a schema of its own), as workers
        # on several machines have it
        env={**os.environ, "PYTHONFAULTHANDLER": "1", "FEEDS_STATE_URL": state_url})


def topic_entries(public: Path) -> dict[str, set[tuple[str, str, str, tuple[str, ...]]]]:
    out = {}
    for path in sorted(public.glob("*.atom")):
        if path.stem == "health":
            continue
        parsed = feedparser.parse(path.read_bytes())
        out[path.stem] = {(e.id, e.title, e.link, tuple(sorted(t.term for t in e.get("tags", []))))
                          for e in parsed.entries}
    return out


def test_three_workers_one_killed_keep_every_promise(tmp_path: Path, servers: list[FeedServer],
                                                    pg_url: str) -> None:
    root = tmp_path / "site"
    write_project(root, servers)
    total = len(HOSTS) * PER_HOST_SOURCES
    logs = [tmp_path / f"worker{i}.log" for i in range(3)]
    procs: list[subprocess.Popen[str]] = []
    db = psycopg.connect(pg_url, autocommit=True)
    db.execute("CREATE SCHEMA state")
    state_url = pg.with_schema(pg_url, "state")

    def q(sql: str, *args: Any) -> list[tuple[Any, ...]]:
        try:
            rows: list[tuple[Any, ...]] = db.execute(sql, args).fetchall()
            return rows
        except psycopg.errors.UndefinedTable:
            return []

    try:
        procs.append(start_worker(root, pg_url, state_url, logs[0]))
        wait_for("the first worker to register", lambda: bool(q("SELECT id FROM procrastinate_workers")),
                 20)
        victim_id = q("SELECT min(id) FROM procrastinate_workers")[0][0]
        procs += [start_worker(root, pg_url, state_url, logs[i]) for i in (1, 2)]

        def victim_busy() -> bool:
            fetched = sum(len(s.hits) for s in servers)
            return fetched > total // 4 and bool(q(
                "SELECT 1 FROM procrastinate_jobs WHERE status = 'doing' AND task_name = 'feeds.batch'"
                " AND worker_id = %s", victim_id))

        wait_for("the first worker to be mid-batch", victim_busy, 25)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        in_flight = {sid for (args,) in q(
            "SELECT args FROM procrastinate_jobs WHERE status = 'doing' AND worker_id = %s", victim_id)
            for sid in args.get("source_ids", [])}
        assert in_flight, "the killed worker had no batch in hand"

        def all_stored() -> bool:
            found = q("SELECT count(*) FROM state.entries")
            n = found[0][0] if found else 0
            idle = not q("SELECT 1 FROM feeds_claims WHERE token IS NOT NULL")
            return bool(n == 2 * total and idle)

        wait_for("every source to be stored and released", all_stored, 40)

        def published() -> bool:
            waiting = q("SELECT 1 FROM procrastinate_jobs WHERE task_name = 'feeds.publish'"
                        " AND status IN ('todo', 'doing')")
            meta = dict(q("SELECT key, value FROM state.meta WHERE key IN ('generation', 'outputs')"))
            return (not waiting and "outputs" in meta
                    and json.loads(meta["outputs"])["generation"] == int(meta["generation"]))

        wait_for("the outputs to be published", published, 20)
        # nothing duplicated in the state
        assert q("SELECT count(*), count(DISTINCT id), count(DISTINCT source_id || item_key)"
                 " FROM state.entries") == [(2 * total, 2 * total, 2 * total)]
        assert q("SELECT count(*), count(DISTINCT id) FROM state.sources") == [(total, total)]
        assert not (root / "var" / "state.db").exists()  # no worker fell back to SQLite
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        db.close()
    logs_text = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)

    # no host ever saw more than per_host requests at once
    assert [s.max_inflight for s in servers] == [PER_HOST] * len(HOSTS) or all(
        s.max_inflight <= PER_HOST for s in servers), logs_text
    # each source once; the killed worker's in-flight ones at most twice
    fetches = Counter(f"h{h}-{hit.path.strip('/').removesuffix('.xml')}"
                      for h, s in enumerate(servers) for hit in s.hits)
    assert set(fetches) == {f"h{h}-{n}" for h in range(len(HOSTS)) for n in range(PER_HOST_SOURCES)}
    twice = {sid for sid, c in fetches.items() if c > 1}
    assert all(c <= 2 for c in fetches.values()), fetches.most_common(5)
    assert twice <= in_flight, (twice - in_flight, logs_text)
    # the same outputs as one `feeds run` over the same inputs
    other = tmp_path / "single"
    write_project(other, servers)
    run = subprocess.run([sys.executable, "-m", "feeds", "--root", str(other), "run"],
                         check=False, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert topic_entries(root / "public") == topic_entries(other / "public")
