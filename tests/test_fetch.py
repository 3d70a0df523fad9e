"""Fetching against a real loopback server, including servers that misbehave."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest
from conftest import FeedServer
from helpers import retrieve_all

from feeds.errors import FetchError, SourceError
from feeds.sources.fetch import HttpFetcher, body_hash, fetch_one, make_client, read_folder
from feeds.types import Document, FetchSettings, HttpCache, LocalFolder, NotModified, Source

SETTINGS = FetchSettings(concurrency=4, connect_timeout=2, read_timeout=0.5, total_timeout=2,
                         max_bytes=200_000, max_redirects=3, user_agent="feeds-tests/1.0")


def fetch(url: str, cache: HttpCache | None = None,
          settings: FetchSettings = SETTINGS) -> Document | NotModified:
    async def go() -> Document | NotModified:
        async with make_client(settings) as client:
            return await fetch_one(client, Source("s", "S", url=url), cache or HttpCache(), settings)

    return asyncio.run(go())


def fetch_error(url: str, settings: FetchSettings = SETTINGS) -> str:
    with pytest.raises(FetchError) as info:
        fetch(url, settings=settings)
    assert info.value.source_id == "s"
    return info.value.message


def test_fetches_body_headers_and_validators(server: FeedServer) -> None:
    url = server.add_file("/ai.rss", "ai-news.rss")
    doc = fetch(url)
    assert isinstance(doc, Document)
    assert doc.body == (Path(__file__).parent / "data/feeds/ai-news.rss").read_bytes()
    assert doc.url == url
    assert doc.etag and doc.etag.startswith('"')
    assert doc.last_modified == "Mon, 21 Sep 2026 14:13:20 GMT"
    assert doc.headers["content-type"].startswith("application/rss+xml")
    hit = server.hits_for("/ai.rss")[0]
    assert hit.headers["user-agent"] == "feeds-tests/1.0"
    assert "gzip" in hit.headers["accept-encoding"]
    assert "application/atom+xml" in hit.headers["accept"]


def test_conditional_get_sends_validators_and_honours_304(server: FeedServer) -> None:
    url = server.add_file("/ai.rss", "ai-news.rss")
    first = fetch(url)
    assert isinstance(first, Document)
    second = fetch(url, HttpCache(first.etag, first.last_modified, None))
    assert second == NotModified("s", "304")
    hit = server.hits_for("/ai.rss")[1]
    assert hit.headers["if-none-match"] == first.etag
    assert hit.headers["if-modified-since"] == first.last_modified


def test_a_cookie_a_feed_sets_goes_back_to_its_host(server: FeedServer) -> None:
    """The client's jar skips responses without Set-Cookie (``_Cookies``), and still
    keeps what one sets, as a browser would: some feeds sit behind a consent cookie."""
    plain = server.add_file("/plain.rss", "ai-news.rss")
    setting = server.add_file("/sets.rss", "ai-news.rss", headers={"Set-Cookie": "consent=yes; Path=/"})
    later = server.add_file("/later.rss", "ai-news.rss")

    async def go() -> None:
        async with make_client(SETTINGS) as client:
            for url in (plain, setting, later):
                await fetch_one(client, Source("s", "S", url=url), HttpCache(), SETTINGS)

    asyncio.run(go())
    assert "cookie" not in server.hits_for("/plain.rss")[0].headers
    assert "cookie" not in server.hits_for("/sets.rss")[0].headers
    assert server.hits_for("/later.rss")[0].headers["cookie"] == "consent=yes"


def test_same_body_without_validators_is_not_modified(server: FeedServer) -> None:
    url = server.add_file("/plain.rss", "ai-news.rss", validators=False)
    first = fetch(url)
    assert isinstance(first, Document)
    again = fetch(url, HttpCache(None, None, body_hash(first.body)))
    assert again == NotModified("s", "same body")


def test_gzip_is_decoded(server: FeedServer) -> None:
    url = server.add_file("/gz.rss", "ai-news.rss", gzip=True)
    doc = fetch(url)
    assert isinstance(doc, Document)
    assert doc.body.startswith(b"<?xml")


def test_redirect_is_followed_and_final_url_kept(server: FeedServer) -> None:
    server.add_file("/moved.atom", "policy.atom", content_type="application/atom+xml")
    doc = fetch(server.url("/redirect?to=/moved.atom"))
    assert isinstance(doc, Document)
    assert doc.url == server.url("/moved.atom")


@pytest.mark.parametrize(("path", "expected"), [
    ("/status/404", "HTTP 404 Not Found"),
    ("/status/410", "HTTP 410 Gone"),
    ("/status/500", "HTTP 500 Internal Server Error"),
    ("/status/403", "HTTP 403 Forbidden"),
])
def test_http_errors_name_the_status(server: FeedServer, path: str, expected: str) -> None:
    assert fetch_error(server.url(path)).startswith(expected)


def test_redirect_loop_is_reported(server: FeedServer) -> None:
    assert "too many redirects" in fetch_error(server.url("/loop"))


def test_server_that_stalls_hits_the_read_timeout(server: FeedServer) -> None:
    started = time.monotonic()
    message = fetch_error(server.url("/stall"))
    assert "read timeout" in message
    assert time.monotonic() - started < 5


def test_server_that_trickles_is_cut_off_by_the_wall_clock(server: FeedServer) -> None:
    settings = FetchSettings(connect_timeout=2, read_timeout=1, total_timeout=1.0, max_bytes=10**6)
    started = time.monotonic()
    message = fetch_error(server.url("/trickle"), settings)
    assert "gave up after 1 s" in message
    assert time.monotonic() - started < 5


def test_endless_body_is_cut_off_at_the_size_cap(server: FeedServer) -> None:
    message = fetch_error(server.url("/huge"))
    assert "exceeds the limit of 200,000 bytes" in message


def test_declared_length_over_the_cap_fails_before_reading(server: FeedServer) -> None:
    url = server.add("/big.rss", b"x" * 300_000)
    assert "over the limit" in fetch_error(url)


def test_connection_refused_is_named() -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert fetch_error(f"http://127.0.0.1:{port}/feed") == "connection refused by 127.0.0.1"


def test_connection_dropped_mid_request_is_a_protocol_error(server: FeedServer) -> None:
    message = fetch_error(server.url("/drop"))
    assert "protocol" in message or "disconnected" in message.lower()


def test_fetcher_runs_all_sources_and_keeps_failures_per_source(server: FeedServer, tmp_path: Path) -> None:
    ok = server.add_file("/ai.rss", "ai-news.rss")
    (tmp_path / "a.txt").write_text("2024-11-02\n\nHeadline\n\nBody.\n", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("ignored", encoding="utf-8")
    sources = [
        Source("good", "Good", url=ok),
        Source("bad", "Bad", url=server.url("/status/500")),
        Source("local", "Local", path=tmp_path),
    ]
    retrieved = asyncio.run(retrieve_all(HttpFetcher(SETTINGS), sources, {}))
    assert all(r.seconds >= 0 for r in retrieved)
    results = {r.source.id: r.result for r in retrieved}
    assert isinstance(results["good"], Document)
    assert isinstance(results["bad"], SourceError)
    local = results["local"]
    assert isinstance(local, LocalFolder)
    assert [f.relpath for f in local.files] == ["a.txt"]


def test_read_folder_recurses_in_a_stable_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.md").write_text("# Two\n", encoding="utf-8")
    (tmp_path / "1.txt").write_text("One\n\nBody\n", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text("no", encoding="utf-8")
    folder = read_folder(Source("l", "L", path=tmp_path))
    assert [f.relpath for f in folder.files] == ["1.txt", "b/2.md"]
    assert all(f.mtime.tzinfo is not None for f in folder.files)
