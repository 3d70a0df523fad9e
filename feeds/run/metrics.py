"""The Prometheus endpoint of ``feeds daemon`` and ``feeds worker``: GET /metrics on
127.0.0.1, in a thread; for the worker, the queue's figures (``QueueMetrics``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from feeds.errors import StateError

if TYPE_CHECKING:
    from feeds.store.claims import QueueStats

HOSTS_SHOWN = 10  # hosts with the most waiting batches, each a labelled series


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def queue_metrics_text(stats: QueueStats, waiting: int, hosts: Sequence[tuple[str, int]],
                       now: datetime) -> str:
    """The scheduling table's and the queue's figures as Prometheus text. Pure."""
    oldest = 0.0 if stats.oldest_due is None else max(0.0, (now - stats.oldest_due).total_seconds())
    lines = [
        "# HELP feeds_queue_up Whether the queue database answered.",
        "# TYPE feeds_queue_up gauge",
        "feeds_queue_up 1",
        "# HELP feeds_queue_sources Sources in the scheduling table.",
        "# TYPE feeds_queue_sources gauge",
        f"feeds_queue_sources {stats.sources}",
        "# HELP feeds_queue_due_sources Sources due and not claimed (the queue's depth).",
        "# TYPE feeds_queue_due_sources gauge",
        f"feeds_queue_due_sources {stats.due}",
        "# HELP feeds_queue_in_flight_sources Sources claimed by a worker, their lease running.",
        "# TYPE feeds_queue_in_flight_sources gauge",
        f"feeds_queue_in_flight_sources {stats.in_flight}",
        "# HELP feeds_queue_oldest_due_seconds How long the most overdue unclaimed source has been due.",
        "# TYPE feeds_queue_oldest_due_seconds gauge",
        f"feeds_queue_oldest_due_seconds {oldest:.3f}",
        "# HELP feeds_queue_waiting_batches Batch jobs waiting to run (for a worker or their host).",
        "# TYPE feeds_queue_waiting_batches gauge",
        f"feeds_queue_waiting_batches {waiting}",
        f"# HELP feeds_queue_host_waiting_batches Batch jobs waiting, for the {HOSTS_SHOWN} hosts"
        " with the most (one batch a host runs at a time).",
        "# TYPE feeds_queue_host_waiting_batches gauge",
    ]
    lines += [f'feeds_queue_host_waiting_batches{{host="{_label(h)}"}} {n}' for h, n in hosts]
    return "\n".join(lines) + "\n"


class QueueMetrics:
    """Renders ``queue_metrics_text`` from the queue database at each request, on a
    connection of its own (opened again after an error). An unreachable database is
    ``feeds_queue_up 0``, not an error page."""

    def __init__(self, url: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.url = url
        self.clock = clock
        self._conn: Any = None
        self._lock = threading.Lock()

    def text(self) -> str:
        from feeds.store import claims

        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = claims.connect(self.url)
                now = self.clock()
                waiting, hosts = claims.host_waits(self._conn, HOSTS_SHOWN)
                return queue_metrics_text(claims.stats(self._conn, now), waiting, hosts, now)
            except StateError:
                self.close()
                return ("# HELP feeds_queue_up Whether the queue database answered.\n"
                        "# TYPE feeds_queue_up gauge\nfeeds_queue_up 0\n")

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


class MetricsServer:
    def __init__(self, render: Callable[[], str], port: int, host: str = "127.0.0.1") -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/metrics":
                    self.send_error(404)
                    return
                body = render().encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}/metrics"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="feeds-metrics", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
