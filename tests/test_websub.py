"""WebSub pings against a loopback hub: what is sent, and every failure as a sentence, never an
exception; and the publish step that cron and the daemon share (the ping, status.json, the
status page)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx
import pytest
from conftest import DATA, FeedServer, Project

from feeds.config import load_config
from feeds.publish.publisher import finish_publish, status_page_paths
from feeds.publish.status import iso
from feeds.publish.websub import ping_hub
from feeds.run.schedule import Daemon, Published
from feeds.store.state import Store
from feeds.types import Config, RunReport

SLOW_TOPIC = "https://w.test/slow.atom"
REFUSED_TOPIC = "https://w.test/refused.atom"


@dataclass
class Ping:
    path: str
    content_type: str
    form: dict[str, list[str]]


class Hub:
    """Answers 204 to a publish ping, 400 for REFUSED_TOPIC, and stalls for SLOW_TOPIC."""

    def __init__(self) -> None:
        self.pings: list[Ping] = []
        self.release = threading.Event()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode("ascii"), strict_parsing=True)
                hub.pings.append(Ping(self.path, self.headers.get("Content-Type", ""), form))
                topic = form.get("hub.url", [""])[0]
                if topic == SLOW_TOPIC:
                    hub.release.wait(5)  # bounded: the test's client gives up long before
                    return
                if topic == REFUSED_TOPIC:
                    body = b"Topic   URL\nnot allowed for this publisher"
                    self.send_response(400)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(204)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hub"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def hub() -> Iterator[Hub]:
    h = Hub()
    try:
        yield h
    finally:
        h.close()


def ping(hub_url: str, topics: list[str], timeout: float = 5.0) -> list[str]:
    async def go() -> list[str]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(timeout)) as client:
            return await ping_hub(client, hub_url, topics)
    return asyncio.run(go())


def test_one_form_encoded_ping_per_changed_feed(hub: Hub) -> None:
    topics = ["https://w.test/ai.atom", "https://w.test/ai.rss", "https://w.test/all.json?x=1&y=2",
              "https://w.test/ai.atom"]
    assert ping(hub.url, topics) == []
    assert len(hub.pings) == 3  # the repeated URL is pinged once
    assert {p.form["hub.url"][0] for p in hub.pings} == set(topics)
    for p in hub.pings:
        assert p.path == "/hub"
        assert p.content_type == "application/x-www-form-urlencoded"
        assert p.form["hub.mode"] == ["publish"]
        assert set(p.form) == {"hub.mode", "hub.url"}


def test_no_topics_no_requests(hub: Hub) -> None:
    assert ping(hub.url, []) == []
    assert hub.pings == []


def test_a_refusal_is_reported_with_hub_topic_and_reason(hub: Hub) -> None:
    errors = ping(hub.url, ["https://w.test/ai.atom", REFUSED_TOPIC])
    assert errors == [
        f"WebSub hub {hub.url} refused the ping for {REFUSED_TOPIC} with HTTP 400 Bad Request: "
        "Topic URL not allowed for this publisher."
    ]
    assert len(hub.pings) == 2  # the other ping still went out


def test_a_hub_that_does_not_answer_times_out(hub: Hub) -> None:
    errors = ping(hub.url, [SLOW_TOPIC, "https://w.test/ai.atom"], timeout=0.3)
    assert errors == [f"WebSub hub {hub.url} did not answer in time to the ping for {SLOW_TOPIC} "
                      "(ReadTimeout)."]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refused_connection_is_a_message_per_topic_not_an_exception() -> None:
    hub_url = f"http://127.0.0.1:{_closed_port()}/hub"
    topics = ["https://w.test/ai.atom", "https://w.test/ai.rss"]
    errors = ping(hub_url, topics)
    assert len(errors) == 2
    for error, topic in zip(errors, topics, strict=True):
        assert error.startswith(f"Could not reach WebSub hub {hub_url} to ping it for {topic}: ")
        assert error.endswith(".")


@pytest.mark.parametrize("hub_url", ["not a url", "ftp://hub.test/", "http://"])
def test_a_bad_hub_address_is_reported(hub_url: str) -> None:
    [error] = ping(hub_url, ["https://w.test/ai.atom"])
    assert error.startswith(f"Cannot ping WebSub hub {hub_url} for https://w.test/ai.atom: the hub address "
                            "is not a usable http(s) URL (")
    assert error.endswith(").") and ".)" not in error


# --- the publish step -------------------------------------------------------------------

RSS = (DATA / "feeds" / "ai-news.rss").read_text(encoding="utf-8")
TOPIC_FEEDS = sorted(f"https://feeds.test/{t}.{ext}" for t in ("ai", "all", "chips", "internet-policy")
                     for ext in ("atom", "rss", "json"))


def with_hub(project: Project, server: FeedServer, hub_url: str) -> Config:
    server.add("/feed.rss", RSS)
    project.write_sources([{"id": "seeds", "path": "seeds"}, {"id": "a", "url": server.url("/feed.rss")}])
    feeds = project.root / "config" / "feeds.toml"
    text = feeds.read_text(encoding="utf-8")
    feeds.write_text(text.replace('author = "Test Desk"', f'author = "Test Desk"\nhub = "{hub_url}"'),
                     encoding="utf-8")
    return load_config(project.root)


def make_daemon(project: Project, config: Config, store: Store, published: list[Published]) -> Daemon:
    return Daemon(project.root, config, store, tick=timedelta(seconds=30), debounce=timedelta(seconds=5),
                  on_report=lambda *_: None, on_publish=lambda done, *_: published.append(done))


def test_the_daemon_publishes_through_the_step_cron_uses(project: Project, server: FeedServer,
                                                         hub: Hub) -> None:
    config = with_hub(project, server, hub.url)
    published: list[Published] = []
    with Store(config.settings.state_path) as store:
        daemon = make_daemon(project, config, store, published)
        daemon.dispatch()
        # A fetch round publishes nothing: no file, no ping.
        assert not (project.public / "status.json").exists() and hub.pings == []
        daemon.publish()
        report = daemon.stats.last_report
        assert report is not None
        [done] = published
        # Every topic feed it wrote, and only those, is pinged: as a cron run does.
        assert sorted(p.form["hub.url"][0] for p in hub.pings) == TOPIC_FEEDS
        assert {f"https://feeds.test/{rel}" for rel in done.written} >= set(TOPIC_FEEDS)
        status = json.loads((project.public / "status.json").read_bytes())
        assert status["sources"] == {"ok": 2}
        assert status["last_run"]["finished"] == iso(report.finished)
        page, elsewhere = status_page_paths(config)
        assert page.exists() and not elsewhere.exists()
        # Publishing again with nothing new writes nothing, so pings nobody.
        daemon.publish()
        assert len(hub.pings) == len(TOPIC_FEEDS) and published[-1].written == ()


def test_a_hub_that_is_down_is_a_warning_and_the_daemon_still_writes_status(
        project: Project, server: FeedServer, caplog: pytest.LogCaptureFixture) -> None:
    hub_url = f"http://127.0.0.1:{_closed_port()}/hub"
    config = with_hub(project, server, hub_url)
    published: list[Published] = []
    with Store(config.settings.state_path) as store, caplog.at_level(logging.WARNING, "feeds"):
        daemon = make_daemon(project, config, store, published)
        daemon.dispatch()
        daemon.publish()
    assert len(published) == 1
    unreachable = [r.getMessage() for r in caplog.records
                   if r.getMessage().startswith(f"Could not reach WebSub hub {hub_url}")]
    assert len(unreachable) == len(TOPIC_FEEDS)
    assert not any("internal error" in r.getMessage() for r in caplog.records)
    assert json.loads((project.public / "status.json").read_bytes())["sources"] == {"ok": 2}


def test_the_step_pings_topic_feeds_only_and_writes_status_as_of_the_report(
        project: Project, server: FeedServer, hub: Hub) -> None:
    config = with_hub(project, server, hub.url)
    written = ["ai.atom", "all.json", "health.atom", "health.rss", "index.html", "sources.opml",
               "archive/ai/2026-01.atom", "articles/seeds/first.html"]
    finished = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
    report = RunReport(started=finished - timedelta(seconds=5), finished=finished, outcomes=(),
                       files_written=tuple(written), files_unchanged=0, entries_published=0)
    with Store(config.settings.state_path) as store:
        assert finish_publish(config, store, report, written, finished + timedelta(hours=1)) == []
        assert sorted(p.form["hub.url"][0] for p in hub.pings) == [
            "https://feeds.test/ai.atom", "https://feeds.test/all.json"]
        status = json.loads((project.public / "status.json").read_bytes())
        assert status["last_run"] == {"started": "2026-03-01T12:00:00Z", "finished": "2026-03-01T12:00:05Z",
                                      "seconds": 5.0, "failed_sources": []}
        page = status_page_paths(config)[0]
        assert "2026-03-01" in page.read_text(encoding="utf-8")
        # Before any run has fetched: no last run, and nothing written means no ping.
        assert finish_publish(config, store, None, [], finished) == []
        assert len(hub.pings) == 2
        assert json.loads((project.public / "status.json").read_bytes())["last_run"]["finished"] is None


def test_the_step_reports_a_hub_that_is_down_and_writes_status_all_the_same(
        project: Project, server: FeedServer) -> None:
    hub_url = f"http://127.0.0.1:{_closed_port()}/hub"
    config = with_hub(project, server, hub_url)
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with Store(config.settings.state_path) as store:
        warnings = finish_publish(config, store, None, ["ai.atom"], now)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Could not reach WebSub hub {hub_url} to ping it for "
                                  "https://feeds.test/ai.atom: ")
    assert (project.public / "status.json").exists()
