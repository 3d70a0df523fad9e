"""What strangers write (feed titles, HTTP reason phrases) cannot drive the terminal."""

from __future__ import annotations

import json
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import Project
from helpers import run_cli

from feeds.redact import strip_controls, terminal_safe

# Clear the screen, set the window title (OSC), colour, ring the bell, a C1 CSI,
# a right-to-left override, and rich markup.
REASON = "Oops \x1b[2J\x1b]0;pwned\x07 \x9b31m evil [bold red]loud[/bold red]"  # Latin-1 only
FEED = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Evil&#x1b;[2J&#x1b;]0;pwned&#x7; \u009b31m \u202etitle</title><link>http://x.test/</link>"
        "<description>d</description><item><title>Item one</title>"
        "<link>http://x.test/1</link></item></channel></rss>").encode()
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/feed"):
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            body = FEED
        else:
            self.send_response(500, REASON)  # http.server writes the phrase as given
            self.send_header("Content-Type", "text/plain")
            body = b"no"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def evil() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _assert_no_raw_controls(what: str, text: str) -> None:
    for c in RAW:
        assert c not in text, f"{c!r} reached the terminal from {what}"


def _alert_at_once(project: Project) -> None:
    path = project.root / "config" / "feeds.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        'user_agent = "feeds-tests/1.0"', 'user_agent = "feeds-tests/1.0"\nalert_after = 1'),
        encoding="utf-8")


@pytest.mark.timeout(60)
def test_reason_phrase_is_not_echoed_raw_by_run(project: Project, evil: str) -> None:
    _alert_at_once(project)
    project.write_sources([{"id": "seeds", "title": "Local articles", "path": "seeds"},
                           {"id": "evil", "title": "Evil", "url": f"{evil}/x.rss"},
                           {"id": "feed", "title": "Feed", "url": f"{evil}/feed.rss"}])
    code, out, err = run_cli(project.root, "-v", "run")
    assert code == 0, err
    _assert_no_raw_controls("feeds run -v", out + err)
    assert "HTTP 500 Oops \\x1b[2J" in out  # shown, harmless, so the operator sees what came
    # The health feed still renders (XML cannot carry these characters at all).
    assert "Evil: failing" in (project.public / "health.atom").read_text(encoding="utf-8")

    code, out, err = run_cli(project.root, "status")
    _assert_no_raw_controls("feeds status", out + err)
    assert "[bold red]loud[/bold red]" in out.replace("\n", "")  # markup shown, not obeyed

    code, out, err = run_cli(project.root, "--log-format", "json", "-v", "run", "--force")
    _assert_no_raw_controls("json log", out + err)


def test_log_lines_escape_controls_and_json_lines_stay_json() -> None:
    """A message quoting a stranger (C1 CSI, a bidi override, a newline that would
    forge a second line) is escaped in text lines and in JSON lines, which stay JSON."""
    import logging

    from feeds.logs import setup_logging

    def formatter(fmt: str) -> logging.Formatter:
        """The formatter that ``--log-format`` sets up (root's handlers put back after)."""
        root = logging.getLogger()
        saved, level = root.handlers[:], root.level
        try:
            setup_logging(logging.INFO, fmt)
            found = root.handlers[0].formatter
        finally:
            root.handlers[:] = saved
            root.setLevel(level)
        assert found is not None
        return found

    said = "title \x9b31m \u202eevil\n2026-01-01 ERROR forged from https://u:pw99@h.test/?key=K123"
    record = logging.LogRecord("feeds", logging.WARNING, __file__, 1, "%s", (said,), None)
    record.detail = said
    text = formatter("text").format(record)
    _assert_no_raw_controls("a text log line", text)
    assert "\n" not in text and "pw99" not in text and "K123" not in text
    line = formatter("json").format(record)
    _assert_no_raw_controls("a JSON log line", line)
    assert "\n" not in line and "pw99" not in line and "K123" not in line
    data = json.loads(line)
    assert data["message"].startswith("title \x9b31m \u202eevil\n2026-01-01 ERROR forged")
    assert data["detail"] == data["message"]


@pytest.mark.timeout(60)
def test_feed_title_is_not_echoed_raw_by_sources_add(project: Project, evil: str) -> None:
    code, out, err = run_cli(project.root, "sources", "add", f"{evil}/feed.rss")
    assert code == 0, err
    _assert_no_raw_controls("feeds sources add", out + err)
    assert "added" in out
    written = tomllib.loads((project.root / "config" / "sources.toml").read_text(encoding="utf-8"))
    title = written["sources"][-1]["title"]
    # The escapes are gone (removed where the feed is read, or replaced by spaces);
    # the printable rest of the title stays.
    assert title.startswith("Evil") and "pwned" in title and title.endswith(" title")
    _assert_no_raw_controls("the title written to sources.toml", title)


def test_terminal_safe_and_strip_controls() -> None:
    assert terminal_safe("a\x1b[31mb\nc\td") == "a\\x1b[31mb\\x0ac\td"
    assert terminal_safe("a\nb", multiline=True) == "a\nb"
    assert terminal_safe("\u202e\x9b\x7f") == "\\u202e\\x9b\\x7f"
    assert strip_controls(" a\x1b[2J\n\x07b ") == "a [2J b"
