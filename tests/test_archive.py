"""Stable RFC 5005 archive pages: a purge, a reclassified story or an upgraded
database rewrites only the pages whose stories changed; every other page keeps
its URL and its bytes, and the prev-archive chain leads only to documents that
exist."""

from __future__ import annotations

import asyncio
import random
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
from conftest import DATA
from helpers import ARCHIVE_START, SeedsFetcher, archive_chain, archive_scenario

from feeds.config import load_config
from feeds.publish.publisher import publish
from feeds.run.pipeline import run_once
from feeds.store.rows import new_entry
from feeds.store.state import SCHEMA_VERSION, Store

FIXTURE = DATA / "archive-25d7f5b"  # made by the code before stable positions (README.md)
TOPICS = ("all", "ai", "chips")

Snapshot = dict[str, tuple[bytes, int]]


def archive_files(public: Path) -> Snapshot:
    """Each archive file's bytes and inode: publishing replaces a file it rewrites
    (a rename), so a new inode is a rewrite even where the bytes are the same."""
    return {p.relative_to(public).as_posix(): (p.read_bytes(), p.stat().st_ino)
            for p in sorted((public / "archive").rglob("*")) if p.is_file()}


def rewritten(before: Snapshot, after: Snapshot) -> set[str]:
    """Files added, removed or replaced."""
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def purge_and_publish(root: Path, cutoff_days: float) -> tuple[Snapshot, Snapshot]:
    """Purge the stories first seen before ARCHIVE_START + ``cutoff_days`` and
    publish; the archive files before and after."""
    config = load_config(root)
    before = archive_files(config.settings.output_dir)
    with Store(config.settings.state_path) as store:
        assert store.purge(ARCHIVE_START + timedelta(days=cutoff_days)) > 0
        publish(config, store)
    return before, archive_files(config.settings.output_dir)


def check_chains(public: Path) -> dict[str, list[tuple[str, list[str]]]]:
    """Every topic's chain is valid; every stored story of a topic is in its feed
    or on one of its pages. Returns the chains."""
    chains = {topic: archive_chain(public, topic) for topic in TOPICS}
    for topic, chain in chains.items():
        pages = {p.relative_to(public).as_posix() for p in (public / "archive" / topic).glob("*.atom")}
        assert {name for name, _ids in chain} == pages, "a page the chain does not reach"
        assert all(ids for _name, ids in chain), "an empty page"
        order = [i for _name, ids in chain for i in ids]
        assert len(order) == len(set(order)), "a story on two pages"
    return chains


def live_ids(root: Path, topic: str) -> set[str]:
    config = load_config(root)
    with Store(config.settings.state_path) as store:
        found = store.topic_cluster_ids([t.id for t in config.topics])
    return set(found[None if topic == "all" else topic])


def check_reachable(root: Path) -> None:
    public = root / "public"
    chains = check_chains(public)
    for topic, chain in chains.items():
        listed = {e.id for e in feedparser.parse((public / f"{topic}.atom").read_bytes()).entries}
        assert live_ids(root, topic) == listed | {i for _name, ids in chain for i in ids}, topic


# The three oldest stories (the first run's) were on page 1 of "all" and "ai"
# (positions 0-3) and of "chips" (story 3 was its oldest).
FIRST_PAGES = {f"archive/{t}/1.{kind}" for t in TOPICS for kind in ("atom", "rss")}


def test_purging_the_oldest_stories_rewrites_only_their_pages(tmp_path: Path) -> None:
    root = tmp_path / "site"
    archive_scenario(root)
    public = root / "public"
    check_reachable(root)
    before, after = purge_and_publish(root, 0.5)  # the three oldest
    assert rewritten(before, after) == FIRST_PAGES
    assert sorted(after) == sorted(before)  # every URL is still there
    check_reachable(root)
    first = feedparser.parse(after["archive/all/1.atom"][0])
    assert [e.title for e in first.entries] == ["AI note 4"]
    # The next purge empties page 1: it goes, and page 2, now the oldest, loses
    # its prev-archive link (and its stories 5); nothing else changes.
    before, after = purge_and_publish(root, 1.5)
    assert rewritten(before, after) == {f"archive/{t}/{n}.{kind}" for t in ("all", "ai") for n in (1, 2)
                                        for kind in ("atom", "rss")}
    assert "archive/all/1.atom" not in after and "archive/all/2.atom" in after
    assert "archive/chips/1.atom" in after  # chips: story 6 is still on its page 1
    chains = check_chains(public)
    assert chains["all"][-1][0] == "archive/all/2.atom"
    page2 = feedparser.parse(after["archive/all/2.atom"][0])
    assert [link.rel for link in page2.feed.links if "archive" in link.rel] == ["next-archive"]
    check_reachable(root)


def test_a_database_of_the_old_numbering_keeps_every_page(tmp_path: Path, monkeypatch: Any) -> None:
    """A database and site made before stable positions (tests/data/archive-25d7f5b):
    the migration numbers the stories as the pages stood, so publishing with the new
    code renders and rewrites no archive page (their fingerprints still hold), and a
    purge afterwards rewrites only the pages it touched."""
    from feeds.publish.archive import changed_archive_pages as real

    rendered: list[str] = []

    def recording(*args: Any) -> Iterator[Any]:
        for planned in real(*args):
            rendered.append(planned[1].url)
            yield planned

    monkeypatch.setattr("feeds.publish.publisher.changed_archive_pages", recording)
    root = tmp_path / "site"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("README.md"))
    old = archive_files(root / "public")
    assert len(old) == 22
    config = load_config(root)
    with Store(config.settings.state_path) as store:  # migrates
        assert int(store.get_meta("generation") or 0) > 0
        written, _unchanged = publish(config, store)
    assert [name for name in written if name.startswith("archive/")] == []
    assert rendered == []
    now = archive_files(root / "public")
    assert {name: data for name, (data, _ino) in now.items()} == \
        {name: data for name, (data, _ino) in old.items()}
    check_reachable(root)
    before, after = purge_and_publish(root, 0.5)
    assert rewritten(before, after) == FIRST_PAGES
    assert sorted(rendered) == sorted(f"https://feeds.test/archive/{t}/1.atom" for t in TOPICS)
    check_reachable(root)
    with Store(config.settings.state_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_story_that_leaves_a_topic_leaves_a_hole_and_comes_back_to_its_page(tmp_path: Path) -> None:
    root = tmp_path / "site"
    archive_scenario(root)
    feeds_toml = root / "config" / "feeds.toml"
    rules = feeds_toml.read_text(encoding="utf-8")
    original = archive_files(root / "public")

    def run(day: int) -> Snapshot:
        config = load_config(root)
        with Store(config.settings.state_path) as store:
            asyncio.run(run_once(config, store=store, fetcher=SeedsFetcher(),
                                 now=ARCHIVE_START + timedelta(days=day), rng=random.Random(1)))
        return archive_files(root / "public")

    # Story 6 (positions: "ai" 5, page 2) leaves "ai"; it stays in "all" and "chips".
    feeds_toml.write_text(rules.replace('"OpenAI"]', '"OpenAI"]\nexclude = ["note 6"]'), encoding="utf-8")
    left = run(10)
    assert rewritten(original, left) == {"archive/ai/2.atom", "archive/ai/2.rss"}
    assert "AI note 6" not in [e.title for e in feedparser.parse(left["archive/ai/2.atom"][0]).entries]
    check_reachable(root)
    # It comes back to the same place: the page is as it was.
    feeds_toml.write_text(rules, encoding="utf-8")
    back = run(11)
    assert rewritten(left, back) == {"archive/ai/2.atom", "archive/ai/2.rss"}
    assert {n: d for n, (d, _i) in back.items()} == {n: d for n, (d, _i) in original.items()}
    check_reachable(root)


def test_positions_of_clusters_that_are_gone_are_dropped(tmp_path: Path) -> None:
    """The positions table does not grow with every story ever held: a purged
    cluster's rows go, and so do those of a cluster joined to another."""
    from helpers import make_entry

    from feeds.types import TopicMatch

    def rows(store: Store) -> list[tuple[str, str, int]]:
        found: list[tuple[str, str, int]] = store.db.execute(
            "SELECT cluster_id, topic, pos FROM archive_positions ORDER BY topic, pos").fetchall()
        return found

    with Store(tmp_path / "state.db") as store:
        for n in range(4):
            entry = make_entry(item_key=f"g{n}", url_key=f"https://e.example/{n}", title=f"Story {n}",
                               topics=(TopicMatch("t", "keyword"),))
            with store.transaction():
                store.apply("src", [new_entry(f"e{n}", entry)], ARCHIVE_START + timedelta(hours=n))
        store.archive_positions(store.topic_cluster_ids(["t"]))
        assert len(rows(store)) == 8
        store.purge(ARCHIVE_START + timedelta(minutes=30))  # e0
        with store.transaction():
            store.join_clusters("e3", ["e2"], "same story")  # e3 joins e2
        assert rows(store) == [("e1", "", 1), ("e2", "", 2), ("e1", "t", 1), ("e2", "t", 2)]
        store.archive_positions(store.topic_cluster_ids(["t"]))
        assert store.db.execute("SELECT topic, next FROM archive_next ORDER BY topic").fetchall() == [
            ("", 4), ("t", 4)]


def test_topic_archive_links_the_published_pages_and_keeps_every_older_story() -> None:
    from feeds.publish.archive import topic_archive
    from feeds.store.state import ArchiveOrder

    def plan(ids: list[str], positions: dict[str, int], nxt: int) -> list[tuple[int, tuple[str, ...],
                                                                          int | None, int | None]]:
        pages = topic_archive("t", ids, ArchiveOrder(positions, nxt), 2, "https://x.test/")
        assert all(p.url == f"https://x.test/archive/t/{p.page}.atom" for p in pages)
        return [(p.page, tuple(p.ids), p.prev, p.next) for p in pages]

    # Positions 0-9, the newest two in the feed: four full pages.
    ids = [f"s{n}" for n in range(9, -1, -1)]
    full = {c: int(c[1:]) for c in ids}
    assert plan(ids, full, 10) == [(1, ("s0", "s1"), None, 2), (2, ("s2", "s3"), 1, 3),
                                   (3, ("s4", "s5"), 2, 4), (4, ("s6", "s7"), 3, None)]
    # Page 2's stories gone (moved to another topic): pages 1 and 3 link to each other.
    rest = [c for c in ids if c not in ("s2", "s3")]
    assert plan(rest, {c: full[c] for c in rest}, 10) == [
        (1, ("s0", "s1"), None, 3), (3, ("s4", "s5"), 1, 4), (4, ("s6", "s7"), 3, None)]
    # A story whose position is past the pages but that the feed no longer shows
    # (its cluster moved up in the order) still gets a page, with what shares it.
    moved = ["s9", "s1", "s8", "s7"]
    assert plan(moved, {c: full[c] for c in moved}, 10) == [(1, ("s1",), None, 4), (4, ("s7",), 1, 5),
                                                            (5, ("s8", "s9"), 4, None)]
    assert plan([], {}, 10) == [] and plan(["s1", "s0"], {"s1": 1, "s0": 0}, 2) == []
