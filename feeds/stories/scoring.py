"""How well topic rules agree with people's judgements. Pure.

Judgements come in two tab-separated forms, read from text (the caller reads
the file) and told apart by their header:

- operators' labels (``config/labels.tsv``, written by ``feeds topics label``):
  one row per entry and topic, ``in`` or ``out``, with a snapshot of what the
  classifier reads, so a judgement still scores after its entry is purged;
- labelled sets (``tests/data/topics/entries.tsv``, ``labelled.tsv``): one row
  per entry with every topic it belongs in; the entry is judged out of every
  other topic scored. Rows may carry a ``split`` (train, test...).

``score`` classifies each judged snapshot and counts, per topic, true and false
positives and negatives, and lists every disagreement with its evidence.
``feeds topics score``, ``feeds topics diff`` and ``bench/topics.py`` use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from feeds.stories.classify import Classifier
from feeds.types import Entry, Source

LABEL_COLUMNS = ("entry", "topic", "label", "judged", "source", "feed_title", "lang", "title",
                 "summary", "categories")
SET_COLUMNS = ("id", "split", "source", "feed_title", "lang", "title", "summary", "categories", "labels")
HEADLINE_COLUMNS = ("id", "source", "title", "summary", "categories", "labels")  # labelled.tsv
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class LabelsError(ValueError):
    """A labels file that cannot be read; ``str()`` names the file and line."""


@dataclass(frozen=True)
class Sample:
    """What the classifier reads of an entry, as judged."""

    key: str  # entry id, or the labelled set's row id
    source: str
    title: str
    summary: str = ""
    categories: tuple[str, ...] = ()
    lang: str | None = None
    feed_title: str = ""


@dataclass(frozen=True)
class Judgement:
    sample: Sample
    topic: str
    expected: bool  # in the topic
    judged: str = ""  # when, as YYYY-MM-DD (operators' labels)
    split: str = ""


@dataclass(frozen=True)
class Disagreement:
    key: str
    title: str
    topic: str
    expected: bool
    got: bool
    evidence: str  # why the rules said what they said


@dataclass
class TopicScore:
    topic: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)

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


def _cell(text: str) -> str:
    return " ".join(text.replace("\t", " ").splitlines())


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(";") if part.strip())


def _rows(text: str, path: str) -> tuple[tuple[str, ...], list[tuple[int, list[str]]]]:
    lines = text.splitlines()
    if not lines:
        raise LabelsError(f"{path}: empty file (expected a header row)")
    header = tuple(lines[0].lstrip("\ufeff").split("\t"))
    rows: list[tuple[int, list[str]]] = []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != len(header):
            raise LabelsError(f"{path}:{n}: {len(cells)} columns, the header has {len(header)}")
        rows.append((n, cells))
    return header, rows


def parse(text: str, path: str, topics: Sequence[str], split: str | None = None) -> list[Judgement]:
    """The judgements of a labels file or labelled set; ``topics`` are the topic ids
    scored (a labelled set judges its rows out of those not in their labels)."""
    header, rows = _rows(text, path)
    known = set(topics)
    out: list[Judgement] = []
    if header == LABEL_COLUMNS:
        if split is not None:
            raise LabelsError(f"{path}: operators' labels have no split column; --split needs "
                              f"a labelled set ({', '.join(SET_COLUMNS)})")
        for n, cells in rows:
            r = dict(zip(header, cells, strict=True))
            if r["label"] not in ("in", "out"):
                raise LabelsError(f"{path}:{n}: label must be 'in' or 'out', not {r['label']!r}")
            sample = Sample(r["entry"], r["source"], r["title"], r["summary"],
                            _split_list(r["categories"]), r["lang"] or None, r["feed_title"])
            out.append(Judgement(sample, r["topic"], r["label"] == "in", r["judged"]))
        return out
    if header not in (SET_COLUMNS, HEADLINE_COLUMNS):
        raise LabelsError(f"{path}: unknown columns; expected {', '.join(LABEL_COLUMNS)} "
                          f"(labels) or {', '.join(SET_COLUMNS)} (a labelled set)")
    if split is not None and "split" not in header:
        raise LabelsError(f"{path}: no split column to choose '{split}' from")
    for n, cells in rows:
        r = dict(zip(header, cells, strict=True))
        if split is not None and r["split"] != split:
            continue
        labels = set(_split_list(r["labels"]))
        unknown = labels - known
        if unknown:
            raise LabelsError(f"{path}:{n}: unknown topic {', '.join(sorted(unknown))} "
                              f"(known: {', '.join(topics)})")
        sample = Sample(r["id"], r["source"], r["title"], r["summary"], _split_list(r["categories"]),
                        r.get("lang", "en") or None, r.get("feed_title", ""))
        out.extend(Judgement(sample, t, t in labels, split=r.get("split", "")) for t in topics)
    return out


def render(judgements: Iterable[Judgement]) -> str:
    """Operators' labels as the text of a labels file."""
    lines = ["\t".join(LABEL_COLUMNS)]
    for j in judgements:
        s = j.sample
        lines.append("\t".join(_cell(v) for v in (
            s.key, j.topic, "in" if j.expected else "out", j.judged, s.source, s.feed_title,
            s.lang or "", s.title, s.summary, ";".join(c.replace(";", ",") for c in s.categories))))
    return "\n".join(lines) + "\n"


def merge(old: Iterable[Judgement], new: Iterable[Judgement]) -> list[Judgement]:
    """``old`` with ``new`` added; a later judgement of an entry and topic replaces the earlier."""
    out = {(j.sample.key, j.topic): j for j in old}
    for j in new:
        out.pop((j.sample.key, j.topic), None)
        out[(j.sample.key, j.topic)] = j
    return list(out.values())


def sample_of(entry_id: str, entry: Entry, feed_title: str = "") -> Sample:
    return Sample(entry_id, entry.source_id, entry.title, entry.summary_text, entry.categories,
                  entry.language, feed_title)


def entry_of(sample: Sample) -> Entry:
    return Entry(source_id=sample.source, item_key=f"label:{sample.key}", url_key=None, link=None,
                 title=sample.title, summary_html="", content_html="", summary_text=sample.summary,
                 published=EPOCH, updated=EPOCH, authors=(), categories=sample.categories,
                 enclosures=(), language=sample.lang, content_hash=sample.key)


def predictions(classifier: Classifier, judgements: Sequence[Judgement],
                sources: Mapping[str, Source]) -> dict[tuple[str, str], tuple[bool, str]]:
    """For each judged (entry, topic): what the rules say, and why."""
    out: dict[tuple[str, str], tuple[bool, str]] = {}
    explained: dict[str, dict[str, tuple[bool, str]]] = {}
    for j in judgements:
        key = j.sample.key
        if key not in explained:
            carriers = [sources[j.sample.source]] if j.sample.source in sources else []
            explained[key] = {x.topic: (x.member, x.how)
                              for x in classifier.explain(entry_of(j.sample), carriers)}
        out[(key, j.topic)] = explained[key].get(j.topic, (False, "no such topic in these rules"))
    return out


def score(classifier: Classifier, judgements: Sequence[Judgement],
          sources: Mapping[str, Source] | None = None) -> list[TopicScore]:
    """Per topic (in order of first judgement), the counts and every disagreement."""
    got = predictions(classifier, judgements, sources or {})
    scores: dict[str, TopicScore] = {}
    for j in judgements:
        s = scores.setdefault(j.topic, TopicScore(j.topic))
        member, how = got[(j.sample.key, j.topic)]
        if member and j.expected:
            s.tp += 1
        elif member:
            s.fp += 1
        elif j.expected:
            s.fn += 1
        else:
            s.tn += 1
        if member != j.expected:
            s.disagreements.append(Disagreement(j.sample.key, j.sample.title, j.topic, j.expected,
                                                member, how))
    return list(scores.values())


def table(scores: Sequence[TopicScore]) -> list[str]:
    out = [f"{'topic':<17}{'precision':>10}{'recall':>9}{'F1':>8}{'support':>9}{'TP':>6}{'FP':>6}{'FN':>6}"]
    for s in scores:
        out.append(f"{s.topic:<17}{s.precision:>10.3f}{s.recall:>9.3f}{s.f1:>8.3f}"
                   f"{s.support:>9}{s.tp:>6}{s.fp:>6}{s.fn:>6}")
    return out
