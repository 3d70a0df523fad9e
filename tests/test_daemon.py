"""`feeds daemon` as a real process: it runs on schedule and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Project


def wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_daemon_runs_repeatedly_and_stops_on_signal(project: Project, tmp_path: Path,
                                                   sig: signal.Signals) -> None:
    out = (tmp_path / "out.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "feeds", "--root", str(project.root), "daemon", "--interval", "1s"],
        stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        log = tmp_path / "out.log"
        assert wait_for(lambda: log.read_text().count("1 source: 1 ok") >= 2, 30), log.read_text()
        assert (project.public / "ai.atom").exists()
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 0
        text = log.read_text()
        assert f"received {sig.name}" in text
        assert "daemon stopped" in text
        assert "Traceback" not in text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        out.close()


def test_interval_must_be_a_duration(project: Project) -> None:
    from test_run import run_cli

    code, _out, err = run_cli(project.root, "daemon", "--interval", "soon")
    assert code == 2
    assert "must be a duration such as" in err and "'soon'" in err
