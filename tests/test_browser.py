"""The index page in a real headless browser (Debian's chromium), at phone and desktop sizes.

`make test` installs chromium when it can (scripts/ensure-browser); where it cannot be
installed the test skips and says so. Screenshots are kept in tests/artifacts/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from conftest import Project
from test_run import SEED_TITLE, run_cli

from feeds.serve import make_server, server_url

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def skip_asked(environ: Mapping[str, str]) -> bool:
    """FEEDS_SKIP_BROWSER=1 skips the browser tests, except under CI (CI=true), which runs them."""
    asked = environ.get("FEEDS_SKIP_BROWSER", "").strip().lower() not in ("", "0", "false", "no")
    return asked and environ.get("CI", "").strip().lower() not in ("true", "1", "yes")


pytestmark = [
    pytest.mark.skipif(skip_asked(os.environ),
                       reason="FEEDS_SKIP_BROWSER is set: browser tests skipped (unset it to run them)"),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium is not installed and could not be installed (scripts/ensure-browser)"),
]


@pytest.fixture
def site(project: Project) -> Iterator[str]:
    assert run_cli(project.root, "run")[0] == 0
    server = make_server(project.public, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server_url(server)
    finally:
        server.shutdown()
        server.server_close()


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=90, check=False)


@pytest.mark.slow
def test_index_page_renders_in_a_browser(site: str, tmp_path: Path) -> None:
    dom = chromium(tmp_path / "p1", "--dump-dom", site)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert SEED_TITLE in dom.stdout
    for fmt in ("Atom", "RSS", "JSON Feed"):
        assert f">{fmt}</a>" in dom.stdout
    assert "<script" not in dom.stdout
    ARTIFACTS.mkdir(exist_ok=True)
    for name, size in (("index-phone.png", "412,915"), ("index-desktop.png", "1280,900")):
        shot = ARTIFACTS / name
        shot.unlink(missing_ok=True)
        done = chromium(tmp_path / name, f"--screenshot={shot}", f"--window-size={size}", site)
        assert done.returncode == 0, done.stderr[-2000:]
        data = shot.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000
        width = int.from_bytes(data[16:20], "big")
        assert width == int(size.split(",")[0])
