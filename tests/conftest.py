"""Shared fixtures: a real HTTP server on 127.0.0.1 and a temporary project folder."""

from __future__ import annotations

import base64
import gzip
import hashlib
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent
SEED = REPO / "seeds" / "000_b68ede34d4090fc6.txt"

# Every slow endpoint gives up after this long, so no test can hang on the server.
MAX_STALL = 10.0


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    validators: bool = True  # send ETag and Last-Modified, answer 304 to them
    gzip: bool = False
    delay: float = 0.0  # seconds before answering
    auth: str | None = None  # "user:password" required as basic auth


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes = b""


class FeedServer:
    """A loopback server with static feeds and endpoints that misbehave on purpose.

    Fault endpoints: /status/<code>, /redirect?to=<path>, /loop, /stall (headers,
    then nothing), /trickle (a byte at a time), /huge (endless body without
    Content-Length), /drop (closes the connection before answering).
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        """``host``: the loopback address to listen on (each of 127.0.0.0/8 is another
        host to the fetcher's per-host limit)."""
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.inflight = 0
        self.max_inflight = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.hits.append(Hit(self.path, {k.lower(): v for k, v in self.headers.items()}))
                    server.inflight += 1
                    server.max_inflight = max(server.max_inflight, server.inflight)
                try:
                    server.handle(self)
                finally:
                    with server._lock:
                        server.inflight -= 1

            def do_POST(self) -> None:  # a WebSub hub stub: records the ping, answers 204
                length = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(min(length, 1 << 20))
                with server._lock:
                    server.hits.append(Hit(self.path, {k.lower(): v for k, v in self.headers.items()},
                                           body))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients that hang up on purpose (size caps, timeouts) are expected

        self.httpd = QuietServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: bytes | str, **kwargs: object) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(body=data, **kwargs)  # type: ignore[arg-type]
        return self.url(path)

    def add_file(self, path: str, name: str, **kwargs: object) -> str:
        return self.add(path, (DATA / "feeds" / name).read_bytes(), **kwargs)

    def hits_for(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- behaviour ------------------------------------------------------------

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self._send(h, code, b"<html><body>error</body></html>", "text/html")
        elif path == "/redirect":
            target = h.path.split("to=", 1)[1]
            self._send(h, 302, b"", "text/plain", {"Location": target})
        elif path.startswith("/r/"):  # /r/301?to=/x: a redirect with the given status
            target = h.path.split("to=", 1)[1]
            self._send(h, int(path[3:]), b"", "text/plain", {"Location": target})
        elif path == "/loop":
            self._send(h, 301, b"", "text/plain", {"Location": "/loop"})
        elif path == "/stall":
            h.send_response(200)
            h.send_header("Content-Type", "application/rss+xml")
            h.send_header("Content-Length", "1000")
            h.end_headers()
            h.wfile.flush()
            self.stopping.wait(MAX_STALL)
        elif path == "/trickle":
            h.send_response(200)
            h.send_header("Content-Type", "application/rss+xml")
            h.end_headers()
            deadline = time.monotonic() + MAX_STALL
            try:
                while time.monotonic() < deadline and not self.stopping.is_set():
                    h.wfile.write(b" ")
                    h.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass
        elif path == "/huge":
            h.send_response(200)
            h.send_header("Content-Type", "application/rss+xml")
            h.send_header("Connection", "close")
            h.end_headers()
            chunk = b"<!-- " + b"x" * 65536 + b" -->"
            deadline = time.monotonic() + MAX_STALL
            try:
                h.wfile.write(b"<rss version='2.0'><channel>")
                while time.monotonic() < deadline and not self.stopping.is_set():
                    h.wfile.write(chunk)
            except OSError:
                pass
            h.close_connection = True
        elif path == "/drop":
            h.close_connection = True
            h.connection.close()
        elif path in self.routes:
            self._static(h, self.routes[path])
        else:
            self._send(h, 404, b"not found", "text/plain")

    def _static(self, h: BaseHTTPRequestHandler, route: Route) -> None:
        if route.delay:
            self.stopping.wait(min(route.delay, MAX_STALL))
        if route.auth is not None:
            expected = "Basic " + base64.b64encode(route.auth.encode()).decode()
            if h.headers.get("Authorization") != expected:
                self._send(h, 401, b"auth", "text/plain", {"WWW-Authenticate": 'Basic realm="feeds"'})
                return
        headers = dict(route.headers)
        if route.validators and route.status == 200:
            etag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
            last_modified = formatdate(1_790_000_000, usegmt=True)
            headers["ETag"] = etag
            headers["Last-Modified"] = last_modified
            if h.headers.get("If-None-Match") == etag:
                self._send(h, 304, b"", None, headers)
                return
        body = route.body
        if route.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        self._send(h, route.status, body, route.content_type, headers)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str | None,
              headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        if content_type:
            h.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        if status != 304:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if status != 304 and body:
            h.wfile.write(body)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


FEEDS_TOML = """\
[site]
title = "Test Wire"
description = "Feeds under test"
base_url = "https://feeds.test/"
author = "Test Desk"
max_entries = {max_entries}
retention_days = {retention_days}

[fetch]
concurrency = 4
connect_timeout = 2
read_timeout = {read_timeout}
total_timeout = {total_timeout}
max_bytes = {max_bytes}
max_redirects = 3
user_agent = "feeds-tests/1.0"

[topics.ai]
title = "AI"
description = "Artificial intelligence"
keywords = ["AI", "artificial intelligence", "language model", "LLM", "OpenAI"]

[topics.internet-policy]
title = "Internet policy"
keywords = ["regulator", "restriction", "net neutrality", "Digital Markets Act", "FCC"]
require = ["internet", "online", "broadband", "tech", "platform", "digital"]

[topics.chips]
title = "Chips"
keywords = ["chip", "semiconductor", "TSMC", "wafer"]
exclude = ["chocolate chip"]
"""


@dataclass
class Project:
    root: Path

    def write_sources(self, sources: list[dict[str, object]]) -> None:
        lines: list[str] = []
        for s in sources:
            lines.append("[[sources]]")
            for k, v in s.items():
                if isinstance(v, bool):
                    lines.append(f"{k} = {'true' if v else 'false'}")
                elif isinstance(v, int | float):
                    lines.append(f"{k} = {v}")
                elif isinstance(v, list):
                    lines.append(f"{k} = [" + ", ".join(f'"{x}"' for x in v) + "]")
                else:
                    lines.append(f'{k} = "{v}"')
            lines.append("")
        (self.root / "config" / "sources.toml").write_text("\n".join(lines), encoding="utf-8")

    def write_feeds(self, **overrides: object) -> None:
        values: dict[str, object] = {
            "max_entries": 50, "retention_days": 90, "read_timeout": 1,
            "total_timeout": 3, "max_bytes": 1_000_000,
        }
        values.update(overrides)
        (self.root / "config" / "feeds.toml").write_text(FEEDS_TOML.format(**values), encoding="utf-8")

    @property
    def public(self) -> Path:
        return self.root / "public"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "site"
    (root / "config").mkdir(parents=True)
    (root / "seeds").mkdir()
    shutil.copy(SEED, root / "seeds" / SEED.name)
    p = Project(root)
    p.write_feeds()
    p.write_sources([{"id": "seeds", "title": "Local articles", "path": "seeds"}])
    return p


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[[str], Project]:
    def make(name: str) -> Project:
        root = tmp_path / name
        (root / "config").mkdir(parents=True)
        p = Project(root)
        p.write_feeds()
        return p

    return make


@pytest.fixture(autouse=True)
def _state_on_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    """A FEEDS_STATE_URL in the developer's shell must not send every test's state
    to PostgreSQL; the tests that want it set it."""
    monkeypatch.delenv("FEEDS_STATE_URL", raising=False)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL of an empty PostgreSQL schema of this test's own (tests/pg.py): skips
    when there is no PostgreSQL, fails instead under FEEDS_REQUIRE_POSTGRES=1."""
    import pg

    server_url, schema, url = pg.fresh_schema()
    try:
        yield url
    finally:
        pg.drop_schema(server_url, schema)
