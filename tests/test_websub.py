"""WebSub pings against a loopback hub: what is sent, and every failure as a sentence, never an exception."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx
import pytest

from feeds.publish.websub import ping_hub

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
