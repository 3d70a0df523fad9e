"""What ``feeds serve`` sends for a path: which file (``locate``: inside the folder,
never hidden, never out through a symlink), its content type, its validators
(ETag), whether the reader takes gzip, and the gzipped bodies, each version of a
file compressed once (``GzipCache``). The sockets and threads are ``serve``'s."""

from __future__ import annotations

import gzip
import mimetypes
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

CONTENT_TYPES = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
# Files whose name, not suffix, says what they are: the other .json files are JSON Feeds.
NAMED_TYPES = {
    "status.json": "application/json; charset=utf-8",
}
GZIP_MIN = 256  # below this, gzip's header makes the body bigger, not smaller
GZIP_MAX = 32 * 1024 * 1024  # larger files are sent as they are rather than held in memory


def content_type(path: Path) -> str:
    known = NAMED_TYPES.get(path.name) or CONTENT_TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    if not guessed:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def compressible(ctype: str) -> bool:
    media = ctype.split(";", 1)[0]
    return media.startswith("text/") or media.endswith(("xml", "json"))


def accepts_gzip(header: str | None) -> bool:
    """Whether an Accept-Encoding header allows gzip (q-values honoured, ``*`` included)."""
    if not header:
        return False
    gzip_q: float | None = None
    star_q: float | None = None
    for part in header.split(","):
        name, _, params = part.partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        name = name.strip().lower()
        if name in ("gzip", "x-gzip"):
            gzip_q = q
        elif name == "*":
            star_q = q
    if gzip_q is not None:
        return gzip_q > 0
    return star_q is not None and star_q > 0


def etag_for(st: os.stat_result, encoding: str = "") -> str:
    # Size and mtime in nanoseconds change whenever the pipeline replaces a
    # file; hashing would cost a read per request for nothing more. The gzip
    # variant has other bytes, so a strong validator must differ for it.
    suffix = f"-{encoding}" if encoding else ""
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}{suffix}"'


def etag_matches(header: str, candidates: set[str]) -> bool:
    # If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/ is ignored.
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        if tag.removeprefix("W/") in candidates:
            return True
    return False


def locate(root: Path, target: str) -> tuple[Path | None, str | None]:
    """The file a request target names inside ``root`` (resolved), or a redirect.

    Returns (file, None), (None, location) for a folder asked without its
    trailing slash, or (None, None) for not found. ``root`` must be resolved.
    """
    # Not urlsplit for origin-form targets: it would read "//host/x" as a host
    # name. Absolute-form ("http://host/path") does need it.
    raw = (target.split("?", 1)[0].split("#", 1)[0] if target.startswith("/")
           else urlsplit(target).path)
    try:
        path = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return None, None  # not UTF-8 once decoded, so no file of ours
    if not path.startswith("/") or "\x00" in path or "\\" in path:
        return None, None
    parts = [p for p in path.split("/") if p]
    # Decoded "..", "." and hidden names are refused outright rather than
    # normalised: %2e%2e must not be a way round the check.
    if any(p in (".", "..") or p.startswith(".") for p in parts):
        return None, None
    candidate = root.joinpath(*parts)
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None, None
    if real != root and root not in real.parents:
        return None, None  # a symlink that leads out of the folder
    if real.is_dir():
        index = real / "index.html"
        if not index.is_file():
            return None, None  # no listings
        if not path.endswith("/"):
            # One leading slash: "//host/x/" would send the reader to another site.
            return None, "/" + raw.lstrip("/") + "/"
        return index, None
    return (real, None) if real.is_file() else (None, None)


class _Flight:
    """One compression in progress; the readers who asked for the same version wait on it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.body: bytes | None = None


class GzipCache:
    """Compressed bodies, one version per path, within a byte budget (least recently used go).

    A version is (path, size, mtime): the pipeline replaces files by rename,
    so a new version always has a new mtime. Readers asking for a version
    being compressed wait for that one compression rather than each reading
    and compressing the file (``compressions`` counts the real ones).
    """

    def __init__(self, max_bytes: int, workers: int) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[tuple[int, int], bytes]] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes
        self._flights: dict[tuple[str, int, int], _Flight] = {}
        # Each compression holds its whole file and its output in memory; with
        # distinct large files asked at once, this is what bounds the total.
        self._workers = threading.BoundedSemaphore(workers)
        self.compressions = 0

    def get(self, path: Path, st: os.stat_result, fh: BinaryIO) -> bytes:
        name, version = str(path), (st.st_size, st.st_mtime_ns)
        key = (name, *version)
        with self._lock:
            held = self._items.get(name)
            if held is not None and held[0] == version:
                self._items.move_to_end(name)
                return held[1]
            flight = self._flights.get(key)
            owner = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not owner:
            flight.done.wait()
            if flight.body is not None:
                return flight.body
            # The one compressing failed (a read error); this reader tries on its own.
            return self._compress(fh)
        try:
            body = self._compress(fh)
            flight.body = body
            with self._lock:
                # Stored before the flight ends, so a later reader finds one or the other.
                self._store(name, version, body)
            return body
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()  # also on failure: waiters must never hang

    def _compress(self, fh: BinaryIO) -> bytes:
        with self._workers:
            with self._lock:
                self.compressions += 1
            # mtime=0 so the same file always gives the same bytes (and ETag).
            return gzip.compress(fh.read(), compresslevel=6, mtime=0)

    def _store(self, name: str, version: tuple[int, int], body: bytes) -> None:
        old = self._items.pop(name, None)
        if old is not None:
            self._bytes -= len(old[1])
        if len(body) > self._max_bytes:
            return
        self._items[name] = (version, body)
        self._bytes += len(body)
        while self._bytes > self._max_bytes:
            _name, (_version, dropped) = self._items.popitem(last=False)
            self._bytes -= len(dropped)

