"""Hostile feed servers on loopback: compression bombs, credentials in URLs, headers
that must not follow a redirect, absurd caching hints, and addresses a deployment
polling strangers' URLs must not reach. Each case failed (or crashed the run) before
the fetch layer was hardened."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime

import feedparser
import httpx
import pytest
from conftest import DATA, REPO, FeedServer, Project
from helpers import retrieve_all, run_cli

from feeds.config import load_config
from feeds.errors import FetchError
from feeds.sources.discover import discover_feed
from feeds.sources.fetch import HttpFetcher, cache_hints, fetch_one, make_client
from feeds.sources.polling import backoff, interval_after_success
from feeds.types import CacheHints, Document, FetchSettings, HttpCache, NotModified, Source

BOMBS = DATA / "bombs"
RSS = (DATA / "feeds" / "ai-news.rss").read_bytes()
SETTINGS = FetchSettings(concurrency=4, connect_timeout=2, read_timeout=2, total_timeout=5,
                         max_bytes=200_000, max_redirects=3, user_agent="feeds-tests/1.0")
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HUGE = "9" * 23  # a 23-digit number of seconds


@pytest.fixture
def other() -> Iterator[FeedServer]:
    """A second server: another origin (another port on loopback)."""
    with FeedServer() as srv:
        yield srv


def fetch(source: Source, settings: FetchSettings = SETTINGS,
          cache: HttpCache | None = None) -> Document | NotModified:
    async def go() -> Document | NotModified:
        async with make_client(settings) as client:
            return await fetch_one(client, source, cache or HttpCache(), settings)

    return asyncio.run(asyncio.wait_for(go(), 20))


def fetch_error(source: Source, settings: FetchSettings = SETTINGS) -> str:
    with pytest.raises(FetchError) as info:
        fetch(source, settings)
    assert info.value.source_id == source.id
    return info.value.message


# --- compression bombs ------------------------------------------------------------------


def test_a_brotli_bomb_stops_at_max_bytes_after_decompression(server: FeedServer) -> None:
    url = server.add("/br.rss", (BOMBS / "zeros-1gib.br").read_bytes(),
                     headers={"Content-Encoding": "br"})
    message = fetch_error(Source("s", "S", url=url))
    assert message == "response exceeds the limit of 200,000 bytes (max_bytes) after decompression"


def test_a_per_source_max_bytes_holds_for_compressed_bodies(server: FeedServer) -> None:
    url = server.add("/br.rss", (BOMBS / "zeros-1gib.br").read_bytes(),
                     headers={"Content-Encoding": "br"})
    message = fetch_error(Source("s", "S", url=url, max_bytes=5_000))
    assert message == "response exceeds the limit of 5,000 bytes (max_bytes) after decompression"


def test_stacked_content_encodings_are_refused(server: FeedServer) -> None:
    url = server.add("/gg.rss", (BOMBS / "zeros-1gib.gz.gz").read_bytes(),
                     headers={"Content-Encoding": "gzip, gzip"})
    message = fetch_error(Source("s", "S", url=url))
    assert "stacked content encodings (gzip, gzip) are refused" in message


def test_an_unknown_content_encoding_is_a_clear_error(server: FeedServer) -> None:
    url = server.add("/z.rss", b"\x28\xb5\x2f\xfd whatever", headers={"Content-Encoding": "zstd"})
    message = fetch_error(Source("s", "S", url=url))
    assert "unknown content encoding 'zstd'" in message


def test_compressed_feeds_still_decode(server: FeedServer) -> None:
    import brotli  # type: ignore[import-untyped]

    for path, body, coding in (("/g.rss", gzip.compress(RSS), "gzip"),
                               ("/b.rss", brotli.compress(RSS), "br"),
                               ("/i.rss", RSS, "identity")):
        doc = fetch(Source("s", "S", url=server.add(path, body, headers={"Content-Encoding": coding})))
        assert isinstance(doc, Document) and doc.body == RSS
        assert "content-encoding" not in doc.headers  # the body handed on is the decoded one


@pytest.mark.parametrize(("status", "expected"), [
    (200, "limit of 10,000,000 bytes (max_bytes) after decompression"),
    (503, "HTTP 503"),  # only the start of an error page is read, and only that is decoded
])
def test_a_brotli_bomb_costs_little_memory(server: FeedServer, status: int, expected: str) -> None:
    """In a process of its own, so its peak memory is the bomb's alone. Before, the
    whole gigabyte was decoded at once (the run reached 2.1 GB)."""
    url = server.add("/br.rss", (BOMBS / "zeros-1gib.br").read_bytes(), status=status,
                     headers={"Content-Encoding": "br"})
    script = textwrap.dedent(f"""
        import asyncio, json, resource
        from feeds.errors import FetchError
        from feeds.sources.fetch import fetch_one, make_client
        from feeds.types import FetchSettings, HttpCache, Source
        settings = FetchSettings(max_bytes=10_000_000, total_timeout=20)
        async def go():
            async with make_client(settings) as client:
                try:
                    await fetch_one(client, Source("s", "S", url={url!r}), HttpCache(), settings)
                    return "fetched"
                except FetchError as exc:
                    return exc.message
        message = asyncio.run(go())
        print(json.dumps([message, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=REPO, check=True)
    message, peak_kib = json.loads(done.stdout.strip().splitlines()[-1])
    assert expected in message
    assert peak_kib < 250 * 1024, f"peak {peak_kib} KiB"


# --- credentials in URLs ----------------------------------------------------------------


def test_credentials_in_a_configured_url_become_basic_auth(project: Project, server: FeedServer) -> None:
    server.add("/private.rss", RSS, auth="us@er:p:ss")
    url = server.url("/private.rss").replace("http://", "http://us%40er:p%3Ass@")
    project.write_sources([{"id": "private", "url": url}])
    config = load_config(project.root)
    assert config.sources[0].url == server.url("/private.rss")  # not in outputs, state or messages
    assert config.sources[0].auth == ("us@er", "p:ss")
    code, out, _ = run_cli(project.root, "run")
    assert code == 0 and "1 ok" in out
    assert feedparser.parse((project.public / "all.atom").read_bytes()).entries
    assert "p:ss" not in (project.public / "sources.opml").read_text()
    sent = server.hits_for("/private.rss")[-1].headers["authorization"]
    assert base64.b64decode(sent.split()[1]) == b"us@er:p:ss"


def test_credentials_twice_are_a_config_error(project: Project, server: FeedServer) -> None:
    url = server.url("/x.rss").replace("http://", "http://a:b@")
    project.write_sources([{"id": "x", "url": url, "username": "a", "password": "b"}])
    code, out, err = run_cli(project.root, "check")
    assert code == 2
    assert "config/sources.toml:3" in out + err
    assert "credentials both in its url and in username/password" in out + err


def test_a_redirect_to_a_url_with_credentials_never_crashes(server: FeedServer) -> None:
    server.add("/feed.rss", RSS)
    target = server.url("/feed.rss").replace("http://", "http://evil:creds@")
    source = Source("s", "S", url=server.url(f"/redirect?to={target}"), auth=("me", "secret"))
    doc = fetch(source)
    assert isinstance(doc, Document) and doc.body == RSS
    assert doc.url == server.url("/feed.rss")  # the userinfo is dropped, not stored
    hit = server.hits_for("/feed.rss")[0]
    assert base64.b64decode(hit.headers["authorization"].split()[1]) == b"me:secret"  # same origin


# --- what follows a redirect to another origin ------------------------------------------


def test_configured_headers_and_credentials_stay_with_their_origin(server: FeedServer,
                                                                   other: FeedServer) -> None:
    other.add("/feed.rss", RSS)
    source = Source("s", "S", url=server.url(f"/redirect?to={other.url('/feed.rss')}"),
                    headers=(("X-Api-Key", "k-123"), ("Cookie", "session=s-456")),
                    auth=("me", "secret"), user_agent="probe/1")
    doc = fetch(source)
    assert isinstance(doc, Document)
    first = server.hits_for("/redirect?to=" + other.url("/feed.rss"))[0].headers
    assert first["x-api-key"] == "k-123" and first["cookie"] == "session=s-456"
    assert "authorization" in first
    sent = other.hits_for("/feed.rss")[0].headers
    assert "x-api-key" not in sent and "cookie" not in sent and "authorization" not in sent
    assert sent["user-agent"] == "probe/1"  # not a secret: it goes everywhere


def test_an_adopted_redirect_does_not_take_the_credentials_along(server: FeedServer,
                                                                 other: FeedServer) -> None:
    """A permanent redirect, once adopted, is fetched directly: the secrets still
    belong to the configured URL's origin only."""
    other.add("/feed.rss", RSS)
    source = Source("s", "S", url=server.url("/feed.rss"), headers=(("X-Api-Key", "k"),),
                    auth=("me", "secret"))

    async def go() -> Document | NotModified:
        async with make_client(SETTINGS) as client:
            return await fetch_one(client, source, HttpCache(), SETTINGS, url=other.url("/feed.rss"))

    assert isinstance(asyncio.run(asyncio.wait_for(go(), 10)), Document)
    sent = other.hits_for("/feed.rss")[0].headers
    assert "x-api-key" not in sent and "authorization" not in sent


# --- absurd hints -----------------------------------------------------------------------


def test_a_23_digit_max_age_or_retry_after_is_clamped() -> None:
    settings = FetchSettings()
    source = Source("s", "S", url="http://x.test/")
    hints = cache_hints(httpx.Headers({"Cache-Control": f"max-age={HUGE}"}), NOW)
    assert interval_after_success(source, settings, hints, None) == settings.max_interval
    assert interval_after_success(source, settings, CacheHints(max_age=1e300), None) == settings.max_interval
    expired = cache_hints(httpx.Headers({"Expires": "Fri, 01 Jan 99999 00:00:00 GMT"}), NOW)
    assert expired.max_age == 0.0
    assert backoff(1, settings, 0.5, float(HUGE)) == settings.max_backoff * 1.2
    assert backoff(1, settings, 0.5, 1e300) == settings.max_backoff * 1.2


def test_hostile_hints_do_not_break_a_run(project: Project, server: FeedServer) -> None:
    server.add("/forever.rss", RSS, headers={"Cache-Control": f"max-age={HUGE}"})
    server.add("/later.rss", "busy", status=503, content_type="text/plain",
               headers={"Retry-After": HUGE})
    project.write_sources([{"id": "forever", "url": server.url("/forever.rss")},
                           {"id": "later", "url": server.url("/later.rss")}])
    code, out, _ = run_cli(project.root, "run")
    assert code == 0, out
    assert "1 ok" in out and "failed  later: HTTP 503" in out
    code, out, _ = run_cli(project.root, "status")
    assert code == 0, out


# --- private addresses ------------------------------------------------------------------

def closed() -> FetchSettings:
    return FetchSettings(connect_timeout=2, read_timeout=2, total_timeout=5, allow_private=False)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.1.2.3", "[::ffff:127.0.0.1]",
                                  "0.0.0.0", "[::1]"])
def test_allow_private_false_refuses_non_public_addresses(server: FeedServer, host: str) -> None:
    url = server.add("/feed.rss", RSS).replace("127.0.0.1", host)
    message = fetch_error(Source("s", "S", url=url), closed())
    assert "refused to connect to" in message and "allow_private is false" in message
    assert not server.hits_for("/feed.rss")


def test_allow_private_false_checks_every_redirect(server: FeedServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """127.0.0.1 stands in for a public server here; the redirect it sends to 0.0.0.0
    (which reaches this machine) must be refused before any connection is made."""
    from feeds.sources import transport
    from feeds.sources.netguard import non_public_kind as real

    monkeypatch.setattr(transport, "non_public_kind", lambda a: None if a == "127.0.0.1" else real(a))
    server.add("/feed.rss", RSS)
    target = server.url("/feed.rss").replace("127.0.0.1", "0.0.0.0")
    message = fetch_error(Source("s", "S", url=server.url(f"/redirect?to={target}")), closed())
    assert "refused to connect to 0.0.0.0: a unspecified address" in message
    assert not server.hits_for("/feed.rss")


def test_allow_private_is_read_from_config_and_applies_to_discovery(project: Project,
                                                                    server: FeedServer) -> None:
    text = (project.root / "config" / "feeds.toml").read_text()
    (project.root / "config" / "feeds.toml").write_text(
        text.replace("[fetch]\n", "[fetch]\nallow_private = false\n"))
    assert load_config(project.root).settings.fetch.allow_private is False
    url = server.add("/feed.rss", RSS)
    with pytest.raises(FetchError, match="allow_private is false"):
        asyncio.run(asyncio.wait_for(discover_feed(url, closed()), 10))


def test_allow_private_defaults_to_true_for_operator_configured_sources(server: FeedServer) -> None:
    assert FetchSettings().allow_private is True
    assert isinstance(fetch(Source("s", "S", url=server.add("/feed.rss", RSS))), Document)


# --- one hostile source among good ones -------------------------------------------------


def test_a_run_publishes_around_every_hostile_source(project: Project, server: FeedServer,
                                                     other: FeedServer) -> None:
    server.add("/good.rss", RSS)
    server.add("/br.rss", (BOMBS / "zeros-1gib.br").read_bytes(), headers={"Content-Encoding": "br"})
    server.add("/gg.rss", (BOMBS / "zeros-1gib.gz.gz").read_bytes(),
               headers={"Content-Encoding": "gzip, gzip"})
    server.add("/age.rss", RSS.replace(b"<channel>", b"<channel><!-- age -->"),
               headers={"Cache-Control": f"max-age={HUGE}"})
    other.add("/moved.rss", RSS.replace(b"<channel>", b"<channel><!-- moved -->"))
    moved = other.url("/moved.rss").replace("http://", "http://x:y@")
    project.write_sources([
        {"id": "br", "url": server.url("/br.rss")},
        {"id": "gg", "url": server.url("/gg.rss")},
        {"id": "age", "url": server.url("/age.rss")},
        {"id": "moved", "url": server.url(f"/redirect?to={moved}"), "username": "u", "password": "p"},
        {"id": "good", "url": server.url("/good.rss")},
    ])
    project.write_feeds(max_bytes=1_000_000, total_timeout=10)
    code, out, _ = run_cli(project.root, "run")
    assert code == 0, out
    assert "failed  br: response exceeds the limit of 1,000,000 bytes (max_bytes) after decompression" in out
    assert "failed  gg: the response body cannot be decoded: stacked content encodings (gzip, gzip) "\
           "are refused" in out
    assert "3 ok" in out
    assert "authorization" not in other.hits_for("/moved.rss")[0].headers
    assert len(feedparser.parse((project.public / "all.atom").read_bytes()).entries) == 3
    store = project.root / "var" / "state.db"
    assert store.exists()
    code, out, _ = run_cli(project.root, "run", "--force")
    assert code == 0, out


def test_an_unexpected_error_in_one_fetch_is_that_sources_failure(
        server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from feeds.sources import fetch as fetch_module

    real = fetch_module.fetch_one

    async def flaky(client: httpx.AsyncClient, source: Source, *args: object, **kw: object
                    ) -> Document | NotModified:
        if source.id == "bad":
            raise ValueError("Cannot combine AUTHORIZATION header with AUTH argument")
        return await real(client, source, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(fetch_module, "fetch_one", flaky)
    url = server.add("/good.rss", RSS)
    sources = [Source("bad", "Bad", url=url), Source("good", "Good", url=url)]
    got = asyncio.run(asyncio.wait_for(retrieve_all(HttpFetcher(SETTINGS), sources, {}), 10))
    assert isinstance(got[0].result, FetchError) and "ValueError" in got[0].result.message
    assert isinstance(got[1].result, Document)



# --- what held up before, kept -----------------------------------------------------------


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/feed.rss",
                                    "gopher://127.0.0.1:70/", "data:text/xml,<rss/>"])
def test_a_redirect_to_another_scheme_is_refused(server: FeedServer, target: str) -> None:
    message = fetch_error(Source("s", "S", url=server.url(f"/redirect?to={target}")))
    assert "redirect" in message.lower() and "root:" not in message
