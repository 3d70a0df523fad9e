"""Soak: the daemon against 500 loopback sources with short intervals, for minutes.

Memory must stay flat after warm-up, file descriptors must not leak, and every
round must keep publishing. It runs only when asked: `make soak` (SOAK_SECONDS,
default 300) or SOAK_SECONDS=N pytest tests/test_soak.py; the figures are
printed and written to tests/artifacts/soak.json.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import FeedServer, Project

SECONDS = float(os.environ.get("SOAK_SECONDS", "0"))
SOURCES = int(os.environ.get("SOAK_SOURCES", "500"))
ARTIFACTS = Path(__file__).parent / "artifacts"

pytestmark = pytest.mark.skipif(SECONDS <= 0, reason="the soak test runs with SOAK_SECONDS=N (make soak)")


def headline(n: int, k: int) -> str:
    # Real headlines share few words; made-up words from a large vocabulary do the same.
    digest = hashlib.sha256(f"{n}-{k}".encode()).digest()
    words = [f"w{int.from_bytes(digest[i * 2 : i * 2 + 2], 'big') % 20000}" for i in range(7)]
    return " ".join(words).capitalize()


def rss_feed(n: int, round_: int) -> str:
    # Each feed keeps 20 items; every few rounds some feeds get a new one, the oldest drops.
    items = "".join(
        f"<item><title>{headline(n, k)}</title>"
        f"<link>https://s{n}.test/{k}</link><guid>s{n}-{k}</guid>"
        f"<pubDate>Wed, 25 Nov 2026 10:{k % 60:02d}:00 GMT</pubDate>"
        f"<description>{headline(n, k + 1000)} {headline(n, k + 2000)}.</description></item>"
        for k in range(round_, round_ + 20))
    return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>Feed {n}</title>"
            f"<link>https://s{n}.test/</link><description>soak</description>{items}</channel></rss>")


def proc_status(pid: int) -> tuple[int, int]:
    """(resident memory in KiB, open file descriptors) of a process."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.slow
@pytest.mark.timeout(SECONDS + 300)
def test_daemon_soak(project: Project, server: FeedServer, tmp_path: Path) -> None:
    for n in range(SOURCES):
        server.add(f"/s{n}.rss", rss_feed(n, 0))
    project.write_sources([{"id": f"s{n}", "url": server.url(f"/s{n}.rss"), "interval": "10s"}
                           for n in range(SOURCES)])
    stop = threading.Event()

    def churn() -> None:  # a tenth of the feeds change every 15 s
        round_ = 0
        while not stop.wait(15):
            round_ += 1
            for n in range(round_ % 10, SOURCES, 10):
                server.add(f"/s{n}.rss", rss_feed(n, round_))

    changer = threading.Thread(target=churn, daemon=True)
    changer.start()
    log = tmp_path / "soak.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "feeds", "--root", str(project.root), "daemon", "--tick", "2s",
             "--debounce", "1s"], stdout=out, stderr=subprocess.STDOUT, text=True)
        samples: list[dict[str, float]] = []
        started = time.monotonic()
        try:
            while time.monotonic() - started < SECONDS:
                time.sleep(5)
                assert proc.poll() is None, log.read_text()[-3000:]
                rss, fds = proc_status(proc.pid)
                samples.append({"t": round(time.monotonic() - started, 1), "rss_kib": rss, "fds": fds,
                                "rounds": log.read_text().count(" sources: "),
                                "publishes": log.read_text().count("published:")})
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        finally:
            stop.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    warm = [s for s in samples if s["t"] >= min(60.0, SECONDS / 3)]
    first, last = warm[0], warm[-1]
    growth_mib = (last["rss_kib"] - first["rss_kib"]) / 1024
    fd_counts = [s["fds"] for s in warm]
    summary: dict[str, object] = {
        "seconds": SECONDS, "sources": SOURCES, "rounds": last["rounds"], "publishes": last["publishes"],
        "rss_mib_after_warmup": round(first["rss_kib"] / 1024, 1),
        "rss_mib_at_end": round(last["rss_kib"] / 1024, 1), "rss_growth_mib": round(growth_mib, 1),
        "rss_max_mib": round(max(s["rss_kib"] for s in warm) / 1024, 1),
        "fds_min": min(fd_counts), "fds_max": max(fd_counts), "requests": len(server.hits),
        "samples": samples,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "soak.json").write_text(json.dumps(summary, indent=2))
    print({k: v for k, v in summary.items() if k != "samples"})
    assert "Traceback" not in log.read_text()
    # Flat memory: after warm-up, growth is within a small bound (caches fill, then stop).
    assert growth_mib < max(16.0, first["rss_kib"] / 1024 * 0.15), summary
    # Descriptors come and go with each round (sockets, worker pipes); a leak shows as
    # a rising floor or ceiling from the first half of the soak to the second.
    half = len(fd_counts) // 2
    assert min(fd_counts[half:]) <= min(fd_counts[:half]) + 2, summary
    assert max(fd_counts[half:]) <= max(fd_counts[:half]) + 8, summary
    # Every round publishes what changed: rounds keep coming, and so do publications.
    assert last["rounds"] >= SECONDS / 20 and last["publishes"] >= SECONDS / 30, summary
