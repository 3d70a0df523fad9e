"""Retrieval: HTTP sources through one httpx ``AsyncClient``, local folders from disk.

Every failure becomes a ``FetchError`` for its source with a sentence an
operator can act on; nothing here stops the run.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

from feeds.errors import FetchError, SourceError
from feeds.types import (
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


async def _fetch(client: httpx.AsyncClient, source: Source, cache: HttpCache,
                 settings: FetchSettings) -> Document | NotModified:
    assert source.url is not None
    headers = {"Accept": ACCEPT}
    if cache.etag:
        headers["If-None-Match"] = cache.etag
    if cache.last_modified:
        headers["If-Modified-Since"] = cache.last_modified
    async with client.stream("GET", source.url, headers=headers) as response:
        if response.status_code == 304:
            return NotModified(source.id, "304")
        if response.status_code >= 400:
            reason = response.reason_phrase or ""
            raise FetchError(source.id, f"HTTP {response.status_code} {reason}".strip()
                             + f" from {response.url}")
        if response.status_code != 200:
            raise FetchError(source.id, f"unexpected HTTP {response.status_code} from {response.url}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.max_bytes:
            raise FetchError(source.id, f"response is {int(declared):,} bytes, over the limit of "
                                        f"{settings.max_bytes:,}")
        chunks: list[bytes] = []
        size = 0
        # aiter_bytes() yields decompressed bytes, so the cap also stops gzip bombs.
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > settings.max_bytes:
                raise FetchError(source.id, f"response exceeds the limit of {settings.max_bytes:,} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)
        final_url = str(response.url)
        hdrs = {k.lower(): v for k, v in response.headers.items()}
    digest = body_hash(body)
    etag = hdrs.get("etag")
    last_modified = hdrs.get("last-modified")
    if digest == cache.body_hash:
        return NotModified(source.id, "same body")
    return Document(source_id=source.id, url=final_url, body=body, headers=hdrs,
                    etag=etag, last_modified=last_modified)


async def fetch_one(client: httpx.AsyncClient, source: Source, cache: HttpCache,
                    settings: FetchSettings) -> Document | NotModified:
    """Fetch a feed within the wall-clock cap; raise ``FetchError`` with a clear reason."""
    url = source.url or ""
    try:
        async with asyncio.timeout(settings.total_timeout):
            return await _fetch(client, source, cache, settings)
    except TimeoutError:
        raise FetchError(source.id, f"gave up after {settings.total_timeout:g} s in all "
                                    "(the server was too slow)") from None
    except httpx.ConnectTimeout:
        raise FetchError(source.id, f"connecting to {httpx.URL(url).host} timed out after "
                                    f"{settings.connect_timeout:g} s") from None
    except httpx.ReadTimeout:
        raise FetchError(source.id, f"the server sent nothing for {settings.read_timeout:g} s "
                                    "(read timeout)") from None
    except httpx.TimeoutException as exc:
        raise FetchError(source.id, f"timed out: {type(exc).__name__}") from None
    except httpx.TooManyRedirects:
        raise FetchError(source.id, f"too many redirects (more than {settings.max_redirects}), "
                                    "or a redirect loop") from None
    except httpx.ConnectError as exc:
        raise FetchError(source.id, _connect_message(exc, url)) from None
    except httpx.DecodingError as exc:
        raise FetchError(source.id, f"the response body cannot be decoded: {exc}") from None
    except (httpx.RemoteProtocolError, httpx.LocalProtocolError) as exc:
        raise FetchError(source.id, f"the server broke the HTTP protocol: {exc}") from None
    except httpx.UnsupportedProtocol:
        raise FetchError(source.id, f"unsupported URL scheme in {url}") from None
    except httpx.HTTPError as exc:
        raise FetchError(source.id, f"{type(exc).__name__}: {exc}") from None


def read_folder(source: Source) -> LocalFolder:
    """Every regular file below the source's folder, hidden ones aside, in a stable order."""
    assert source.path is not None
    root = source.path
    files: list[LocalFile] = []
    warnings: list[str] = []
    try:
        walk = sorted(os.walk(root))
    except OSError as exc:
        raise FetchError(source.id, f"cannot read folder {root}: {exc}") from None
    if not root.is_dir():
        raise FetchError(source.id, f"folder {root} does not exist")
    for folder, dirs, names in walk:
        if any(part.startswith(".") for part in Path(folder).relative_to(root).parts):
            continue
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in sorted(names):
            if name.startswith(".") or name.endswith("~"):
                continue
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            try:
                st = path.stat()
                if not path.is_file():
                    continue
                if st.st_size > MAX_LOCAL_FILE:
                    warnings.append(f"{rel}: skipped, larger than {MAX_LOCAL_FILE:,} bytes")
                    continue
                body = path.read_bytes()
            except OSError as exc:
                warnings.append(f"{rel}: cannot be read ({exc.strerror or exc})")
                continue
            mtime = datetime.fromtimestamp(st.st_mtime, tz=UTC)
            files.append(LocalFile(relpath=rel, body=body, mtime=mtime))
    return LocalFolder(source_id=source.id, files=tuple(files), warnings=tuple(warnings))


def make_client(settings: FetchSettings) -> httpx.AsyncClient:
    timeout = httpx.Timeout(connect=settings.connect_timeout, read=settings.read_timeout,
                            write=settings.read_timeout, pool=settings.total_timeout)
    limits = httpx.Limits(max_connections=settings.concurrency,
                          max_keepalive_connections=settings.concurrency)
    return httpx.AsyncClient(
        timeout=timeout,
        limits=limits,
        follow_redirects=True,
        max_redirects=settings.max_redirects,
        headers={"User-Agent": settings.user_agent},
        trust_env=False,
    )


class HttpFetcher:
    """Retrieves every source concurrently, with at most ``concurrency`` requests at once."""

    def __init__(self, settings: FetchSettings) -> None:
        self.settings = settings

    async def retrieve(self, sources: Sequence[Source],
                       caches: dict[str, HttpCache]) -> list[tuple[Source, Result]]:
        semaphore = asyncio.Semaphore(self.settings.concurrency)
        async with make_client(self.settings) as client:

            async def one(source: Source) -> tuple[Source, Result]:
                try:
                    if source.is_local:
                        return source, await asyncio.to_thread(read_folder, source)
                    async with semaphore:
                        cache = caches.get(source.id, HttpCache())
                        return source, await fetch_one(client, source, cache, self.settings)
                except SourceError as exc:
                    return source, exc

            return list(await asyncio.gather(*(one(s) for s in sources)))

