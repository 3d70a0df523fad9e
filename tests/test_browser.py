"""The index page in a real headless browser (Debian's chromium), at phone and desktop sizes.

`make test` installs chromium when it can (scripts/ensure-browser); where it cannot be
installed the test skips and says so. Screenshots are kept in tests/artifacts/.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Project
from helpers import SEED_TITLE, run_cli, skip_asked

from feeds.cli.serve import make_server, server_url

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


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
    with serve(project.public) as url:
        yield url


def chromium(profile: Path, *args: str, tz: str = "UTC") -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=90, check=False, env={**os.environ, "TZ": tz})


WIDTHS = (375, 1280)
LONG_WORD = "Unbreakable" * 30  # 330 letters and no place to break a line


@contextlib.contextmanager
def serve(public: Path) -> Iterator[str]:
    server = make_server(public, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server_url(server)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_index_page_renders_in_a_browser(site: str, tmp_path: Path) -> None:
    dom = chromium(tmp_path / "p1", "--dump-dom", "--lang=en-US", site, tz="Asia/Kolkata")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert SEED_TITLE in dom.stdout
    for fmt in ("Atom", "RSS", "JSON Feed"):
        assert f">{fmt}</a>" in dom.stdout
    # Times are shown in the reader's zone by the page's one script (UTC without it).
    assert dom.stdout.count("<script") == 1
    updated = re.search(
        r'<time datetime="2024-07-13T12:00:00Z" data-local="time" title="([^"]*)">([^<]*)</time>', dom.stdout)
    assert updated is not None, dom.stdout
    assert updated.group(1) == "2024-07-13 12:00 UTC"
    local = updated.group(2)  # Asia/Kolkata is UTC+5:30
    assert "Jul 13, 2024" in local and "05:30" in local and "GMT+5:30" in local
    ARTIFACTS.mkdir(exist_ok=True)
    for width in WIDTHS:
        shot = ARTIFACTS / f"index-{width}.png"
        shot.unlink(missing_ok=True)
        done = chromium(tmp_path / shot.name, f"--screenshot={shot}", f"--window-size={width},900", site)
        assert done.returncode == 0, done.stderr[-2000:]
        data = shot.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000
        assert int.from_bytes(data[16:20], "big") == width


OVERFLOW_CHECK = """<!DOCTYPE html>
<html><body>
{frames}
<pre id="result"></pre>
<script>
window.addEventListener("load", () => {{
  const out = [];
  for (const f of document.querySelectorAll("iframe")) {{
    const w = f.contentWindow;
    out.push(f.id + "=" + w.document.documentElement.scrollWidth + "/" + w.innerWidth);
  }}
  document.getElementById("result").textContent = out.join(" ");
}});
</script>
</body></html>
"""


@pytest.mark.slow
def test_nothing_overflows_at_phone_and_desktop_widths(project: Project, tmp_path: Path) -> None:
    """The index and an article page, with a headline and a body that have a word too
    long for any line, each laid out in a frame 375 and 1280 px wide: no page is
    wider than its frame (which a reader would see as a sideways scroll)."""
    (project.root / "seeds" / "long.md").write_text(
        f"---\ntitle: AI {LONG_WORD}\ndate: 2026-11-01\n---\n{LONG_WORD} about AI.\n\n"
        f"    {LONG_WORD} {LONG_WORD}\n\nSee https://example.com/{LONG_WORD}\n", encoding="utf-8")
    assert run_cli(project.root, "run")[0] == 0
    pages = {"index": "index.html"}
    for path in (project.public / "articles" / "seeds").glob("*.html"):
        if LONG_WORD in path.read_text(encoding="utf-8"):
            pages["article"] = path.relative_to(project.public).as_posix()
    assert len(pages) == 2
    frames = "\n".join(
        f'<iframe id="{name}-{width}" src="{src}" style="width:{width}px;height:900px;border:0"></iframe>'
        for name, src in pages.items() for width in WIDTHS)
    check = OVERFLOW_CHECK.format(frames=frames)
    (project.public / "overflow-check.html").write_text(check, encoding="utf-8")
    with serve(project.public) as url:
        dom = chromium(tmp_path / "p", "--dump-dom", "--window-size=1400,900", "--virtual-time-budget=5000",
                       url + "overflow-check.html")
        assert dom.returncode == 0, dom.stderr[-2000:]
        found = re.search(r'<pre id="result">([^<]*)</pre>', dom.stdout)
        assert found is not None and found.group(1), dom.stdout[-2000:]
        measured = dict(item.split("=") for item in found.group(1).split())
        assert sorted(measured) == sorted(f"{n}-{w}" for n in pages for w in WIDTHS)
        for frame, size in measured.items():
            scroll, inner = (int(v) for v in size.split("/"))
            assert inner == int(frame.rsplit("-", 1)[1]), measured
            assert scroll <= inner, f"{frame} overflows: {scroll} px of content in {inner} px ({measured})"


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
