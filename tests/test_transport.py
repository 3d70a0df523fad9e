"""The aiohttp transport under httpx, against the loopback server: what httpx's own
transport did must still hold (cookies, truncation, compression, headers)."""

from __future__ import annotations

import asyncio
import socket
import threading

import brotli  # type: ignore[import-untyped]
import httpx
import pytest
from conftest import FeedServer

from feeds.sources.fetch import make_client
from feeds.sources.transport import AiohttpTransport
from feeds.types import FetchSettings

SETTINGS = FetchSettings(connect_timeout=2, read_timeout=2, total_timeout=5)


def get_twice(url: str) -> tuple[httpx.Response, httpx.Response]:
    async def go() -> tuple[httpx.Response, httpx.Response]:
        async with make_client(SETTINGS) as client:
            first = await client.get(url)
            return first, await client.get(url)
    return asyncio.run(asyncio.wait_for(go(), 10))


def test_the_transport_keeps_no_cookies_of_its_own(server: FeedServer) -> None:
    """httpx's client jar is the only one: emptied, nothing is sent."""
    url = server.add("/c.rss", b"<rss/>", headers={"Set-Cookie": "session=abc; Path=/"})

    async def go() -> None:
        async with make_client(SETTINGS) as client:
            await client.get(url)
            client.cookies.clear()
            await client.get(url)
    asyncio.run(asyncio.wait_for(go(), 10))
    assert [hit.headers.get("cookie") for hit in server.hits_for("/c.rss")] == [None, None]


def test_brotli_is_decoded_by_httpx(server: FeedServer) -> None:
    body = b"<rss version='2.0'><channel><title>b</title></channel></rss>"
    url = server.add("/b.rss", brotli.compress(body), headers={"Content-Encoding": "br"})
    first, _ = get_twice(url)
    assert first.content == body


def test_headers_reach_the_server_once(server: FeedServer) -> None:
    url = server.add("/h.rss", b"<rss/>")

    async def go() -> None:
        async with make_client(SETTINGS) as client:
            await client.get(url, headers={"If-None-Match": '"x"', "User-Agent": "probe/1"})
    asyncio.run(asyncio.wait_for(go(), 10))
    hit = server.hits_for("/h.rss")[0]
    assert hit.headers["user-agent"] == "probe/1"
    assert hit.headers["if-none-match"] == '"x"'
    assert "gzip" in hit.headers["accept-encoding"]


def truncating_server() -> tuple[int, threading.Thread, socket.socket]:
    """Promises 1,000 bytes, sends 10 and closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n"
                         b"Content-Type: text/xml\r\n\r\n<rss>12345")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread, listener


def test_truncated_body_is_a_protocol_error() -> None:
    port, thread, listener = truncating_server()

    async def go() -> BaseException | None:
        transport = AiohttpTransport(max_connections=2)
        async with httpx.AsyncClient(transport=transport, timeout=5) as client:
            try:
                await client.get(f"http://127.0.0.1:{port}/feed")
            except httpx.HTTPError as exc:
                return exc
        return None
    try:
        error = asyncio.run(asyncio.wait_for(go(), 10))
    finally:
        listener.close()
        thread.join(5)
    assert isinstance(error, httpx.RemoteProtocolError)


def test_refused_connection_is_a_connect_error_not_a_timeout() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def go() -> BaseException | None:
        async with make_client(SETTINGS) as client:
            try:
                await client.get(f"http://127.0.0.1:{port}/")
            except httpx.HTTPError as exc:
                return exc
        return None
    error = asyncio.run(asyncio.wait_for(go(), 10))
    assert type(error) is httpx.ConnectError


def test_an_oversized_header_is_the_source_failing(server: FeedServer) -> None:
    """aiohttp refuses a 100 KB header line; that is one source's protocol error."""
    from feeds.errors import FetchError
    from feeds.sources.fetch import fetch_one
    from feeds.types import HttpCache, Source

    url = server.add("/h.rss", b"<rss/>", headers={"X-Junk": "a" * 100_000})

    async def go() -> None:
        async with make_client(SETTINGS) as client:
            await fetch_one(client, Source("s", "S", url=url), HttpCache(), SETTINGS)
    with pytest.raises(FetchError, match="the server broke the HTTP protocol"):
        asyncio.run(asyncio.wait_for(go(), 10))
