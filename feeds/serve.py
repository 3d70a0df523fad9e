"""A small static server for ``public/``, for previews and small deployments.

Feed readers poll often, so what matters is answering "nothing changed"
cheaply: every file gets a strong ETag and Last-Modified, and conditional
requests get 304. Because the pipeline rewrites a file only when its bytes
change, its mtime, and so its ETag, moves only when there is something new.

Only files inside the folder are served: no directory listings, no hidden
files (the pipeline's temp files are hidden), no ``..``, no symlinks that
lead out. Anything else is 404, so the answer does not tell what exists.
"""

from __future__ import annotations

import gzip
import logging
import mimetypes
import os
import shutil
import signal
import socket
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

log = logging.getLogger("feeds.serve")

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
GZIP_MIN = 256  # below this, gzip's header makes the body bigger, not smaller
GZIP_MAX = 32 * 1024 * 1024  # larger files are sent as they are rather than held in memory
_GZIP_CACHE_SIZE = 64
IDLE_TIMEOUT = 60.0  # seconds a kept-alive connection may sit idle before its thread is freed


def content_type(path: Path) -> str:
    known = CONTENT_TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    if not guessed:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def _compressible(ctype: str) -> bool:
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


def _etag_matches(header: str, candidates: set[str]) -> bool:
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


class _GzipCache:
    """Compressed bodies by (path, size, mtime): each version is compressed once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()

    def get(self, path: Path, st: os.stat_result, fh: BinaryIO) -> bytes:
        key = (str(path), st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        # mtime=0 so the same file always gives the same bytes (and ETag).
        body = gzip.compress(fh.read(), compresslevel=6, mtime=0)
        with self._lock:
            self._items[key] = body
            while len(self._items) > _GZIP_CACHE_SIZE:
                self._items.popitem(last=False)
        return body


class StaticServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client must not keep the process from exiting
    block_on_close = False

    def __init__(self, address: tuple[str, int], public_dir: Path) -> None:
        self.public_dir = public_dir
        self.gzip_cache = _GzipCache()
        super().__init__(address, _Handler)


class _StaticServer6(StaticServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: readers fetch several feeds at once
    server_version = "feeds"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    # Headers and body go out in separate writes; with Nagle on, a kept-alive
    # connection waits for the delayed ACK (~40 ms) on every response.
    disable_nagle_algorithm = True

    @property
    def _server(self) -> StaticServer:
        assert isinstance(self.server, StaticServer)
        return self.server

    def log_message(self, format: str, *args: object) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._respond(body=True)

    def do_HEAD(self) -> None:
        self._respond(body=False)

    def _not_allowed(self) -> None:
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed

    def _not_found(self) -> None:
        self.send_error(HTTPStatus.NOT_FOUND, "Not found")

    def _respond(self, *, body: bool) -> None:
        path, redirect = locate(self._server.public_dir, self.path)
        if redirect is not None:
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path is None:
            self._not_found()
            return
        try:
            fh = path.open("rb")
        except OSError:
            self._not_found()
            return
        with fh:
            # Headers and body come from the one open file: the pipeline
            # replaces files by rename, so this handle is one whole version
            # even if a run publishes while we answer.
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                self._not_found()
                return
            self._send_file(path, fh, st, body=body)

    def _send_file(self, path: Path, fh: BinaryIO, st: os.stat_result, *, body: bool) -> None:
        ctype = content_type(path)
        compressible = _compressible(ctype)
        use_gzip = (compressible and GZIP_MIN <= st.st_size <= GZIP_MAX
                    and accepts_gzip(self.headers.get("Accept-Encoding")))
        etag = etag_for(st, "gzip" if use_gzip else "")
        last_modified = formatdate(st.st_mtime, usegmt=True)

        def common_headers() -> None:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", last_modified)
            if compressible:
                # Caches must keep the gzip and plain answers apart.
                self.send_header("Vary", "Accept-Encoding")

        if self._not_modified(st):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            common_headers()
            self.end_headers()
            return

        payload: bytes | None = None
        if use_gzip:
            payload = self._server.gzip_cache.get(path, st, fh)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload) if payload is not None else st.st_size))
        if use_gzip:
            self.send_header("Content-Encoding", "gzip")
        common_headers()
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not body:
            return
        try:
            if payload is not None:
                self.wfile.write(payload)
            else:
                shutil.copyfileobj(fh, self.wfile)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the reader hung up; nothing to tell anyone

    def _not_modified(self, st: os.stat_result) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            # Either variant's tag means the reader has this version of the file.
            return _etag_matches(inm, {etag_for(st), etag_for(st, "gzip")})
        ims = self.headers.get("If-Modified-Since")
        if ims is None:
            return False
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError):
            return False  # an unreadable date is as if it were not there
        if since.tzinfo is None:
            return False
        # HTTP dates have whole seconds; compare at that precision.
        return int(st.st_mtime) <= since.timestamp()


def make_server(public_dir: Path, host: str, port: int) -> ThreadingHTTPServer:
    """A server bound to (host, port) for ``public_dir``; port 0 picks a free one.

    The caller runs ``serve_forever`` (or uses ``serve``). Raises
    NotADirectoryError if the folder does not exist, OSError if the address is taken.
    """
    root = public_dir.resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"{public_dir} is not a folder (run `feeds run` to create it)")
    cls = _StaticServer6 if ":" in host else StaticServer
    return cls((host, port), root)


def server_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    host = host.decode() if isinstance(host, bytes) else host
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(public_dir: Path, host: str = "127.0.0.1", port: int = 8000, *,
          stop: threading.Event | None = None,
          on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT or SIGTERM (or ``stop`` is set); then close cleanly.

    ``on_ready`` gets the URL once the socket is listening (with port 0, the
    port chosen). Signal handlers are only installed from the main thread,
    and the previous ones are put back on the way out.
    """
    server = make_server(public_dir, host, port)
    stop = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    # serve_forever runs in a thread because shutdown() waits for it to stop
    # and would deadlock if called from a signal handler on the same thread.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="feeds-serve", daemon=True)
    thread.start()
    try:
        if on_ready is not None:
            on_ready(server_url(server))
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
