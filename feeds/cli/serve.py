"""A small static server for ``public/``, for previews and small deployments.

Feed readers poll often, so what matters is answering "nothing changed"
cheaply: every file gets a strong ETag and Last-Modified, and conditional
requests get 304. Because the pipeline rewrites a file only when its bytes
change, its mtime, and so its ETag, moves only when there is something new.

Only files inside the folder are served: no directory listings, no hidden
files (the pipeline's temp files are hidden), no ``..``, no symlinks that
lead out. Anything else is 404, so the answer does not tell what exists.

Strangers can reach it, so each connection is bounded (see ``Limits``): the
request line and headers must arrive whole within a deadline (a total, not a
per-byte timeout, so trickling does not keep a connection), their sizes are
capped (414, 431), an idle kept-alive connection is closed, a response must be
taken at a minimum rate, and at most ``max_connections`` are answered at once.
Connections wait for their request in one thread that reads them all without
blocking, so slow clients cost a socket each, not a thread. Each version of a
file is gzipped once, however many readers ask for it at the same time.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import queue
import selectors
import shutil
import signal
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

from feeds.cli.servefiles import (
    GZIP_MAX,
    GZIP_MIN,
    GzipCache,
    accepts_gzip,
    compressible,
    content_type,
    etag_for,
    etag_matches,
    locate,
)

log = logging.getLogger("feeds.cli.serve")


@dataclass(frozen=True)
class Limits:
    """What one client may take of the server; the defaults suit a small public site.

    Times are seconds, sizes bytes. ``max_connections`` requests are answered
    at once (one thread each); ``max_open`` connections may be open in all,
    the others waiting for their request to arrive, which costs a socket and
    a small buffer but no thread. ``header_timeout`` is the whole time from
    the first byte of a request (or from the connection, for its first
    request) to the end of its headers. ``idle_timeout`` is how long a
    kept-alive connection may wait for its next request. A response may take
    ``send_timeout`` plus its size at ``min_send_rate``.
    """

    max_connections: int = 64
    max_open: int = 512
    header_timeout: float = 10.0
    idle_timeout: float = 5.0
    send_timeout: float = 30.0
    min_send_rate: int = 8 * 1024
    max_request_line: int = 8190  # longer: 414
    max_header_line: int = 8190  # one longer header: 431
    max_header_bytes: int = 32 * 1024  # all headers together: 431
    max_headers: int = 100  # more: 431
    gzip_cache_bytes: int = 64 * 1024 * 1024
    gzip_workers: int = 2  # files compressed at the same time; each holds its file in memory

    def __post_init__(self) -> None:
        for name in ("max_connections", "max_open", "max_request_line", "max_header_line", "max_header_bytes",
                     "max_headers", "min_send_rate", "gzip_workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"serve limit {name} must be at least 1, not {getattr(self, name)}")
        for name in ("header_timeout", "idle_timeout", "send_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"serve limit {name} must be more than 0 seconds")


class _DeadlineSocket(io.RawIOBase):
    """A connection's socket, written against a deadline (``time.monotonic`` seconds).

    A plain socket timeout starts again with every send, so a reader taking a
    byte a second would hold its worker for ever; here each write may only
    use what is left until the deadline, and one past it raises TimeoutError.
    """

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self.deadline = math.inf

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("send deadline passed")
        # sendall's timeout is the total for the call, not per send.
        self._sock.settimeout(None if math.isinf(left) else left)
        self._sock.sendall(data)
        return memoryview(data).nbytes


class _Refused(Exception):
    """A request that breaks a size limit, with the status that says which."""

    def __init__(self, status: HTTPStatus) -> None:
        super().__init__(status.phrase)
        self.status = status


class _Conn:
    """An open connection and what has been read from it but not yet answered."""

    def __init__(self, sock: socket.socket, address: Any, deadline: float) -> None:
        self.sock = sock
        self.address = address
        self.buffer = bytearray()
        self.deadline = deadline
        self.idle = False  # waiting between requests, not in the middle of one
        self.head = b""  # the complete request head handed to a worker
        self.scanned = 0  # how much of buffer is known to hold no end of head


_TIMED_OUT = (b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
              b"Content-Length: 0\r\n\r\n")


def _head_end(buffer: bytearray, start: int = 0) -> int:
    """Where the request head in ``buffer`` ends (after its blank line), or -1.

    The search starts at ``start``: a trickled head is searched once, not
    again from the beginning for every byte.
    """
    ends = [i + n for i, n in ((buffer.find(b"\n\r\n", start), 3), (buffer.find(b"\n\n", start), 2))
            if i >= 0]
    return min(ends) if ends else -1


class _Lobby:
    """Where connections wait, without a thread each, until a whole request head has arrived.

    One thread reads every waiting socket without blocking. A connection
    goes to the workers once its head is complete (or too long to be valid,
    for the worker to refuse), and comes back here between kept-alive
    requests; one past its deadline is closed (with 408 if it had started a
    request). So a client trickling its headers costs a socket and a buffer,
    never a worker.
    """

    def __init__(self, server: StaticServer) -> None:
        self._server = server
        self._limits = server.limits
        self._selector = selectors.DefaultSelector()
        self._waiting: set[_Conn] = set()
        self._inbox: list[_Conn] = []
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._stopping = False
        # Past this the head cannot be valid: the worker answers 414 or 431.
        self._max_head = self._limits.max_request_line + self._limits.max_header_bytes + 4
        self._thread = threading.Thread(target=self._run, name="feeds-serve-lobby", daemon=True)
        self._thread.start()

    def admit(self, conn: _Conn) -> None:
        with self._lock:
            self._inbox.append(conn)
        self._wake()

    def stop(self) -> None:
        self._stopping = True
        self._wake()
        self._thread.join(5)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full: a wake-up is already pending
            self._wake_w.send(b"x")

    def _run(self) -> None:
        try:
            while not self._stopping:
                try:
                    self._step()
                except Exception:
                    # A bug here must not leave the server accepting connections
                    # that nobody reads; it is logged and the loop goes on.
                    log.exception("feeds serve: error while reading requests")
                    time.sleep(0.1)
        finally:
            with self._lock:
                leftover, self._inbox = self._inbox, []
            for conn in [*self._waiting, *leftover]:
                self._server.close_conn(conn)
            self._waiting.clear()
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()

    def _step(self) -> None:
        for key, _events in self._selector.select(timeout=0.1):
            if key.fileobj is self._wake_r:
                with contextlib.suppress(OSError):
                    self._wake_r.recv(4096)
                continue
            self._receive(key.data)
        with self._lock:
            arrived, self._inbox = self._inbox, []
        for conn in arrived:
            try:
                conn.sock.setblocking(False)
                self._selector.register(conn.sock, selectors.EVENT_READ, conn)
            except (OSError, ValueError):  # closed by the client in the meantime
                self._server.close_conn(conn)
                continue
            self._waiting.add(conn)
            self._check(conn)  # a kept-alive client may have sent its next request already
        now = time.monotonic()
        for conn in [c for c in self._waiting if c.deadline <= now]:
            self._forget(conn)
            if not conn.idle and conn.buffer:
                with contextlib.suppress(OSError):
                    conn.sock.send(_TIMED_OUT)  # best effort: it may not be reading either
            self._server.close_conn(conn)

    def _receive(self, conn: _Conn) -> None:
        try:
            chunk = conn.sock.recv(16384)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._forget(conn)
            self._server.close_conn(conn)
            return
        if conn.idle:
            # The next request has started: it gets the header deadline from here.
            conn.idle = False
            conn.deadline = time.monotonic() + self._limits.header_timeout
        conn.buffer += chunk
        self._check(conn)

    def _check(self, conn: _Conn) -> None:
        # Empty lines before a request line are to be ignored (RFC 9112 2.2).
        while conn.buffer and conn.buffer[0] in b"\r\n":
            del conn.buffer[:1]
            conn.scanned = 0
        end = _head_end(conn.buffer, max(0, conn.scanned - 2))
        if end < 0 and len(conn.buffer) <= self._max_head:
            conn.scanned = len(conn.buffer)
            return
        if end < 0:
            end = len(conn.buffer)
        conn.scanned = 0
        if conn.idle:
            conn.idle = False
        conn.head = bytes(conn.buffer[:end])
        del conn.buffer[:end]
        self._forget(conn)
        self._server.workers.submit(conn)

    def _forget(self, conn: _Conn) -> None:
        if conn in self._waiting:
            self._waiting.discard(conn)
            self._selector.unregister(conn.sock)


class _Workers:
    """At most ``size`` threads answering complete requests, started as they are needed."""

    def __init__(self, server: StaticServer, size: int) -> None:
        self._server = server
        self._size = size
        self._jobs: queue.SimpleQueue[_Conn | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self.busy = 0
        self.peak = 0  # the most answering at once since start; tests read it

    def submit(self, conn: _Conn) -> None:
        self._jobs.put(conn)
        with self._lock:
            if len(self._threads) < self._size and self._jobs.qsize() > self._idle:
                thread = threading.Thread(target=self._run, daemon=True,
                                          name=f"feeds-serve-worker-{len(self._threads) + 1}")
                self._threads.append(thread)
                thread.start()

    def stop(self) -> None:
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(None)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            conn = self._jobs.get()
            with self._lock:
                self._idle -= 1
                if conn is not None:
                    self.busy += 1
                    self.peak = max(self.peak, self.busy)
            if conn is None:
                return
            try:
                self._server.answer(conn)
            finally:
                with self._lock:
                    self.busy -= 1


def _within_file_limit(max_open: int, workers: int) -> int:
    """``max_open``, lowered to leave room under the process's open-file limit.

    Past that limit accept() fails at once while the listening socket stays
    ready, and the accepting loop would spin; each worker also opens a file.
    """
    try:
        import resource
    except ImportError:  # not POSIX: no limit to read
        return max_open
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max_open
    return max(1, min(max_open, soft - workers - 64))


class StaticServer(HTTPServer):
    request_queue_size = 128  # the listen backlog: where connections wait while max_open are open

    def __init__(self, address: tuple[str, int], public_dir: Path, limits: Limits | None = None) -> None:
        self.public_dir = public_dir
        self.limits = limits or Limits()
        self.gzip_cache = GzipCache(self.limits.gzip_cache_bytes, self.limits.gzip_workers)
        self.max_open = _within_file_limit(self.limits.max_open, self.limits.max_connections)
        self._open = threading.BoundedSemaphore(self.max_open)
        self._closing = threading.Event()
        self._count_lock = threading.Lock()
        self.open_connections = 0
        super().__init__(address, _Handler)
        self.workers = _Workers(self, self.limits.max_connections)
        self.lobby = _Lobby(self)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Called on the accepting thread: while max_open connections are open
        # it accepts nothing more, so further ones wait in the listen backlog
        # (and past it, the kernel refuses them).
        while not self._open.acquire(timeout=0.2):
            if self._closing.is_set():
                self.shutdown_request(request)
                return
        with self._count_lock:
            self.open_connections += 1
        if self.disable_nagle:
            with contextlib.suppress(OSError):
                request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self.lobby.admit(_Conn(request, client_address,
                               time.monotonic() + self.limits.header_timeout))

    # Headers and body go out in separate writes; with Nagle on, a kept-alive
    # connection waits for the delayed ACK (~40 ms) on every response.
    disable_nagle = True

    def answer(self, conn: _Conn) -> None:
        """Answer the request whose head ``conn`` holds; then close it or send it back to wait."""
        keep = False
        try:
            handler = _Handler(conn, conn.address, self)  # type: ignore[arg-type]  # setup unpacks it
            keep = not handler.close_connection and not self._closing.is_set()
        except Exception:
            self.handle_error(conn.sock, conn.address)
        if keep:
            conn.idle = True
            conn.deadline = time.monotonic() + self.limits.idle_timeout
            self.lobby.admit(conn)
        else:
            self.close_conn(conn)

    def close_conn(self, conn: _Conn) -> None:
        self.shutdown_request(conn.sock)
        with self._count_lock:
            self.open_connections -= 1
        self._open.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            # Resets and timeouts are the client's doing, not ours to report loudly.
            log.debug("connection from %s ended: %s", client_address, exc)
            return
        log.error("error while answering %s", client_address, exc_info=True)

    def shutdown(self) -> None:
        self._closing.set()  # frees the accepting thread if it waits
        super().shutdown()

    def server_close(self) -> None:
        self._closing.set()
        super().server_close()
        self.lobby.stop()
        self.workers.stop()


class _StaticServer6(StaticServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    """Answers one request whose head has already been read (by the lobby)."""

    protocol_version = "HTTP/1.1"  # keep-alive: readers fetch several feeds at once
    server_version = "feeds"
    sys_version = ""

    def setup(self) -> None:
        assert isinstance(self.request, _Conn)
        self.connection = self.request.sock
        self._sock = _DeadlineSocket(self.connection)
        self.rfile = io.BytesIO(self.request.head)
        self.wfile = self._sock  # type: ignore[assignment]  # unbuffered, like the standard handler's

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()

    def handle_one_request(self) -> None:
        limits = self._server.limits
        self._sock.deadline = time.monotonic() + limits.send_timeout
        try:
            self._check_head(limits)
        except _Refused as exc:
            self._refuse(exc.status)
            return
        try:
            self._dispatch()
        except (TimeoutError, OSError):
            self.close_connection = True

    def _check_head(self, limits: Limits) -> None:
        """Refuse a head over the limits; then rewind, for parse_request to read the headers."""
        head = self.rfile
        line = head.readline(limits.max_request_line + 1)
        if len(line) > limits.max_request_line:
            raise _Refused(HTTPStatus.REQUEST_URI_TOO_LONG)
        headers_start = head.tell()
        total = count = 0
        while True:
            room = min(limits.max_header_line, limits.max_header_bytes - total)
            header = head.readline(room + 1)
            if header in (b"\r\n", b"\n", b""):
                break
            count += 1
            total += len(header)
            if len(header) > room or count > limits.max_headers:
                raise _Refused(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
        head.seek(headers_start)
        self.raw_requestline = line

    def _dispatch(self) -> None:
        if not self.parse_request():
            return  # parse_request has answered (400, 505, ...)
        if self.headers.get("Content-Length", "0").strip() not in ("", "0") or \
                "Transfer-Encoding" in self.headers:
            # Bodies are never read: what is left of one must not be taken
            # for the next request, so the connection ends with this answer.
            self.close_connection = True
        method = getattr(self, "do_" + self.command, None)
        if method is None:
            self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({self.command!r})")
            return
        method()
        self.wfile.flush()

    def _refuse(self, status: HTTPStatus) -> None:
        self.requestline = ""
        self.request_version = ""
        self.command = ""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.send_error(status)

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
        zippable = compressible(ctype)
        use_gzip = (zippable and GZIP_MIN <= st.st_size <= GZIP_MAX
                    and accepts_gzip(self.headers.get("Accept-Encoding")))
        etag = etag_for(st, "gzip" if use_gzip else "")
        last_modified = formatdate(st.st_mtime, usegmt=True)

        def common_headers() -> None:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", last_modified)
            if zippable:
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
        size = len(payload) if payload is not None else st.st_size
        limits = self._server.limits
        # Set after compressing (waiting for it is not the reader's fault):
        # a slow reader of a large file gets time in proportion, no more.
        self._sock.deadline = (time.monotonic() + limits.send_timeout
                                     + (size if body else 0) / limits.min_send_rate)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(size))
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
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            # The reader hung up, or took too long: part of the body may be
            # gone, so the connection cannot carry another answer.
            self.close_connection = True

    def _not_modified(self, st: os.stat_result) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            # Either variant's tag means the reader has this version of the file.
            return etag_matches(inm, {etag_for(st), etag_for(st, "gzip")})
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


def make_server(public_dir: Path, host: str, port: int,
                limits: Limits | None = None) -> StaticServer:
    """A server bound to (host, port) for ``public_dir``; port 0 picks a free one.

    The caller runs ``serve_forever`` (or uses ``serve``); ``limits`` default
    to ``Limits()``. Raises NotADirectoryError if the folder does not exist,
    OSError if the address is taken.
    """
    root = public_dir.resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"{public_dir} is not a folder (run `feeds run` to create it)")
    cls = _StaticServer6 if ":" in host else StaticServer
    return cls((host, port), root, limits)


def server_url(server: HTTPServer) -> str:
    host, port = server.server_address[:2]
    host = host.decode() if isinstance(host, bytes) else host
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(public_dir: Path, host: str = "127.0.0.1", port: int = 8000, *,
          stop: threading.Event | None = None,
          on_ready: Callable[[str], None] | None = None,
          limits: Limits | None = None) -> None:
    """Serve until SIGINT or SIGTERM (or ``stop`` is set); then close cleanly.

    ``on_ready`` gets the URL once the socket is listening (with port 0, the
    port chosen). Signal handlers are only installed from the main thread,
    and the previous ones are put back on the way out.
    """
    server = make_server(public_dir, host, port, limits)
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
