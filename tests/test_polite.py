"""Polite fetching and source health, end to end against the loopback server."""

from __future__ import annotations

import asyncio
import json
import random
import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from conftest import DATA, FeedServer, Project
from helpers import run_cli, write_actions

from feeds.config import load_config
from feeds.run.pipeline import run_once
from feeds.sources.fetch import HttpFetcher
from feeds.sources.health import after_success, cadence
from feeds.sources.polling import backoff, interval_after_success, is_due, spread
from feeds.store.state import _SCHEMA_V1, SCHEMA_VERSION, Store
from feeds.types import CacheHints, FetchSettings, Source, SourceHealth

RSS = (DATA / "feeds" / "ai-news.rss").read_text(encoding="utf-8")
START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Clock:
    """Runs the pipeline in-process at chosen times, as cron would over days."""

    def __init__(self, project: Project) -> None:
        self.config = load_config(project.root)
        self.store = Store(self.config.settings.state_path)
        self.fetcher = HttpFetcher(self.config.settings.fetch)
        self.rng = random.Random(7)

    def run(self, at: datetime, **kw: Any) -> dict[str, Any]:
        report = asyncio.run(run_once(self.config, store=self.store, fetcher=self.fetcher, now=at,
                                      rng=self.rng, **kw))
        return {o.source_id: o for o in report.outcomes}

    def health(self, source_id: str) -> SourceHealth:
        return self.store.health(source_id)

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def clock(project: Project) -> Any:
    holder: list[Clock] = []

    def make() -> Clock:
        holder.append(Clock(project))
        return holder[-1]

    yield make
    for c in holder:
        c.close()


# --- pure policy ------------------------------------------------------------------

S = FetchSettings(default_interval=timedelta(minutes=30), min_interval=timedelta(minutes=10),
                  max_interval=timedelta(hours=6), max_backoff=timedelta(days=1))


@pytest.mark.parametrize(("hints", "ttl", "interval", "expected"), [
    (None, None, None, timedelta(minutes=30)),  # no hints: the default
    (CacheHints(7200), None, None, timedelta(hours=2)),  # max-age
    (None, 90, None, timedelta(minutes=90)),  # RSS ttl (minutes)
    (CacheHints(60), 120, None, timedelta(minutes=120)),  # the longer hint wins
    (CacheHints(5), None, None, timedelta(minutes=10)),  # clamped to the minimum
    (CacheHints(86400 * 7), None, None, timedelta(hours=6)),  # and to the maximum
    (CacheHints(7200), None, timedelta(minutes=15), timedelta(minutes=15)),  # operator's own
])
def test_interval_after_success(hints: CacheHints | None, ttl: int | None, interval: timedelta | None,
                                expected: timedelta) -> None:
    source = Source("s", "S", url="http://x/", interval=interval)
    assert interval_after_success(source, S, hints, ttl) == expected


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    waits = [backoff(n, S, 0.5) for n in range(1, 10)]
    assert waits[:4] == [timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2), timedelta(hours=4)]
    assert waits[-1] == timedelta(days=1)
    assert backoff(1, S, 0.0) == timedelta(minutes=24)  # -20 %
    assert backoff(1, S, 0.999) < timedelta(minutes=36.01)  # +20 %
    assert backoff(1, S, 0.5, retry_after=3 * 3600) == timedelta(hours=3)  # Retry-After wins


def test_success_interval_is_spread_a_little_later_never_earlier() -> None:
    assert spread(timedelta(hours=1), 0.0) == timedelta(hours=1)
    assert timedelta(hours=1) < spread(timedelta(hours=1), 0.99) < timedelta(minutes=63.01)


def test_due_allows_a_little_slack() -> None:
    assert is_due(None, START)
    assert is_due(START + timedelta(minutes=2), START)
    assert not is_due(START + timedelta(minutes=10), START)


def test_stale_after_several_usual_gaps() -> None:
    source = Source("s", "S", url="http://x/")
    hourly = [START - timedelta(hours=h) for h in range(10)]
    gap = cadence(hourly)
    assert gap == timedelta(hours=1)
    prev = SourceHealth("s", state="ok", last_new_entry=START - timedelta(days=3))
    health, events = after_success(prev, source, S, START, http_status=200, hints=None, ttl_minutes=None,
                                   permanent_redirect=None, entries_seen=5, new_entries=0, warning=None,
                                   usual_gap=gap)
    assert health.stale and [e.kind for e in events] == ["stale"]
    assert "no new items for 3 days" in events[0].message
    again, events = after_success(health, source, S, START + timedelta(hours=1), http_status=200,
                                  hints=None, ttl_minutes=None, permanent_redirect=None, entries_seen=6,
                                  new_entries=1, warning=None, usual_gap=gap)
    assert not again.stale and [e.kind for e in events] == ["active"]


# --- end to end -------------------------------------------------------------------


def test_sources_are_not_fetched_before_they_are_due(project: Project, server: FeedServer,
                                                      clock: Any) -> None:
    server.add("/feed.rss", RSS, headers={"Cache-Control": "max-age=3600"})
    project.write_sources([{"id": "seeds", "path": "seeds"}, {"id": "a", "url": server.url("/feed.rss")}])
    c = clock()
    assert c.run(START)["a"].status == "ok"
    due = c.health("a").next_due
    assert due is not None and START + timedelta(hours=1) <= due <= START + timedelta(minutes=63)
    outcomes = c.run(START + timedelta(minutes=30))
    assert outcomes["a"].status == "skipped" and "not due until" in outcomes["a"].message
    assert outcomes["seeds"].status == "ok"  # local folders are read every time
    assert len(server.hits_for("/feed.rss")) == 1
    assert c.run(START + timedelta(minutes=30), force=True)["a"].status == "not-modified"
    assert c.run(START + timedelta(hours=2))["a"].status == "not-modified"
    assert len(server.hits_for("/feed.rss")) == 3
    # The validators went out each time, and the 304s cost no parsing.
    assert all("if-none-match" in h.headers for h in server.hits_for("/feed.rss")[1:])


def test_cli_skips_sources_not_due_unless_forced(project: Project, server: FeedServer) -> None:
    server.add("/feed.rss", RSS)
    project.write_sources([{"id": "a", "url": server.url("/feed.rss")}])
    assert run_cli(project.root, "run")[0] == 0
    code, out, _ = run_cli(project.root, "run")
    assert code == 0 and "1 not due" in out
    assert len(server.hits_for("/feed.rss")) == 1
    code, out, _ = run_cli(project.root, "run", "--force")
    assert code == 0 and "1 not modified" in out


def test_retry_after_and_backoff_then_recovery(project: Project, server: FeedServer, clock: Any) -> None:
    server.add("/busy.rss", "busy", status=429, headers={"Retry-After": "7200"}, validators=False)
    project.write_sources([{"id": "seeds", "path": "seeds"}, {"id": "b", "url": server.url("/busy.rss")}])
    c = clock()
    out = c.run(START)["b"]
    assert out.status == "failed" and "HTTP 429" in out.message and "retry after 7200 s" in out.message
    assert c.health("b").next_due == START + timedelta(hours=2)  # Retry-After beats the 30 min backoff
    server.add("/busy.rss", "down", status=503, validators=False)
    at = START + timedelta(hours=2)
    waits = []
    for _ in range(3):
        c.run(at)
        h = c.health("b")
        assert h.next_due is not None
        waits.append(h.next_due - at)
        at = h.next_due
    assert waits[0] < waits[1] < waits[2]
    assert c.health("b").failures == 4
    server.add("/busy.rss", RSS)
    assert c.run(at)["b"].status == "ok"
    h = c.health("b")
    assert (h.failures, h.state) == (0, "ok")
    assert h.next_due is not None and at + timedelta(minutes=30) <= h.next_due <= at + timedelta(minutes=31.5)
    kinds = [e.kind for _id, e in c.store.events(10)]
    assert kinds == ["recovered", "failing"]


def test_per_host_concurrency_limit(project: Project, server: FeedServer) -> None:
    for n in range(6):
        server.add(f"/slow{n}.rss", RSS.replace("ai-news-", f"n{n}-"), delay=0.3)
    project.write_sources([{"id": f"s{n}", "url": server.url(f"/slow{n}.rss")} for n in range(6)])
    started = time.monotonic()
    assert run_cli(project.root, "run")[0] == 0
    assert server.max_inflight == 2  # per_host defaults to 2, although concurrency is 4
    assert time.monotonic() - started >= 0.9


def test_per_source_headers_user_agent_auth_and_size_cap(project: Project, server: FeedServer) -> None:
    server.add("/private.rss", RSS, auth="reader:s3cret")
    server.add("/big.rss", RSS + "<!--" + "x" * 5000 + "-->")
    (project.root / "config" / "sources.toml").write_text(f"""
[[sources]]
id = "private"
url = "{server.url('/private.rss')}"
username = "reader"
password_env = "FEEDS_TEST_PASSWORD"
user_agent = "special-agent/2"
headers = {{ X-Api-Key = "k123" }}

[[sources]]
id = "nocreds"
url = "{server.url('/private.rss')}"

[[sources]]
id = "big"
url = "{server.url('/big.rss')}"
max_bytes = 4000
timeout = 5
interval = "2h"
""", encoding="utf-8")
    import os
    os.environ["FEEDS_TEST_PASSWORD"] = "s3cret"
    try:
        code, out, _ = run_cli(project.root, "run")
    finally:
        del os.environ["FEEDS_TEST_PASSWORD"]
    assert code == 0
    first = next(h.headers for h in server.hits_for("/private.rss") if "x-api-key" in h.headers)
    assert first["user-agent"] == "special-agent/2" and first["x-api-key"] == "k123"
    assert "failed  nocreds: HTTP 401 Unauthorized" in out and "needs credentials" in out
    assert "failed  big: response is" in out and "over the limit of 4,000" in out


def test_permanent_redirect_is_adopted_after_three_fetches(project: Project, server: FeedServer,
                                                            clock: Any) -> None:
    server.add("/new.rss", RSS)
    project.write_sources([{"id": "m", "url": server.url("/r/301?to=/new.rss")},
                           {"id": "t", "url": server.url("/r/302?to=/new.rss")}])
    c = clock()
    at = START
    for _ in range(3):
        c.run(at, force=True)
        at += timedelta(hours=1)
    h = c.health("m")
    assert h.redirect_adopted and h.fetch_url == server.url("/new.rss")
    assert not c.health("t").redirect_adopted and c.health("t").redirect_seen == 0
    before = len(server.hits_for("/r/301?to=/new.rss"))
    c.run(at, force=True)
    assert len(server.hits_for("/r/301?to=/new.rss")) == before  # went straight to the new place
    assert [e.kind for _i, e in c.store.events(5)] == ["moved"]
    out = run_cli(project.root, "status", "--json")[1]
    row = next(r for r in json.loads(out)["sources"] if r["id"] == "m")
    assert row["redirect_target"] == server.url("/new.rss")
    assert "update the url in config" in row["note"]
    health = feedparser.parse((project.public / "health.atom").read_bytes())
    assert "moved permanently to" in health.entries[0].summary


def test_gone_source_is_not_polled_again(project: Project, server: FeedServer, clock: Any) -> None:
    project.write_sources([{"id": "seeds", "path": "seeds"}, {"id": "g", "url": server.url("/status/410")}])
    c = clock()
    assert c.run(START)["g"].status == "gone"
    assert c.run(START + timedelta(days=3))["g"].status == "gone"
    assert len(server.hits_for("/status/410")) == 1
    c.run(START + timedelta(days=3), force=True)
    assert len(server.hits_for("/status/410")) == 2
    assert [e.kind for _i, e in c.store.events(5)] == ["gone"]


CHALLENGE = ("<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
             "<body><div id='challenge-platform'></div></body></html>")
PAGE = ('<!DOCTYPE html><html><head><title>Blog</title>'
        '<link rel="alternate" type="application/rss+xml" href="/feed.xml">'
        '<link rel="alternate" type="application/atom+xml" href="https://blog.test/atom.xml">'
        "</head><body>Hello</body></html>")
BOMB = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + ']><rss version="2.0"><channel><title>&i;</title><item><title>&i;</title></item></channel></rss>')
XXE = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       '<rss version="2.0"><channel><title>&x;</title><item><title>t &x;</title></item></channel></rss>')
TRUNCATED = RSS[: RSS.index("<item>", RSS.index("<item>") + 10) + 40]


@pytest.mark.parametrize(("route", "kwargs", "expected"), [
    ("/challenge", {"body": CHALLENGE, "status": 403, "content_type": "text/html",
                    "headers": {"Server": "cloudflare", "cf-mitigated": "challenge"}},
     "HTTP 403: blocked by a Cloudflare bot challenge page"),
    ("/forbidden", {"body": "no", "status": 403, "content_type": "text/plain"},
     "HTTP 403 Forbidden from"),
    ("/page", {"body": PAGE, "content_type": "text/html"},
     "not a feed: the server sent an HTML page; the page advertises {base}/feed.xml, "
     "https://blog.test/atom.xml"),
    ("/bomb", {"body": BOMB}, "refused: the document declares XML entities"),
    ("/xxe", {"body": XXE}, "refused: the document declares XML entities"),
    ("/status/500", None, "HTTP 500 Internal Server Error"),
    ("/trickle", None, "gave up after 3 s in all"),
    ("/huge", None, "response exceeds the limit of 1,000,000 bytes"),
    ("/loop", None, "too many redirects (more than 3), or a redirect loop"),
])
def test_misbehaving_servers_give_clear_errors_and_others_publish(
        project: Project, server: FeedServer, route: str, kwargs: dict[str, Any] | None,
        expected: str) -> None:
    if kwargs is not None:
        server.add(route, **kwargs)
    server.add("/good.rss", RSS)
    project.write_sources([{"id": "bad", "url": server.url(route)},
                           {"id": "good", "url": server.url("/good.rss")}])
    started = time.monotonic()
    code, out, _ = run_cli(project.root, "run")
    assert time.monotonic() - started < 8
    assert code == 0
    assert f"failed  bad: {expected.format(base=server.base)}" in out
    assert "1 ok" in out
    assert len(feedparser.parse((project.public / "all.atom").read_bytes()).entries) == 3
    assert "root:" not in (project.public / "all.atom").read_text()


def test_truncated_feed_keeps_what_parsed_and_is_flagged(project: Project, server: FeedServer) -> None:
    server.add("/cut.rss", TRUNCATED)
    project.write_sources([{"id": "cut", "url": server.url("/cut.rss")}])
    code, out, _ = run_cli(project.root, "run")
    assert code == 0 and "1 ok" in out
    found = re.search(r"feed is malformed \(.*\); (\d+) entries recovered", out)
    assert found is not None
    recovered = int(found.group(1))
    assert recovered >= 1
    assert len(feedparser.parse((project.public / "all.atom").read_bytes()).entries) == recovered
    row = json.loads(run_cli(project.root, "status", "--json")[1])["sources"][0]
    assert row["state"] == "ok" and "feed is malformed" in row["note"]


def test_health_feed_and_status_show_failure_and_recovery(project: Project, server: FeedServer,
                                                           clock: Any) -> None:
    server.add("/flaky.rss", "down", status=500, validators=False)
    project.write_sources([{"id": "seeds", "path": "seeds"},
                           {"id": "flaky", "url": server.url("/flaky.rss")}])
    c = clock()
    c.run(START)
    c.run(START + timedelta(hours=1))
    code, out, _ = run_cli(project.root, "status")
    assert code == 0
    lines = [line for line in out.splitlines() if "flaky" in line or "seeds" in line]
    assert "flaky" in lines[0] and "failing" in lines[0]  # broken first
    server.add("/flaky.rss", RSS)
    c.run(START + timedelta(hours=3))
    feed = feedparser.parse((project.public / "health.atom").read_bytes())
    # Untitled in the config, the source is named by its feed's title once it is read.
    shown = ["Example AI News: recovered", "Example AI News: failing"]
    assert [e.title for e in feed.entries] == shown
    assert "flaky failed 2 times in a row: HTTP 500" in feed.entries[1].summary
    assert feed.entries[0].id != feed.entries[1].id
    rss = feedparser.parse((project.public / "health.rss").read_bytes())
    assert [e.title for e in rss.entries] == shown
    rows = json.loads(run_cli(project.root, "status", "--json", "--sort", "id")[1])["sources"]
    assert [(r["id"], r["state"], r["failures"]) for r in rows] == [("flaky", "ok", 0), ("seeds", "ok", 0)]


def test_changing_a_source_url_starts_it_afresh(project: Project, server: FeedServer, clock: Any) -> None:
    server.add("/one.rss", RSS)
    server.add("/two.rss", RSS)
    project.write_sources([{"id": "a", "url": server.url("/one.rss")}])
    clock().run(START)
    project.write_sources([{"id": "a", "url": server.url("/two.rss")}])
    c = clock()
    assert c.run(START + timedelta(minutes=1))["a"].status == "ok"  # due at once, despite the schedule
    assert "if-none-match" not in server.hits_for("/two.rss")[0].headers


def test_per_source_config_errors(project: Project) -> None:
    from helpers import errors_of

    errors = errors_of(project, sources="""
[[sources]]
id = "a"
url = "https://a.test/"
username = "me"
interval = "soon"
headers = { "Bad Header" = "x" }
""")
    assert "config/sources.toml:5: source 'a' has a username but no password (or password_env)" in errors
    interval = "config/sources.toml:6: source 'a' 'interval' must be a duration"
    assert any(e.startswith(interval) for e in errors)
    assert "config/sources.toml:7: source 'a': 'Bad Header' is not a valid HTTP header name" in errors


def test_state_schema_1_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    db.executescript(_SCHEMA_V1 + "PRAGMA user_version = 1;")
    db.execute("INSERT INTO sources(id, etag, last_status, last_error, failures) "
               "VALUES ('a', '\"e1\"', 'failed', 'HTTP 500', 3), ('b', NULL, 'ok', NULL, 0)")
    db.commit()
    db.close()
    with Store(path) as store:
        health = store.all_health()
        assert (health["a"].state, health["a"].failures, health["a"].last_error) == ("failing", 3, "HTTP 500")
        assert health["b"].state == "ok"
        assert store.http_cache("a").etag == '"e1"'
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    from feeds.errors import StateError

    path = tmp_path / "state.db"
    sqlite3.connect(path).execute("PRAGMA user_version = 99").connection.close()
    with pytest.raises(StateError, match="schema 99, newer than"):
        Store(path)


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5])
def test_every_earlier_schema_migrates_with_entries(tmp_path: Path, version: int) -> None:
    from helpers import make_entry

    from feeds.run.storing import cluster as join_copies
    from feeds.store.state import MIGRATIONS, entry_json
    from feeds.stories.dedupe import Insert
    from feeds.types import Config, Settings

    path = tmp_path / "state.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(_SCHEMA_V1 + "PRAGMA user_version = 1;")
    published = datetime(2026, 11, 1, 8, 30, 15, 123456, tzinfo=UTC)
    entry = make_entry(source_id="a", item_key="guid:1", url_key="https://www.example.com/story/",
                       link="https://www.example.com/story/", title="Chips export rules tightened",
                       summary_text="The US tightened export rules on advanced chips to China on Friday.",
                       published=published, updated=published)
    db.execute("INSERT INTO entries(id, source_id, item_key, url_key, first_seen, last_seen, published,"
               " updated, content_hash, data) VALUES (?,?,?,?,?,?,?,?,?,?)",
               ("urn:uuid:1", "a", "guid:1", entry.url_key, "2026-11-01T09:00:00.000000Z",
                "2026-11-01T09:00:00.000000Z", "2026-11-01T08:30:15.123456Z",
                "2026-11-01T08:30:15.123456Z", entry.content_hash, entry_json(entry)))
    db.execute("INSERT INTO items VALUES ('a', 'guid:1', 'urn:uuid:1', '2026-11-01T09:00:00.000000Z')")
    # Its topic, and the topic of an entry no longer stored, which the migrations drop.
    db.execute("INSERT INTO entry_topics(entry_id, topic) VALUES ('urn:uuid:1', 'chips'), ('urn:gone', 'ai')")
    # The database as the program of that schema left it: its own migrations ran.
    for step in range(2, version + 1):
        script = MIGRATIONS[step]
        if isinstance(script, str):
            db.executescript(f"BEGIN;{script}PRAGMA user_version = {step};COMMIT;")
        else:
            db.execute("BEGIN")
            script(db)
            db.execute(f"PRAGMA user_version = {step}")
            db.execute("COMMIT")
    db.close()
    with Store(path) as store:
        [cluster] = store.clusters(store.topic_cluster_ids([])[None])
        assert cluster.id == "urn:uuid:1" and cluster.members[0].entry.title == entry.title
        assert store.find_entries("http://example.com/story") == ["urn:uuid:1"]  # URL identity
        assert store.topic_counts() == {"chips": 1}
        assert store.topic_cluster_ids(["chips", "ai"]) == {None: ["urn:uuid:1"], "chips": ["urn:uuid:1"],
                                                            "ai": []}
        times = store.db.execute("SELECT lsh.published FROM lsh JOIN entries ON num = entry"
                                 " WHERE id = 'urn:uuid:1'").fetchall()
        # Schema 4 keys each band by the entry's publication time, to the microsecond.
        assert times and {t for (t,) in times} == {int(published.timestamp()) * 1_000_000 + 123456}
        # A copy from another source finds the migrated entry through those bands.
        copy = make_entry(source_id="b", item_key="guid:9", url_key="https://b.example.org/x",
                          link="https://b.example.org/x", title="Chips Export Rules Tightened",
                          summary_text=entry.summary_text, published=published + timedelta(hours=5),
                          updated=published + timedelta(hours=5))
        config = Config(root=tmp_path, settings=Settings(title="t", base_url="https://x.test/"),
                        sources=(), topics=())
        with store.transaction():
            write_actions(store, "b", [Insert("urn:uuid:9", copy)], copy.published)
            join_copies(store, config, "urn:uuid:9", copy)
        [cluster] = store.clusters(store.topic_cluster_ids([])[None])
        assert cluster.id == "urn:uuid:1"
        assert [m.id for m in cluster.members] == ["urn:uuid:1", "urn:uuid:9"]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
