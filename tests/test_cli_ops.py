"""The operator's side of the CLI: `feeds status` at any width and through pipes,
cron runs that name broken sources waiting out their backoff, the offline hint,
the daemon's round log, `feeds init` and the examples in every --help."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import DATA, FeedServer, Project
from helpers import run_cli

from feeds.cli.commands import cli
from feeds.cli.run import backoff_line
from feeds.cli.statustext import Zone, layout, render_tsv, zone_label
from feeds.errors import FetchError
from feeds.sources.health import after_failure, after_success
from feeds.types import FetchSettings, Source, SourceHealth

RSS = (DATA / "feeds" / "ai-news.rss").read_text(encoding="utf-8")
LONG_ID = "ieee-spectrum-semiconductors"  # as long as ids of the shipped config go
BOX = re.compile("[\u2500-\u257f]")


def cli_out(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--root", str(root), *args], env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def troubled(project: Project, server: FeedServer) -> Project:
    """A project with an ok source, a failing one with a long note, and a very long id."""
    server.add("/good.rss", RSS)
    server.add("/forbidden", "no entry for robots like you", status=403, content_type="text/plain")
    project.write_sources([
        {"id": "seeds", "path": "seeds"},
        {"id": "good", "url": server.url("/good.rss")},
        {"id": "blocked", "url": server.url("/forbidden?" + "q=" + "x" * 60)},
        {"id": LONG_ID, "url": server.url("/status/500")},
    ])
    assert run_cli(project.root, "run")[0] == 0
    return project


# --- feeds status -----------------------------------------------------------------


def source_lines(out: str, ids: list[str]) -> dict[str, list[str]]:
    return {i: [line for line in out.splitlines() if re.match(rf"\s*{re.escape(i)}\s", line + " ")]
            for i in ids}


def test_status_piped_at_80_columns_has_no_box_and_splits_no_id(troubled: Project) -> None:
    code, out, _ = cli_out(troubled.root, "status", "--width", "80")
    assert code == 0
    lines = out.splitlines()
    assert lines and all(len(line) <= 80 for line in lines), out
    assert not BOX.search(out), out
    # One line per source; ids whole.
    found = source_lines(out, ["seeds", "good", "blocked", LONG_ID])
    assert all(len(v) == 1 for v in found.values()), out
    assert "failing" in found["blocked"][0] and "failing" in found[LONG_ID][0]
    # The note is cut with an ellipsis rather than folded onto a second line.
    assert "HTTP 403" in out and "…" in out
    assert "times in UTC" in lines[0]
    # Piped without --width: whole lines for grep and files, whatever $COLUMNS says.
    whole = cli_out(troubled.root, "status", env={"COLUMNS": "80"})[1]
    assert "…" not in whole and "x" * 60 in whole


def test_status_table_at_80_columns_drops_columns_and_keeps_words(troubled: Project) -> None:
    code, out, _ = cli_out(troubled.root, "status", "--format", "table", "--width", "80")
    assert code == 0
    assert all(len(line) <= 80 for line in out.splitlines()), out
    found = source_lines(out, ["seeds", "good", "blocked"])
    assert all(len(v) == 1 for v in found.values()), out
    # With the long id the widest columns give way; narrower ids leave room for more.
    assert "HTTP " not in out.splitlines()[1]
    wide = cli_out(troubled.root, "status", "--format", "table", "--width", "200")[1]
    assert re.search(r"HTTP\s.*last success.*next due.*fails.*entries.*note", wide)
    assert "blocked" in wide and "HTTP 403 Forbidden from" in wide
    # Every word of the notes that is shown is whole, or the line ends with the ellipsis.
    for line in out.splitlines():
        assert not re.search(r"[A-Za-z]\n", line)


def test_status_narrow_cuts_the_id_with_an_ellipsis_rather_than_folding(troubled: Project) -> None:
    code, out, _ = cli_out(troubled.root, "status", "--width", "30")
    assert code == 0
    assert all(len(line) <= 30 for line in out.splitlines()), out
    line = next(line for line in out.splitlines() if line.startswith(LONG_ID[:12]))
    assert "…" in line and line.rstrip().endswith("failing"), out
    assert not any(line.startswith(LONG_ID[12:20]) for line in out.splitlines())


def test_status_tsv_is_one_source_a_line_with_escapes(troubled: Project) -> None:
    code, out, _ = cli_out(troubled.root, "status", "--format", "tsv", "--sort", "id")
    assert code == 0
    lines = out.splitlines()
    header = lines[0].split("\t")
    assert header[:3] == ["id", "title", "state"] and "note" in header
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    assert [r["id"] for r in rows] == sorted(["seeds", "good", "blocked", LONG_ID])
    assert not BOX.search(out)
    good = next(r for r in rows if r["id"] == "good")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", good["last_success"])
    assert good["entries"] == "3"


def test_tsv_escapes_tabs_newlines_and_backslashes() -> None:
    rows: list[dict[str, object]] = [
        {"id": "x", "title": "a\tb", "state": "failing", "note": "line one\nline\\two\r"}]
    out = render_tsv(rows, Zone())
    lines = out.splitlines()
    assert len(lines) == 2 and len(lines[1].split("\t")) == len(lines[0].split("\t"))
    assert "a\\tb" in lines[1] and lines[1].endswith("line one\\nline\\\\two\\r")


def test_layout_drops_http_first_and_never_exceeds_the_width() -> None:
    row = {"id": "abc", "state": "failing", "http_status": "500", "last_success": "2026-11-27 12:00",
           "next_due": "2026-11-27 14:00", "failures": "3", "entries": "12",
           "note": "HTTP 500 Internal Server Error from https://example.com/feed"}
    for width in range(20, 140):
        cols = layout([row], width, sep=2)
        assert sum(w for _c, w in cols) + 2 * (len(cols) - 1) <= width
        keys = [c.key for c, _w in cols]
        assert keys[:2] == ["id", "state"]
        if "http_status" in keys:  # the last column kept is the first one dropped
            assert {"entries", "failures", "last_success", "next_due", "note"} <= set(keys)
    assert [c.key for c, _w in layout([row], 200, sep=2)][-1] == "note"


@pytest.fixture
def tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield
    monkeypatch.undo()
    time.tzset()


def test_status_local_names_the_zone_and_shifts_the_times(troubled: Project, tz: None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    rows = json.loads(cli_out(troubled.root, "status", "--json")[1])["sources"]
    utc = next(r for r in rows if r["id"] == "good")["last_success"]
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    code, out, _ = cli_out(troubled.root, "status", "--local", "--width", "200")
    assert code == 0
    assert "times in IST (UTC+05:30)" in out.splitlines()[0]
    local = datetime.fromisoformat(utc.replace("Z", "+00:00")).astimezone()
    line = next(line for line in out.splitlines() if line.startswith("good "))
    assert f"{local:%Y-%m-%d %H:%M}" in line
    tsv = cli_out(troubled.root, "status", "--local", "--format", "tsv")[1]
    assert local.isoformat(timespec="seconds") in tsv and "+05:30" in tsv


def test_local_times_across_a_dst_change_each_name_their_zone(tz: None,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from feeds.cli.statustext import show_time

    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    rows: list[dict[str, object]] = [{"last_success": "2026-07-01T10:00:00Z",
                                      "next_due": "2026-12-01T10:00:00Z"}]
    label, each = zone_label(rows, Zone(local=True), datetime(2026, 12, 1, tzinfo=UTC))
    assert each and label == "local times (CEST/CET)"
    assert show_time("2026-07-01T10:00:00Z", Zone(local=True), each) == "2026-07-01 12:00 CEST"
    assert zone_label(rows, Zone(), datetime(2026, 12, 1, tzinfo=UTC)) == ("times in UTC", False)


# --- cron runs --------------------------------------------------------------------


def test_strict_and_quiet_report_a_source_waiting_out_its_backoff(project: Project,
                                                                  server: FeedServer) -> None:
    project.write_sources([{"id": "seeds", "path": "seeds"}, {"id": "bad", "url": server.url("/status/500")}])
    code, out, _ = run_cli(project.root, "run")
    assert code == 0 and "failed  bad: HTTP 500" in out
    hits = len(server.hits_for("/status/500"))
    # The next cron run does not fetch it (backoff), but says it is broken.
    code, out, err = run_cli(project.root, "run", "--strict")
    assert len(server.hits_for("/status/500")) == hits
    assert code == 1
    line = next(line for line in out.splitlines() if "backoff bad" in line)
    assert re.search(r"backoff bad: failing since \d{4}-\d\d-\d\d \d\d:\d\d UTC, 1 failure in a row: "
                     r"HTTP 500 .*; next retry \d{4}-\d\d-\d\d \d\d:\d\d UTC", line), line
    code, out, err = run_cli(project.root, "-q", "run")
    assert code == 0 and out == ""
    assert "backoff bad: failing since" in err
    # Without --strict and -q it is said too, and the exit code stays 0.
    code, out, _ = run_cli(project.root, "run")
    assert code == 0 and "backoff bad" in out


def test_quiet_names_a_source_that_failed_this_run(project: Project, server: FeedServer) -> None:
    project.write_sources([{"id": "seeds", "path": "seeds"}, {"id": "bad", "url": server.url("/status/404")}])
    code, out, err = run_cli(project.root, "-q", "run")
    assert code == 0 and out == ""
    assert "failed  bad: HTTP 404" in err
    assert "sources:" not in err  # the summary stays quiet


def test_failing_since_is_the_first_failure_of_the_run_and_clears_on_success() -> None:
    source = Source(id="s", title="S", url="https://example.com/feed")
    settings = FetchSettings()
    t0, t1, t2 = (datetime(2026, 11, d, 12, tzinfo=UTC) for d in (1, 2, 3))
    error = FetchError("s", "HTTP 500", status=500)
    h, _ = after_failure(SourceHealth("s"), source, settings, t0, error, 0.5)
    h, _ = after_failure(h, source, settings, t1, error, 0.5)
    assert h.failing_since == t0 and h.failures == 2
    assert "failing since 2026-11-01 12:00 UTC, 2 failures in a row: HTTP 500" in backoff_line(h)
    h, _ = after_success(h, source, settings, t2, http_status=200, hints=None, ttl_minutes=None,
                         permanent_redirect=None, entries_seen=1, new_entries=0, warning=None,
                         usual_gap=None)
    assert h.failing_since is None
    h, _ = after_failure(h, source, settings, t2, error, 0.5)
    assert h.failing_since == t2


def test_offline_hint_when_every_remote_source_cannot_connect(project: Project) -> None:
    project.write_sources([{"id": "seeds", "path": "seeds"},
                           {"id": "refused", "url": f"http://127.0.0.1:{closed_port()}/feed.rss"},
                           {"id": "nowhere", "url": "http://feeds.nothing.invalid/feed.rss"}])
    started = time.monotonic()
    code, out, err = run_cli(project.root, "run")
    assert time.monotonic() - started < 10
    assert code == 0
    assert "connection refused by 127.0.0.1" in out and "DNS lookup failed for feeds.nothing.invalid" in out
    hint = ("every remote source failed to connect (DNS or connection errors): "
            "is this machine offline?")
    assert err.count(hint) == 1
    assert hint in run_cli(project.root, "-q", "run", "--force")[2]


def test_no_offline_hint_when_a_server_answered(project: Project, server: FeedServer) -> None:
    server.add("/good.rss", RSS)
    project.write_sources([{"id": "refused", "url": f"http://127.0.0.1:{closed_port()}/feed.rss"},
                           {"id": "good", "url": server.url("/good.rss")}])
    assert "offline" not in run_cli(project.root, "run")[2]
    project.write_sources([{"id": "refused", "url": f"http://127.0.0.1:{closed_port()}/feed.rss"},
                           {"id": "broken", "url": server.url("/status/500")}])
    code, _out, err = run_cli(project.root, "run", "--force")
    assert code == 1 and "every source failed" in err and "offline" not in err


# --- the daemon's round log --------------------------------------------------------


@pytest.mark.slow
def test_daemon_round_log_says_what_was_fetched_and_published(project: Project, server: FeedServer,
                                                              tmp_path: Path) -> None:
    from helpers import DaemonProcess, wait_for

    server.add("/feed.rss", RSS)
    project.write_sources([{"id": "seeds", "path": "seeds"}, {"id": "a", "url": server.url("/feed.rss")}])
    d = DaemonProcess(project, tmp_path / "d.log")
    try:
        assert wait_for(lambda: "published:" in d.text(), 20), d.text()
        assert d.stop() == 0
    finally:
        d.close()
    text = d.text()
    assert "0 files written" not in text
    assert re.search(r"fetch round: 2 sources: 2 ok, .*\d+ new entries, 0 updated; [\d.]+ s", text), text
    # Local folders are read every tick, so a publish may follow one round or more.
    published = re.search(r"published: (\d+) files written, \d+ unchanged, after \d+ fetch rounds? "
                          r"with (\d+) new and 0 updated entries", text)
    assert published is not None and int(published.group(1)) > 0 and int(published.group(2)) > 0, text
    assert all("files written" not in line for line in text.splitlines() if "fetch round:" in line)


# --- feeds init -------------------------------------------------------------------


def test_init_makes_a_project_that_checks_and_runs(tmp_path: Path) -> None:
    root = tmp_path / "mysite"
    code, out, err = cli_out(tmp_path, "init", str(root))
    assert code == 0, err
    assert (root / "config" / "feeds.toml").is_file() and (root / "config" / "sources.toml").is_file()
    assert (root / "seeds").is_dir() and list((root / "seeds").iterdir()) == []
    assert "Next steps" in out and f"feeds --root {root} check" in out
    text = (root / "config" / "feeds.toml").read_text()
    assert text.count("\n#") >= 5 and "[topics." in text
    sources = (root / "config" / "sources.toml").read_text()
    assert sources.count("[[sources]]") >= 3 and sources.lstrip().startswith("#")
    code, out, err = cli_out(root, "check")
    assert code == 0 and "config is valid" in out and err == ""
    # The local source runs without the network.
    code, out, _ = cli_out(root, "run", "--source", "seeds")
    assert code == 0 and (root / "public" / "index.html").exists()


def test_init_refuses_to_overwrite_a_config(tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / "config").mkdir(parents=True)
    (root / "config" / "sources.toml").write_text("# mine\n", encoding="utf-8")
    code, _out, err = cli_out(root, "init")
    assert code == 2
    assert f"{root / 'config' / 'sources.toml'} already exists" in err and "never overwrites" in err
    assert (root / "config" / "sources.toml").read_text() == "# mine\n"
    assert not (root / "config" / "feeds.toml").exists()


# --- help ---------------------------------------------------------------------------


def all_commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from all_commands(command, (*path, name))
        else:
            yield (*path, name)


def test_every_command_help_ends_with_examples() -> None:
    commands = list(all_commands(cli))
    assert ("init",) in commands and ("sources", "add") in commands
    for path in commands:
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        tail = result.output.rstrip().rsplit("Examples:", 1)
        assert len(tail) == 2, f"feeds {' '.join(path)} --help has no Examples section"
        examples = [line.strip() for line in tail[1].splitlines() if line.strip()]
        assert examples and all(e.startswith("feeds") for e in examples), (path, examples)
        assert all(len(line) <= 100 for line in result.output.splitlines())
