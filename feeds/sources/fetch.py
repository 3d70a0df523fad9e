"""Retrieval: HTTP sources through one httpx ``AsyncClient``, local folders from disk.

Every failure becomes a ``FetchError`` for its source with a sentence an
operator can act on; nothing here stops the run.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import math
import os
import re
import socket
import stat
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar
from typing import Any
from urllib.parse import urlsplit

import httpx

from feeds.errors import FetchError, SourceError
from feeds.sources.decode import ACCEPT_ENCODING, LIMIT_EXTENSION, TooLarge
from feeds.sources.netguard import PrivateAddressError, split_userinfo
from feeds.types import (
    CacheHints,
    Document,
    FetchSettings,
    HttpCache,
    LocalFile,
    LocalFolder,
    NotModified,
    Source,
)

Result = Document | NotModified | LocalFolder | SourceError

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
MAX_LOCAL_FILE = 5 * 1024 * 1024
# A server's freshness or Retry-After hint is believed up to this many seconds
# (ten years, the longest interval config accepts); beyond it a number only
# overflows the date arithmetic that uses it.
MAX_HINT = 10 * 365 * 86400.0
REDIRECT_STATUSES = (301, 302, 303, 307, 308)

log = logging.getLogger(__name__)


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _connect_message(exc: Exception, url: str) -> str:
    host = httpx.URL(url).host
    chain = _causes(exc)
    for cause in chain:
        if isinstance(cause, PrivateAddressError):
            return str(cause)
    for cause in chain:
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed for {host}"
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {host}"
    text = "; ".join(dict.fromkeys(str(c) for c in chain if str(c)))
    low = text.lower()
    if any(s in low for s in ("name or service not known", "nodename nor servname",
                              "temporary failure in name resolution", "no address associated",
                              "name resolution", "getaddrinfo")):
        return f"DNS lookup failed for {host}"
    if "refused" in low:
        return f"connection refused by {host}"
    if "ssl" in low or "certificate" in low or "tls" in low:
        return f"TLS error talking to {host}: {text}"
    if "unreachable" in low:
        return f"network unreachable for {host}"
    return f"cannot connect to {host}: {text or type(exc).__name__}"


def hint_seconds(value: float) -> float:
    """A hinted number of seconds, held within [0, MAX_HINT] (inf and nan included)."""
    if math.isnan(value):
        return 0.0
    return min(max(value, 0.0), MAX_HINT)


def _seconds_until(value: str, now: datetime) -> float | None:
    """Seconds from ``now`` to an HTTP date, or None if it is not one."""
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return hint_seconds((when - now).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


_DIGITS = re.compile(r"[0-9]+")


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After is either seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if _DIGITS.fullmatch(value):
        return hint_seconds(float(value))  # float: 23 digits must not overflow anything
    return _seconds_until(value, now)


def cache_hints(headers: httpx.Headers, now: datetime) -> CacheHints:
    """Freshness the server grants: Cache-Control max-age, else Expires."""
    control = headers.get("cache-control", "")
    m = re.search(r"(?:^|[,\s])(?:s-maxage|max-age)\s*=\s*\"?([0-9]+)", control, re.I)
    if m:
        return CacheHints(max_age=hint_seconds(float(m.group(1))))
    expires = headers.get("expires")
    if expires:
        # RFC 9111: an invalid Expires means already stale.
        return CacheHints(max_age=_seconds_until(expires, now) or 0.0)
    return CacheHints()


_CHALLENGE_MARKERS = (
    b"just a moment", b"cf-browser-verification", b"challenge-platform", b"cf_chl_",
    b"attention required! | cloudflare", b"ddos-guard", b"checking your browser",
    b"_incapsula_resource", b"captcha",
)


def challenge_name(headers: httpx.Headers, body: bytes) -> str | None:
    """The bot protection that answered instead of the feed, if any."""
    head = body[:65536].lower()
    if headers.get("cf-mitigated") == "challenge" or (
        "cloudflare" in headers.get("server", "").lower()
        and any(m in head for m in _CHALLENGE_MARKERS)
    ):
        return "Cloudflare"
    if any(m in head for m in _CHALLENGE_MARKERS):
        return "a bot-protection service"
    return None


def _permanent_target(hops: Sequence[int], final: httpx.URL) -> str | None:
    """Where the redirects led, if every hop was permanent (301 or 308)."""
    if hops and all(status in (301, 308) for status in hops):
        return str(final)
    return None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or {"http": 80, "https": 443}.get(url.scheme)


def _trusted(home: httpx.URL, url: httpx.URL) -> bool:
    """Whether credentials and configured headers meant for ``home`` may go to ``url``:
    the same origin, or the same host moved from http to https on the default ports."""
    if _origin(url) == _origin(home):
        return True
    return (url.host == home.host and _origin(home)[::2] == ("http", 80)
            and _origin(url)[::2] == ("https", 443))


def _redirect_target(current: httpx.URL, location: str, source_id: str) -> httpx.URL:
    try:
        target = current.join(location.strip())
    except httpx.InvalidURL as exc:
        raise FetchError(source_id, f"redirect from {current} to an invalid URL: {exc}") from None
    if target.scheme not in ("http", "https") or not target.host:
        shown = target.copy_with(username=None, password=None) if target.userinfo else target
        raise FetchError(source_id, f"redirect from {current} to {shown}, which is not an http(s) URL")
    # Credentials a server puts in a redirect are not ours to send (and aiohttp
    # refuses a request with them and an Authorization header): they are dropped.
    return target.copy_with(username=None, password=None, fragment=None)


async def _read_capped(response: httpx.Response, limit: int, source_id: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    # The transport decodes with bounded steps and stops at the limit of the
    # request; this cap holds for any transport.
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise FetchError(source_id, f"response exceeds the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _error_for(response: httpx.Response, source_id: str, now: datetime) -> FetchError:
    status = response.status_code
    try:
        body = await _read_capped(response, 65536, source_id)
    except (FetchError, httpx.HTTPError):
        body = b""
    where = f" from {response.url}"
    retry = _retry_after(response.headers.get("retry-after"), now) if status in (429, 503) else None
    challenge = challenge_name(response.headers, body) if status in (403, 429, 503) else None
    reason = response.reason_phrase or ""
    if challenge:
        message = f"HTTP {status}: blocked by a {challenge} bot challenge page{where}"
        if challenge != "Cloudflare":
            message = f"HTTP {status}: blocked by {challenge} (a bot challenge page){where}"
    elif status == 401:
        message = f"HTTP 401 Unauthorized{where}: the feed needs credentials (set username and password)"
    elif status == 403:
        message = f"HTTP 403 Forbidden{where}: the server refuses us (it may block aggregators)"
    elif status == 410:
        message = f"HTTP 410 Gone{where}: the publisher removed this feed; it will not be polled again"
    else:
        message = f"HTTP {status} {reason}".strip() + where
    if retry is not None:
        message += f" (retry after {retry:.0f} s)"
    return FetchError(source_id, message, status=status, retry_after=retry)


def request_headers(source: Source, cache: HttpCache, settings: FetchSettings,
                    *, trusted: bool = True) -> dict[str, str]:
    """The headers of a request for ``source``; its configured ``headers`` (API keys,
    cookies) only when ``trusted``: the request goes to the origin they were given for."""
    headers = {"Accept": ACCEPT, "User-Agent": source.user_agent or settings.user_agent}
    if trusted:
        headers.update(dict(source.headers))
    if cache.etag:
        headers["If-None-Match"] = cache.etag
    if cache.last_modified:
        headers["If-Modified-Since"] = cache.last_modified
    return headers


async def _fetch(client: httpx.AsyncClient, source: Source, url: str, cache: HttpCache,
                 settings: FetchSettings, now: datetime) -> Document | NotModified:
    """Redirects are followed here, not by httpx, so that each hop is checked: the
    source's credentials and headers go only to the origin of its configured URL
    (not to where a redirect, even an adopted permanent one, leads), userinfo in a
    Location is dropped, and no redirect body is ever read."""
    limit = source.max_bytes or settings.max_bytes
    configured, url_auth = split_userinfo(source.url or url)
    home = httpx.URL(configured)
    credentials = source.auth or url_auth
    current = httpx.URL(split_userinfo(url)[0])
    hops: list[int] = []
    for _ in range(settings.max_redirects + 1):
        trusted = _trusted(home, current)
        headers = request_headers(source, cache, settings, trusted=trusted)
        auth = httpx.BasicAuth(*credentials) if credentials and trusted else None
        async with client.stream("GET", current, headers=headers, auth=auth, follow_redirects=False,
                                 extensions={LIMIT_EXTENSION: limit}) as response:
            location = response.headers.get("location")
            if response.status_code in REDIRECT_STATUSES and location is not None:
                hops.append(response.status_code)
                current = _redirect_target(current, location, source.id)
                continue
            return await _final(response, source, cache, now, limit, hops)
    raise FetchError(source.id, f"too many redirects (more than {settings.max_redirects}), "
                                "or a redirect loop")


async def _final(response: httpx.Response, source: Source, cache: HttpCache, now: datetime,
                 limit: int, hops: Sequence[int]) -> Document | NotModified:
    hints = cache_hints(response.headers, now)
    moved = _permanent_target(hops, response.url)
    if response.status_code == 304:
        return NotModified(source.id, "304", hints, moved)
    if response.status_code >= 400:
        raise await _error_for(response, source.id, now)
    if response.status_code != 200:
        raise FetchError(source.id, f"unexpected HTTP {response.status_code} from {response.url}",
                         status=response.status_code)
    declared = response.headers.get("content-length", "")
    if _DIGITS.fullmatch(declared) and (len(declared) > 18 or int(declared) > limit):
        size = f"{int(declared):,}" if len(declared) <= 18 else "over 10^18"
        raise FetchError(source.id, f"response is {size} bytes, over the limit of {limit:,}")
    body = await _read_capped(response, limit, source.id)
    final_url = str(response.url)
    hdrs = {k.lower(): v for k, v in response.headers.items()}
    if body_hash(body) == cache.body_hash:
        return NotModified(source.id, "same body", hints, moved)
    return Document(source_id=source.id, url=final_url, body=body, headers=hdrs,
                    etag=hdrs.get("etag"), last_modified=hdrs.get("last-modified"),
                    hints=hints, permanent_redirect=moved)


async def fetch_one(client: httpx.AsyncClient, source: Source, cache: HttpCache,
                    settings: FetchSettings, *, url: str | None = None,
                    now: datetime | None = None) -> Document | NotModified:
    """Fetch a feed within the wall-clock cap; raise ``FetchError`` with a clear reason.

    ``url`` overrides the configured one (a permanent redirect we adopted).
    """
    url = url or source.url or ""
    shown = split_userinfo(url)[0]  # messages end up in the public health feed
    now = now or datetime.now(UTC)
    cap = source.timeout or settings.total_timeout
    try:
        async with asyncio.timeout(cap):
            return await _fetch(client, source, url, cache, settings, now)
    except TimeoutError:
        raise FetchError(source.id, f"gave up after {cap:g} s in all "
                                    "(the server was too slow)") from None
    except httpx.ConnectTimeout:
        raise FetchError(source.id, f"connecting to {httpx.URL(shown).host} timed out after "
                                    f"{settings.connect_timeout:g} s", unreachable=True) from None
    except httpx.ReadTimeout:
        raise FetchError(source.id, f"the server sent nothing for {settings.read_timeout:g} s "
                                    "(read timeout)") from None
    except httpx.TimeoutException as exc:
        raise FetchError(source.id, f"timed out: {type(exc).__name__}") from None
    except httpx.TooManyRedirects:
        raise FetchError(source.id, f"too many redirects (more than {settings.max_redirects}), "
                                    "or a redirect loop") from None
    except httpx.ConnectError as exc:
        message = _connect_message(exc, shown)
        # A refused private address is our policy and a TLS error is a server that
        # answered: neither says the network is down.
        unreachable = not message.startswith("TLS error") and not any(
            isinstance(c, PrivateAddressError) for c in _causes(exc))
        raise FetchError(source.id, message, unreachable=unreachable) from None
    except httpx.DecodingError as exc:
        if isinstance(exc.__cause__, TooLarge):
            raise FetchError(source.id, str(exc.__cause__)) from None
        raise FetchError(source.id, f"the response body cannot be decoded: {exc}") from None
    except (httpx.RemoteProtocolError, httpx.LocalProtocolError) as exc:
        raise FetchError(source.id, f"the server broke the HTTP protocol: {exc}") from None
    except httpx.UnsupportedProtocol:
        raise FetchError(source.id, f"unsupported URL scheme in {shown}") from None
    except httpx.InvalidURL as exc:
        raise FetchError(source.id, f"invalid URL {shown}: {exc}") from None
    except httpx.HTTPError as exc:
        raise FetchError(source.id, f"{type(exc).__name__}: {exc}") from None
    except (FetchError, asyncio.CancelledError):
        raise
    except Exception as exc:
        # A bug here or in a library must cost this source, never the run.
        log.debug("unexpected error fetching %s", source.id, exc_info=True)
        raise FetchError(source.id, f"unexpected error while fetching {shown}: "
                                    f"{type(exc).__name__}: {exc}") from None


def read_folder(source: Source) -> LocalFolder:
    """Every regular file below the source's folder, hidden ones aside, in a stable order.

    Symbolic links, to files or folders, are skipped with a warning: a link can
    lead to anything the process may read (``/etc/passwd``, a secret beside the
    project), and what is in the folder is published. The walk holds each folder
    open and opens names relative to it without following links, so a name
    swapped for a link while the run reads it is refused, not followed. The
    folder itself may be a link: the operator named it.
    """
    assert source.path is not None
    root = source.path
    if not root.is_dir():
        raise FetchError(source.id, f"folder {root} does not exist")
    found: list[tuple[str, str, LocalFile]] = []
    warnings: list[str] = []

    def unreadable(exc: OSError) -> None:
        # fwalk gives the folder's own name only, not the path to it.
        name = exc.filename if isinstance(exc.filename, str) and exc.filename != "." else root
        warnings.append(f"folder {name}: cannot be read ({exc.strerror or exc})")

    try:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise FetchError(source.id, f"cannot read folder {root}: {exc.strerror or exc}") from None
    try:
        for folder, dirs, names, dir_fd in os.fwalk(".", onerror=unreadable, dir_fd=root_fd):
            for name in list(dirs):
                if name.startswith("."):
                    dirs.remove(name)
                elif _is_link(name, dir_fd):
                    # fwalk does not descend into it either; the warning says why it is missing.
                    dirs.remove(name)
                    warnings.append(f"{_relative(folder, name)}/: skipped, a symbolic link "
                                    "(links are not followed)")
            for name in names:
                if name.startswith(".") or name.endswith("~"):
                    continue
                rel = _relative(folder, name)
                file, problem = _read_local_file(name, dir_fd, rel)
                if problem:
                    warnings.append(f"{rel}: {problem}")
                if file is not None:
                    found.append((folder, name, file))
    finally:
        os.close(root_fd)
    files = tuple(f for _, _, f in sorted(found, key=lambda t: (t[0], t[1])))
    return LocalFolder(source_id=source.id, files=files, warnings=tuple(warnings))


def _relative(folder: str, name: str = "") -> str:
    """A path from ``fwalk(".")`` as it is named in warnings and item keys: "a/b.txt"."""
    path = f"{folder}/{name}" if name else folder
    return path.removeprefix("./").removeprefix(".")


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _read_local_file(name: str, dir_fd: int, rel: str) -> tuple[LocalFile | None, str | None]:
    """One file of a local folder, at most ``MAX_LOCAL_FILE`` bytes of it; or why not."""
    try:
        # O_NONBLOCK: opening a FIFO someone left in the folder must not wait for a writer.
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP or _is_link(name, dir_fd):
            return None, "skipped, a symbolic link (links are not followed)"
        return None, f"cannot be read ({exc.strerror or exc})"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, "skipped, not a regular file"
        # The size is read, not believed: the file may grow while we read it.
        chunks: list[bytes] = []
        left = MAX_LOCAL_FILE + 1
        while left > 0 and (chunk := os.read(fd, min(left, max(st.st_size + 1, 65536)))):
            chunks.append(chunk)
            left -= len(chunk)
        body = b"".join(chunks)
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    finally:
        os.close(fd)
    if len(body) > MAX_LOCAL_FILE:
        return None, f"skipped, larger than {MAX_LOCAL_FILE:,} bytes"
    mtime = datetime.fromtimestamp(st.st_mtime, tz=UTC)
    return LocalFile(relpath=rel, body=body, mtime=mtime), None


class _Cookies(httpx.Cookies):
    """A cookie jar that looks at a response only if it sets a cookie: httpx hands
    every response to ``http.cookiejar``, which first wraps the request and the
    response in urllib objects, and feeds almost never set a cookie."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers or "set-cookie2" in response.headers:
            super().extract_cookies(response)


class _Client(httpx.AsyncClient):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cookies = httpx.Cookies()  # the setter below: the client's jar is a _Cookies

    @property
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, cookies: httpx.Cookies | CookieJar | dict[str, str] | list[tuple[str, str]]) -> None:
        self._jar = _Cookies(cookies)


def make_client(settings: FetchSettings) -> httpx.AsyncClient:
    timeout = httpx.Timeout(connect=settings.connect_timeout, read=settings.read_timeout,
                            write=settings.read_timeout, pool=settings.total_timeout)
    limits = httpx.Limits(max_connections=settings.concurrency,
                          max_keepalive_connections=settings.concurrency)
    # aiohttp is slow to import: commands that never fetch do not load it.
    from feeds.sources.transport import AiohttpTransport

    return _Client(
        transport=AiohttpTransport(max_connections=settings.concurrency, max_bytes=settings.max_bytes,
                                   allow_private=settings.allow_private),
        timeout=timeout,
        limits=limits,
        follow_redirects=True,  # for other callers (WebSub); fetch_one follows its own
        max_redirects=settings.max_redirects,
        # Exactly the codings the transport decodes, whatever httpx could.
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        trust_env=False,
    )


@dataclass(frozen=True)
class Retrieved:
    source: Source
    result: Result
    seconds: float  # wall time of the fetch or folder read


Progress = Callable[[Source, Result], None]


class HttpFetcher:
    """Retrieves sources concurrently: at most ``concurrency`` requests at once, and at
    most ``per_host`` to any one host, so fifty feeds on one server do not hit it at once."""

    def __init__(self, settings: FetchSettings, progress: Progress | None = None) -> None:
        self.settings = settings
        self.progress = progress

    async def stream(self, sources: Sequence[Source], caches: dict[str, HttpCache],
                     urls: dict[str, str] | None = None) -> AsyncIterator[Retrieved]:
        """Results in the order of ``sources``, each as soon as it and those before it
        are in, while the rest are still fetching: the caller can process and drop a
        document before the last one arrives, and the order does not depend on timing."""
        urls = urls or {}
        overall = asyncio.Semaphore(self.settings.concurrency)
        per_host: dict[str, asyncio.Semaphore] = {}
        async with make_client(self.settings) as client:

            async def get(source: Source) -> Result:
                try:
                    if source.is_local:
                        return await asyncio.to_thread(read_folder, source)
                    url = urls.get(source.id) or source.url or ""
                    host = (urlsplit(url).hostname or "").lower()
                    gate = per_host.setdefault(host, asyncio.Semaphore(self.settings.per_host))
                    async with gate, overall:
                        cache = caches.get(source.id, HttpCache())
                        return await fetch_one(client, source, cache, self.settings, url=url)
                except SourceError as exc:
                    return exc
                except Exception as exc:  # a bug costs this source, not the run
                    log.debug("unexpected error retrieving %s", source.id, exc_info=True)
                    return FetchError(source.id, f"unexpected error: {type(exc).__name__}: {exc}")

            async def one(source: Source) -> Retrieved:
                started = time.monotonic()
                result = await get(source)
                if self.progress is not None:
                    self.progress(source, result)
                return Retrieved(source, result, time.monotonic() - started)

            # Fetches run at most ``ahead`` sources past the one the caller is on:
            # enough to keep every connection busy, and documents do not pile up
            # in memory while the caller is slower than the network.
            ahead = max(4 * self.settings.concurrency, 32)
            tasks: dict[int, asyncio.Task[Retrieved]] = {}
            started = 0
            try:
                for i in range(len(sources)):
                    while started < min(i + ahead, len(sources)):
                        tasks[started] = asyncio.create_task(one(sources[started]))
                        started += 1
                    yield await tasks.pop(i)  # let the document go once the caller is done with it
            finally:
                for task in tasks.values():
                    task.cancel()
