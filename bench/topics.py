"""Score the topic rules against a hand-labelled set of headlines.

Run from the project folder:

    .venv/bin/python bench/topics.py                 # the shipped rules (config/feeds.toml)
    .venv/bin/python bench/topics.py --rules bench/topics-proposal.toml
    .venv/bin/python bench/topics.py --json          # also write bench/results/topics.json

The data is tests/data/topics/labelled.tsv (see the README next to it), or
another labelled set (``--data tests/data/topics/entries.tsv --split test``).
Every row is classified with no source defaults, so only the keyword rules
count. Scoring is feeds.stories.scoring's, the same as `feeds topics score`.
For each topic the report gives precision, recall, F1 and support, then every
false positive (with the terms that matched) and every false negative.
It is a report: the exit code is 0 whatever the scores.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.config import load_config  # noqa: E402
from feeds.stories import scoring  # noqa: E402
from feeds.stories.classify import Classifier  # noqa: E402
from feeds.types import Topic  # noqa: E402

DATA = Path("tests/data/topics/labelled.tsv")
RESULTS = Path("bench/results/topics.json")
TARGETS = {"ai": 0.9, "internet-policy": 0.9}
TOPICS = ("ai", "internet-policy", "chips", "security", "telecom")


@dataclass(frozen=True)
class Miss:
    id: str
    source: str
    title: str
    labels: list[str]
    evidence: str  # what the rules weighed


def load_topics(rules: Path | None) -> tuple[Topic, ...]:
    """The shipped topics, or those of ``rules``, checked by the project's own config loader.

    ``rules`` may be a whole feeds.toml or a file holding only ``[topics.<id>]`` tables;
    in the latter case the shipped [site]/[fetch] settings are put in front of it.
    """
    if rules is None:
        return load_config(Path(".")).topics
    text = rules.read_text(encoding="utf-8")
    if "site" not in tomllib.loads(text):
        shipped = Path("config/feeds.toml").read_text(encoding="utf-8")
        head = shipped.split("\n[topics.", 1)[0]
        text = head.rstrip() + "\n\n" + text
    with tempfile.TemporaryDirectory(prefix="feeds-topics-") as tmp:
        root = Path(tmp)
        (root / "config").mkdir()
        (root / "config" / "feeds.toml").write_text(text, encoding="utf-8")
        shutil.copy("config/sources.toml", root / "config" / "sources.toml")
        # Local-folder sources must exist for the loader: link them into the temporary root.
        sources = tomllib.loads(Path("config/sources.toml").read_text(encoding="utf-8"))
        for source in sources.get("sources", []):
            rel = source.get("path")
            if isinstance(rel, str) and not Path(rel).is_absolute():
                first = Path(rel).parts[0]
                if not (root / first).exists() and Path(first).exists():
                    (root / first).symlink_to(Path(first).resolve())
        return load_config(root).topics


def score(judgements: list[scoring.Judgement], topics: tuple[Topic, ...]) -> list[scoring.TopicScore]:
    """The same scoring as `feeds topics score` (feeds.stories.scoring), with no sources."""
    return scoring.score(Classifier(topics), judgements)


def _labels(judgements: list[scoring.Judgement]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for j in judgements:
        out.setdefault(j.sample.key, [])
        if j.expected:
            out[j.sample.key].append(j.topic)
    return {k: sorted(v) for k, v in out.items()}


def _misses(s: scoring.TopicScore, judgements: list[scoring.Judgement], got_in: bool) -> list[Miss]:
    labels = _labels(judgements)
    sources = {j.sample.key: j.sample.source for j in judgements}
    return [Miss(d.key, sources[d.key], d.title, labels[d.key], d.evidence)
            for d in s.disagreements if d.got == got_in]


def report(scores: list[scoring.TopicScore], real: list[scoring.TopicScore],
           judgements: list[scoring.Judgement], rules: str) -> str:
    labels = _labels(judgements)
    written = {j.sample.key for j in judgements if j.sample.source == "written"}
    out = [f"Topic rules: {rules}", f"Labelled rows: {len(labels)} "
           f"({len(labels) - len(written)} real, {len(written)} written, "
           f"{sum(1 for v in labels.values() if not v)} with no topic)", ""]
    out += ["All rows:", *scoring.table(scores), "",
            "Real rows only (the labeller wrote the 'written' rows; this view is less biased):",
            *scoring.table(real)]
    for s in scores:
        out += ["", f"== {s.topic}: {s.fp} false positives, {s.fn} false negatives"]
        for fp in _misses(s, judgements, True):
            out.append(f"  FP {fp.id:<5} {fp.title}  (labels: {';'.join(fp.labels) or '-'})")
            out.append(f"        {fp.evidence}")
        for fn in _misses(s, judgements, False):
            out.append(f"  FN {fn.id:<5} {fn.title}  (labels: {';'.join(fn.labels)})")
            out.append(f"        {fn.evidence}")
    out.append("")
    by_id = {s.topic: s for s in scores}
    for topic, target in TARGETS.items():
        found = by_id.get(topic)
        if found is None:
            out.append(f"target {topic}: F1 >= {target}: topic not defined")
        else:
            verdict = "met" if found.f1 >= target else "NOT met"
            out.append(f"target {topic}: F1 >= {target}: {verdict} (F1 {found.f1:.3f})")
    return "\n".join(out)


def _summary(s: scoring.TopicScore) -> dict[str, object]:
    return {"precision": round(s.precision, 4), "recall": round(s.recall, 4), "f1": round(s.f1, 4),
            "support": s.support, "tp": s.tp, "fp": s.fp, "fn": s.fn}


def to_json(scores: list[scoring.TopicScore], real: list[scoring.TopicScore],
            judgements: list[scoring.Judgement], rules: str, data: Path) -> dict[str, object]:
    return {
        "rules": rules,
        "data": data.as_posix(),
        "rows": len(_labels(judgements)),
        "topics": {
            s.topic: {**_summary(s),
                      "false_positives": [asdict(m) for m in _misses(s, judgements, True)],
                      "false_negatives": [asdict(m) for m in _misses(s, judgements, False)]}
            for s in scores
        },
        "real_rows_only": {s.topic: _summary(s) for s in real},
        "targets": {
            topic: {"f1_min": target,
                    "met": any(s.topic == topic and s.f1 >= target for s in scores)}
            for topic, target in TARGETS.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--rules", type=Path, help="a feeds.toml, or a file of [topics.<id>] tables, "
                                               "to score instead of config/feeds.toml")
    ap.add_argument("--data", type=Path, default=DATA, help=f"labelled TSV (default {DATA})")
    ap.add_argument("--json", nargs="?", const=RESULTS, type=Path, metavar="PATH",
                    help=f"also write the results as JSON (default {RESULTS})")
    ap.add_argument("--split", help="only the rows of this split (a labelled set with a split column)")
    args = ap.parse_args(argv)
    topics = load_topics(args.rules)
    try:
        judgements = scoring.parse(args.data.read_text(encoding="utf-8"), args.data.as_posix(),
                                   [t.id for t in topics if t.id in TOPICS] or [t.id for t in topics],
                                   args.split)
    except scoring.LabelsError as exc:
        raise SystemExit(str(exc)) from None
    rules = args.rules.as_posix() if args.rules else "config/feeds.toml"
    scores = score(judgements, topics)
    real = score([j for j in judgements if j.sample.source != "written"], topics)
    print(report(scores, real, judgements, rules))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = to_json(scores, real, judgements, rules, args.data)
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
