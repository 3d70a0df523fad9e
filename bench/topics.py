"""Score the topic rules against a hand-labelled set of headlines.

Run from the project folder:

    .venv/bin/python bench/topics.py                 # the shipped rules (config/feeds.toml)
    .venv/bin/python bench/topics.py --rules bench/topics-proposal.toml
    .venv/bin/python bench/topics.py --json          # also write bench/results/topics.json

The data is tests/data/topics/labelled.tsv (see the README next to it). Every
row is classified with no source defaults, so only the keyword rules count.
For each topic the report gives precision, recall, F1 and support, then every
false positive (with the terms that matched) and every false negative.
It is a report: the exit code is 0 whatever the scores.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.config import load_config  # noqa: E402
from feeds.stories.classify import Classifier  # noqa: E402
from feeds.types import Entry, Topic, TopicMatch  # noqa: E402

DATA = Path("tests/data/topics/labelled.tsv")
RESULTS = Path("bench/results/topics.json")
TARGETS = {"ai": 0.9, "internet-policy": 0.9}
COLUMNS = ("id", "source", "title", "summary", "categories", "labels")
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    id: str
    source: str
    title: str
    summary: str
    categories: tuple[str, ...]
    labels: frozenset[str]


@dataclass(frozen=True)
class Miss:
    id: str
    source: str
    title: str
    labels: list[str]
    terms: list[str]  # the matched terms, for a false positive


@dataclass
class Score:
    topic: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_positives: list[Miss] = field(default_factory=list)
    false_negatives: list[Miss] = field(default_factory=list)

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(";") if part.strip())


def load_rows(path: Path) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise SystemExit(f"{path}: expected columns {', '.join(COLUMNS)}")
        return [
            Row(
                id=r["id"],
                source=r["source"],
                title=r["title"],
                summary=r["summary"],
                categories=_split(r["categories"]),
                labels=frozenset(_split(r["labels"])),
            )
            for r in reader
        ]


def make_entry(row: Row) -> Entry:
    return Entry(
        source_id="bench",
        item_key=f"bench:{row.id}",
        url_key=None,
        link=None,
        title=row.title,
        summary_html=row.summary,
        content_html="",
        summary_text=row.summary,
        published=EPOCH,
        updated=EPOCH,
        authors=(),
        categories=row.categories,
        enclosures=(),
        language="en",
        content_hash=row.id,
    )


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


def score(rows: list[Row], topics: tuple[Topic, ...]) -> list[Score]:
    classifier = Classifier(topics)
    scores = {t.id: Score(t.id) for t in topics}
    for row in rows:
        matches: dict[str, TopicMatch] = {m.topic: m for m in classifier.classify(make_entry(row), ())}
        for topic_id, s in scores.items():
            predicted, actual = topic_id in matches, topic_id in row.labels
            if predicted and actual:
                s.tp += 1
            elif predicted:
                s.fp += 1
                s.false_positives.append(Miss(row.id, row.source, row.title, sorted(row.labels),
                                              list(matches[topic_id].terms)))
            elif actual:
                s.fn += 1
                s.false_negatives.append(Miss(row.id, row.source, row.title, sorted(row.labels), []))
    return list(scores.values())


def _table(scores: list[Score]) -> list[str]:
    out = [f"{'topic':<17}{'precision':>10}{'recall':>9}{'F1':>8}{'support':>9}{'TP':>6}{'FP':>6}{'FN':>6}"]
    for s in scores:
        out.append(f"{s.topic:<17}{s.precision:>10.3f}{s.recall:>9.3f}{s.f1:>8.3f}"
                   f"{s.support:>9}{s.tp:>6}{s.fp:>6}{s.fn:>6}")
    return out


def report(scores: list[Score], real: list[Score], rows: list[Row], rules: str) -> str:
    out = [f"Topic rules: {rules}", f"Labelled rows: {len(rows)} "
           f"({sum(1 for r in rows if r.source != 'written')} real, "
           f"{sum(1 for r in rows if r.source == 'written')} written, "
           f"{sum(1 for r in rows if not r.labels)} with no topic)", ""]
    out += ["All rows:", *_table(scores), "",
            "Real rows only (the labeller wrote the 'written' rows; this view is less biased):",
            *_table(real)]
    for s in scores:
        out += ["", f"== {s.topic}: {s.fp} false positives, {s.fn} false negatives"]
        for fp in s.false_positives:
            labels = ";".join(fp.labels) or "-"
            out.append(f"  FP {fp.id:<5} [{', '.join(fp.terms)}] {fp.title}  (labels: {labels})")
        for fn in s.false_negatives:
            out.append(f"  FN {fn.id:<5} {fn.title}  (labels: {';'.join(fn.labels)})")
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


def _summary(s: Score) -> dict[str, object]:
    return {"precision": round(s.precision, 4), "recall": round(s.recall, 4), "f1": round(s.f1, 4),
            "support": s.support, "tp": s.tp, "fp": s.fp, "fn": s.fn}


def to_json(scores: list[Score], real: list[Score], rows: list[Row], rules: str) -> dict[str, object]:
    return {
        "rules": rules,
        "data": DATA.as_posix(),
        "rows": len(rows),
        "topics": {
            s.topic: {**_summary(s), "false_positives": [asdict(m) for m in s.false_positives],
                      "false_negatives": [asdict(m) for m in s.false_negatives]}
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
    args = ap.parse_args(argv)
    rows = load_rows(args.data)
    topics = load_topics(args.rules)
    rules = args.rules.as_posix() if args.rules else "config/feeds.toml"
    scores = score(rows, topics)
    real = score([r for r in rows if r.source != "written"], topics)
    print(report(scores, real, rows, rules))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = to_json(scores, real, rows, rules)
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
