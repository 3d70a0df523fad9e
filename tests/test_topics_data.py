"""The labelled set of whole entries for the topic rules (tests/data/topics/entries.tsv).

Checks the file's form only; scores belong to the engine's own tests and bench/.
"""

from __future__ import annotations

import collections
from pathlib import Path

TOPICS_DIR = Path(__file__).parent / "data" / "topics"
ENTRIES = TOPICS_DIR / "entries.tsv"
COLUMNS = ["id", "split", "source", "feed_title", "lang", "title", "summary", "categories", "labels"]
TOPIC_IDS = {"ai", "internet-policy", "chips", "security", "telecom"}


def _rows() -> list[dict[str, str]]:
    lines = ENTRIES.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", "entries.tsv must end with a newline"
    header = lines[0].split("\t")
    assert header == COLUMNS
    rows = []
    for number, line in enumerate(lines[1:-1], start=2):
        fields = line.split("\t")
        assert len(fields) == len(COLUMNS), f"entries.tsv:{number}: {len(fields)} fields"
        rows.append(dict(zip(COLUMNS, fields, strict=True)))
    return rows


def _feed(source: str) -> str:
    """The feed a row came from: its source without the entry index."""
    feed, _, index = source.rpartition("#")
    assert feed and index.isdigit(), source
    return feed


def _repo(source: str) -> str:
    repo, sep, _ = source.partition("@")
    assert sep and repo.count("/") == 1, source
    return repo


def test_entries_are_well_formed() -> None:
    rows = _rows()
    assert len(rows) >= 1500
    ids = [row["id"] for row in rows]
    assert ids == [f"e{n:04d}" for n in range(1, len(rows) + 1)]
    for row in rows:
        assert row["split"] in {"train", "test"}, row["id"]
        assert row["title"] or row["summary"], row["id"]
        assert row["lang"], row["id"]
        assert "\r" not in "".join(row.values()), row["id"]
        assert len(row["summary"]) <= 610, row["id"]
        labels = [label for label in row["labels"].split(";") if label]
        assert set(labels) <= TOPIC_IDS, (row["id"], labels)
        assert len(labels) == len(set(labels)), row["id"]
    assert len({row["source"] for row in rows}) == len(rows), "a source entry appears twice"


def test_no_entry_is_repeated() -> None:
    seen: dict[str, str] = {}
    for row in _rows():
        key = row["title"].strip().lower()
        if key:
            assert key not in seen, f"{row['id']} repeats {seen[key]}"
            seen[key] = row["id"]


def test_splits_are_disjoint_by_feed_and_about_a_third_is_test() -> None:
    rows = _rows()
    splits: dict[str, set[str]] = collections.defaultdict(set)
    for row in rows:
        splits[_feed(row["source"])].add(row["split"])
    both = sorted(feed for feed, seen in splits.items() if len(seen) > 1)
    assert not both, f"feeds in both splits: {both}"
    by_title: dict[str, set[str]] = collections.defaultdict(set)
    for row in rows:
        by_title[row["feed_title"]].add(row["split"])
    both = sorted(title for title, seen in by_title.items() if len(seen) > 1)
    assert not both, f"one feed (by title) in both splits: {both}"
    share = sum(row["split"] == "test" for row in rows) / len(rows)
    assert 0.25 <= share <= 0.40, share


def test_every_source_repository_has_a_licence_file() -> None:
    licences = [path.name.lower() for path in (TOPICS_DIR / "LICENSES").iterdir()]
    for repo in sorted({_repo(row["source"]) for row in _rows()}):
        name = repo.split("/")[1].lower()
        assert any(licence.startswith(name + "--") for licence in licences), repo


def test_positives_per_topic_per_split() -> None:
    """Reports the counts (pytest -s shows them); every topic has positives in both splits."""
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for row in _rows():
        labels = [label for label in row["labels"].split(";") if label]
        for label in labels or ["none"]:
            counts[(row["split"], label)] += 1
    for split in ("train", "test"):
        line = ", ".join(f"{topic} {counts[(split, topic)]}" for topic in [*sorted(TOPIC_IDS), "none"])
        print(f"{split}: {line}")
        for topic in TOPIC_IDS:
            assert counts[(split, topic)] > 0, (split, topic)
