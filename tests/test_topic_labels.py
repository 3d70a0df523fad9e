"""Operators teach the rules: feeds topics label, score, and diff with labels (issue #21)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project
from helpers import SEED_TITLE, run_cli

from feeds.config import load_config
from feeds.stories import scoring
from feeds.stories.classify import Classifier

REPO = Path(__file__).resolve().parent.parent
LINK = "https://feeds.test/articles/seeds/000-b68ede34d4090fc6.html"
SET_HEADER = "\t".join(scoring.SET_COLUMNS)


def _labels(project: Project) -> list[str]:
    return (project.root / "config" / "labels.tsv").read_text(encoding="utf-8").splitlines()


def test_label_records_a_snapshot_and_a_later_judgement_replaces_the_earlier(project: Project) -> None:
    assert not (project.root / "config" / "labels.tsv").exists()
    assert run_cli(project.root, "run")[0] == 0
    code, out, _ = run_cli(project.root, "topics", "label", LINK, "chips", "--in")
    assert code == 0 and out.startswith(f"in chips: {SEED_TITLE} (urn:uuid:")
    assert run_cli(project.root, "topics", "label", LINK, "ai", "--out")[0] == 0
    code, out, _ = run_cli(project.root, "topics", "label", LINK, "ai", "--in")
    assert code == 0 and out.endswith("config/labels.tsv: 2 judgements\n")
    lines = _labels(project)
    assert lines[0] == "\t".join(scoring.LABEL_COLUMNS)
    rows = [line.split("\t") for line in lines[1:]]
    assert [(r[1], r[2]) for r in rows] == [("chips", "in"), ("ai", "in")]
    assert {(r[4], r[5], r[7]) for r in rows} == {("seeds", "Local articles", SEED_TITLE)}
    assert all(r[0].startswith("urn:uuid:") and r[8] for r in rows)  # entry id and summary kept


def test_label_errors_are_clear(project: Project) -> None:
    code, _out, err = run_cli(project.root, "topics", "label", LINK, "ai", "--in")
    assert code == 1 and "no runs yet" in err
    assert run_cli(project.root, "run")[0] == 0
    code, _out, err = run_cli(project.root, "topics", "label", LINK, "nope", "--in")
    assert code == 2 and "unknown topic 'nope' (known: ai, internet-policy, chips)" in err
    code, _out, err = run_cli(project.root, "topics", "label", "https://x.test/none", "ai", "--out")
    assert code == 1 and "no entry with the id, link or URL https://x.test/none" in err
    code, _out, err = run_cli(project.root, "topics", "label", LINK, "ai")
    assert code == 2 and "--in or --out" in err
    assert not (project.root / "config" / "labels.tsv").exists()


def test_score_works_from_the_snapshot_after_the_entry_is_gone(project: Project) -> None:
    assert run_cli(project.root, "run")[0] == 0
    for topic, judgement in (("chips", "--in"), ("ai", "--in"), ("internet-policy", "--out")):
        assert run_cli(project.root, "topics", "label", LINK, topic, judgement)[0] == 0
    (project.root / "var" / "state.db").unlink()
    code, out, _ = run_cli(project.root, "topics", "score")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "config/labels.tsv: 3 judgements of 1 entry; rules: config/feeds.toml"
    table = {line.split()[0]: line.split()[1:] for line in lines[2:5]}
    assert table["chips"] == ["0.000", "0.000", "0.000", "1", "0", "0", "1"]
    assert table["ai"] == ["1.000", "1.000", "1.000", "1", "1", "0", "0"]
    assert table["internet-policy"] == ["0.000", "0.000", "0.000", "0", "0", "1", "0"]
    # Every disagreement with the evidence the rules weighed.
    assert "  FP urn:uuid:" in out
    assert "expected out, got in: score 3 of 1 needed: restriction (title +3)" in out
    assert "expected in, got out: rule 1 (line" in out


def test_score_without_labels_says_how_to_make_some(project: Project) -> None:
    code, _out, err = run_cli(project.root, "topics", "score")
    assert code == 2 and "config/labels.tsv: no such labels file (record some with" in err
    bad = project.root / "bad.tsv"
    bad.write_text("a\tb\n1\t2\n", encoding="utf-8")
    code, _out, err = run_cli(project.root, "topics", "score", "--labels", str(bad))
    assert code == 2 and f"{bad}: unknown columns" in err
    bad.write_text(SET_HEADER + "\nx1\ttest\ts\t\ten\tA title\t\t\tnope\n", encoding="utf-8")
    code, _out, err = run_cli(project.root, "topics", "score", "--labels", str(bad))
    assert code == 2 and f"{bad}:2: unknown topic nope (known: ai, internet-policy, chips)" in err


def test_score_reads_a_labelled_set_and_its_split(project: Project) -> None:
    rows = [
        ("e1", "test", "New AI model from the lab", "ai"),
        ("e2", "test", "TSMC opens a new fab", "chips"),
        ("e3", "test", "A chocolate chip recipe", "chips"),  # the rules say no: a false negative
        ("e4", "train", "FCC restores net neutrality online", ""),  # in the train split only
    ]
    data = project.root / "entries.tsv"
    data.write_text(SET_HEADER + "\n" + "".join(
        f"{i}\t{split}\tcorpus/x#{n}\tX\ten\t{title}\t\t\t{labels}\n"
        for n, (i, split, title, labels) in enumerate(rows)), encoding="utf-8")
    code, out, _ = run_cli(project.root, "topics", "score", "--labels", str(data), "--split", "test")
    assert code == 0
    assert out.startswith(f"{data}: 9 judgements of 3 entries")
    assert "  FN e3: A chocolate chip recipe\n     expected in, got out: excluded by chocolate chip" in out
    assert "e4" not in out
    code, out, _ = run_cli(project.root, "topics", "score", "--labels", str(data))
    assert code == 0 and "12 judgements of 4 entries" in out and "FP e4" in out


def test_score_other_rules(project: Project) -> None:
    data = project.root / "entries.tsv"
    data.write_text(SET_HEADER + "\ne1\ttest\ts\t\ten\tTSMC opens a new fab\t\t\tchips\n", encoding="utf-8")
    draft = project.root / "draft.toml"
    draft.write_text((project.root / "config" / "feeds.toml").read_text(encoding="utf-8")
                     .replace('"TSMC", ', ""), encoding="utf-8")
    code, out, _ = run_cli(project.root, "topics", "score", "--labels", str(data), "--rules", str(draft))
    assert code == 0 and f"rules: {draft}" in out and "FN e1" in out


def test_diff_shows_what_a_change_does_to_the_scored_labels(project: Project) -> None:
    assert run_cli(project.root, "run")[0] == 0
    assert run_cli(project.root, "topics", "label", LINK, "internet-policy", "--out")[0] == 0
    assert run_cli(project.root, "topics", "label", LINK, "ai", "--in")[0] == 0
    feeds = project.root / "config" / "feeds.toml"
    before = project.root / "before.toml"
    before.write_text(feeds.read_text(encoding="utf-8"), encoding="utf-8")
    feeds.write_text(feeds.read_text(encoding="utf-8").replace('"restriction", ', ""), encoding="utf-8")
    code, out, _ = run_cli(project.root, "topics", "diff", "--against", str(before))
    assert code == 0
    assert "internet-policy: 0 would enter, 1 would leave" in out
    assert "scored against config/labels.tsv (2 judgements):" in out
    assert "internet-policy      0.000 -> 0.000      0.000 -> 0.000" in out
    assert "ai                   1.000 -> 1.000      1.000 -> 1.000" in out
    assert f"  - internet-policy: {SEED_TITLE} (urn:uuid:" in out
    assert "labelled out, now right): rule 1 (line" in out
    feeds.write_text(before.read_text(encoding="utf-8"), encoding="utf-8")
    code, out, _ = run_cli(project.root, "topics", "diff", "--against", str(before))
    assert code == 0 and "  no judged entry changes" in out


def test_merge_and_render_round_trip() -> None:
    s = scoring.Sample("id\t1", "src", "A\ttitle\nsplit", "sum", ("a;b", "c"), None, "Feed")
    j1 = scoring.Judgement(s, "ai", True, "2026-01-01")
    j2 = scoring.Judgement(s, "ai", False, "2026-01-02")
    merged = scoring.merge([j1], [j2])
    assert merged == [j2]
    back = scoring.parse(scoring.render(merged), "labels.tsv", ["ai"])
    assert back == [scoring.Judgement(scoring.Sample("id 1", "src", "A title split", "sum", ("a,b", "c"),
                                                     None, "Feed"), "ai", False, "2026-01-02")]


def _shipped_scores(data: Path, split: str | None = None) -> dict[str, scoring.TopicScore]:
    config = load_config(REPO)
    judgements = scoring.parse(data.read_text(encoding="utf-8"), str(data), config.topic_ids(), split)
    return {s.topic: s for s in scoring.score(Classifier(config.topics), judgements)}


def test_shipped_rules_on_the_labelled_headlines() -> None:
    """A floor under the shipped rules on tests/data/topics/labelled.tsv (what bench/topics.py
    reports), so a rule edit that loses ground shows here."""
    scores = _shipped_scores(REPO / "tests" / "data" / "topics" / "labelled.tsv")
    floors = {"ai": (0.95, 0.85), "internet-policy": (0.9, 0.9), "chips": (0.95, 0.95),
              "security": (0.8, 0.85), "telecom": (0.9, 0.8)}
    for topic, (precision, recall) in floors.items():
        s = scores[topic]
        assert (s.precision, s.recall) >= (precision, 0), (topic, s.precision, s.recall)
        assert s.recall >= recall, (topic, s.precision, s.recall)


ENTRIES = REPO / "tests" / "data" / "topics" / "entries.tsv"


@pytest.mark.xfail(strict=True, reason="issue #21 is open: the shipped rules are not yet tuned on "
                   "whole entries; strict, so this turns red the day the targets are met")
def test_shipped_rules_on_the_test_split_of_whole_entries() -> None:
    """Issue #21's targets on whole real entries: precision >= 0.9, recall >= 0.8 per topic."""
    scores = _shipped_scores(ENTRIES, "test")
    missed = {t: (round(s.precision, 3), round(s.recall, 3)) for t, s in scores.items()
              if s.precision < 0.9 or s.recall < 0.8}
    assert missed == {}


def test_shipped_rules_on_the_train_split_of_whole_entries() -> None:
    """A floor under the shipped rules on the TRAIN split of tests/data/topics/entries.tsv, the
    rows the rules were tuned on (issue #21), so a rule edit that loses that ground shows here.
    The floors sit a row or two under what the rules score; the test split stays untuned."""
    scores = _shipped_scores(ENTRIES, "train")
    floors = {"ai": (0.65, 0.65), "internet-policy": (0.65, 0.7), "chips": (0.4, 1.0),
              "security": (0.75, 0.75), "telecom": (0.85, 0.7)}
    low = {t: (round(scores[t].precision, 3), round(scores[t].recall, 3)) for t, (p, r) in floors.items()
           if scores[t].precision < p or scores[t].recall < r}
    assert low == {}
