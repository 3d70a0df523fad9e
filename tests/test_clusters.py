"""One story, one entry: near-duplicates across sources, GUID churn, stable cluster ids."""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from conftest import FeedServer, Project
from helpers import NOW, make_entry, run_cli, write_actions
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.run.storing import cluster, finished_rows
from feeds.store.state import Store
from feeds.stories.dedupe import Insert, Update, entry_id
from feeds.stories.similar import canonical_amounts, judge, worth_judging
from feeds.types import Config, Entry, Settings

SAME = [
    (
        "OpenAI releases GPT-5 to all ChatGPT users",
        "OpenAI will roll out the new model to every user this week.",
        "Exclusive: OpenAI Releases GPT-5 To All ChatGPT Users",
        "The model reaches every user this week, OpenAI said.",
    ),
    (
        "FCC votes to restore net neutrality rules",
        "The commission voted 3-2 along party lines on Thursday.",
        "FCC Votes To Restore Net Neutrality Rules",
        "The commission voted 3-2 on Thursday, restoring the rules.",
    ),
    (
        "Breaking: Nvidia unveils Blackwell Ultra GPUs for data centres",
        "Nvidia showed Blackwell Ultra at its developer conference in San Jose.",
        "Nvidia unveils Blackwell Ultra GPUs for data centres",
        "Nvidia showed Blackwell Ultra at GTC.",
    ),
    (
        "EU opens Digital Markets Act probe into Meta's pay-or-consent model",
        "The European Commission said Meta may have breached the DMA with its subscription offer.",
        "EU opens Digital Markets Act probe into Meta pay or consent model",
        "Brussels said the subscription offer may breach the DMA.",
    ),
]
DIFFERENT = [
    (
        "AI Weekly #41: agents everywhere",
        "This week in AI.",
        "AI Weekly #42: agents everywhere",
        "This week in AI.",
    ),
    (
        "Intel cuts 15,000 jobs",
        "The chipmaker announced layoffs.",
        "AMD cuts 15,000 jobs",
        "The chipmaker announced layoffs.",
    ),
    (
        "Morning briefing: Apple earnings beat forecasts",
        "Your daily briefing on technology news.",
        "Morning briefing: Tesla recalls 2 million cars",
        "Your daily briefing on technology news.",
    ),
    (
        "Nvidia unveils Blackwell chips",
        "Nvidia showed new GPUs.",
        "Nvidia unveils Rubin chips",
        "Nvidia showed new GPUs.",
    ),
    (
        "Patch Tuesday: Microsoft fixes 61 flaws",
        "This month's security updates.",
        "Patch Tuesday: Microsoft fixes 59 flaws",
        "This month's security updates.",
    ),
    (
        "Google fined in France over news licensing",
        "The regulator fined Google.",
        "Google wins appeal in France over news licensing",
        "The court sided with Google.",
    ),
]


@pytest.mark.parametrize(("ta", "sa", "tb", "sb"), SAME)
def test_same_story_is_recognised(ta: str, sa: str, tb: str, sb: str) -> None:
    verdict = judge(ta, sa, tb, sb)
    assert verdict.same, verdict.reason
    assert judge(tb, sb, ta, sa).same
    assert worth_judging(ta, sa, tb, sb) and worth_judging(tb, sb, ta, sa)  # the screen passes it


@pytest.mark.parametrize(("ta", "sa", "tb", "sb"), DIFFERENT)
def test_hard_negatives_stay_apart(ta: str, sa: str, tb: str, sb: str) -> None:
    verdict = judge(ta, sa, tb, sb)
    assert not verdict.same, verdict.reason
    assert not judge(tb, sb, ta, sa).same


# Copies whose source rewrote the headline, each pair for one rule of the judge.
_EU_FINE = (
    "The European Commission fined Google €2 billion on Tuesday for favouring its own shopping"
    " service in search results. Google said it would appeal."
)
_TOWER = "Intel agreed to buy Israeli chipmaker Tower Semiconductor for $5.4 billion in cash on Monday."
_VISION = (
    "Apple began selling the Vision Pro headset in China on Friday, its first market outside the US"
    " and Europe."
)
_BASALT = "TSMC said it would pay $400 million in cash for Basalt Cloud, a chip design company in Taiwan."
_BRIEFING = (
    "Your daily briefing on technology and policy news. Sign up to get it in your inbox every weekday"
    " morning, with the stories that matter and what they mean."
)
_PATCH = (
    "Telegram released fixes for 73 security flaws, including CVE-2026-20239, which attackers are"
    " already exploiting."
)
REWORDED_SAME = {
    # Amounts written differently ("€2bn", "€2 billion"), and fine/fines/fined as one word.
    "amounts and stems": (
        "Google fined €2bn by EU",
        _EU_FINE,
        "EU hits Google with €2 billion fine",
        _EU_FINE,
    ),
    "stem of a noun and a verb": ("Google hit with €2bn EU fine", "", "EU fines Google €2 billion", ""),
    "thousands and percent": (
        "Intel cuts 15K jobs, 12% of staff",
        "",
        "Intel cuts 15,000 jobs, 12 per cent of staff",
        "",
    ),
    # Active and passive, other verbs: the same opening sentence says it is one story.
    "same opening, passive": (
        "Intel to buy Tower Semiconductor for $5.4bn",
        _TOWER,
        "Tower Semiconductor snapped up by Intel",
        _TOWER + " The deal needs approval in China.",
    ),
    # One title leaves out a number the other gives; nothing stands in its place.
    "a number left out": (
        "Nimbus Data raises $6.5bn at $24bn valuation",
        "Nimbus Data, which builds privacy tools, raised $6.5 billion in a round led by Sequoia.",
        "Sequoia backs Nimbus Data with US$6.5 billion",
        "Nimbus Data, which builds privacy tools, raised $6.5 billion in a round led by Sequoia."
        " The deal values the company at $24 billion.",
    ),
    # The first word of a headline is capitalised by its place, not because it is a name.
    "first word": (
        "Hackers stole home addresses of 70 million Proton customers",
        "Proton said attackers had accessed home addresses belonging to 70 million customers.",
        "Data of 70 million Proton customers exposed in hack",
        "Proton said attackers had accessed home addresses belonging to 70 million customers.",
    ),
    # A possessive is the name: "Apple's" does not name something else than "Apple".
    "possessive": (
        "Apple's Vision Pro goes on sale in China",
        _VISION,
        "Apple Vision Pro reaches buyers through Tmall",
        _VISION + " It is sold through Apple stores.",
    ),
    # Title Case, with AP style's small words in lower case, or in capitals: only the
    # summary tells which capitalised words are names.
    "AP title case": (
        "Basalt Cloud Acquired by TSMC for $400 Million",
        _BASALT,
        "TSMC Snaps Up Basalt Cloud in $400 Million Deal",
        _BASALT,
    ),
    "capitals": (
        "TSMC SNAPS UP BASALT CLOUD IN $400 MILLION DEAL",
        _BASALT,
        "Basalt Cloud Acquired by TSMC for $400 Million",
        _BASALT,
    ),
    "a one-letter name": (
        "X outage leaves users in Japan offline for 8 hours",
        "Users in Japan were unable to reach X for about 8 hours.",
        "Breaking: X Outage Leaves Users in Japan Offline for 8 Hours",
        "",
    ),
}
REWORDED_DIFFERENT = {
    # £20m is not $20m.
    "currency": (
        "26 GHz auction run by FTC brings in $20 million",
        "The FTC said its auction raised $20 million.",
        "26 GHz auction run by FTC brings in £20 million",
        "The FTC said its auction raised £20 million.",
    ),
    # This title's number is not in the other entry, which gives one of its own in its text.
    "numbers in conflict": (
        "Cisco patches 59 flaws including zero-day in Pulse Max",
        "Cisco released fixes for 59 security flaws, including one attackers are exploiting.",
        "Pulse Max zero-day patched by Cisco",
        "Cisco released fixes for 38 security flaws, including one attackers are exploiting.",
    ),
    # The same opening sentence does not excuse a name the other never mentions, even
    # when Title Case hides the other's names.
    "opening with other names": (
        "Telegram fixes actively exploited Zephyr 5 bug among 73 vulnerabilities",
        _PATCH + " The bug affects Zephyr 5.",
        "Analysis: Telegram Fixes Actively Exploited Nimbus Pro Bug Among 73 Vulnerabilities",
        _PATCH,
    ),
    # Openings that differ in a name are two sentences.
    "openings with other names": (
        "Ericsson ordered to pay damages to news publishers after court loss",
        "India's Supreme Court ruled that Ericsson must pay damages to news publishers.",
        "Brazil's Supreme Court rules Ericsson must pay damages to news publishers",
        "Brazil's Supreme Court ruled that Ericsson must pay damages to news publishers.",
    ),
    # The same opening, then another story: a follow-up that starts with a recap.
    "opening, then another story": (
        "Ofcom fines Google €2bn over cookie banners",
        "Ofcom fined Google €2 billion on Tuesday for making cookies harder to refuse than to accept."
        " The penalty is one of the largest the regulator has imposed.",
        "Google appeals Ofcom penalty, calling it disproportionate",
        "Ofcom fined Google €2 billion on Tuesday for making cookies harder to refuse than to accept."
        " Google has now asked a court to overturn the decision, arguing the regulator misread the law"
        " and ignored changes it had already made to its banners.",
    ),
    # A short blurb opens every issue of a column, and names nobody.
    "blurb opening": (
        "Morning briefing: Argentina bans WhatsApp on government devices",
        _BRIEFING,
        "Morning briefing: Argentina passes law requiring gig platforms to employ drivers",
        _BRIEFING,
    ),
    # A newsletter's blurb opens every issue: it is not about either headline.
    "boilerplate opening": (
        "The Download: AI chips",
        "This is today's edition of The Download, our weekday newsletter that provides a daily"
        " dose of what's going on in the world of technology.",
        "The Download: AI rules",
        "This is today's edition of The Download, our weekday newsletter that provides a daily"
        " dose of what's going on in the world of technology.",
    ),
    "AT&T is a name": (
        "AT&T posts 18% revenue growth",
        "AT&T reported revenue of $30 billion, up 18%.",
        "GitLab posts 18 percent revenue growth",
        "GitLab reported revenue of $1 billion, up 18%.",
    ),
    "X is a name": (
        "X outage leaves users in Japan offline for 8 hours",
        "",
        "Slack outage leaves users in Japan offline for 8 hours",
        "",
    ),
}


@pytest.mark.parametrize(("ta", "sa", "tb", "sb"), REWORDED_SAME.values(), ids=REWORDED_SAME.keys())
def test_reworded_copies_are_recognised(ta: str, sa: str, tb: str, sb: str) -> None:
    verdict = judge(ta, sa, tb, sb)
    assert verdict.same, verdict.reason
    assert judge(tb, sb, ta, sa).same
    assert worth_judging(ta, sa, tb, sb) and worth_judging(tb, sb, ta, sa)  # the screen passes it


@pytest.mark.parametrize(("ta", "sa", "tb", "sb"), REWORDED_DIFFERENT.values(), ids=REWORDED_DIFFERENT.keys())
def test_rewording_rules_keep_other_stories_apart(ta: str, sa: str, tb: str, sb: str) -> None:
    verdict = judge(ta, sa, tb, sb)
    assert not verdict.same, verdict.reason
    assert not judge(tb, sb, ta, sa).same


@pytest.mark.parametrize(("text", "canonical"), [
    ("Google fined €2bn", "Google fined 2000000000 eur"),
    ("a €2 billion fine", "a 2000000000 eur fine"),
    ("US$40bn", "40000000000 usd"),
    ("$40B deal", "40000000000 usd deal"),
    ("40 billion dollars", "40000000000 usd"),
    ("£1,800 million", "1800000000 gbp"),
    ("$5m", "5000000 usd"),
    ("15,000 jobs", "15000 jobs"),
    ("15K jobs", "15000 jobs"),
    ("15 thousand jobs", "15000 jobs"),
    ("up 12%", "up 12 percent"),
    ("up 12 per cent", "up 12 percent"),
    # Not amounts, or not ones we can tell: left as they are.
    ("5G auction", "5G auction"),
    ("a 1500MW campus", "a 1500MW campus"),
    ("GPT-5", "GPT-5"),
    ("a 5m run", "a 5m run"),
    ("CVE-2026-12345", "CVE-2026-12345"),
    ("Python 3.12", "Python 3.12"),
    ("1,2,3", "1,2,3"),
])
def test_amounts_are_written_one_way(text: str, canonical: str) -> None:
    assert canonical_amounts(text) == canonical
    assert canonical_amounts(canonical) == canonical


def _config(tmp_path: Path) -> Config:
    return Config(
        root=tmp_path, settings=Settings(title="t", base_url="https://x.test/"), sources=(), topics=()
    )


def _partition(store: Store) -> set[frozenset[str]]:
    rows = store.db.execute("SELECT cluster_id, group_concat(id) FROM entries GROUP BY cluster_id")
    return {frozenset(ids.split(",")) for _cid, ids in rows}


def _insert_all(store: Store, config: Config, entries: list[tuple[str, Entry]]) -> None:
    for eid, entry in entries:
        with store.transaction():
            applied = write_actions(store, entry.source_id, [Insert(eid, entry)], NOW)
            for new_id, new in applied.inserted:
                cluster(store, config, new_id, new)


def _stories() -> list[tuple[str, Entry]]:
    out: list[tuple[str, Entry]] = []
    for n, (ta, sa, tb, sb) in enumerate(SAME + DIFFERENT):
        for k, (title, summary) in enumerate(((ta, sa), (tb, sb))):
            source = f"s{k}"
            e = make_entry(
                source_id=source,
                item_key=f"guid:{n}",
                url_key=f"//x{k}.test/{n}",
                title=title,
                summary_text=summary,
                published=NOW - timedelta(hours=n),
            )
            out.append((entry_id(source, f"guid:{n}"), e))
    return out


@settings(max_examples=15, deadline=None)
@given(st.randoms(use_true_random=False))
def test_clusters_do_not_depend_on_arrival_order(
    tmp_path_factory: pytest.TempPathFactory, rnd: random.Random
) -> None:
    base = tmp_path_factory.mktemp("order")
    entries = _stories()
    partitions = []
    for name, order in (("a", list(entries)), ("b", rnd.sample(entries, len(entries)))):
        with Store(base / f"{name}.db") as store:
            _insert_all(store, _config(base), order)
            partitions.append(_partition(store))
    assert partitions[0] == partitions[1]
    assert len([c for c in partitions[0] if len(c) == 2]) == len(SAME)


def test_clustering_again_changes_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        entries = _stories()
        _insert_all(store, _config(tmp_path), entries)
        before = _partition(store)
        for eid, entry in entries:
            with store.transaction():
                cluster(store, _config(tmp_path), eid, entry)
        assert _partition(store) == before


def test_candidates_are_the_other_sources_entries_within_the_window(tmp_path: Path) -> None:
    """The window is a range of the lsh key: entries just outside it are never read."""
    title, text = SAME[0][0], SAME[0][1]
    offsets = {"early": -3.5, "edge-before": -3.0, "before": -1.0, "after": 2.0, "edge-after": 3.0,
               "late": 3.5}
    with Store(tmp_path / "s.db") as store:
        entries = [(entry_id(name, "guid:1"), make_entry(
            source_id=name, item_key="guid:1", url_key=f"//{name}.test/1", title=title, summary_text=text,
            published=NOW + timedelta(days=days))) for name, days in offsets.items()]
        own = make_entry(source_id="own", item_key="guid:2", url_key="//own.test/2", title=title,
                         summary_text=text, published=NOW + timedelta(hours=1))
        entries.append((entry_id("own", "guid:2"), own))
        new = make_entry(source_id="own", item_key="guid:1", url_key="//own.test/1", title=title,
                         summary_text=text, published=NOW)
        entries.append((entry_id("own", "guid:1"), new))
        with store.transaction():
            for eid, e in entries:
                write_actions(store, e.source_id, [Insert(eid, e)], NOW)
        found = store.cluster_candidates(entry_id("own", "guid:1"), new, NOW - timedelta(days=3),
                                         NOW + timedelta(days=3))
        assert sorted(c.source_id for c in found) == ["after", "before", "edge-after", "edge-before"]
        assert {c.title for c in found} == {title}
        capped = store.cluster_candidates(entry_id("own", "guid:1"), new, NOW - timedelta(days=3),
                                          NOW + timedelta(days=3), most=2)
        assert len(capped) == 2


def test_an_update_that_moves_the_published_time_moves_the_entry_in_the_window(tmp_path: Path) -> None:
    title, text = SAME[0][0], SAME[0][1]
    with Store(tmp_path / "s.db") as store:
        other = make_entry(source_id="a", item_key="guid:1", url_key="//a.test/1", title=title,
                           summary_text=text, published=NOW)
        new = make_entry(source_id="b", item_key="guid:1", url_key="//b.test/1", title=title,
                         summary_text=text, published=NOW)
        with store.transaction():
            write_actions(store, "a", [Insert("urn:a", other)], NOW)
            write_actions(store, "b", [Insert("urn:b", new)], NOW)
        window = (NOW - timedelta(days=3), NOW + timedelta(days=3))
        assert [c.entry_id for c in store.cluster_candidates("urn:b", new, *window)] == ["urn:a"]
        moved = replace(other, published=NOW - timedelta(days=10), content_hash="changed")
        with store.transaction():
            write_actions(store, "a", [Update("urn:a", moved)], NOW)
        assert store.cluster_candidates("urn:b", new, *window) == []


def _lsh(store: Store) -> list[tuple[int, ...]]:
    return sorted(store.db.execute("SELECT band, bucket, published, entry FROM lsh").fetchall())


def _random_story(rng: random.Random, step: int, ids: int) -> tuple[str, Entry]:
    """One of ``ids`` entry ids, from one of three sources, with a story of SAME and a
    time within two days of NOW: a new entry or a new version of a stored one."""
    n = rng.randrange(ids)
    title, text = rng.choice([(a, b) for a, b, _c, _d in SAME])
    return f"urn:{n}", make_entry(source_id=f"s{n % 3}", item_key=f"guid:{n}", url_key=f"//s.test/{n}",
                                  title=title, summary_text=text,
                                  published=NOW + timedelta(hours=rng.randrange(-48, 48)),
                                  content_hash=f"h{step}")


def test_lsh_rows_are_always_those_of_the_stored_entries(tmp_path: Path) -> None:
    """Schema 5 has no index of lsh by entry: an entry's rows are deleted by their keys,
    computed again from what is stored. Through inserts, updates that change the
    text or the time, and a purge, the table holds exactly the rows of the entries
    stored, and none of an entry that is gone."""
    from feeds.store.state import _stored_band_rows

    def expected(store: Store) -> list[tuple[int, ...]]:
        return sorted(_stored_band_rows(store.db, "1", ()))

    rng = random.Random(5)
    with Store(tmp_path / "s.db") as store:
        stored: dict[str, Entry] = {}
        for step in range(60):
            eid, entry = _random_story(rng, step, 12)
            with store.transaction():
                action = Update(eid, entry) if eid in stored else Insert(eid, entry)
                write_actions(store, entry.source_id, [action], NOW + timedelta(minutes=step))
            stored[eid] = entry
            assert _lsh(store) == expected(store) != []
        nums = {eid: store.db.execute("SELECT num FROM entries WHERE id = ?", (eid,)).fetchone()[0]
                for eid in stored}
        purged = store.purge(NOW + timedelta(minutes=30))
        assert 0 < purged < len(stored)
        assert _lsh(store) == expected(store) != []
        left = {r[0] for r in store.db.execute("SELECT entry FROM lsh")}
        gone = {nums[eid] for eid in stored} - {r[0] for r in store.db.execute("SELECT num FROM entries")}
        assert gone and not (left & gone)


@pytest.mark.parametrize("batched", [False, True])
def test_lsh_rows_follow_the_entries_when_sources_fail(tmp_path: Path, batched: bool) -> None:
    """An entry's lsh rows are written when its source's transaction ends (in a batch,
    after the source's savepoint): a source that fails after storing leaves neither
    its entries nor their rows, and the table holds exactly the rows of the entries
    that stayed, updated ones included."""
    from feeds.store.state import _stored_band_rows

    rng = random.Random(11)
    with Store(tmp_path / "s.db") as store, contextlib.ExitStack() as stack:
        if batched:
            stack.enter_context(store.batch(seconds=3600))
        stored: set[str] = set()
        failures = 0
        for step in range(80):
            eid, entry = _random_story(rng, step, 15)
            fail = step % 4 == 3
            with contextlib.suppress(RuntimeError), store.transaction():
                action = Update(eid, entry) if eid in stored else Insert(eid, entry)
                write_actions(store, entry.source_id, [action], NOW + timedelta(minutes=step))
                if fail:
                    failures += 1
                    raise RuntimeError("a bug meeting odd input, after the entry was stored")
            if not fail:
                stored.add(eid)
            ids = {r[0] for r in store.db.execute("SELECT id FROM entries")}
            assert ids == stored
            assert _lsh(store) == sorted(_stored_band_rows(store.db, "1", ())) != []
        assert failures == 20


def test_a_cluster_digest_changes_with_what_its_pages_show(tmp_path: Path) -> None:
    """Archive pages are rendered again only when a digest of theirs changes: a member's
    content, a new carrier, a new member. Seeing an entry again changes nothing."""
    from feeds.stories.dedupe import Alias, Seen

    a = make_entry(source_id="a", item_key="guid:a", url_key="//x.test/a", title="One", content_hash="h1")
    b = make_entry(source_id="b", item_key="guid:b", url_key="//x.test/b", title="Two", content_hash="h2")
    c = make_entry(source_id="c", item_key="guid:c", url_key="//x.test/c", title="Three", content_hash="h3")
    with Store(tmp_path / "s.db") as store:
        for eid, entry in (("urn:a", a), ("urn:b", b), ("urn:c", c)):
            with store.transaction():
                write_actions(store, entry.source_id, [Insert(eid, entry)], NOW)
        steps: list[tuple[str, Any, set[str]]] = [
            ("seen again", lambda: write_actions(store, "a", [Seen("urn:a", a)],
                                                 NOW + timedelta(hours=1)), set()),
            ("new content", lambda: write_actions(
                store, "a", [Update("urn:a", replace(a, content_hash="h1b"))], NOW), {"urn:a"}),
            ("new carrier", lambda: write_actions(store, "c", [Alias("urn:b", replace(b, source_id="c",
                                                                               item_key="guid:z"))],
                                                  NOW), {"urn:b"}),
            ("new member", lambda: store.join_clusters("urn:c", ["urn:a"], "test"), {"urn:a", "urn:c"}),
        ]
        before = store.cluster_digests()
        assert set(before) == {"urn:a", "urn:b", "urn:c"}
        for what, step, moved in steps:
            with store.transaction():
                step()
            after = store.cluster_digests()
            changed = {cid for cid in before.keys() | after.keys() if before.get(cid) != after.get(cid)}
            assert changed == moved, what
            before = after


def story_rss(items: list[tuple[str, str, str, str]]) -> str:
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid isPermaLink='false'>{g}</guid>"
        f"<pubDate>Wed, 25 Nov 2026 10:00:00 GMT</pubDate><description>{d}</description></item>"
        for g, t, link, d in items
    )
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title><link>https://x.test/</link>"
        f"<description>x</description>{body}</channel></rss>"
    )


STORY = "OpenAI releases GPT-5 to all ChatGPT users"
TEXT = "OpenAI will roll out the new model to every user this week, the company said."


def test_one_story_from_four_sources_is_one_entry_with_credits(project: Project, server: FeedServer) -> None:
    server.add("/a.rss", story_rss([("a1", STORY, "https://news.example.com/gpt5?utm_source=rss", TEXT)]))
    server.add("/b.rss", story_rss([("b1", STORY, "https://amp.news.example.com/gpt5/amp", TEXT)]))
    server.add("/c.rss", story_rss([("c1", STORY, "http://www.news.example.com/gpt5/", TEXT)]))
    server.add(
        "/d.rss",
        story_rss(
            [
                (
                    "d1",
                    "Exclusive: OpenAI Releases GPT-5 To All ChatGPT Users",
                    "https://other.example.org/2026/11/openai-gpt5",
                    TEXT,
                )
            ]
        ),
    )
    project.write_sources(
        [{"id": s, "title": f"Source {s.upper()}", "url": server.url(f"/{s}.rss")} for s in "abcd"]
    )
    assert run_cli(project.root, "run")[0] == 0
    for topic in ("ai", "all"):
        feed = feedparser.parse((project.public / f"{topic}.atom").read_bytes())
        assert len(feed.entries) == 1, [e.title for e in feed.entries]
    [entry] = feedparser.parse((project.public / "all.atom").read_bytes()).entries
    assert entry.link == "https://news.example.com/gpt5"
    content = entry.content[0].value
    assert "Also covered by:" in content
    for name in ("Source B", "Source C", "Source D"):
        assert name in content
    related = [link.href for link in entry.links if link.rel == "related"]
    assert related == ["https://other.example.org/2026/11/openai-gpt5"]
    rss = feedparser.parse((project.public / "all.rss").read_bytes())
    assert len(rss.entries) == 1 and rss.entries[0].id == entry.id
    assert len(json.loads((project.public / "all.json").read_bytes())["items"]) == 1
    code, out, _ = run_cli(project.root, "explain", "https://news.example.com/gpt5")
    assert code == 0
    assert f"story {entry.id}" in out
    assert "same URL also from: b, c" in out
    assert "joined because: near-duplicate of" in out and "titles 1.00 alike" in out


def test_cluster_id_stays_when_a_better_copy_arrives(project: Project, server: FeedServer) -> None:
    server.add("/small.rss", story_rss([("s1", STORY, "https://small.example.com/gpt5", "Short.")]))
    project.write_sources([{"id": "small", "url": server.url("/small.rss")}])
    assert run_cli(project.root, "run")[0] == 0
    [first] = feedparser.parse((project.public / "all.atom").read_bytes()).entries
    server.add(
        "/wire.rss",
        story_rss(
            [
                (
                    "w1",
                    "OpenAI Releases GPT-5 To All ChatGPT Users",
                    "https://wire.example.com/openai-gpt5",
                    TEXT,
                )
            ]
        ),
    )
    project.write_sources(
        [
            {"id": "small", "url": server.url("/small.rss")},
            {"id": "wire", "title": "The Wire", "url": server.url("/wire.rss"), "priority": 10},
        ]
    )
    assert run_cli(project.root, "run", "--force")[0] == 0
    [now] = feedparser.parse((project.public / "all.atom").read_bytes()).entries
    assert now.id == first.id
    assert now.link == "https://wire.example.com/openai-gpt5"
    assert now.updated_parsed > first.updated_parsed


def test_guid_churn_makes_no_new_entry_and_is_shown(project: Project, server: FeedServer) -> None:
    server.add("/f.rss", story_rss([("old-guid", STORY, "https://f.example.com/gpt5", TEXT)]))
    project.write_sources([{"id": "f", "url": server.url("/f.rss")}])
    assert run_cli(project.root, "run")[0] == 0
    [before] = feedparser.parse((project.public / "all.atom").read_bytes()).entries
    server.add("/f.rss", story_rss([("new-guid", STORY, "https://f.example.com/gpt5", TEXT)]))
    code, out, _ = run_cli(project.root, "run", "--force")
    assert code == 0 and "0 new entries" in out
    [after] = feedparser.parse((project.public / "all.atom").read_bytes()).entries
    assert after.id == before.id
    row = json.loads(run_cli(project.root, "status", "--json")[1])["sources"][0]
    assert row["guid_remaps"] == 1 and "guid:old-guid -> guid:new-guid" in row["note"]


def test_a_series_stays_apart_end_to_end(project: Project, server: FeedServer) -> None:
    server.add(
        "/a.rss",
        story_rss([("a41", "AI Weekly #41: agents everywhere", "https://a.test/41", "This week in AI.")]),
    )
    server.add(
        "/b.rss",
        story_rss([("b42", "AI Weekly #42: agents everywhere", "https://b.test/42", "This week in AI.")]),
    )
    project.write_sources(
        [{"id": "a", "url": server.url("/a.rss")}, {"id": "b", "url": server.url("/b.rss")}]
    )
    assert run_cli(project.root, "run")[0] == 0
    assert len(feedparser.parse((project.public / "all.atom").read_bytes()).entries) == 2


def test_dedupe_can_be_turned_off(project: Project, server: FeedServer) -> None:
    text = (project.root / "config" / "feeds.toml").read_text(encoding="utf-8")
    (project.root / "config" / "feeds.toml").write_text(
        text.replace("[fetch]", "[dedupe]\nenabled = false\n\n[fetch]"), encoding="utf-8"
    )
    server.add("/a.rss", story_rss([("a1", STORY, "https://a.example.com/x", TEXT)]))
    server.add("/b.rss", story_rss([("b1", STORY, "https://b.example.com/y", TEXT)]))
    project.write_sources(
        [{"id": "a", "url": server.url("/a.rss")}, {"id": "b", "url": server.url("/b.rss")}]
    )
    assert run_cli(project.root, "run")[0] == 0
    assert len(feedparser.parse((project.public / "all.atom").read_bytes()).entries) == 2


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 5), st.integers(0, 5),
                          st.sets(st.sampled_from(["ai", "chips", "other"]), max_size=2)),
                min_size=0, max_size=25))
def test_every_topics_cluster_ids_at_once_are_those_of_one_query_a_topic(
        rows: list[tuple[int, int, int, set[str]]]) -> None:
    """Clusters of several entries (ties in time included) in the order of
    of one SQL query a topic: first seen, then newest published, then cluster id."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "s.db") as store:
        with store.transaction():
            for n, (cluster, seen, published, topics) in enumerate(rows):
                num = store.db.execute(
                    "INSERT INTO entries(id, source_id, item_key, first_seen, last_seen, published,"
                    " updated, content_hash, data, cluster_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (f"e{n}", "s", f"k{n}", f"2026-11-0{seen + 1}T00:00:00.000000Z", "x",
                     f"2026-10-0{published + 1}T00:00:00.000000Z", "x", "h", "{}", f"c{cluster}")).lastrowid
                store.db.executemany("INSERT INTO entry_topics(entry, topic) VALUES (?, ?)",
                                     [(num, t) for t in topics])
        found = store.topic_cluster_ids(["ai", "chips", "none"])
        assert found == {t: one_query(store.db, t) for t in ["ai", "chips", "none", None]}


def one_query(db: sqlite3.Connection, topic: str | None) -> list[str]:
    """Ids of a topic's clusters (None: all), seen first most recently first, in SQL:
    an oracle written apart from ``Store.topic_cluster_ids``."""
    if topic is None:
        rows = db.execute("SELECT cluster_id FROM entries GROUP BY cluster_id"
                          " ORDER BY min(first_seen) DESC, max(published) DESC, cluster_id")
    else:
        rows = db.execute(
            "SELECT e.cluster_id FROM entries e WHERE e.cluster_id IN (SELECT e2.cluster_id"
            " FROM entry_topics t JOIN entries e2 ON e2.num = t.entry WHERE t.topic = ?)"
            " GROUP BY e.cluster_id ORDER BY min(e.first_seen) DESC, max(e.published) DESC,"
            " e.cluster_id", (topic,))
    return [r[0] for r in rows]


def test_apply_takes_encoded_json_only_for_the_entry_it_was_made_from(tmp_path: Path) -> None:
    from feeds.store.state import entry_json

    a = make_entry(source_id="s", item_key="guid:a", title="A story")
    b = make_entry(source_id="s", item_key="guid:b", title="B story")
    copy_of_b = replace(b, title="B story")  # equal, but another object
    encoded = {id(a): entry_json(a).replace("A story", "A story, encoded elsewhere"),
               id(b): "not used"}
    with Store(tmp_path / "s.db") as store:
        with store.transaction():
            rows = finished_rows(store, "s", [Insert("urn:a", a), Insert("urn:b", copy_of_b)],
                                 lambda e, o: (), encoded=encoded)
            store.apply("s", rows, NOW)
        data = dict(store.db.execute("SELECT id, data FROM entries").fetchall())
    assert json.loads(data["urn:a"])["title"] == "A story, encoded elsewhere"
    assert data["urn:b"] == entry_json(copy_of_b)
