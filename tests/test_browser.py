"""The index page in a real headless browser (Debian's chromium), at phone and desktop sizes.

`make test` installs chromium when it can (scripts/ensure-browser); where it cannot be
installed the test skips and says so. Screenshots are kept in tests/artifacts/.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Project
from test_run import SEED_TITLE, run_cli

from feeds.serve import make_server, server_url

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed and could not be installed (scripts/ensure-browser)")


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


# The status page is checked from inside the browser: a page of ours loads it in a frame
# of the given width and lists every element that reaches past the frame's right edge.
_OVERFLOW_PROBE = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>
<iframe id="f" src="status.html" style="border:0" width="WIDTH" height="900"></iframe>
<script>
document.getElementById("f").addEventListener("load", () => {
  const doc = document.getElementById("f").contentDocument;
  const width = doc.documentElement.clientWidth;
  const wide = [];
  for (const el of doc.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 0.5 || box.left < -0.5) wide.push(el.tagName + "." + el.getAttribute("class"));
  }
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({width: width, scroll: doc.documentElement.scrollWidth,
                                    cards: doc.querySelectorAll("li.source").length,
                                    charts: doc.querySelectorAll("li.source svg polyline").length,
                                    wide: wide.slice(0, 20)});
  document.body.appendChild(out);
});
</script></body></html>
"""


@pytest.mark.slow
def test_status_page_fits_phone_and_desktop_widths(project: Project, tmp_path: Path) -> None:
    import json
    import re

    from conftest import FeedServer

    feeds = FeedServer()
    try:
        long_word = "Unbreakable" * 12
        feeds.add("/news.rss", (Path(__file__).parent / "data" / "feeds" / "ai-news.rss").read_bytes())
        project.write_sources([
            {"id": "seeds", "title": "Local articles", "path": "seeds"},
            {"id": "news", "title": f"News {long_word}", "url": feeds.url("/news.rss?" + "q=" + "x" * 150)},
            {"id": "broken_" + "x" * 57,  # the longest id the config takes, and no place to break it
             "title": "<b>Broken</b> & failing", "url": feeds.url("/status/503")},
        ])
        path = project.root / "config" / "feeds.toml"
        path.write_text(path.read_text().replace("[site]\n", "[site]\npublic_status = true\n", 1))
        for _ in range(2):  # the second run gives the failing source two failures: backing off
            assert run_cli(project.root, "run", "--force")[0] in (0, 1)
    finally:
        feeds.close()
    public = project.public
    assert (public / "status.html").is_file()
    server = make_server(public, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        base = server_url(server)
        ARTIFACTS.mkdir(exist_ok=True)
        for width, height in ((375, 800), (1280, 900)):
            (public / f"probe-{width}.html").write_text(_OVERFLOW_PROBE.replace("WIDTH", str(width)))
            dom = chromium(tmp_path / f"probe{width}", "--virtual-time-budget=10000", "--dump-dom",
                           f"{base}probe-{width}.html")
            assert dom.returncode == 0, dom.stderr[-2000:]
            found = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
            assert found, dom.stdout[-2000:]
            probe = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
            assert probe["cards"] == 3 and probe["charts"] >= 4, probe
            assert probe["width"] == width and probe["scroll"] <= width, probe
            assert probe["wide"] == [], probe
            shot = ARTIFACTS / f"status-{width}.png"
            shot.unlink(missing_ok=True)
            done = chromium(tmp_path / f"shot{width}", f"--screenshot={shot}",
                            f"--window-size={width},{height}", f"{base}status.html")
            assert done.returncode == 0, done.stderr[-2000:]
            assert shot.read_bytes().startswith(b"\x89PNG")
    finally:
        server.shutdown()
        server.server_close()
