"""The status page: the per-day table and its migration, counting across runs, the
page's states, order, charts and escaping, and where it is written."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import lxml.html
import pytest
from conftest import FeedServer, Project
from helpers import run_cli

from feeds.config import load_config
from feeds.publish.status import PageRow, page_rows
from feeds.publish.statuspage import CHART_DAYS, render_status_page
from feeds.redact import UrlPolicy
from feeds.run.pipeline import run_once, write_status_page
from feeds.sources.fetch import HttpFetcher
from feeds.store.state import _SCHEMA_V1, MIGRATIONS, SCHEMA_VERSION, Store
from feeds.types import SourceDay, SourceHealth

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def rss(n: int) -> str:
    items = "".join(
        f"<item><title>Story {i}</title><link>https://news.test/{i}</link><guid>g{i}</guid>"
        f"<pubDate>Mon, {i + 1:02d} Nov 2026 10:00:00 GMT</pubDate><description>Text {i}</description></item>"
        for i in range(n))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
            f"<link>https://news.test/</link><description>d</description>{items}</channel></rss>")


def set_site_key(project: Project, line: str) -> None:
    path = project.root / "config" / "feeds.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[site]\n", f"[site]\n{line}\n", 1), encoding="utf-8")


# --- the table ------------------------------------------------------------------


def test_a_version_7_database_gains_the_day_table_and_keeps_its_sources(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(_SCHEMA_V1)
    for version in range(2, 8):
        step = MIGRATIONS[version]
        if isinstance(step, str):
            db.executescript(step)
        else:
            step(db)
    db.execute("INSERT INTO sources(id, state, failures) VALUES ('old', 'failing', 3)")
    db.execute("PRAGMA user_version = 7")
    db.close()

    with Store(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.health("old").failures == 3
        with store.transaction():
            store.record_fetch("old", NOW, failed=False, new_entries=4, seconds=0.25)
        assert store.source_days(NOW.date(), NOW.date()) == {
            "old": [SourceDay(NOW.date(), fetches=1, failures=0, new_entries=4, latency_count=1,
                              latency_ms_sum=250, latency_ms_max=250)]}


def test_fetches_of_a_day_add_up_and_days_past_the_window_go(tmp_path: Path) -> None:
    with Store(tmp_path / "state.db") as store:
        with store.transaction():
            store.record_fetch("a", NOW, failed=False, new_entries=2, seconds=0.1)
            store.record_fetch("a", NOW + timedelta(hours=3), failed=False, seconds=0.3)
            store.record_fetch("a", NOW + timedelta(hours=4), failed=True)
            store.record_fetch("b", NOW, failed=True)
        day = NOW.date()
        assert store.source_days(day, day)["a"] == [SourceDay(day, 3, 1, 2, 2, 400, 300)]
        # A day counts from midnight UTC, whatever zone `now` is given in.
        eastern = datetime(2026, 11, 28, 1, 0, tzinfo=UTC).astimezone(ZoneInfo("America/New_York"))
        with store.transaction():
            store.record_fetch("a", eastern, failed=False, seconds=1.0)
        assert [d.day for d in store.source_days(day, day + timedelta(days=1))["a"]] == [
            day, day + timedelta(days=1)]
        # The window is CHART_DAYS days, today included: 11-28 stays 29 days on, not 30.
        for at, kept in (("2026-12-27", ["2026-11-28", "2026-12-27"]),
                         ("2026-12-28", ["2026-12-27", "2026-12-28"])):
            with store.transaction():
                store.record_fetch("b", datetime.fromisoformat(at + "T12:00Z"), failed=False)
            assert [r[0] for r in store.db.execute("SELECT day FROM source_days ORDER BY day")] == kept


def test_runs_count_new_entries_fetches_and_latency_per_day(project: Project, server: FeedServer) -> None:
    server.add("/news.rss", rss(2))
    project.write_sources([
        {"id": "news", "title": "News", "url": server.url("/news.rss")},
        {"id": "broken", "title": "Broken", "url": server.url("/status/500")},
    ])
    config = load_config(project.root)
    fetcher = HttpFetcher(config.settings.fetch)
    with Store(config.settings.state_path) as store:
        def run(at: datetime) -> None:
            asyncio.run(run_once(config, store=store, fetcher=fetcher, now=at, force=True))

        run(NOW)
        run(NOW + timedelta(hours=1))  # nothing new: 304
        server.add("/news.rss", rss(3))
        run(NOW + timedelta(days=1))
        days = store.source_days(NOW.date() - timedelta(days=1), NOW.date() + timedelta(days=1))
    first, second = NOW.date(), NOW.date() + timedelta(days=1)
    news = {d.day: d for d in days["news"]}
    assert (news[first].fetches, news[first].failures, news[first].new_entries) == (2, 0, 2)
    assert news[first].latency_count == 2 and news[first].latency_ms_max >= 0
    assert (news[second].fetches, news[second].new_entries) == (1, 1)
    broken = {d.day: d for d in days["broken"]}
    assert (broken[first].fetches, broken[first].failures, broken[first].latency_count) == (2, 2, 0)
    assert (broken[second].fetches, broken[second].failures) == (1, 1)


# --- the page -------------------------------------------------------------------


def sources_for_states(project: Project) -> None:
    project.write_sources([
        {"id": "okay", "title": "Okay", "url": "https://ok.test/feed"},
        {"id": "flaky", "title": "Flaky", "url": "https://flaky.test/feed"},
        {"id": "down", "title": "Down", "url": "https://down.test/feed"},
        {"id": "went", "title": "Went", "url": "https://went.test/feed"},
        {"id": "hush", "title": "Hush", "url": "https://hush.test/feed"},
        {"id": "fresh", "title": "Fresh", "url": "https://fresh.test/feed"},
        {"id": "off", "title": "Off", "url": "https://off.test/feed", "enabled": False},
        {"id": "secret", "title": "Secret", "url": "https://user:hunter22@priv.test/f?token=SECRETVALUE&x=1"},
    ])


HEALTH = {
    "okay": SourceHealth("okay", "ok", last_success=NOW - timedelta(hours=2),
                         last_attempt=NOW - timedelta(hours=2), next_due=NOW + timedelta(minutes=25)),
    "flaky": SourceHealth("flaky", "failing", failures=1, last_error="HTTP 503 Service Unavailable"),
    "down": SourceHealth("down", "failing", failures=4, last_error="connection refused",
                         next_due=NOW + timedelta(hours=8)),
    "went": SourceHealth("went", "gone", failures=1, http_status=410, last_error="HTTP 410 Gone"),
    "hush": SourceHealth("hush", "ok", stale=True, last_new_entry=NOW - timedelta(days=20)),
    "secret": SourceHealth("secret", "failing", failures=1,
                           last_error="HTTP 401 at https://user:hunter22@priv.test/f?token=SECRETVALUE&x=1"
                                      " (password hunter22)"),
}


def find(el: lxml.html.HtmlElement, tag: str = "*", cls: str | None = None) -> list[lxml.html.HtmlElement]:
    """Descendants by tag and class (lxml's cssselect needs a package we do not ship)."""
    where = f"[contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')]" if cls else ""
    found: list[lxml.html.HtmlElement] = el.xpath(f".//{tag}{where}")
    return found


def by_id(doc: lxml.html.HtmlElement, ident: str) -> lxml.html.HtmlElement:
    (found,) = find(doc.getroottree().getroot(), cls=None, tag=f"*[@id='{ident}']")
    return found


def page(rows: list[PageRow], now: datetime = NOW) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(render_status_page("Test Wire", rows, now))


def test_every_source_is_shown_with_its_state_broken_and_quiet_first(project: Project) -> None:
    sources_for_states(project)
    config = load_config(project.root)
    rows = page_rows(config, HEALTH, {"okay": 12}, {}, UrlPolicy())
    doc = page(rows)
    cards = find(doc, "li", "source")
    shown = [(c.get("id"), find(c, "span", "badge")[0].text) for c in cards]
    assert shown == [
        ("source-down", "backing off"), ("source-flaky", "failing"), ("source-secret", "failing"),
        ("source-went", "gone"), ("source-hush", "quiet"), ("source-fresh", "new"),
        ("source-okay", "ok"), ("source-off", "disabled")]
    okay = by_id(doc, "source-okay")
    facts = {dt.text: dd.text_content() for dt, dd in zip(okay.iter("dt"), okay.iter("dd"), strict=True)}
    assert facts["Entries"] == "12"
    assert facts["Last success"] == "2026-11-27 10:00 UTC (2 h ago)"
    assert facts["Next due"] == "2026-11-27 12:25 UTC (in 25 min)"
    assert find(okay, "time")[0].get("datetime") == "2026-11-27T10:00:00Z"
    assert "Next due" not in by_id(doc, "source-went").text_content()
    assert "1 backing off · 2 failing · 1 gone · 1 quiet · 1 new · 1 ok · 1 disabled" in \
        find(doc, "p", "sub")[0].text_content()


def test_urls_and_messages_are_redacted(project: Project) -> None:
    sources_for_states(project)
    config = load_config(project.root)
    html = render_status_page("Test Wire", page_rows(config, HEALTH, {}, {}, UrlPolicy()), NOW).decode()
    assert "hunter22" not in html and "SECRETVALUE" not in html and "user:" not in html
    card = by_id(lxml.html.fromstring(html), "source-secret")
    assert find(card, "p", "where")[0].text == "https://priv.test/f?token=REDACTED&x=1"
    assert find(card, "p", "note")[0].text == (
        "HTTP 401 at https://priv.test/f?token=REDACTED&x=1 (password REDACTED)")


def test_hostile_titles_and_messages_are_text(project: Project) -> None:
    hostile = PageRow(
        id="evil", title='<script>alert(1)</script>"><img src=x onerror=alert(2)>\u202eevil',
        state="failing", location="https://evil.test/\"><svg onload=alert(3)>", last_attempt=NOW,
        last_success=None, next_due=None, last_new_entry=None, failures=1, http_status=500,
        entries=0, note="</p><iframe src=javascript:alert(4)></iframe>\x1b[31mred")
    data = render_status_page('Site <b>"&', [hostile], NOW)
    doc = lxml.html.fromstring(data)
    assert not doc.xpath("//script|//img|//iframe|//b")
    assert not [el for el in doc.iter() if any(str(a).startswith("on") for a in el.attrib)]
    card = by_id(doc, "source-evil")
    assert find(card, "h2")[0].text == '<script>alert(1)</script>"><img src=x onerror=alert(2)> evil'
    assert find(card, "p", "note")[0].text == "</p><iframe src=javascript:alert(4)></iframe>\\x1b[31mred"
    assert find(doc, "h1")[0].text == 'Site <b>"&: source status'
    assert b"\x1b" not in data and "\u202e".encode() not in data


def polyline_points(svg: lxml.html.HtmlElement) -> list[tuple[float, float]]:
    lines = svg.findall("polyline")
    if not lines:
        return []
    return [(float(x), float(y)) for x, y in (p.split(",") for p in lines[0].get("points").split())]


def test_charts_have_a_point_per_day_and_skip_days_without_an_answer() -> None:
    today = NOW.date()
    days = (
        SourceDay(today - timedelta(days=CHART_DAYS), fetches=5, new_entries=50,  # outside: ignored
                  latency_count=5, latency_ms_sum=5000, latency_ms_max=1000),
        SourceDay(today - timedelta(days=29), fetches=2, new_entries=3, latency_count=2,
                  latency_ms_sum=400, latency_ms_max=300),
        SourceDay(today - timedelta(days=10), fetches=3, failures=3),  # nothing answered
        SourceDay(today - timedelta(days=2), fetches=1, new_entries=6, latency_count=1,
                  latency_ms_sum=1500, latency_ms_max=1500),
        SourceDay(today, fetches=4, new_entries=0, latency_count=4, latency_ms_sum=400,
                  latency_ms_max=150),
    )
    row = PageRow("news", "News", "ok", "https://news.test/feed", NOW, NOW, None, None, 0, 200, 9, "", days)
    card = page([row]).get_element_by_id("source-news")
    entries_svg, latency_svg = find(card, "svg")
    entries = polyline_points(entries_svg)
    assert len(entries) == CHART_DAYS
    assert [x for x, _ in entries] == sorted(x for x, _ in entries)
    heights = [y for _, y in entries]
    assert heights.index(min(heights)) == CHART_DAYS - 3  # the tallest day is two days ago (6 new)
    assert entries_svg.find("title").text == (
        "New entries per day, 2026-10-29 to 2026-11-27 (UTC): 9 in all, at most 6 on one day")
    latency = polyline_points(latency_svg)
    assert len(latency) == 3
    assert latency[0][0] == entries[0][0] and latency[-1][0] == entries[-1][0]
    assert latency_svg.find("title").text == (
        "Fetch latency per day (mean of answered fetches), 2026-10-29 to 2026-11-27 (UTC): "
        "100 ms on the latest day with an answer, slowest fetch 1.5 s; 3 of 10 fetches failed")
    for svg in (entries_svg, latency_svg):
        assert (svg.get("width"), svg.get("height")) == ("120", "24")
        assert all(0 <= x <= 120 and 0 <= y <= 24 for x, y in polyline_points(svg))
    # A source never fetched gets flat charts and no latency line.
    empty = page([PageRow("new", "New", "new", "", None, None, None, None, 0, None, 0, "")])
    e_svg, l_svg = find(empty, "svg")
    assert len(polyline_points(e_svg)) == CHART_DAYS and polyline_points(l_svg) == []


def test_same_rows_and_now_give_the_same_bytes(project: Project) -> None:
    sources_for_states(project)
    config = load_config(project.root)
    rows = page_rows(config, HEALTH, {}, {"okay": [SourceDay(NOW.date(), 1, 0, 1, 1, 10, 10)]}, UrlPolicy())
    assert render_status_page("T", rows, NOW) == render_status_page("T", list(rows), NOW)
    assert render_status_page("T", rows, NOW) != render_status_page("T", rows, NOW + timedelta(minutes=1))


# --- where it is written ----------------------------------------------------------


def test_private_by_default_public_when_asked_and_unpublished_when_unasked(project: Project) -> None:
    var_page, public_page = project.root / "var" / "status.html", project.public / "status.html"
    assert run_cli(project.root, "run")[0] == 0
    assert var_page.is_file() and not public_page.exists()
    card = by_id(lxml.html.fromstring(var_page.read_bytes()), "source-seeds")
    assert find(card, "h2")[0].text == "Local articles"
    assert find(card, "p", "where")[0].text == "seeds"  # not where the project lives
    assert b"status.html" not in (project.public / "index.html").read_bytes()

    set_site_key(project, "public_status = true")
    assert run_cli(project.root, "run")[0] == 0
    assert public_page.is_file() and not var_page.exists()
    index = lxml.html.fromstring((project.public / "index.html").read_bytes())
    assert "status.html" in [a.get("href") for a in index.iter("a")]  # relative, inside the site

    set_site_key(project, "public_status = false")
    (project.root / "config" / "feeds.toml").write_text(
        (project.root / "config" / "feeds.toml").read_text().replace("public_status = true\n", ""))
    assert run_cli(project.root, "run")[0] == 0
    assert var_page.is_file() and not public_page.exists()
    assert b"status.html" not in (project.public / "index.html").read_bytes()


def test_public_status_must_be_a_boolean(project: Project) -> None:
    set_site_key(project, 'public_status = "yes"')
    code, _, err = run_cli(project.root, "run")
    assert code == 2
    assert "public_status" in err and "true or false" in err


def test_writing_again_as_of_the_same_time_rewrites_nothing(project: Project) -> None:
    config = load_config(project.root)
    with Store(config.settings.state_path) as store:
        path = write_status_page(config, store, NOW)
        before = path.stat()
        assert write_status_page(config, store, NOW) == path
        after = path.stat()
        assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
        write_status_page(config, store, NOW + timedelta(hours=1))
        assert path.read_bytes() != b"" and path.stat().st_mtime_ns >= before.st_mtime_ns
        assert "as of" in path.read_text()


@pytest.mark.parametrize("public", [False, True])
def test_status_page_lists_sources_after_a_run(project: Project, server: FeedServer, public: bool) -> None:
    server.add("/news.rss", rss(2))
    project.write_sources([
        {"id": "news", "title": "News & <Views>", "url": server.url("/news.rss")},
        {"id": "broken", "title": "Broken", "url": server.url("/status/500")},
    ])
    if public:
        set_site_key(project, "public_status = true")
    run_cli(project.root, "run")
    where = project.public if public else project.root / "var"
    doc = lxml.html.fromstring((where / "status.html").read_bytes())
    assert [c.get("id") for c in find(doc, "li", "source")] == ["source-broken", "source-news"]
    news = by_id(doc, "source-news")
    assert find(news, "h2")[0].text == "News & <Views>"
    assert len(polyline_points(find(news, "svg")[0])) == CHART_DAYS
    assert len(polyline_points(find(news, "svg")[1])) == 1
    assert "HTTP 500" in by_id(doc, "source-broken").text_content()


def test_day_window_ends_today(tmp_path: Path) -> None:
    # A database holding days after `now` (the clock went back) does not draw them.
    with Store(tmp_path / "s.db") as store:
        with store.transaction():
            store.record_fetch("a", NOW + timedelta(days=3), failed=False, new_entries=1, seconds=0.1)
        assert store.source_days(NOW.date() - timedelta(days=29), NOW.date()) == {}
        assert store.source_days(date(2026, 11, 30), date(2026, 11, 30))["a"][0].new_entries == 1
