"""Publishing end to end: JSON Feed, OPML, the hub ping, `feeds sources` and `feeds serve`."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs

import feedparser
import httpx
import listparser
from atomschema import atom_errors
from conftest import DATA, SEED, FeedServer, Project
from helpers import full_project, run_cli

from feeds.config import load_config
from feeds.run.pipeline import run_once
from feeds.sources.fetch import HttpFetcher, Retrieved, read_folder
from feeds.store.state import Store
from feeds.types import Document, HttpCache, Source

SEED_NAME = SEED.name


def hub_pings(server: FeedServer) -> list[str]:
    return sorted(parse_qs(h.body.decode())["hub.url"][0] for h in server.hits_for("/hub"))


def test_json_feed_matches_atom_and_rss(project: Project, server: FeedServer) -> None:
    full_project(project, server)
    assert run_cli(project.root, "run")[0] == 0
    for topic in ("all", "ai", "internet-policy", "chips"):
        feed = json.loads((project.public / f"{topic}.json").read_bytes())
        assert feed["version"] == "https://jsonfeed.org/version/1.1"
        assert feed["feed_url"] == f"https://feeds.test/{topic}.json"
        atom = feedparser.parse((project.public / f"{topic}.atom").read_bytes())
        rss = feedparser.parse((project.public / f"{topic}.rss").read_bytes())
        ids = [i["id"] for i in feed["items"]]
        assert ids == [e.id for e in atom.entries] == [e.id for e in rss.entries]
        assert [i["title"] for i in feed["items"]] == [e.title for e in atom.entries]
    index = (project.public / "index.html").read_text(encoding="utf-8")
    assert 'type="application/feed+json"' in index and 'href="https://feeds.test/ai.json"' in index
    assert 'href="sources.opml"' in index  # relative: a preview from the file system works


def test_sources_opml_groups_sources_by_topic(project: Project, server: FeedServer) -> None:
    full_project(project, server)
    assert run_cli(project.root, "run")[0] == 0
    opml = listparser.parse((project.public / "sources.opml").read_bytes())
    urls = {f.url for f in opml.feeds}
    assert server.url("/ai.rss") in urls and server.url("/chips.rdf") in urls
    assert server.url("/status/500") not in urls  # disabled
    chip = next(f for f in opml.feeds if f.url == server.url("/chips.rdf"))
    assert ["Chips"] in [list(c) for c in chip.categories]


def test_hub_is_advertised_and_pinged_only_for_changed_feeds(project: Project, server: FeedServer) -> None:
    full_project(project, server)
    text = (project.root / "config" / "feeds.toml").read_text(encoding="utf-8")
    text = text.replace('author = "Test Desk"', f'author = "Test Desk"\nhub = "{server.url("/hub")}"')
    (project.root / "config" / "feeds.toml").write_text(text, encoding="utf-8")
    assert run_cli(project.root, "run")[0] == 0
    pinged = hub_pings(server)
    expected = sorted(f"https://feeds.test/{t}.{ext}" for t in ("ai", "all", "chips", "internet-policy")
                      for ext in ("atom", "rss", "json"))
    assert pinged == expected
    assert server.hits_for("/hub")[0].headers["content-type"] == "application/x-www-form-urlencoded"
    atom = feedparser.parse((project.public / "ai.atom").read_bytes())
    assert any(link.rel == "hub" and link.href == server.url("/hub") for link in atom.feed.links)
    assert f'<atom:link href="{server.url("/hub")}" rel="hub"/>' in (project.public / "ai.rss").read_text()
    assert json.loads((project.public / "ai.json").read_bytes())["hubs"][0]["url"] == server.url("/hub")
    # Nothing changed: no pings.
    assert run_cli(project.root, "run", "--force")[0] == 0
    assert len(server.hits_for("/hub")) == len(expected)


def test_sources_export_and_import(project: Project, server: FeedServer, tmp_path: Path) -> None:
    full_project(project, server)
    code, out, _ = run_cli(project.root, "sources", "export")
    assert code == 0 and out.startswith("<?xml") and server.url("/policy.atom") in out
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>mine</title></head><body>'
        '<outline text="AI"><outline type="rss" text="New AI blog" xmlUrl="https://newai.test/feed"/>'
        f'<outline type="rss" text="dup" xmlUrl="{server.url("/ai.rss")}"/></outline>'
        '<outline type="rss" text="bad" xmlUrl="ftp://nope.test/feed"/></body></opml>', encoding="utf-8")
    before = (project.root / "config" / "sources.toml").read_text(encoding="utf-8")
    code, out, _ = run_cli(project.root, "sources", "import", str(opml), "--dry-run")
    assert code == 0 and "1 added, 1 duplicate, 1 invalid (dry run" in out
    assert (project.root / "config" / "sources.toml").read_text(encoding="utf-8") == before
    code, out, _ = run_cli(project.root, "sources", "import", str(opml))
    assert code == 0 and "added" in out
    after = (project.root / "config" / "sources.toml").read_text(encoding="utf-8")
    assert after.startswith(before)  # appended; nothing above rewritten
    config = load_config(project.root)
    added = next(s for s in config.sources if s.url == "https://newai.test/feed")
    assert added.topics == ("ai",)


def test_sources_add_discovers_the_feed_behind_a_page(project: Project, server: FeedServer) -> None:
    server.add_file("/feed.rss", "ai-news.rss")
    server.add("/blog", '<html><head><link rel="alternate" type="application/rss+xml" href="/feed.rss">'
                        "</head><body>blog</body></html>", content_type="text/html")
    code, out, err = run_cli(project.root, "sources", "add", server.url("/blog"), "--topic", "ai")
    assert code == 0, err
    assert f"found the feed {server.url('/feed.rss')}" in out
    source = next(s for s in load_config(project.root).sources if s.url == server.url("/feed.rss"))
    assert source.title == "Example AI News" and source.topics == ("ai",)
    code, _out, err = run_cli(project.root, "sources", "add", server.url("/status/404"))
    assert code == 1 and "HTTP 404" in err


def test_serve_command_serves_outputs(project: Project) -> None:
    assert run_cli(project.root, "run")[0] == 0
    command = [sys.executable, "-m", "feeds", "--root", str(project.root), "serve", "--port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("serving ")
        url = line.strip().rsplit(" at ", 1)[1]
        with httpx.Client(timeout=5) as client:
            r = client.get(url.rstrip("/") + "/ai.atom")
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("application/atom+xml")
            again = client.get(url.rstrip("/") + "/ai.atom", headers={"If-None-Match": r.headers["etag"]})
            assert again.status_code == 304
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_serve_without_outputs_says_what_to_do(project: Project) -> None:
    code, _out, err = run_cli(project.root, "serve", "--port", "0")
    assert code == 1 and "run 'feeds run' first" in err


class FixedFetcher:
    """Serves the fixture feeds at fixed URLs, so that outputs can be compared byte for byte."""

    FEEDS: ClassVar[dict[str, tuple[str, str]]] = {"ai": ("https://ai-news.example.com/feed", "ai-news.rss"),
             "policy": ("https://policy.example.org/atom", "policy.atom"),
             "chipwire": ("https://chips.example.net/rdf", "chips.rdf")}

    async def stream(self, sources: Sequence[Source], caches: dict[str, HttpCache],
                     urls: dict[str, str] | None = None) -> AsyncIterator[Retrieved]:
        for source in sources:
            if source.is_local:
                yield Retrieved(source, read_folder(source), 0.0)
                continue
            url, name = self.FEEDS[source.id]
            body = (DATA / "feeds" / name).read_bytes()
            yield Retrieved(source, Document(source.id, url, body, {}), 0.0)


GOLDEN = DATA / "golden"


def test_outputs_match_golden_files(project: Project) -> None:
    """Every format, byte for byte, from a fixed state and clock. After an intended
    change to the outputs, regenerate with FEEDS_UPDATE_GOLDEN=1 and review the diff."""
    sources: list[dict[str, object]] = [{"id": "seeds", "title": "Local articles", "path": "seeds"}]
    sources += [{"id": sid, "title": sid.title(), "url": url}
                for sid, (url, _n) in FixedFetcher.FEEDS.items()]
    project.write_sources(sources)
    config = load_config(project.root)
    with Store(config.settings.state_path) as store:
        asyncio.run(run_once(config, store=store, fetcher=FixedFetcher(),
                             now=datetime(2026, 11, 27, 12, tzinfo=UTC), rng=random.Random(1)))
    produced = {p.relative_to(project.public).as_posix(): p.read_bytes()
                for p in sorted(project.public.rglob("*")) if p.is_file()}
    if os.environ.get("FEEDS_UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for rel, data in produced.items():
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_bytes(data)
    expected = {p.relative_to(GOLDEN).as_posix(): p.read_bytes()
                for p in sorted(GOLDEN.rglob("*")) if p.is_file()}
    assert sorted(produced) == sorted(expected)
    for rel, data in produced.items():
        assert data == expected[rel], f"{rel} differs from tests/data/golden/{rel}"


def test_older_entries_stay_reachable_through_rfc5005_archives(project: Project) -> None:
    project.write_feeds(max_entries=2)
    (project.root / "seeds" / SEED_NAME).unlink()
    for day in range(1, 6):
        (project.root / "seeds" / f"n{day}.md").write_text(
            f"---\ntitle: AI note {day}\ndate: 2026-11-0{day}\n---\nText about AI.\n", encoding="utf-8")
        assert run_cli(project.root, "run")[0] == 0  # one new story a run: first-seen order
    current = feedparser.parse((project.public / "ai.atom").read_bytes())
    assert [e.title for e in current.entries] == ["AI note 5", "AI note 4"]
    seen = {e.id for e in current.entries}
    href = next(link.href for link in current.feed.links if link.rel == "prev-archive")
    assert href == "https://feeds.test/archive/ai/2.atom"
    pages = 0
    while href:
        path = project.public / href.removeprefix("https://feeds.test/")
        data = path.read_bytes()
        assert atom_errors(data) == []
        assert b'<fh:archive/>' in data
        page = feedparser.parse(data)
        current_links = [link.href for link in page.feed.links if link.rel == "current"]
        assert current_links == ["https://feeds.test/ai.atom"]
        seen |= {e.id for e in page.entries}
        href = next((link.href for link in page.feed.links if link.rel == "prev-archive"), "")
        pages += 1
    assert pages == 2 and len(seen) == 5
    rss = (project.public / "ai.rss").read_text(encoding="utf-8")
    assert '<atom:link href="https://feeds.test/archive/ai/2.rss" rel="prev-archive"/>' in rss
    assert feedparser.parse((project.public / "archive" / "ai" / "1.rss").read_bytes()).entries
    # The oldest page does not change when newer stories arrive.
    before = (project.public / "archive" / "ai" / "1.atom").read_bytes()
    (project.root / "seeds" / "n6.md").write_text("---\ntitle: AI note 6\ndate: 2026-11-06\n---\nAI.\n",
                                                  encoding="utf-8")
    assert run_cli(project.root, "run")[0] == 0
    assert (project.public / "archive" / "ai" / "1.atom").read_bytes() == before


def test_worker_processes_give_the_same_outputs(make_project: Any, server: FeedServer,
                                                monkeypatch: Any) -> None:
    """Parsing and rendering in worker processes is only a speed path: every output
    byte is the same, however the archive pages are put into jobs."""
    from feeds.publish import archive

    feeds = (".xml", ".rss", ".atom", ".rdf")
    names = sorted(p.name for p in (DATA / "corpus").iterdir() if p.suffix in feeds)
    for name in names:
        server.add(f"/c/{name}", (DATA / "corpus" / name).read_bytes(), content_type="application/xml")
    outputs = []
    for workers in (0, 2):
        project = make_project(f"w{workers}")
        text = (project.root / "config" / "feeds.toml").read_text(encoding="utf-8")
        text = text.replace("[fetch]", f"[fetch]\nparse_workers = {workers}")
        text = text.replace("max_entries = 50", "max_entries = 7")  # archive pages in every topic
        (project.root / "config" / "feeds.toml").write_text(text, encoding="utf-8")
        if workers:  # many jobs, each with pages of several topics
            monkeypatch.setattr(archive, "ARCHIVE_JOB_STORIES", 30)
        project.write_sources([{"id": f"s{n}", "url": server.url(f"/c/{name}"),
                                "topics": [("ai", "chips", "ai")[n % 3]]} for n, name in enumerate(names)])
        config = load_config(project.root)
        assert config.settings.fetch.parse_workers == workers
        with Store(config.settings.state_path) as store:
            report = asyncio.run(run_once(config, store=store, fetcher=HttpFetcher(config.settings.fetch),
                                          now=datetime(2026, 11, 27, 12, tzinfo=UTC), rng=random.Random(1)))
        assert len(report.outcomes) == len(names) >= 8
        outputs.append(({o.source_id: (o.status, o.message, o.new_entries) for o in report.outcomes},
                        {p.relative_to(project.public).as_posix(): p.read_bytes()
                         for p in sorted(project.public.rglob("*")) if p.is_file()}))
    assert outputs[0][0] == outputs[1][0]
    assert outputs[0][1] == outputs[1][1]
    pages = [name for name in outputs[0][1] if name.startswith("archive/")]
    assert {name.split("/")[1] for name in pages} == {"all", "ai", "chips"} and len(pages) > 80


def test_nothing_is_rendered_when_nothing_changed(project: Project, server: FeedServer,
                                                  monkeypatch: Any) -> None:
    """A run where every source answers 304 renders nothing; a new entry, a config
    edit or a deleted output makes the next run render again."""
    import feeds.publish.emit

    rendered: list[str] = []
    real = feeds.publish.emit.render_atom

    def counting(view: Any, fragments: Any = None) -> bytes:
        rendered.append(view.topic)
        return real(view, fragments)

    monkeypatch.setattr(feeds.publish.emit, "render_atom", counting)
    server.add_file("/ai.rss", "ai-news.rss")
    project.write_sources([{"id": "seeds", "title": "Local articles", "path": "seeds"},
                           {"id": "ai", "title": "AI", "url": server.url("/ai.rss")}])

    def run() -> list[str]:
        rendered.clear()
        assert run_cli(project.root, "-q", "run", "--force")[0] == 0
        return sorted(set(rendered))

    assert "ai" in run()

    def outputs() -> dict[Path, bytes]:  # status.json is the run's report: new every run
        return {p: p.read_bytes() for p in project.public.rglob("*")
                if p.is_file() and p.name != "status.json"}

    before = outputs()
    assert run() == []  # 304, seeds unchanged
    assert outputs() == before
    (project.public / "chips.rss").unlink()
    assert "chips" in run()
    assert (project.public / "chips.rss").read_bytes() == before[project.public / "chips.rss"]
    assert run() == []
    text = (project.root / "config" / "feeds.toml").read_text(encoding="utf-8")
    (project.root / "config" / "feeds.toml").write_text(
        text.replace('title = "AI"', 'title = "Machine intelligence"', 1), encoding="utf-8")
    assert "ai" in run()
    assert b"Machine intelligence" in (project.public / "ai.atom").read_bytes()
    assert run() == []
    article = project.root / "seeds" / "later.md"
    article.write_text("---\ntitle: OpenAI ships a language model\ndate: 2024-07-14\n---\n\nText.\n",
                       encoding="utf-8")
    assert "ai" in run()
    assert b"OpenAI ships a language model" in (project.public / "ai.atom").read_bytes()
