"""An httpx transport that sends requests with aiohttp.

httpx stays the API (requests, redirects, auth, decoding, timeouts as the rest
of feeds sees them); only the connection layer changes, because httpx's own
pool is several times slower under concurrency (docs/design.md).

aiohttp's errors are turned into the httpx exceptions that ``fetch`` already
explains, keeping the cause chain (a DNS failure stays a DNS failure, a refused
connection is not reported as a time-out). The aiohttp session keeps no cookies
and never decompresses. This transport decodes the body itself, with bounded
output (``feeds.sources.decode``), and hands httpx the decoded bytes without the
Content-Encoding header: httpx's decoders turn each chunk into all of its output
at once, before any size cap can look at it. The limit is the request's ``LIMIT_EXTENSION`` (the
source's ``max_bytes``), else the transport's own.

With ``allow_private=False`` it connects only to public unicast addresses: host
names through a resolver that drops the others, IP literals checked here (aiohttp
does not resolve them).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult

from feeds.sources.decode import LIMIT_EXTENSION, BoundedDecoder, DecodeError, TooLarge
from feeds.sources.netguard import PrivateAddressError, non_public_kind

CHUNK = 64 * 1024


class _PublicOnly(AbstractResolver):
    """Resolves with aiohttp's default resolver and keeps only public addresses, so
    the address checked is the address connected to (no second lookup to race)."""

    def __init__(self) -> None:
        self._inner = aiohttp.DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        public = [r for r in found if non_public_kind(r["host"]) is None]
        if not public and found:
            first = found[0]["host"]
            raise PrivateAddressError(host, first, non_public_kind(first) or "non-public")
        return public

    async def close(self) -> None:
        await self._inner.close()


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request,
                 decoder: BoundedDecoder) -> None:
        self._response = response
        self._request = request
        self._decoder = decoder

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(CHUNK):
                for piece in self._decoder.feed(chunk):
                    yield piece
            for piece in self._decoder.end():
                yield piece
        except Exception as exc:
            raise _mapped(exc, self._request) from exc

    async def aclose(self) -> None:
        self._response.release()


def _mapped(exc: BaseException, request: httpx.Request) -> BaseException:
    """The httpx exception that says the same thing as an aiohttp one."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, TooLarge | DecodeError):  # fetch tells the two apart by the cause
        return httpx.DecodingError(message, request=request)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.SocketTimeoutError | asyncio.TimeoutError):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        # DNS, refused, unreachable, TLS: the cause chain tells fetch which.
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(message, request=request)
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, aiohttp.ClientResponseError):  # a malformed status line or headers
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return httpx.ReadError(message, request=request)
    return exc


class AiohttpTransport(httpx.AsyncBaseTransport):
    """At most ``max_connections`` connections; ``verify`` is the TLS context httpx
    itself would use, so certificates are checked against the same roots. Bodies are
    cut at ``max_bytes`` decoded bytes unless a request says otherwise."""

    def __init__(self, *, max_connections: int, keepalive: float = 5.0,
                 verify: ssl.SSLContext | None = None, max_bytes: int = 10 * 1024 * 1024,
                 allow_private: bool = True) -> None:
        self._limit = max_connections
        self._keepalive = keepalive
        self._ssl = verify if verify is not None else httpx.create_ssl_context()
        self._max_bytes = max_bytes
        self._allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Made on first use: a session belongs to the event loop that runs it.
        if self._session is None:
            resolver = None if self._allow_private else _PublicOnly()
            connector = aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=self._keepalive,
                                             ssl=self._ssl, ttl_dns_cache=300, resolver=resolver)
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False, skip_auto_headers=("Accept-Encoding", "User-Agent"),
                trust_env=False)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        content = await request.aread()
        host = request.url.host
        kind = None if self._allow_private else non_public_kind(host)
        if kind is not None:
            refused = PrivateAddressError(host, host, kind)
            raise httpx.ConnectError(str(refused), request=request) from refused
        # httpx has made any user:password in the URL an Authorization header
        # already; aiohttp refuses a request that carries both.
        url = request.url.copy_with(username=None, password=None) if request.url.userinfo \
            else request.url
        try:
            response = await self._open().request(
                request.method, str(url),
                headers=[(k.decode("latin-1"), v.decode("latin-1"))
                         for k, v in request.headers.raw if k.lower() != b"host"],
                data=content or None, allow_redirects=False, compress=None,
                timeout=aiohttp.ClientTimeout(total=None, connect=timeouts.get("pool"),
                                              sock_connect=timeouts.get("connect"),
                                              sock_read=timeouts.get("read")),
            )
        except Exception as exc:
            raise _mapped(exc, request) from exc
        extensions = {"http_version": b"HTTP/1.1",
                      "reason_phrase": (response.reason or "").encode("latin-1", "replace")}
        limit = request.extensions.get(LIMIT_EXTENSION, self._max_bytes)
        decoder = BoundedDecoder(", ".join(response.headers.getall("Content-Encoding", ())), limit)
        # The body httpx sees is decoded: the header goes, or httpx would decode it again.
        headers = [(k, v) for k, v in response.raw_headers if k.lower() != b"content-encoding"]
        return httpx.Response(status_code=response.status, headers=headers,
                              stream=_Body(response, request, decoder), request=request,
                              extensions=extensions)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
