"""End to end: `feeds run` in a temporary project against a loopback server."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from atomschema import atom_errors
from conftest import DATA, REPO, SEED, FeedServer, Project
from helpers import SEED_STANDFIRST, SEED_TITLE, full_project, parsed, run_cli, titles

from feeds.config import load_config
from feeds.run.lock import run_lock
from feeds.run.pipeline import run_once
from feeds.sources.fetch import HttpFetcher
from feeds.store.state import SCHEMA_VERSION, Store


def test_seed_article_is_published_in_ai_and_internet_policy(project: Project) -> None:
    code, out, err = run_cli(project.root, "run")
    assert code == 0, err
    assert "1 source: 1 ok" in out
    names = sorted(p.name for p in project.public.iterdir())
    assert names == ["ai.atom", "ai.json", "ai.rss", "all.atom", "all.json", "all.rss", "articles",
                     "chips.atom", "chips.json", "chips.rss", "health.atom", "health.rss",
                     "index.html", "internet-policy.atom", "internet-policy.json",
                     "internet-policy.rss", "sources.opml", "status.json"]
    for topic in ("ai", "internet-policy", "all"):
        for ext in ("atom", "rss"):
            feed = parsed(project.public / f"{topic}.{ext}")
            assert not feed.bozo, feed.bozo_exception
            assert [e.title for e in feed.entries] == [SEED_TITLE]
            entry = feed.entries[0]
            assert entry.published_parsed[:3] == (2024, 7, 13)
            assert entry.id.startswith("urn:uuid:")
            assert entry.link.startswith("https://feeds.test/articles/seeds/")
            assert SEED_STANDFIRST in entry.summary
            body = entry.content[0].value
            for furniture in ("Related Articles", "Latest Articles", "Most Popular"):
                assert furniture not in body
            assert "Wu Hequan" in body
    index = (project.public / "index.html").read_text(encoding="utf-8")
    assert SEED_TITLE in index
    assert 'type="application/atom+xml"' in index and 'href="https://feeds.test/ai.atom"' in index
    page = project.public / "articles" / "seeds" / "000-b68ede34d4090fc6.html"
    assert SEED_STANDFIRST in page.read_text(encoding="utf-8")


def test_every_atom_output_is_valid_rfc4287(project: Project, server: FeedServer) -> None:
    full_project(project, server)
    assert run_cli(project.root, "run")[0] == 0
    atoms = sorted(project.public.glob("*.atom"))
    assert [a.stem for a in atoms] == ["ai", "all", "chips", "health", "internet-policy"]
    for path in atoms:
        assert atom_errors(path.read_bytes()) == [], path.name


def test_full_run_against_loopback_server(project: Project, server: FeedServer) -> None:
    full_project(project, server)
    code, out, _err = run_cli(project.root, "run")
    assert code == 0
    assert "6 sources: 4 ok, 0 not modified, 2 failed" in out
    assert "failed  gone: HTTP 404 Not Found" in out
    assert "failed  html: not a feed: the server sent an HTML page" in out
    assert "off" not in re.findall(r"failed\s+(\w+)", out)

    everything = parsed(project.public / "all.atom")
    by_title = {e.title: e for e in everything.entries}
    # The EU story came from two sources with the same canonical link: one entry.
    assert sum("EU regulators" in t for t in by_title) == 1
    assert len(everything.entries) == 1 + 3 + 1 + 1  # seed, ai x3, fcc, tsmc
    small = by_title["OpenAI and rivals race to ship smaller language models"]
    assert small.link == "https://ai-news.example.com/2026/11/small-models"
    assert small.published_parsed[:5] == (2026, 11, 25, 14, 30)  # 09:30 EST
    assert small.author == "Ada Lovelace"
    html = small.content[0].value
    assert "<script" not in html and "onerror" not in html
    assert 'src="https://ai-news.example.com/img/chip.png"' in html
    assert 'href="https://ai-news.example.com/tags/llm"' in small.summary
    fcc = by_title["FCC votes on net neutrality rules for broadband providers"]
    assert fcc.link == "https://policy.example.org/2026/fcc-vote"
    assert 'href="https://policy.example.org/docs/order.pdf"' in fcc.content[0].value
    assert fcc.author == "Policy Desk"
    tsmc = next(t for t in by_title if t.startswith("TSMC"))
    assert tsmc == "TSMC begins 2nm wafer production for München customers"

    # The seed mentions chips only in its body; rules read title, summary and categories.
    assert titles(project.public / "chips.atom") == [tsmc]  # and no chocolate chip cookies
    assert "FCC votes on net neutrality rules for broadband providers" in titles(
        project.public / "internet-policy.atom")
    assert "OpenAI and rivals race to ship smaller language models" in titles(project.public / "ai.rss")

    rss = parsed(project.public / "all.rss")
    assert [e.id for e in rss.entries] == [e.id for e in everything.entries]
    assert [e.title for e in rss.entries] == [e.title for e in everything.entries]


def test_second_run_uses_conditional_get_and_rewrites_nothing(project: Project, server: FeedServer) -> None:
    full_project(project, server)
    assert run_cli(project.root, "run")[0] == 0

    def files() -> dict[Path, tuple[int, bytes]]:
        # status.json says when the last run was, so it changes with every run.
        return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in project.public.rglob("*")
                if p.is_file() and not p.name.startswith(("health.", "status.json"))}

    before = files()
    code, out, _ = run_cli(project.root, "-v", "run", "--force")
    assert code == 0
    assert "3 not modified" in out
    # Only the health feed changes: the two broken sources have now failed twice in a row.
    assert "written: health.atom, health.rss\n" in out
    assert files() == before
    assert server.hits_for("/ai.rss")[-1].headers.get("if-none-match")


def test_ids_are_stable_and_dropped_entries_stay(project: Project, server: FeedServer) -> None:
    full_project(project, server)
    assert run_cli(project.root, "run")[0] == 0
    first = {e.title: e.id for e in parsed(project.public / "all.atom").entries}
    # The source drops two items and changes the third.
    body = (DATA / "feeds" / "ai-news.rss").read_text(encoding="utf-8")
    body = re.sub(r"<item>\s*<title>EU regulators.*?</item>", "", body, flags=re.S)
    body = re.sub(r"<item>\s*<title>Bakery.*?</item>", "", body, flags=re.S)
    body = body.replace("Labs are shrinking their models.", "Labs are shrinking their models fast.")
    server.add("/ai.rss", body)
    assert run_cli(project.root, "run", "--force")[0] == 0
    entries = parsed(project.public / "all.atom").entries
    second = {e.title: e.id for e in entries}
    assert second == first
    changed = next(e for e in entries if e.title.startswith("OpenAI"))
    assert "fast" in changed.content[0].value
    assert changed.updated_parsed > changed.published_parsed


def test_editing_a_local_article_updates_it_in_place(project: Project) -> None:
    assert run_cli(project.root, "run")[0] == 0
    before = parsed(project.public / "all.atom").entries
    seed = project.root / "seeds" / SEED.name
    seed.write_text(seed.read_text(encoding="utf-8").replace("Wu Hequan", "Dr Wu Hequan"), encoding="utf-8")
    os.utime(seed, (seed.stat().st_atime, seed.stat().st_mtime + 5))
    code, out, _ = run_cli(project.root, "run")
    assert code == 0 and "1 updated" in out
    after = parsed(project.public / "all.atom").entries
    assert len(after) == 1 and after[0].id == before[0].id
    assert "Dr Wu Hequan" in after[0].content[0].value
    assert after[0].updated_parsed > before[0].updated_parsed
    assert after[0].published_parsed == before[0].published_parsed


def test_deleting_a_local_article_keeps_it_published(project: Project) -> None:
    assert run_cli(project.root, "run")[0] == 0
    (project.root / "seeds" / SEED.name).unlink()
    code, out, _ = run_cli(project.root, "run")
    assert code == 0
    assert "no longer in the folder" in out
    assert titles(project.public / "ai.atom") == [SEED_TITLE]


def test_article_without_date_uses_mtime_and_warns(project: Project) -> None:
    (project.root / "seeds" / "undated.txt").write_text(
        "An undated headline about AI\n\nBody text of the undated article.\n", encoding="utf-8")
    os.utime(project.root / "seeds" / "undated.txt", (1_780_000_000, 1_780_000_000))
    code, out, _ = run_cli(project.root, "run")
    assert code == 0
    assert "undated.txt: no date found; using the file's modification time" in out
    entry = next(e for e in parsed(project.public / "ai.atom").entries if e.title.startswith("An undated"))
    assert entry.published_parsed[:3] == (2026, 5, 28)


def test_retention_counts_from_first_seen(project: Project) -> None:
    config = load_config(project.root)
    store = Store(config.settings.state_path)
    fetcher = HttpFetcher(config.settings.fetch)
    now = datetime(2026, 11, 27, tzinfo=UTC)
    asyncio.run(run_once(config, store=store, fetcher=fetcher, now=now))
    # A 2024 article first seen today is inside retention...
    assert titles(project.public / "ai.atom") == [SEED_TITLE]
    later = now + timedelta(days=config.settings.retention_days + 1)
    report = asyncio.run(run_once(config, store=store, fetcher=fetcher, now=later))
    # ...and past it 91 days later, and does not come back although the file is still there.
    assert report.purged == 1
    assert titles(project.public / "ai.atom") == []
    report = asyncio.run(run_once(config, store=store, fetcher=fetcher, now=later + timedelta(days=1)))
    assert report.new_entries == 0 and titles(project.public / "ai.atom") == []
    store.close()


def test_max_entries_keeps_the_newest_first_seen(project: Project) -> None:
    project.write_feeds(max_entries=2)
    for day in (1, 2, 3):
        (project.root / "seeds" / f"n{day}.md").write_text(
            f"---\ntitle: AI note {day}\ndate: 2026-11-0{day}\n---\nText about AI.\n", encoding="utf-8")
    assert run_cli(project.root, "run")[0] == 0
    assert titles(project.public / "ai.atom") == ["AI note 3", "AI note 2"]


def test_a_second_run_while_one_holds_the_lock_exits_3(project: Project) -> None:
    config = load_config(project.root)
    with run_lock(config.settings.state_path.with_name("feeds.run.lock")):
        code, _out, err = run_cli(project.root, "run")
    assert code == 3
    assert "another feeds run is in progress" in err
    assert not project.public.exists()


def test_bad_config_is_refused_before_anything_runs(project: Project) -> None:
    (project.root / "config" / "sources.toml").write_text(
        '[[sources]]\nid = "seeds"\npath = "seeds"\n\n[[sources]]\nid = "ars"\ntitle = "Ars"\n',
        encoding="utf-8")
    code, _out, err = run_cli(project.root, "run")
    assert code == 2
    assert "config/sources.toml:5: source 'ars' has no url or path (give one)" in err
    assert not project.public.exists() and not (project.root / "var").exists()


def test_all_sources_failing_exits_1(project: Project, server: FeedServer) -> None:
    project.write_sources([{"id": "bad", "url": server.url("/status/500")}])
    code, _out, err = run_cli(project.root, "run")
    assert code == 1
    assert "every source failed" in err


def test_strict_makes_a_failed_source_exit_1(project: Project, server: FeedServer) -> None:
    project.write_sources([{"id": "seeds", "path": "seeds"}, {"id": "bad", "url": server.url("/status/500")}])
    assert run_cli(project.root, "run")[0] == 0
    assert run_cli(project.root, "run", "--strict", "--force")[0] == 1


def test_quiet_prints_nothing_on_success(project: Project) -> None:
    code, out, err = run_cli(project.root, "-q", "run")
    assert (code, out, err) == (0, "", "")


def test_source_option_runs_one_source(project: Project, server: FeedServer) -> None:
    full_project(project, server)
    code, out, _ = run_cli(project.root, "run", "--source", "policy")
    assert code == 0 and out.startswith("1 source: 1 ok")
    assert server.hits_for("/ai.rss") == []
    assert run_cli(project.root, "run", "--source", "nope")[0] == 2


def test_status_shows_source_health(project: Project, server: FeedServer) -> None:
    full_project(project, server)
    run_cli(project.root, "run")
    code, out, _ = run_cli(project.root, "status")
    assert code == 0
    assert re.search(r"gone\s.*failing.*404.*HTTP 404", out)
    assert re.search(r"seeds\s.*ok", out)


def test_corrupt_state_database_is_a_clear_error(project: Project) -> None:
    (project.root / "var").mkdir()
    (project.root / "var" / "state.db").write_bytes(b"this is not sqlite" * 100)
    code, _out, err = run_cli(project.root, "run")
    assert code == 1
    assert "var/state.db: cannot open the state database" in err
    assert "Traceback" not in err


def test_state_database_is_consistent_after_runs(project: Project, server: FeedServer) -> None:
    full_project(project, server)
    run_cli(project.root, "run")
    db = sqlite3.connect(project.root / "var" / "state.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    orphans = db.execute("SELECT count(*) FROM entry_topics WHERE entry NOT IN (SELECT num FROM entries)")
    assert orphans.fetchone()[0] == 0


def test_shipped_config_is_valid_and_routes_the_seed(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(REPO / "config", root / "config")
    shutil.copytree(REPO / "seeds", root / "seeds")
    config = load_config(root)
    urls = [s.url for s in config.sources if s.url]
    assert 20 <= len(urls) <= 40
    assert len(set(urls)) == len(urls)
    assert {"ai", "internet-policy", "chips", "security", "telecom"} <= set(config.topic_ids())
    # Run only the local source: the test suite never leaves 127.0.0.1.
    store = Store(config.settings.state_path)
    asyncio.run(run_once(config, store=store, fetcher=HttpFetcher(config.settings.fetch),
                         now=datetime.now(UTC), only={"seeds"}))
    store.close()
    public = config.settings.output_dir
    for topic in ("ai", "internet-policy", "all"):
        assert titles(public / f"{topic}.atom") == [SEED_TITLE]
        assert titles(public / f"{topic}.rss") == [SEED_TITLE]
        assert atom_errors((public / f"{topic}.atom").read_bytes()) == []
    assert titles(public / "security.atom") == []


@pytest.mark.slow
def test_python_m_feeds_runs_as_a_process(project: Project) -> None:
    proc = subprocess.run([sys.executable, "-m", "feeds", "--root", str(project.root), "run"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (project.public / "ai.atom").exists()


def test_an_entry_dated_before_the_year_1000_is_stored_and_published(project: Project,
                                                                     server: FeedServer) -> None:
    """A feed may date an entry 0999 (a typo, or on purpose): it is stored in the same
    fixed-width form as any date, read back, and every later run publishes."""
    items = "".join(
        f"<item><title>Story {n}</title><link>https://e.example/{n}</link><guid>g{n}</guid>"
        f"<pubDate>{date}</pubDate><description>Text {n}.</description></item>"
        for n, date in enumerate(["Mon, 01 Jan 0999 00:00:00 GMT", "Tue, 24 Nov 2026 10:00:00 GMT"]))
    server.add("/old.rss", "<?xml version='1.0'?><rss version='2.0'><channel><title>Old</title>"
               f"<link>https://e.example/</link><description>d</description>{items}</channel></rss>")
    project.write_sources([{"id": "old", "title": "Old dates", "url": server.url("/old.rss")}])
    for _ in range(2):
        code, out, err = run_cli(project.root, "run", "--force")
        assert code == 0, (out, err)
    entries = feedparser.parse((project.public / "all.atom").read_bytes()).entries
    assert {e.title for e in entries} == {"Story 0", "Story 1"}
    db = sqlite3.connect(project.root / "var" / "state.db")
    published = sorted(r[0] for r in db.execute("SELECT published FROM entries"))
    assert published[0].startswith("0999-01-01T00:00:00.000000Z")
    assert len({len(p) for p in published}) == 1


def test_stored_times_read_back_whatever_the_year() -> None:
    from feeds.store.state import _dt, _ts

    for year in (1, 999, 1000, 1970, 2026, 9999):
        moment = datetime(year, 7, 13, 4, 5, 6, 789, tzinfo=UTC)
        assert _dt(_ts(moment)) == moment
        assert len(_ts(moment)) == 27
    assert _dt("999-01-01T00:00:00.000000Z") == datetime(999, 1, 1, tzinfo=UTC)  # as written before
    assert _ts(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
