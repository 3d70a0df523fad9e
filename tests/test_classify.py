"""Topic rules: whole words, phrases, capitals, inflections, rules, exclusions, sources."""

from __future__ import annotations

import pytest
from helpers import make_entry
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.stories.classify import Classifier, term_pattern
from feeds.types import Person, Rule, Source, Topic

TOPICS = [
    Topic("ai", "AI", rules=(Rule(keywords=("AI", "machine learning", "language model")),),
          exclude=("Ai Weiwei",)),
    Topic("chips", "Chips", rules=(Rule(keywords=("chip", "semiconductor", "Intel")),),
          exclude=("chocolate chip",)),
    Topic("policy", "Policy", rules=(
        Rule(keywords=("regulation", "ban", "policy"), require=("internet", "online"),
             exclude=("insurance policy",), name="rule 1"),
        Rule(keywords=("net neutrality",), name="rule 2"),
    )),
    Topic("open", "Open", rules=(Rule(keywords=("open source",)),)),
    Topic("gpt", "GPT", rules=(Rule(regex=(r"\bGPT-\d+(?:\.\d+)?\b",)),)),
    Topic("german", "German", rules=(Rule(keywords=("Glasfaser",), languages=("de",)),)),
    Topic("wire", "Wire", rules=(Rule(sources=("tag:wire",), all=("exclusive", "report")),)),
    Topic("byline", "Byline", rules=(Rule(authors=("Ada Lovelace",)),)),
    Topic("cats", "Cats", rules=(Rule(categories=("Home Gadgets",)),)),
    Topic("tech-policy", "Tech policy", include=("policy", "ai")),
]
SOURCES = [Source("s", "S", url="https://s.test/"), Source("w", "W", url="https://w.test/", tags=("wire",))]
classifier = Classifier(TOPICS, SOURCES)


def topics_for(title: str, summary: str = "", source: Source = SOURCES[0], **kw: object) -> list[str]:
    entry = make_entry(title=title, summary_text=summary, **kw)
    return [m.topic for m in classifier.classify(entry, [source])]


@pytest.mark.parametrize(("title", "expected"), [
    ("Lab releases new AI model", ["ai", "tech-policy"]),
    ("Artist Ai Weiwei opens a show", []),  # capitals: "AI" only matches "AI"
    ("AI WEIWEI OPENS A SHOW", []),  # the exclusion's capitals match an all-caps headline
    ("The ai of the matter", []),
    ("Paid AIs are here", ["ai", "tech-policy"]),
    ("Maintaining a chain", []),  # whole words only
    ("Advances in Machine-Learning", ["ai", "tech-policy"]),  # hyphen equals space, any case
    ("New chips from the fab", ["chips"]),  # plural
    ("Best chocolate chip cookies", []),  # exclusion
    ("Intel posts a loss", ["chips"]),
    ("INTEL POSTS A LOSS", ["chips"]),
    ("Threat intel for defenders", []),  # "Intel" needs its capital
    ("New regulation for online platforms", ["policy", "tech-policy"]),
    ("Online retailer bans returns", ["policy", "tech-policy"]),  # ban -> bans
    ("Country banned online gambling", ["policy", "tech-policy"]),  # ban -> banned
    ("Internet policies under review", ["policy", "tech-policy"]),  # policy -> policies
    ("New regulation for banks", []),  # require not met
    ("Online insurance policy prices rise", []),  # the rule's own exclusion
    ("FCC restores net neutrality", ["policy", "tech-policy"]),  # the second rule
    ("Open-source language models", ["ai", "open", "tech-policy"]),
    ("OpenAI ships GPT-5.1", ["gpt"]),
    ("", []),
])
def test_rules(title: str, expected: list[str]) -> None:
    assert topics_for(title) == expected


def test_language_source_author_and_category_conditions() -> None:
    assert topics_for("Neue Glasfaser", language="de-DE") == ["german"]
    assert topics_for("Neue Glasfaser", language="en") == []
    assert topics_for("Exclusive report on chips", source=SOURCES[1]) == ["chips", "wire"]
    assert topics_for("Exclusive report on chips") == ["chips"]
    assert topics_for("Exclusive news", source=SOURCES[1]) == []  # all: both words needed
    assert topics_for("Anything", authors=(Person("Ada Lovelace"),)) == ["byline"]
    assert topics_for("Anything", categories=("home gadgets",)) == ["cats"]


def test_source_default_topics_always_apply_and_say_so() -> None:
    entry = make_entry(title="Nothing relevant here")
    source = Source("d", "D", url="https://d.test/", topics=("chips",))
    matches = classifier.classify(entry, [source])
    assert [(m.topic, m.rule, m.terms) for m in matches] == [("chips", "source default", ("d",))]


def test_eligible_topics_apply_only_to_their_sources() -> None:
    eligible = Source("e", "E", url="https://e.test/", eligible=("chips",))
    c = Classifier(TOPICS, [*SOURCES, eligible])
    entry = make_entry(title="New chips")
    assert [m.topic for m in c.classify(entry, [eligible])] == ["chips"]
    assert [m.topic for m in c.classify(entry, [SOURCES[0]])] == []


def test_reason_names_the_rule_and_words() -> None:
    entry = make_entry(title="Online regulation of AI")
    by_topic = {m.topic: m for m in classifier.classify(entry, SOURCES[:1])}
    assert by_topic["ai"].terms == ("AI",)
    assert by_topic["policy"].rule == "rule 1" and by_topic["policy"].terms == ("regulation", "online")
    assert by_topic["tech-policy"].rule == "included topic"


def test_explain_gives_the_nearest_miss() -> None:
    entry = make_entry(title="New regulation for banks")
    found = {e.topic: e for e in classifier.explain(entry, SOURCES[:1])}
    assert not found["policy"].member
    assert "rule 1: one of its required words (internet, online)" in found["policy"].how
    entry = make_entry(title="Best chocolate chip cookies")
    found = {e.topic: e for e in classifier.explain(entry, SOURCES[:1])}
    assert found["chips"].how.endswith("excluded by chocolate chip")


def test_fingerprint_changes_with_rules_and_sources() -> None:
    other = Classifier([*TOPICS[:-1], Topic("open", "Open", rules=(Rule(keywords=("open-source",)),))],
                       SOURCES)
    assert other.fingerprint != classifier.fingerprint
    assert Classifier(TOPICS, SOURCES).fingerprint == classifier.fingerprint
    assert Classifier(TOPICS, SOURCES[:1]).fingerprint != classifier.fingerprint


def test_term_pattern_rejects_empty_terms() -> None:
    with pytest.raises(ValueError):
        term_pattern("  ")


TERMS = ["AI", "chip", "Intel", "net neutrality", "policy", "OpenAI", "LLMs", "ban", "x-ray", "TSMC",
         "Kiosk", "sky", "make", "e-book", "5G", "C++", "Künstliche Intelligenz", "ſtate"]


_LOOKALIKES = {"i": ["i", "I", "\u0130", "\u0131"], "s": ["s", "S", "\u017f"], "k": ["k", "K", "\u212a"]}


@st.composite
def _near_misses(draw: st.DrawFn) -> str:
    """Text around a term (or one of its inflections) whose letters are switched to
    any case, or to a letter that matches them case-insensitively."""
    term = draw(st.sampled_from(TERMS)) + draw(st.sampled_from(["", "s", "es", "ing", "ed"]))
    letters = [draw(st.sampled_from(_LOOKALIKES.get(c.lower(), [c.lower(), c.upper()]))) for c in term]
    around = st.text(alphabet=st.sampled_from(list(" -.\n\u2019aiSk")), max_size=4)
    return draw(around) + "".join(letters) + draw(around)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TERMS), min_size=1, max_size=5, unique=True),
       st.one_of(_near_misses(), st.text(alphabet=st.sampled_from(list(
           "aiAI chipsIntel-net neutralitypolicyOpenbanxray.TSMCKkmGgy5+"
           "\u0130\u0131\u017f\u212a\u2019\u00fc\n")), max_size=60)))
def test_needles_never_hide_a_match(terms: list[str], text: str) -> None:
    """The ``in`` check before each search is a necessary condition, so the hits are
    exactly what searching every pattern finds, even with the four letters (İ ı ſ K)
    that match an ASCII letter case-insensitively."""
    from feeds.stories.classify import _fold, _hits, _terms, regex_pattern

    compiled = (*_terms(terms), ("r", regex_pattern(r"\bpolic(y|ies)\b"), None))
    assert _hits(compiled, text, _fold(text)) == tuple(n for n, p, _ in compiled if p.search(text))


def test_needles_rule_terms_out_by_a_plain_substring() -> None:
    from feeds.stories.classify import _needle

    assert _needle("policy") == "polic"
    assert _needle("net neutrality") == "neutralit"
    assert _needle("AI") == "ai"
    assert _needle("Künstliche Intelligenz") == "intelligenz"
    assert _needle("Künstliche") is None


CARRIERS = [
    Source("plain", "Plain", url="https://p.test/"),
    Source("tagged", "Tagged", url="https://t.test/", tags=("misc",)),
    Source("w2", "W2", url="https://w2.test/", tags=("wire",)),  # a tag a rule names
    Source("named", "Named", url="https://n.test/"),  # an id a rule names
    Source("default", "Default", url="https://d.test/", topics=("chips",)),
    Source("eligible", "Eligible", url="https://e.test/", eligible=("open",)),
]
CARRIER_TOPICS = [*TOPICS, Topic("desk", "Desk", rules=(Rule(sources=("named",), keywords=("chip",)),)),
                  Topic("eligible-only", "E", rules=(Rule(keywords=("open source",)),))]
carrier_classifier = Classifier(CARRIER_TOPICS, [*SOURCES, *CARRIERS])


def test_which_sources_can_change_the_topics_of_what_they_carry() -> None:
    assert [s.id for s in CARRIERS if carrier_classifier.carrying_matters(s)] == [
        "w2", "named", "default", "eligible"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["Exclusive report on chips", "Open source chip design", "AI chips",
                        "Nothing relevant here", "New regulation for online platforms"]),
       st.lists(st.sampled_from(CARRIERS), max_size=3), st.sampled_from(CARRIERS))
def test_a_source_whose_carrying_does_not_matter_never_changes_topics(
        title: str, others: list[Source], extra: Source) -> None:
    """What lets storing skip classifying an entry again when such a source carries it
    too: with or without it among the carriers, the topics are the same."""
    entry = make_entry(title=title, summary_text="exclusive report")
    carriers = [SOURCES[0], *others]
    before = carrier_classifier.classify(entry, carriers)
    after = carrier_classifier.classify(entry, [*carriers, extra])
    if not carrier_classifier.carrying_matters(extra):
        assert after == before
