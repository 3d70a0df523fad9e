"""`feeds daemon` as a real process against loopback sources: it fetches on schedule,
publishes, reloads a changed config, keeps running on a broken one, serves metrics,
keeps cron runs out, and stops cleanly on a signal."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import DATA, FeedServer, Project
from helpers import DaemonProcess, run_cli, wait_for

RSS = (DATA / "feeds" / "ai-news.rss").read_text(encoding="utf-8")


@pytest.fixture
def start_daemon(project: Project, tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    started: list[DaemonProcess] = []

    def start(*args: str) -> DaemonProcess:
        started.append(DaemonProcess(project, tmp_path / f"daemon{len(started)}.log", *args))
        return started[-1]

    yield start
    for d in started:
        d.close()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_daemon_fetches_on_schedule_publishes_and_stops(
        project: Project, server: FeedServer, start_daemon: Callable[..., DaemonProcess],
        sig: signal.Signals) -> None:
    server.add("/feed.rss", RSS)
    project.write_sources([{"id": "seeds", "path": "seeds"},
                           {"id": "a", "url": server.url("/feed.rss"), "interval": "1s"}])
    d = start_daemon()
    assert wait_for((project.public / "all.atom").exists, 20), d.text()
    # Due every second: fetched again and again, with validators, without a restart.
    assert wait_for(lambda: len(server.hits_for("/feed.rss")) >= 3, 20), d.text()
    assert "if-none-match" in server.hits_for("/feed.rss")[-1].headers
    assert wait_for(lambda: "published:" in d.text(), 10)
    assert d.stop(sig) == 0
    text = d.text()
    assert f"received {sig.name}" in text and "daemon stopped" in text
    assert "Traceback" not in text
    status = json.loads((project.public / "status.json").read_bytes())
    assert status["sources"] == {"ok": 2}


@pytest.mark.slow
def test_daemon_reloads_config_and_survives_a_broken_edit(
        project: Project, server: FeedServer, start_daemon: Callable[..., DaemonProcess]) -> None:
    server.add("/one.rss", RSS)
    server.add("/two.rss", RSS.replace("ai-news-", "two-"))
    project.write_sources([{"id": "one", "url": server.url("/one.rss"), "interval": "1s"}])
    d = start_daemon()
    assert wait_for(lambda: len(server.hits_for("/one.rss")) >= 1, 20), d.text()
    time.sleep(0.05)  # a new mtime, even on coarse file systems
    project.write_sources([{"id": "one", "url": server.url("/one.rss"), "interval": "1s"},
                           {"id": "two", "url": server.url("/two.rss"), "interval": "1s"}])
    assert wait_for(lambda: len(server.hits_for("/two.rss")) >= 1, 20), d.text()
    assert "config reloaded: 2 sources" in d.text()
    (project.root / "config" / "sources.toml").write_text("[[sources]\nid = ", encoding="utf-8")
    assert wait_for(lambda: "config not reloaded, keeping the running one" in d.text(), 20), d.text()
    hits = len(server.hits_for("/two.rss"))
    assert wait_for(lambda: len(server.hits_for("/two.rss")) > hits, 20), d.text()  # still running
    # SIGHUP reloads too, once the file is good again.
    project.write_sources([{"id": "one", "url": server.url("/one.rss"), "interval": "1s"}])
    d.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: d.text().count("config reloaded") >= 2, 20), d.text()
    assert d.stop() == 0


@pytest.mark.slow
def test_cron_run_exits_3_while_the_daemon_runs_and_logs_are_json(
        project: Project, server: FeedServer, start_daemon: Callable[..., DaemonProcess]) -> None:
    server.add("/feed.rss", RSS)
    project.write_sources([{"id": "seeds", "path": "seeds"}, {"id": "a", "url": server.url("/feed.rss")},
                           {"id": "broken", "url": server.url("/status/500")}])
    d = start_daemon("--log-format", "json")
    assert wait_for((project.public / "all.atom").exists, 20), d.text()
    code, _out, err = run_cli(project.root, "run")
    assert code == 3 and "another feeds run is in progress" in err
    d.stop()
    # JSON logs: every line is one object; the round summary has its counts.
    records = [json.loads(line) for line in d.text().splitlines() if line.strip()]
    run = next(r for r in records if r.get("event") == "run")
    assert (run["ok"], run["failed"]) == (2, 1)
    assert any(r.get("source") == "broken" and r["level"] == "warning" for r in records)


@pytest.mark.slow
def test_metrics_endpoint(project: Project, server: FeedServer, tmp_path: Path) -> None:
    server.add("/feed.rss", RSS)
    project.write_sources([{"id": "seeds", "path": "seeds"}, {"id": "a", "url": server.url("/feed.rss")}])
    log = tmp_path / "m.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "feeds", "--root", str(project.root), "daemon", "--tick", "1s",
             "--debounce", "0.2s", "--metrics-port", "0"], stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            assert wait_for(lambda: "published:" in log.read_text(), 20), log.read_text()
            found = re.search(r"metrics at (http://127\.0\.0\.1:\d+/metrics)", log.read_text())
            assert found is not None
            body = httpx.get(found.group(1), timeout=5).text
            assert 'feeds_sources{state="ok"} 2' in body
            assert 'feeds_entries{topic="ai"} 2' in body
            # Local folders are read every round, so these grow while the test runs.
            fetched = re.search(r'feeds_fetches_total\{outcome="ok"\} (\d+)', body)
            assert fetched is not None and int(fetched.group(1)) >= 2
            counted = re.search(r"feeds_fetch_duration_seconds_count (\d+)", body)
            assert counted is not None and int(counted.group(1)) >= 1
            assert "feeds_last_run_duration_seconds" in body
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def test_json_log_format_for_feeds_run(project: Project) -> None:
    code, out, err = run_cli(project.root, "--log-format", "json", "run")
    assert code == 0 and out == ""
    records = [json.loads(line) for line in err.splitlines()]
    assert records[-1]["message"] == "run finished"
    assert records[-1]["event"] == "run" and records[-1]["ok"] == 1 and records[-1]["new_entries"] == 1


def test_tick_must_be_a_duration(project: Project) -> None:
    code, _out, err = run_cli(project.root, "daemon", "--tick", "soon")
    assert code == 2
    assert "must be a duration such as" in err and "'soon'" in err
