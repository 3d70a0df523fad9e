"""The preview server: content types, validators and 304s, gzip, HEAD, and nothing outside public/."""

from __future__ import annotations

import gzip
import http.client
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest
from click.testing import CliRunner
from conftest import Project

from feeds.cli.commands import cli
from feeds.cli.serve import Limits, make_server, serve
from feeds.cli.servefiles import GzipCache, accepts_gzip, locate

TIMEOUT = httpx.Timeout(5.0)
FEED = b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">' \
       + b"<entry><title>Story</title></entry>" * 40 + b"</feed>\n"
MTIME = 1_767_225_600  # 2026-01-01T00:00:00Z


@dataclass
class Site:
    root: Path
    public: Path
    base: str
    host: str
    port: int

    def raw(self, method: str, target: str, headers: dict[str, str] | None = None
            ) -> tuple[int, dict[str, str], bytes]:
        # http.client sends the target as written; httpx would normalise "../" away.
        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
        try:
            conn.request(method, target, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (MTIME, MTIME))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    public = tmp_path / "public"
    _write(public / "ai.atom", FEED)
    _write(public / "ai.rss", FEED.replace(b"feed", b"rss"))
    _write(public / "ai.json", b'{"version": "https://jsonfeed.org/version/1.1", "items": []}\n' * 10)
    _write(public / "sources.opml", b'<?xml version="1.0"?><opml version="2.0"/>\n')
    _write(public / "index.html", b"<!DOCTYPE html><title>Index</title>\n")
    _write(public / "articles" / "src" / "story.html", b"<p>story</p>\n")
    _write(public / "guide" / "index.html", b"<p>guide</p>\n")
    _write(public / ".ai.atom.tmp", b"half written")
    _write(public / "photo.png", b"\x89PNG....")
    _write(tmp_path / "secret.txt", b"TOP SECRET")
    (public / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (public / "out").symlink_to(tmp_path)
    server = make_server(public, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        yield Site(tmp_path, public, f"http://127.0.0.1:{port}", "127.0.0.1", port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def client(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.base, timeout=TIMEOUT) as c:
        yield c


@pytest.mark.parametrize(("path", "ctype"), [
    ("/ai.atom", "application/atom+xml; charset=utf-8"),
    ("/ai.rss", "application/rss+xml; charset=utf-8"),
    ("/ai.json", "application/feed+json; charset=utf-8"),
    ("/sources.opml", "text/x-opml; charset=utf-8"),
    ("/index.html", "text/html; charset=utf-8"),
    ("/articles/src/story.html", "text/html; charset=utf-8"),
    ("/photo.png", "image/png"),
])
def test_content_types(client: httpx.Client, site: Site, path: str, ctype: str) -> None:
    r = client.get(path, headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.headers["content-type"] == ctype
    assert r.content == (site.public / path.lstrip("/")).read_bytes()
    assert r.headers["x-content-type-options"] == "nosniff"


def test_root_is_the_index_and_folders_redirect_to_a_slash(client: httpx.Client) -> None:
    r = client.get("/")
    assert r.status_code == 200 and b"<title>Index</title>" in r.content
    r = client.get("/guide")
    assert r.status_code == 301 and r.headers["location"] == "/guide/"
    assert client.get("/guide/").content == b"<p>guide</p>\n"
    assert client.get("/ai.atom?utm_source=x").status_code == 200  # the query does not matter


def test_validators_and_304(client: httpx.Client) -> None:
    r = client.get("/ai.atom", headers={"Accept-Encoding": "identity"})
    etag = r.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert r.headers["last-modified"] == "Thu, 01 Jan 2026 00:00:00 GMT"
    assert r.headers["vary"] == "Accept-Encoding"

    for inm in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        r = client.get("/ai.atom", headers={"If-None-Match": inm, "Accept-Encoding": "identity"})
        assert r.status_code == 304, inm
        assert r.content == b""
        assert r.headers["etag"] == etag
    assert client.get("/ai.atom", headers={"If-None-Match": '"stale"'}).status_code == 200

    same = formatdate(MTIME, usegmt=True)
    later = formatdate(MTIME + 3600, usegmt=True)
    earlier = formatdate(MTIME - 1, usegmt=True)
    assert client.get("/ai.atom", headers={"If-Modified-Since": same}).status_code == 304
    assert client.get("/ai.atom", headers={"If-Modified-Since": later}).status_code == 304
    assert client.get("/ai.atom", headers={"If-Modified-Since": earlier}).status_code == 200
    assert client.get("/ai.atom", headers={"If-Modified-Since": "yesterday"}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    r = client.get("/ai.atom", headers={"If-None-Match": '"stale"', "If-Modified-Since": later})
    assert r.status_code == 200


def test_etag_changes_when_the_file_is_replaced(client: httpx.Client, site: Site) -> None:
    before = client.get("/ai.atom").headers["etag"]
    _write(site.public / "ai.atom.new", FEED + b"<!-- more -->\n")
    os.replace(site.public / "ai.atom.new", site.public / "ai.atom")
    r = client.get("/ai.atom", headers={"If-None-Match": before})
    assert r.status_code == 200
    assert r.headers["etag"] != before
    assert r.content.endswith(b"<!-- more -->\n")


def test_gzip_when_allowed(client: httpx.Client, site: Site) -> None:
    with client.stream("GET", "/ai.atom", headers={"Accept-Encoding": "gzip, br;q=0.5"}) as r:
        raw = b"".join(r.iter_raw())
        assert r.headers["content-encoding"] == "gzip"
        assert r.headers["vary"] == "Accept-Encoding"
        assert int(r.headers["content-length"]) == len(raw) < len(FEED)
        gz_etag = r.headers["etag"]
    assert gzip.decompress(raw) == FEED
    plain = client.get("/ai.atom", headers={"Accept-Encoding": "identity"})
    assert plain.headers["etag"] != gz_etag  # a strong tag names one exact byte sequence
    assert "content-encoding" not in plain.headers
    # Either tag means the reader has the current file.
    r = client.get("/ai.atom", headers={"If-None-Match": plain.headers["etag"], "Accept-Encoding": "gzip"})
    assert r.status_code == 304 and r.headers["etag"] == gz_etag
    for refused in ("gzip;q=0", "br", "identity, *;q=0"):
        r = client.get("/ai.atom", headers={"Accept-Encoding": refused})
        assert "content-encoding" not in r.headers, refused
    # Too small to be worth it, or not text: sent as it is.
    assert "content-encoding" not in client.get("/index.html", headers={"Accept-Encoding": "gzip"}).headers
    png = client.get("/photo.png", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in png.headers and "vary" not in png.headers


def test_head_has_the_headers_of_get_and_no_body(site: Site) -> None:
    for enc in ("gzip", "identity"):
        status, head_headers, body = site.raw("HEAD", "/ai.atom", {"Accept-Encoding": enc})
        _s, get_headers, get_body = site.raw("GET", "/ai.atom", {"Accept-Encoding": enc})
        assert status == 200 and body == b""
        assert head_headers["content-length"] == get_headers["content-length"] == str(len(get_body))
        assert head_headers["etag"] == get_headers["etag"]
    status, _h, body = site.raw("HEAD", "/missing.atom")
    assert status == 404 and body == b""


@pytest.mark.parametrize("target", [
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/articles/../../secret.txt",
    "/articles/%2e%2e/%2e%2e/secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/articles%2f..%2f..%2fsecret.txt",
    "/escape.txt",  # a symlink out of public/
    "/out/secret.txt",  # a symlinked folder out of public/
    "//etc/passwd",
    "/%2fetc%2fpasswd",
    "/.ai.atom.tmp",  # the pipeline's temp files are hidden
    "/%2eai.atom.tmp",
    "/ai.atom%00.html",
    "/..\\secret.txt",
    "/%ff%fe",
    "/articles/",  # a folder without an index: no listing
    "/articles",
    "/nope.atom",
])
def test_nothing_outside_public_and_no_listings(site: Site, target: str) -> None:
    status, _headers, body = site.raw("GET", target)
    assert status == 404, target
    assert b"TOP SECRET" not in body and b"story.html" not in body


def test_other_methods_are_refused(client: httpx.Client) -> None:
    r = client.post("/ai.atom", content=b"x")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_keep_alive_serves_several_requests_on_one_connection(site: Site) -> None:
    conn = http.client.HTTPConnection(site.host, site.port, timeout=5)
    try:
        for path in ("/ai.atom", "/ai.rss", "/nope", "/ai.json"):
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            assert resp.status in (200, 404)
    finally:
        conn.close()


def test_locate_unit(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "a.atom").write_bytes(b"x")
    assert locate(root, "/a.atom") == (root / "a.atom", None)
    assert locate(root, "http://example.com/a.atom?x") == (root / "a.atom", None)
    assert locate(root, "a.atom") == (None, None)
    assert locate(root, "*") == (None, None)


@pytest.mark.parametrize(("header", "ok"), [
    (None, False), ("", False), ("gzip", True), ("deflate, gzip;q=0.8", True), ("GZIP", True),
    ("gzip;q=0", False), ("gzip; q=0.0", False), ("*", True), ("*;q=0", False), ("br", False),
    ("x-gzip", True), ("gzip;q=bad", False), ("*, gzip;q=0", False),
])
def test_accepts_gzip(header: str | None, ok: bool) -> None:
    assert accepts_gzip(header) is ok


def test_make_server_needs_the_folder(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError, match="feeds run"):
        make_server(tmp_path / "missing", "127.0.0.1", 0)


def test_serve_stops_when_asked(tmp_path: Path) -> None:
    _write(tmp_path / "index.html", b"hi\n")
    stop = threading.Event()
    urls: list[str] = []
    ready = threading.Event()

    def on_ready(url: str) -> None:
        urls.append(url)
        ready.set()

    thread = threading.Thread(target=serve, args=(tmp_path, "127.0.0.1", 0),
                              kwargs={"stop": stop, "on_ready": on_ready}, daemon=True)
    thread.start()
    assert ready.wait(5)
    assert httpx.get(urls[0], timeout=TIMEOUT).content == b"hi\n"
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(urls[0], timeout=TIMEOUT)


def test_serve_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    _write(tmp_path / "index.html", b"hi\n")
    code = ("import sys; from pathlib import Path; from feeds.cli.serve import serve; "
            "serve(Path(sys.argv[1]), '127.0.0.1', 0, on_ready=lambda u: print(u, flush=True))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().decode().strip()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url, timeout=TIMEOUT).content == b"hi\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def _opened(path: Path, data: bytes) -> tuple[os.stat_result, BinaryIO]:
    _write(path, data)
    fh = path.open("rb")
    return os.fstat(fh.fileno()), fh


def test_gzip_cache_stays_within_its_budget(tmp_path: Path) -> None:
    cache = GzipCache(max_bytes=25_000, workers=1)
    # Random bytes barely compress, so each body is about 10 kB.
    for i in range(5):
        data = os.urandom(10_000)
        st, fh = _opened(tmp_path / f"{i}.txt", data)
        with fh:
            assert gzip.decompress(cache.get(tmp_path / f"{i}.txt", st, fh)) == data
    assert cache.compressions == 5
    assert cache._bytes <= 25_000 and len(cache._items) == 2
    st, fh = _opened(tmp_path / "4.txt", (tmp_path / "4.txt").read_bytes())
    with fh:
        cache.get(tmp_path / "4.txt", os.fstat(fh.fileno()), fh)
    # Rewritten with the same mtime and size: the same version, still cached.
    assert cache.compressions == 5
    st, fh = _opened(tmp_path / "0.txt", (tmp_path / "0.txt").read_bytes())
    with fh:
        cache.get(tmp_path / "0.txt", st, fh)
    assert cache.compressions == 6  # the oldest had been let go


def test_gzip_cache_keeps_one_version_per_file(tmp_path: Path) -> None:
    cache = GzipCache(max_bytes=1_000_000, workers=1)
    path = tmp_path / "a.atom"
    for n in range(3):
        st, fh = _opened(path, FEED * (n + 1))
        os.utime(path, (MTIME + n, MTIME + n))
        st = os.fstat(fh.fileno())
        with fh:
            assert gzip.decompress(cache.get(path, st, fh)) == FEED * (n + 1)
    assert len(cache._items) == 1


def test_gzip_cache_waiters_do_not_hang_when_the_compression_fails(tmp_path: Path) -> None:
    cache = GzipCache(max_bytes=1_000_000, workers=2)
    path = tmp_path / "a.atom"
    st, good = _opened(path, FEED)
    release = threading.Event()

    class FailingFile(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            release.wait(5)
            raise OSError("disk went away")

    results: list[bytes] = []
    errors: list[BaseException] = []

    def owner() -> None:
        try:
            cache.get(path, st, FailingFile())
        except OSError as exc:
            errors.append(exc)

    first = threading.Thread(target=owner, daemon=True)
    first.start()
    second = threading.Thread(target=lambda: results.append(cache.get(path, st, good)), daemon=True)
    second.start()
    release.set()
    first.join(5)
    second.join(5)
    good.close()
    assert [str(e) for e in errors] == ["disk went away"]
    assert len(results) == 1 and gzip.decompress(results[0]) == FEED


def test_serve_command_passes_max_connections(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Limits | None] = []

    def fake_serve(*args: object, limits: Limits | None = None, **kwargs: object) -> None:
        seen.append(limits)

    monkeypatch.setattr("feeds.cli.serve.serve", fake_serve)
    result = CliRunner().invoke(cli, ["--root", str(project.root), "serve", "--max-connections", "5"])
    assert result.exit_code == 0, result.output
    assert seen == [Limits(max_connections=5)]
    result = CliRunner().invoke(cli, ["--root", str(project.root), "serve", "--max-connections", "0"])
    assert result.exit_code == 2 and "max-connections" in result.output


def test_pipelined_requests_are_answered_in_order(site: Site) -> None:
    with socket.create_connection((site.host, site.port), timeout=5) as sock:
        sock.sendall(b"GET /ai.atom HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n"
                     b"\r\nHEAD /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")  # an error answer ends the connection
        data = bytearray()
        for _ in range(1000):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", bytes(data))
    assert statuses == [b"200", b"200", b"404"]
    assert FEED in data


def test_a_head_trickled_a_byte_at_a_time_is_answered(site: Site) -> None:
    request = b"GET /ai.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection((site.host, site.port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        for i in range(len(request)):
            sock.send(request[i:i + 1])
        data = bytearray()
        for _ in range(1000):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith((site.public / "ai.json").read_bytes())


def test_shutdown_while_every_slot_is_taken(tmp_path: Path) -> None:
    """The accepting thread waits for a slot; stopping the server must not wait for the clients."""
    _write(tmp_path / "index.html", b"hi\n")
    server = make_server(tmp_path, "127.0.0.1", 0, Limits(max_open=1, header_timeout=30))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    holders = [socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5) for _ in range(3)]
    try:
        for sock in holders:
            sock.sendall(b"GET / HTTP/1.1\r\n")
        assert _wait_until(lambda: server.open_connections == 1)
        server.shutdown()
        server.server_close()
        thread.join(5)
        assert not thread.is_alive()
        assert holders[0].recv(1024) == b""  # the waiting connection was closed, not left open
    finally:
        for sock in holders:
            sock.close()


def _wait_until(condition: Callable[[], bool]) -> bool:
    for _ in range(250):
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_open_connections_stay_under_the_file_limit(tmp_path: Path) -> None:
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (300, hard))
    try:
        server = make_server(tmp_path, "127.0.0.1", 0, Limits(max_connections=16, max_open=512))
        server.server_close()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert server.max_open == 300 - 16 - 64
