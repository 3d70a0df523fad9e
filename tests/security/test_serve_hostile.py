"""`feeds serve` facing strangers: slow and greedy clients must not take the server from the rest.

Every client here is on 127.0.0.1, every socket has a timeout and every loop a
bound in rounds, so a regression fails instead of hanging.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from feeds.cli import serve as serve_module
from feeds.cli.serve import Limits, StaticServer, make_server

MTIME = 1_767_225_600
SOCKET_TIMEOUT = 5.0  # how long any one client read may wait: a liveness bound, not a speed check
FEED = b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">' \
       + b"<entry><title>Story</title></entry>" * 40 + b"</feed>\n"


def _big_feed(entries: int) -> bytes:
    # Varied enough that gzip has real work, like a large `all.atom`.
    items = b"".join(
        b"<entry><id>tag:example.org,2026:%d</id><title>Story %d about %x</title>"
        b"<summary>%s</summary></entry>\n" % (i, i, i * 2654435761 % 2**32, b"word " * (i % 37))
        for i in range(entries))
    return b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n' \
        + items + b"</feed>\n"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (MTIME, MTIME))


@pytest.fixture
def public(tmp_path: Path) -> Path:
    public = tmp_path / "public"
    _write(public / "ai.atom", FEED)
    _write(public / "index.html", b"<!DOCTYPE html><title>Index</title>\n")
    return public


@contextmanager
def running(public: Path, limits: Limits | None = None) -> Iterator[StaticServer]:
    server = make_server(public, "127.0.0.1", 0, limits) if limits else make_server(public, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _port(server: StaticServer) -> int:
    return int(server.server_address[1])


def _get(server: StaticServer, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", _port(server), timeout=SOCKET_TIMEOUT)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _connect(server: StaticServer, **sockopts: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    for name, value in sockopts.items():
        sock.setsockopt(socket.SOL_SOCKET, getattr(socket, name), value)
    sock.settimeout(SOCKET_TIMEOUT)
    sock.connect(("127.0.0.1", _port(server)))
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    data = bytearray()
    for _ in range(10_000):
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(data)
        data += chunk
    raise AssertionError("the server kept sending")


def _handler_threads() -> int:
    # ThreadingMixIn names each connection's thread after its target.
    return sum("process_request_thread" in t.name for t in threading.enumerate())


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_slowloris_connections_are_cut_at_the_header_deadline(public: Path) -> None:
    """100 clients trickling their headers a byte at a time are closed; a normal reader is still served."""
    limits = Limits(header_timeout=1.0)
    with running(public, limits) as server:
        slow = [_connect(server) for _ in range(100)]
        for sock in slow:
            sock.sendall(b"GET /ai.atom HTTP/1.1\r\nHost: feeds.test\r\nX-Slow: ")
        sel = selectors.DefaultSelector()
        for sock in slow:
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ)
        answers: dict[socket.socket, bytearray] = {sock: bytearray() for sock in slow}
        closed: set[socket.socket] = set()
        normal: list[tuple[int, bytes]] = []
        reader = threading.Thread(target=lambda: normal.append(_get(server, "/ai.atom")), daemon=True)
        reader.start()
        try:
            # Far more rounds than the deadline needs; a server that never cuts them fails here.
            for _round in range(100):
                for sock in slow:
                    if sock not in closed:
                        # One byte per round: never idle for long, never done. A
                        # socket the server has closed may refuse it.
                        with contextlib.suppress(OSError):
                            sock.send(b"a")
                for key, _ev in sel.select(timeout=0.1):
                    ready = key.fileobj
                    assert isinstance(ready, socket.socket)
                    try:
                        chunk = ready.recv(65536)
                    except BlockingIOError:
                        continue
                    except ConnectionResetError:
                        chunk = b""
                    if chunk:
                        answers[ready] += chunk
                    else:
                        closed.add(ready)
                        sel.unregister(ready)
                if len(closed) == len(slow):
                    break
            reader.join(SOCKET_TIMEOUT)
        finally:
            sel.close()
            for sock in slow:
                sock.close()
        assert len(closed) == len(slow), f"{len(slow) - len(closed)} trickling connections still open"
        # Those that were answered at all were told why.
        for data in answers.values():
            assert not data or data.startswith(b"HTTP/1.1 408 ")
        assert normal == [(200, FEED)]


def test_slow_clients_cost_no_thread_and_do_not_delay_others(public: Path) -> None:
    """200 clients that never finish their headers hold no thread; a normal reader is answered meanwhile."""
    with running(public) as server:
        threads_before = threading.active_count()
        clients = [_connect(server) for _ in range(200)]
        try:
            for sock in clients:
                sock.sendall(b"GET /ai.atom HTTP/1.1\r\nHost: feeds.test\r\n")
            assert _wait_for(lambda: server.open_connections == 200, 5.0)
            assert threading.active_count() - threads_before <= 2
            assert _get(server, "/ai.atom") == (200, FEED)
            # Answered while every slow client was still connected, not after the deadline freed them.
            assert server.open_connections >= 200
            for sock in clients:
                sock.sendall(b"Connection: close\r\n\r\n")
            replies = [_read_until_closed(sock) for sock in clients]
        finally:
            for sock in clients:
                sock.close()
        assert all(r.startswith(b"HTTP/1.1 200 ") and r.endswith(FEED) for r in replies)
        assert server.workers.peak <= 64


def test_at_most_max_connections_are_answered_at_once(public: Path) -> None:
    """Ten readers slow to take a large file share three workers; all get the whole file in the end."""
    big = b"y" * (8 * 1024 * 1024)
    _write(public / "big.txt", big)
    with running(public, Limits(max_connections=3)) as server:
        clients = [_connect(server, SO_RCVBUF=4096) for _ in range(10)]
        try:
            for sock in clients:
                sock.sendall(b"GET /big.txt HTTP/1.1\r\nHost: feeds.test\r\nConnection: close\r\n\r\n")
            assert _wait_for(lambda: server.workers.busy == 3, 5.0)
            threads = [t for t in threading.enumerate() if t.name.startswith("feeds-serve-worker")]
            assert len(threads) <= 3
            replies = [_read_until_closed(sock) for sock in clients]
        finally:
            for sock in clients:
                sock.close()
        assert all(r.startswith(b"HTTP/1.1 200 ") and r.endswith(b"\r\n\r\n" + big) for r in replies)
        assert server.workers.peak == 3
        assert _wait_for(lambda: server.workers.busy == 0 and server.open_connections == 0, 5.0)


def test_open_connections_are_capped(public: Path) -> None:
    """Past max_open, connections wait in the listen queue; they are taken as others close."""
    with running(public, Limits(max_open=4)) as server:
        clients = [_connect(server) for _ in range(10)]
        try:
            for sock in clients:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: feeds.test\r\n")
            assert _wait_for(lambda: server.open_connections == 4, 5.0)
            for sock in clients:
                sock.sendall(b"Connection: close\r\n\r\n")
            replies = [_read_until_closed(sock) for sock in clients]
            assert server.open_connections <= 4
        finally:
            for sock in clients:
                sock.close()
        assert all(r.startswith(b"HTTP/1.1 200 ") for r in replies)


def test_gzip_is_single_flight_and_cached(public: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """30 readers asking at once for a large feed cost one compression, and all get the same bytes."""
    big = _big_feed(40_000)
    assert len(big) > 4_000_000
    _write(public / "all.atom", big)
    calls: list[int] = []
    real_compress = gzip.compress

    def counting_compress(data: bytes, *args: Any, **kwargs: Any) -> bytes:
        calls.append(len(data))
        return real_compress(data, *args, **kwargs)

    monkeypatch.setattr(gzip, "compress", counting_compress)
    with running(public) as server:
        start = threading.Barrier(30, timeout=SOCKET_TIMEOUT)
        bodies: list[bytes] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def fetch() -> None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", _port(server), timeout=30)
                try:
                    start.wait()
                    conn.request("GET", "/all.atom", headers={"Accept-Encoding": "gzip"})
                    resp = conn.getresponse()
                    assert resp.getheader("Content-Encoding") == "gzip"
                    body = resp.read()
                finally:
                    conn.close()
                with lock:
                    bodies.append(body)
            except BaseException as exc:  # reported below, with the thread's own failure
                with lock:
                    errors.append(exc)

        threads = [threading.Thread(target=fetch, daemon=True) for _ in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors[0]
        assert len(bodies) == 30
        assert len(set(bodies)) == 1
        assert gzip.decompress(bodies[0]) == big
        assert calls == [len(big)]
        # Cached: later readers cost nothing more, until the file is replaced.
        assert _get(server, "/all.atom", {"Accept-Encoding": "gzip"})[0] == 200
        assert len(calls) == 1
        _write(public / "all.atom.new", big + b"<!-- more -->\n")
        os.utime(public / "all.atom.new", (MTIME + 60, MTIME + 60))
        os.replace(public / "all.atom.new", public / "all.atom")
        conn = http.client.HTTPConnection("127.0.0.1", _port(server), timeout=30)
        try:
            conn.request("GET", "/all.atom", headers={"Accept-Encoding": "gzip"})
            fresh = conn.getresponse().read()
        finally:
            conn.close()
        assert gzip.decompress(fresh).endswith(b"<!-- more -->\n")
        assert len(calls) == 2


@pytest.mark.parametrize("head", [
    # one header larger than any real browser sends, still under the standard library's 64 KiB
    b"X-Big: " + b"a" * 20_000 + b"\r\n",
    # many ordinary headers adding up to 60 KiB
    b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 1000) for i in range(60)),
])
def test_oversized_headers_get_431(public: Path, head: bytes) -> None:
    with running(public) as server:
        sock = _connect(server)
        try:
            sock.sendall(b"GET /ai.atom HTTP/1.1\r\nHost: feeds.test\r\n" + head
                         + b"Connection: close\r\n\r\n")
            reply = _read_until_closed(sock)
        finally:
            sock.close()
        assert reply.startswith(b"HTTP/1.1 431 ")
        assert _get(server, "/ai.atom", {"X-H": "c" * 1000})[0] == 200  # ordinary headers still pass


def test_oversized_request_line_gets_414(public: Path) -> None:
    with running(public) as server:
        status, _body = _get(server, "/ai.atom?" + "q" * 10_000)
        assert status == 414
        assert _get(server, "/ai.atom?" + "q" * 1_000)[0] == 200


def test_idle_kept_alive_connection_is_closed(public: Path) -> None:
    with running(public, Limits(idle_timeout=0.3)) as server:
        sock = _connect(server)
        try:
            sock.sendall(b"GET /ai.atom HTTP/1.1\r\nHost: feeds.test\r\n\r\n")
            data = bytearray()
            # The answer, then (with no second request) the server's close; a
            # server that keeps the connection makes recv time out.
            for _ in range(1000):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            else:
                raise AssertionError("the server kept sending")
        finally:
            sock.close()
        assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(FEED)


def test_a_reader_that_never_reads_is_let_go(public: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that asks for a large file and reads nothing frees its slot after the send deadline."""
    _write(public / "huge.txt", b"x" * (48 * 1024 * 1024))
    # Over GZIP_MAX: sent as it is, from the file.
    with running(public, Limits(send_timeout=0.5, min_send_rate=1024 * 1024 * 1024)) as server:
        sock = _connect(server, SO_RCVBUF=4096)
        try:
            sock.sendall(b"GET /huge.txt HTTP/1.1\r\nHost: feeds.test\r\n\r\n")
            assert _wait_for(lambda: server.workers.busy == 1, 5.0)
            assert _wait_for(lambda: server.workers.busy == 0, 10.0)
        finally:
            sock.close()
        assert _get(server, "/ai.atom")[0] == 200


def test_a_request_body_is_never_read_as_the_next_request(public: Path) -> None:
    """A POST whose body is itself a request gets 405 and the connection ends: nothing is smuggled in."""
    smuggled = b"GET /ai.atom HTTP/1.1\r\nHost: feeds.test\r\n\r\n"
    with running(public) as server:
        sock = _connect(server)
        try:
            sock.sendall(b"POST /index.html HTTP/1.1\r\nHost: feeds.test\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(smuggled), smuggled))
            reply = _read_until_closed(sock)
        finally:
            sock.close()
        assert reply.startswith(b"HTTP/1.1 405 ")
        assert reply.count(b"HTTP/1.1 ") == 1


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        Limits(max_connections=0)
    with pytest.raises(ValueError, match="header_timeout"):
        Limits(header_timeout=0)
    assert serve_module.Limits().max_connections == 64
