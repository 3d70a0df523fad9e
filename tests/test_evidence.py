"""Topic evidence: where a term stands, thresholds, weak terms, languages (issue #21)."""

from __future__ import annotations

import pytest
from helpers import make_entry

from feeds.stories.classify import Classifier
from feeds.stories.language import detect, effective_language
from feeds.types import Rule, Source, Topic

FILLER = "Nothing to see in this part of the text, which goes on for a while. " * 6  # > 300 chars


def _topics(topic: Topic, title: str, summary: str = "", **kw: object) -> list[str]:
    entry = make_entry(title=title, summary_text=summary, **kw)
    return [m.topic for m in Classifier([topic]).classify(entry, [])]


CHIPS2 = Topic("chips", "Chips", rules=(Rule(keywords=("semiconductor", "TSMC")),), threshold=2)


@pytest.mark.parametrize(("title", "summary", "expected"), [
    ("TSMC raises prices", "", ["chips"]),  # title: 3
    ("Prices rise", "TSMC raises prices for next year.", ["chips"]),  # lead: 2
    ("Prices rise", FILLER + "TSMC is mentioned once, deep down.", []),  # body once: 1
    ("Prices rise", FILLER + "TSMC here, and TSMC again.", ["chips"]),  # body twice: 2
    ("Prices rise", FILLER + "TSMC here, and a semiconductor there.", ["chips"]),  # two terms: 1 + 1
])
def test_where_a_term_stands_decides_against_the_threshold(title: str, summary: str,
                                                            expected: list[str]) -> None:
    assert _topics(CHIPS2, title, summary) == expected


def test_categories_count_as_much_as_the_lead() -> None:
    assert _topics(CHIPS2, "Prices rise", FILLER, categories=("Semiconductors",)) == ["chips"]
    assert _topics(CHIPS2, "Prices rise", FILLER, categories=("Business",)) == []


def test_default_threshold_keeps_any_match() -> None:
    old = Topic("chips", "Chips", rules=(Rule(keywords=("TSMC",)),))
    assert _topics(old, "Prices rise", FILLER + "TSMC once, deep down.") == ["chips"]


TELECOM = Topic("telecom", "Telecom", rules=(
    Rule(keywords=("5G", "operator"), weak=("Nokia", "ISP"), name="rule 1"),), threshold=2)


@pytest.mark.parametrize(("title", "expected"), [
    ("Nokia 5800 games for download", []),  # weak alone
    ("Nokia signs 5G deal", ["telecom"]),  # weak in company
    ("Nokia and an ISP", ["telecom"]),  # two weak terms keep each other company
    ("5G comes to town", ["telecom"]),
])
def test_weak_terms_need_company(title: str, expected: list[str]) -> None:
    assert _topics(TELECOM, title) == expected


def test_explain_names_each_term_its_place_weight_and_the_threshold() -> None:
    entry = make_entry(title="Nokia signs 5G deal", summary_text="The operator said so.")
    x = Classifier([TELECOM]).explain(entry, [])[0]
    assert x.member and x.score == 8 and x.threshold == 2
    assert [(e.term, e.where, e.weight) for e in x.evidence] == [
        ("5G", "title", 3), ("operator", "lead", 2), ("Nokia", "title", 3)]
    assert x.how == "score 8 of 2 needed: 5G (title +3), operator (lead +2), Nokia (title +3, weak) [rule 1]"
    alone = Classifier([TELECOM]).explain(make_entry(title="Nokia 5800 games"), [])[0]
    assert not alone.member
    assert alone.how == "score 0 of 2 needed: Nokia (title, weak, alone) [rule 1]"
    deep = Classifier([CHIPS2]).explain(make_entry(title="x", summary_text=FILLER + "TSMC."), [])[0]
    assert not deep.member and deep.how == "score 1 of 2 needed: TSMC (body +1) [rule]"


def test_evidence_adds_up_across_rules() -> None:
    two = Topic("ai", "AI", rules=(Rule(keywords=("model",), name="r1"),
                                   Rule(keywords=("GPU",), name="r2")), threshold=4)
    entry = make_entry(title="A model", summary_text="Trained on a GPU.")
    assert [m.rule for m in Classifier([two]).classify(entry, [])] == ["r1 + r2"]
    assert _topics(two, "A model") == []


def test_rules_without_terms_meet_any_threshold() -> None:
    t = Topic("mine", "Mine", rules=(Rule(sources=("s",)),), threshold=5)
    source = Source("s", "S", url="https://s.test/")
    assert [m.topic for m in Classifier([t]).classify(make_entry(title="x"), [source])] == ["mine"]


ENGLISH = Topic("telecom", "Telecom", rules=(Rule(keywords=("Nokia",), languages=("en", "und")),))


@pytest.mark.parametrize(("title", "language", "expected"), [
    ("Программы для Nokia 5800 и Nokia N97: Smart Movie", None, []),  # detected: ru
    ("Программы для Nokia 5800 и Nokia N97: Smart Movie", "en", []),  # declared en, plainly not
    ("Nokia cuts jobs", None, ["telecom"]),  # too short to tell: und
    ("Nokia cuts jobs as the market for network equipment shrinks", None, ["telecom"]),  # en
    ("Nokia streicht Stellen, weil der Markt für die Netze nicht mehr wächst", None, []),  # de
    ("Nokia streicht Stellen", "de", []),  # declared
    ("Nokia cuts jobs", "en-GB", ["telecom"]),
])
def test_a_rule_names_the_languages_it_applies_to(title: str, language: str | None,
                                                  expected: list[str]) -> None:
    assert _topics(ENGLISH, title, language=language) == expected


@pytest.mark.parametrize(("text", "language"), [
    ("The company said that it will not comment on the report", "en"),
    ("Die Regierung hat das Gesetz nicht mit der Mehrheit beschlossen", "de"),
    ("Le gouvernement a présenté une loi pour les plateformes dans le pays", "fr"),
    ("El gobierno presentó una ley para las plataformas que son más grandes", "es"),
    ("Игры для Nokia 5800", "ru"),
    ("Програми для телефонів і планшетів", "uk"),
    ("東京でスマートフォンの新製品が発表された", "ja"),
    ("中国半导体产业发展迅速", "zh"),
    ("Nokia 5800", None),
    ("", None),
])
def test_detect(text: str, language: str | None) -> None:
    assert detect(text) == language


def test_effective_language_keeps_what_the_feed_declares_unless_the_script_says_otherwise() -> None:
    assert effective_language("de-DE", "Ein Titel") == "de-de"
    assert effective_language("en", "The English title of this entry") == "en"
    assert effective_language("en", "Игры для Nokia 5800") == "ru"
    assert effective_language("ru", "Nokia 5800") == "ru"
    assert effective_language(None, "Nokia 5800") is None
