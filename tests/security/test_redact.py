"""Credentials in source URLs never reach public outputs, logs or the terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FeedServer, Project
from helpers import run_cli

from feeds.redact import REDACTED, redact_text, redact_url, secret_name

SECRETS = ("SECRET4711", "hunter2pw", "TOKENVALUE9")
ONLY = ("--source", "seeds", "--source", "ai", "--source", "keyed")


def _setup(project: Project, server: FeedServer) -> None:
    server.add_file("/ai.rss", "ai-news.rss")
    host = server.url("").removeprefix("http://")
    project.write_sources([
        {"id": "seeds", "title": "Local articles", "path": "seeds"},
        # Works: its URL shows in the <source> of every entry it brings.
        {"id": "ai", "title": "AI News", "url": server.url("/ai.rss?token=TOKENVALUE9&format=rss")},
        # Fail, so they reach the health feed, status and the run summary.
        {"id": "keyed", "title": "Keyed", "url": server.url("/status/500?api_key=SECRET4711&tag=ai")},
        # Not fetched (--source below): whether user-info URLs can be fetched is
        # another matter; the config's URL alone must not leak.
        {"id": "login", "title": "Login", "url": f"http://reader:hunter2pw@{host}/status/404"},
    ])
    path = project.root / "config" / "feeds.toml"
    text = path.read_text(encoding="utf-8").replace(
        'user_agent = "feeds-tests/1.0"', 'user_agent = "feeds-tests/1.0"\nalert_after = 1')
    path.write_text(text, encoding="utf-8")


def _assert_clean(what: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret} in {what}"


@pytest.mark.timeout(60)
def test_secrets_of_a_failing_source_are_not_published(project: Project, server: FeedServer) -> None:
    _setup(project, server)
    code, out, err = run_cli(project.root, "-v", "run", *ONLY)
    assert code == 0, err
    _assert_clean("feeds run -v", out + err)
    assert "keyed" in out and "HTTP 500" in out  # the failure is still reported

    public = project.public
    for path in sorted(p for p in public.rglob("*") if p.is_file()):
        _assert_clean(str(path.relative_to(public)), path.read_text(encoding="utf-8", errors="replace"))
    health = (public / "health.atom").read_text(encoding="utf-8")
    assert "Keyed: failing" in health and "api_key=REDACTED" in health and "tag=ai" in health
    assert "Keyed: failing" in (public / "health.rss").read_text(encoding="utf-8")
    opml = (public / "sources.opml").read_text(encoding="utf-8")
    assert "token=REDACTED&amp;format=rss" in opml  # harmless parameters stay, for subscribers
    assert "ai.rss" in (public / "ai.atom").read_text(encoding="utf-8")  # its <source> is there
    json.loads((public / "status.json").read_text(encoding="utf-8"))

    for args in (("sources", "export"), ("status",), ("status", "--json"),
                 ("--log-format", "json", "-v", "run", *ONLY)):
        code, out, err = run_cli(project.root, *args)
        _assert_clean(" ".join(args), out + err)
    assert "reader" not in run_cli(project.root, "sources", "export")[1]

    # The operator's own backup keeps them when asked to.
    code, out, _err = run_cli(project.root, "sources", "export", "--with-secrets")
    assert code == 0 and "api_key=SECRET4711" in out and "reader:hunter2pw@" in out


def test_json_log_lines_are_redacted_and_valid(project: Project, server: FeedServer,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    from feeds.cli.commands import cli

    _setup(project, server)
    # Through the real stderr handler, as cron sees it.
    with pytest.raises(SystemExit):
        cli(["--root", str(project.root), "--log-format", "json", "-v", "run", *ONLY])
    err = capfd.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert any(line.get("source") == "keyed" for line in lines)
    _assert_clean("json logs", err)


@pytest.mark.parametrize(("url", "expected"), [
    ("https://user:pw@example.com/x.rss?api_key=S&format=rss",
     "https://example.com/x.rss?api_key=REDACTED&format=rss"),
    ("https://example.com/feed?feed=rss2&tag=ai&author=jane&keyword=chips",
     "https://example.com/feed?feed=rss2&tag=ai&author=jane&keyword=chips"),
    ("https://example.com/f?apiKey=a&X-Amz-Signature=b&access_token=c&sessionid=d&sig=e&pass=f",
     "https://example.com/f?apiKey=REDACTED&X-Amz-Signature=REDACTED&access_token=REDACTED"
     "&sessionid=REDACTED&sig=REDACTED&pass=REDACTED"),
    ("http://[::1]:8080/p?token=x#frag", "http://[::1]:8080/p?token=REDACTED#frag"),
    ("https://u@example.com:8443/", "https://example.com:8443/"),
    ("https://example.com/x", "https://example.com/x"),
    ("http://a:b@[::1", REDACTED),  # cannot be split: nothing of it is shown
])
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_keep_and_secret_lists() -> None:
    url = "https://example.com/f?key=k&id=7&u=me"
    assert redact_url(url, keep_params=("key",)) == url
    assert redact_url(url, secret_params=("u",)) == "https://example.com/f?key=REDACTED&id=7&u=REDACTED"
    assert redact_url(url, keep_params=("id",), secret_params=("*",)) == \
        "https://example.com/f?key=REDACTED&id=7&u=REDACTED"
    assert secret_name("privateToken") and not secret_name("author") and not secret_name("keyword")


def test_redact_text_scrubs_urls_and_known_secrets() -> None:
    message = ("HTTP 404 Not Found from https://bob:hunter2pw@h.test/x?api_key=SECRET4711. "
               "Then: hunter2pw (SECRET4711)")
    out = redact_text(message, known_urls=["https://bob:hunter2pw@h.test/x?api_key=SECRET4711"])
    assert out == ("HTTP 404 Not Found from https://h.test/x?api_key=REDACTED. "
                   "Then: REDACTED (REDACTED)")


def test_the_config_keys_are_read(project: Project) -> None:
    path: Path = project.root / "config" / "feeds.toml"
    text = path.read_text(encoding="utf-8").replace(
        'author = "Test Desk"', 'author = "Test Desk"\npublic_query_params = ["key"]\n'
                                'secret_query_params = ["u"]')
    path.write_text(text, encoding="utf-8")
    project.write_sources([{"id": "s", "title": "S", "url": "https://example.com/f?key=k&u=me"}])
    code, out, _err = run_cli(project.root, "sources", "export")
    assert code == 0 and "key=k&amp;u=REDACTED" in out
