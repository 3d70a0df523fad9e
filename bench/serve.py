"""A static file server on 127.0.0.1 for the benchmark corpus.

nginx (Debian's package) is the server: its config is written into a temporary
prefix folder (listen on 127.0.0.1 on a free port, root = the corpus, ETag and
Last-Modified on, access log off), it runs as ``nginx -c CONF -p PREFIX`` in
the foreground of its own process group, and it is stopped by the PID in its
pid file. When ``/usr/sbin/nginx`` is missing it is installed with
``apt-get install -y nginx`` (after ``apt-get update`` if that fails); the
system service is never enabled or started.

Only where nginx cannot be had does a Python ``ThreadingHTTPServer`` (in a
subprocess, with ETag/Last-Modified and 304s) stand in, and it says so loudly.

``python bench/serve.py CORPUS_DIR`` serves a folder until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import email.utils
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

NGINX = "/usr/sbin/nginx"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
APT_TIMEOUT = 600.0

CONTENT_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".json": "application/json",
}

NGINX_CONF = """\
# Written by bench/serve.py for one benchmark run.
{user}worker_processes 1;
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;

    types {{
        application/rss+xml rss;
        application/atom+xml atom;
        application/rdf+xml rdf;
        application/xml xml;
        application/json json;
    }}
    default_type application/octet-stream;
    charset utf-8;
    charset_types application/rss+xml application/atom+xml application/rdf+xml application/xml;

    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    gzip off;
    server_tokens off;

    server {{
{listen}
        server_name localhost;
        root {root};
        etag on;
        if_modified_since exact;
        location / {{
            try_files $uri =404;
        }}
    }}
}}
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            try:
                s.connect(("127.0.0.1", port))
                return True
            except OSError:
                time.sleep(0.05)
    return False


def ensure_nginx(log: bool = True) -> str | None:
    """The nginx binary, installed from Debian's packages if missing; None if it cannot be had."""
    found = NGINX if os.access(NGINX, os.X_OK) else shutil.which("nginx")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # policy-rc.d exit 101 keeps the package from starting the system service.
    for attempt in ("install", "update+install"):
        if log:
            print(f"[bench] nginx is missing: apt-get {attempt} nginx ...", file=sys.stderr, flush=True)
        try:
            if attempt == "update+install":
                subprocess.run(["apt-get", "update"], env=env, check=True, timeout=APT_TIMEOUT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "nginx"], env=env,
                           check=True, timeout=APT_TIMEOUT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        except (subprocess.SubprocessError, OSError):
            continue
        if os.access(NGINX, os.X_OK):
            return NGINX
    return None


class StaticServer:
    """A running server: ``base_url`` ends with '/'; ``stop()`` is idempotent."""

    kind = "?"

    def __init__(self) -> None:
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.prefix: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def version(self) -> str:
        return self.kind

    def _pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def stop(self) -> None:
        proc = self.proc
        pid = self._pid()
        self.proc = None
        try:
            if pid is not None:
                # nginx: SIGQUIT is a graceful shutdown; the Python server takes SIGTERM.
                sig = signal.SIGQUIT if self.kind == "nginx" else signal.SIGTERM
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            if proc is not None:
                try:
                    proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=STOP_TIMEOUT)
                # Workers left behind (they share the master's process group).
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        finally:
            if self.prefix is not None:
                shutil.rmtree(self.prefix, ignore_errors=True)
                self.prefix = None

    def __enter__(self) -> StaticServer:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class NginxServer(StaticServer):
    kind = "nginx"

    def __init__(self, binary: str, root: Path, addresses: tuple[str, ...] = ("127.0.0.1",)) -> None:
        super().__init__()
        self.binary = binary
        self.root = root.resolve()
        # loopback addresses to listen on (the first is base_url's): several hosts to
        # a client that shards by host (bench/scale.py)
        self.addresses = addresses

    def version(self) -> str:
        out = subprocess.run([self.binary, "-v"], check=False, capture_output=True, text=True, timeout=10)
        return (out.stderr or out.stdout).strip().removeprefix("nginx version: ")

    def start(self) -> NginxServer:
        last_error = ""
        for _ in range(3):  # the free port can be taken between the check and nginx's bind
            self.prefix = Path(tempfile.mkdtemp(prefix="feeds-bench-nginx-"))
            self.port = free_port()
            user = "user root root;\n" if os.geteuid() == 0 else ""
            conf = self.prefix / "nginx.conf"
            listen = "\n".join(f"        listen {a}:{self.port};" for a in self.addresses)
            conf.write_text(NGINX_CONF.format(user=user, prefix=self.prefix, port=self.port, root=self.root,
                                              listen=listen), encoding="utf-8")
            base = [self.binary, "-c", str(conf), "-p", str(self.prefix),
                    "-e", str(self.prefix / "error.log")]
            test = subprocess.run([*base, "-t", "-q"], check=False, capture_output=True, text=True,
                                  timeout=30)
            if test.returncode != 0:
                last_error = test.stderr.strip()
                self.stop()
                break
            self.proc = subprocess.Popen(base, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
            if wait_for_port(self.port, START_TIMEOUT, self.proc):
                return self
            last_error = (self.prefix / "error.log").read_text(errors="replace")[-2000:]
            self.stop()
        raise RuntimeError(f"nginx did not start: {last_error}")

    def _pid(self) -> int | None:
        """The master's PID from its pid file (the process we started, in the foreground)."""
        if self.prefix is not None:
            with contextlib.suppress(OSError, ValueError):
                pid = int((self.prefix / "nginx.pid").read_text().strip())
                if self.proc is None or pid == self.proc.pid:
                    return pid
        return super()._pid()


class PythonServer(StaticServer):
    """The fallback: this file run with ``--python`` in a subprocess."""

    kind = "python"

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root.resolve()

    def start(self) -> PythonServer:
        last = ""
        for _ in range(3):
            self.port = free_port()
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--python", "--port", str(self.port),
                 str(self.root)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                start_new_session=True)
            if wait_for_port(self.port, START_TIMEOUT, self.proc):
                return self
            proc = self.proc
            self.stop()
            if proc.stderr is not None:
                last = proc.stderr.read().decode(errors="replace")[-2000:]
        raise RuntimeError(f"the Python server did not start: {last}")


def start_server(root: Path, kind: str = "auto",
                 addresses: tuple[str, ...] = ("127.0.0.1",)) -> StaticServer:
    """nginx, or (only if it cannot be had, or ``kind == 'python'``) the Python server.
    ``addresses``: loopback addresses nginx listens on (the Python server: 127.0.0.1)."""
    if kind in ("auto", "nginx"):
        binary = ensure_nginx()
        if binary is not None:
            return NginxServer(binary, root, addresses).start()
        if kind == "nginx":
            raise RuntimeError("nginx is not installed and could not be installed")
    banner = "!" * 78
    print(f"{banner}\n!! nginx cannot be had here: serving the corpus with a PYTHON server instead.\n"
          f"!! Its numbers are NOT comparable with runs served by nginx.\n{banner}",
          file=sys.stderr, flush=True)
    return PythonServer(root).start()


# --- the fallback server's own process ---------------------------------------------------


def _etag(st: os.stat_result) -> str:
    return f'"{st.st_mtime_ns // 1_000_000_000:x}-{st.st_size:x}"'


def make_handler(root: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "bench-python"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            rel = self.path.split("?", 1)[0].lstrip("/")
            path = (root / rel).resolve()
            if root not in path.parents or not path.is_file():
                self._reply(404, b"not found", "text/plain", {}, body)
                return
            st = path.stat()
            etag = _etag(st)
            modified = email.utils.formatdate(st.st_mtime, usegmt=True)
            headers = {"ETag": etag, "Last-Modified": modified}
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            if (inm is not None and etag in [t.strip() for t in inm.split(",")]) or (
                    inm is None and ims == modified):
                self._reply(304, b"", None, headers, False)
                return
            ctype = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
            self._reply(200, path.read_bytes(), ctype, headers, body)

        def _reply(self, status: int, data: bytes, ctype: str | None, headers: dict[str, str],
                   body: bool) -> None:
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            for k, v in headers.items():
                self.send_header(k, v)
            if status != 304:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body and status != 304:
                self.wfile.write(data)

    return Handler


def serve_python(root: Path, port: int) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(root.resolve()))
    httpd.daemon_threads = True

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with contextlib.suppress(KeyboardInterrupt):
        httpd.serve_forever(poll_interval=0.2)
    httpd.server_close()


@contextlib.contextmanager
def serving(root: Path, kind: str = "auto") -> Iterator[StaticServer]:
    server = start_server(root, kind)
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Serve a folder on 127.0.0.1 (nginx, or Python).")
    ap.add_argument("root", type=Path)
    ap.add_argument("--python", action="store_true", help="be the Python fallback server itself")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--kind", choices=("auto", "nginx", "python"), default="auto")
    args = ap.parse_args(argv)
    if args.python:
        serve_python(args.root, args.port or free_port())
        return 0
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, interrupt)
    with serving(args.root, args.kind) as server:
        print(f"{server.kind} serving {args.root} at {server.base_url} (Ctrl-C stops it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                signal.pause()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
