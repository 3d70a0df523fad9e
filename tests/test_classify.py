"""Topic rules: whole words, phrases, capitals, plurals, exclusions, source defaults."""

from __future__ import annotations

import pytest
from helpers import make_entry

from feeds.classify import Classifier
from feeds.types import Topic

TOPICS = [
    Topic("ai", "AI", keywords=("AI", "machine learning", "language model")),
    Topic("chips", "Chips", keywords=("chip", "semiconductor"), exclude=("chocolate chip",)),
    Topic("policy", "Policy", keywords=("regulation", "ban"), require=("internet", "online")),
    Topic("open", "Open", keywords=("open source",)),
]
classifier = Classifier(TOPICS)


def topics_for(title: str, summary: str = "", categories: tuple[str, ...] = (),
               defaults: tuple[str, ...] = ()) -> list[str]:
    entry = make_entry(title=title, summary_text=summary, categories=categories)
    return [m.topic for m in classifier.classify(entry, defaults)]


@pytest.mark.parametrize(("title", "expected"), [
    ("Lab releases new AI model", ["ai"]),
    ("Artist Ai Weiwei opens a show", []),  # capitals: "AI" only matches "AI"
    ("The ai of the matter", []),
    ("Paid AIs are here", ["ai"]),
    ("Maintaining a chain", []),  # whole words: no "ai" inside "maintaining"
    ("Advances in Machine-Learning", ["ai"]),  # hyphen equals space, any case
    ("New chips from the fab", ["chips"]),  # plural
    ("Best chocolate chip cookies", []),  # exclusion
    ("Semiconductor export rules", ["chips"]),
    ("New regulation for online platforms", ["policy"]),
    ("New regulation for banks", []),  # require not met
    ("Open-source language models", ["ai", "open"]),
    ("", []),
])
def test_title_rules(title: str, expected: list[str]) -> None:
    assert topics_for(title) == expected


def test_summary_and_categories_count() -> None:
    assert topics_for("Quarterly results", summary="Driven by language models") == ["ai"]
    assert topics_for("Quarterly results", categories=("Semiconductors",)) == ["chips"]


def test_source_default_topics_always_apply_and_say_so() -> None:
    entry = make_entry(title="Nothing relevant here")
    matches = classifier.classify(entry, ["chips"])
    assert [(m.topic, m.rule) for m in matches] == [("chips", "source default")]


def test_reason_names_the_matched_terms() -> None:
    entry = make_entry(title="AI regulation for the internet")
    by_topic = {m.topic: m for m in classifier.classify(entry, [])}
    assert by_topic["ai"].terms == ("AI",)
    assert by_topic["policy"].rule == "keywords+require"
    assert by_topic["policy"].terms == ("regulation", "internet")


def test_fingerprint_changes_with_rules() -> None:
    other = Classifier([*TOPICS[:-1], Topic("open", "Open", keywords=("open-source",))])
    assert other.fingerprint != classifier.fingerprint
    assert Classifier(TOPICS).fingerprint == classifier.fingerprint
