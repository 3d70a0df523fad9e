"""Near-duplicate benchmark: precision and recall of story merges, and the cost of
adding an entry as the store grows.

    .venv/bin/python bench/dedupe/run.py            # labelled corpus, threshold sweep, 10k and 100k
    .venv/bin/python bench/dedupe/run.py --quick    # the same with 10k stored entries only
    make bench-dedupe                               # the full run (BENCH_DEDUPE_ARGS=--quick)

See bench/dedupe/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus

from feeds import pipeline
from feeds.dedupe import Insert
from feeds.pipeline import _cluster
from feeds.similar import Thresholds
from feeds.state import Store
from feeds.types import Config, DedupeSettings, Entry, Settings

PRECISION_TARGET = 0.99
RECALL_TARGET = 0.95
NOW = corpus.START + timedelta(days=45)


def _no_topics(entry: Entry, others: Iterable[str]) -> tuple[()]:
    return ()


def make_config(root: Path, title: float | None = None, text: float | None = None) -> Config:
    d = DedupeSettings()
    dedupe = replace(
        d,
        title_threshold=d.title_threshold if title is None else title,
        text_threshold=d.text_threshold if text is None else text,
    )
    return Config(
        root=root,
        settings=Settings(title="bench", base_url="https://x.test/", dedupe=dedupe),
        sources=(),
        topics=(),
    )


@contextlib.contextmanager
def title_floor(value: float | None) -> Iterator[None]:
    """``_cluster`` builds its Thresholds from config, which has no floor: patch it in."""
    if value is None:
        yield
        return
    original = pipeline.Thresholds
    pipeline.Thresholds = functools.partial(Thresholds, title_floor=value)  # type: ignore[misc]
    try:
        yield
    finally:
        pipeline.Thresholds = original  # type: ignore[misc]


def add(store: Store, config: Config, entry_id: str, entry: Entry) -> None:
    """What the pipeline does for one new entry: apply its Insert, then cluster it."""
    with store.transaction():
        store.apply(entry.source_id, [Insert(entry_id, entry)], NOW, _no_topics)
        for new_id, new in store.inserted:
            _cluster(store, config, new_id, new)


# --- precision and recall ------------------------------------------------------------------------


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


@dataclass
class Score:
    precision: float
    recall: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    false_merges: list[tuple[corpus.Item, corpus.Item]]
    missed: list[tuple[corpus.Item, corpus.Item]]
    seconds: float

    @property
    def met(self) -> bool:
        return self.precision >= PRECISION_TARGET and self.recall >= RECALL_TARGET


def measure(items: list[corpus.Item], config: Config) -> Score:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "state.db") as store:
        t0 = time.perf_counter()
        for item in items:
            add(store, config, item.entry_id, item.entry)
        seconds = time.perf_counter() - t0
        cluster_of = dict(store.db.execute("SELECT id, cluster_id FROM entries").fetchall())
    by_id = {i.entry_id: i for i in items}
    predicted: dict[str, list[corpus.Item]] = defaultdict(list)
    labelled: dict[str, list[corpus.Item]] = defaultdict(list)
    for i in items:
        predicted[cluster_of[i.entry_id]].append(i)
        labelled[i.label].append(i)
    assert len(by_id) == len(items) == len(cluster_of)
    true_pairs = sum(_pairs(len(m)) for m in labelled.values())
    predicted_pairs = sum(_pairs(len(m)) for m in predicted.values())
    correct = 0
    false_merges: list[tuple[corpus.Item, corpus.Item]] = []
    for members in predicted.values():
        counts = Counter(m.label for m in members)
        correct += sum(_pairs(n) for n in counts.values())
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                if members[x].label != members[y].label:
                    false_merges.append((members[x], members[y]))
    missed: list[tuple[corpus.Item, corpus.Item]] = []
    for members in labelled.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                if cluster_of[members[x].entry_id] != cluster_of[members[y].entry_id]:
                    missed.append((members[x], members[y]))
    precision = correct / predicted_pairs if predicted_pairs else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    return Score(precision, recall, true_pairs, predicted_pairs, correct, false_merges, missed, seconds)


def report_quality(items: list[corpus.Item], score: Score, show: int) -> None:
    kinds = Counter(i.kind for i in items)
    labels = Counter(i.label for i in items)
    print(
        f"labelled corpus: {len(items)} entries, {len(labels)} stories "
        f"({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})"
    )
    print(f"clustered in {score.seconds:.1f} s ({score.seconds / len(items) * 1000:.2f} ms per entry)")
    print()
    print("| measure | value | target | met |")
    print("| --- | --- | --- | --- |")
    print(
        f"| precision | {score.precision:.4f} ({score.correct_pairs}/{score.predicted_pairs} merged pairs)"
        f" | >= {PRECISION_TARGET} | {'yes' if score.precision >= PRECISION_TARGET else 'NO'} |"
    )
    print(
        f"| recall | {score.recall:.4f} ({score.correct_pairs}/{score.true_pairs} true pairs)"
        f" | >= {RECALL_TARGET} | {'yes' if score.recall >= RECALL_TARGET else 'NO'} |"
    )
    print()
    # Where the errors fall: false merges by the kinds of the two entries, misses by kind.
    wrong = Counter("+".join(sorted((a.kind, b.kind))) for a, b in score.false_merges)
    miss = Counter(a.kind for a, _b in score.missed)
    true_by_kind = Counter()
    for label, n in labels.items():
        kind = next(i.kind for i in items if i.label == label) if n > 1 else None
        if kind:
            true_by_kind[kind] += _pairs(n)
    print("| kind | entries | true pairs | missed pairs | false merges involving it |")
    print("| --- | --- | --- | --- | --- |")
    for kind in sorted(kinds):
        involving = sum(n for k, n in wrong.items() if kind in k.split("+"))
        print(f"| {kind} | {kinds[kind]} | {true_by_kind[kind]} | {miss[kind]} | {involving} |")
    print()
    print(f"false merges ({len(score.false_merges)}):")
    for a, b in score.false_merges[:show]:
        print(f"  [{a.kind}] {a.entry.title!r}\n     ~ [{b.kind}] {b.entry.title!r}")
    print(f"missed merges ({len(score.missed)}):")
    for a, b in score.missed[:show]:
        print(
            f"  [{a.kind}] {a.entry.title!r} | {a.entry.summary_text[:70]!r}\n"
            f"     / {b.entry.title!r} | {b.entry.summary_text[:70]!r}"
        )
    print()


SWEEP = (  # (title, text, title_floor); None keeps the default
    (None, None, None),
    (0.5, None, None),
    (0.7, None, None),
    (None, 0.4, None),
    (None, 0.6, None),
    (None, None, 0.2),
    (None, None, 0.4),
    (0.5, 0.4, 0.2),
    (0.7, 0.6, 0.4),
)


def sweep(items: list[corpus.Item], root: Path) -> None:
    d, t = DedupeSettings(), Thresholds()
    print(
        "threshold sweep (title = word overlap of titles, text = shingle overlap, floor = title overlap"
        " below which text cannot merge):"
    )
    print()
    print("| title | text | floor | precision | recall | false merges | missed pairs | targets met |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for title, text, floor in SWEEP:
        with title_floor(floor):
            s = measure(items, make_config(root, title, text))
        mark = " (default)" if (title, text, floor) == (None, None, None) else ""
        print(
            f"| {title or d.title_threshold}{mark} | {text or d.text_threshold} | {floor or t.title_floor} |"
            f" {s.precision:.4f} | {s.recall:.4f} | {len(s.false_merges)} | {len(s.missed)} |"
            f" {'yes' if s.met else 'no'} |"
        )
    print()


# --- cost of adding an entry ---------------------------------------------------------------------


def fill(store: Store, entries: Iterable[tuple[str, Entry]], batch: int = 1000) -> int:
    """Insert without clustering, 1,000 entries a transaction, through Store.apply."""
    n = 0
    it = iter(entries)
    while True:
        chunk = [x for _, x in zip(range(batch), it, strict=False)]
        if not chunk:
            return n
        with store.transaction():
            for eid, entry in chunk:
                store.apply(entry.source_id, [Insert(eid, entry)], NOW, _no_topics)
        n += len(chunk)


def additions(
    seed: int, count: int, stored_sample: list[Entry], start: corpus.datetime, days: float
) -> list[tuple[str, Entry]]:
    """New entries: three in four are new stories, one in four a copy of a stored story
    from another source (title restyled), so that some additions have real candidates."""
    rng = random.Random(seed)
    fresh = list(corpus.scale_entries(count, seed, start, days, prefix=f"add{seed}-"))
    out: list[tuple[str, Entry]] = []
    for n, (eid, entry) in enumerate(fresh):
        if n % 4 == 3 and stored_sample:
            orig = rng.choice(stored_sample)
            source = rng.choice([s for s in corpus.SOURCES if s != orig.source_id])
            title = corpus.title_case(orig.title, ap_style=True)
            eid, entry = corpus._entry(
                source,
                f"copy{seed}-{n}",
                title,
                orig.summary_text,
                orig.published + timedelta(hours=rng.uniform(1, 20)),
            )
        out.append((eid, entry))
    return out


@dataclass
class Timing:
    stored: int
    ms_mean: float
    ms_median: float
    ms_p95: float
    candidates: float
    merged: int


def time_additions(store: Store, config: Config, adds: list[tuple[str, Entry]]) -> Timing:
    seen: list[int] = []
    original = store.cluster_candidates

    def counting(*args: object, **kw: object) -> list[object]:
        out = original(*args, **kw)  # type: ignore[arg-type]
        seen.append(len(out))
        return out  # type: ignore[return-value]

    stored = store.count_entries()
    times: list[float] = []
    store.cluster_candidates = counting  # type: ignore[method-assign,assignment]
    try:
        for eid, entry in adds:
            t0 = time.perf_counter()
            add(store, config, eid, entry)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        del store.cluster_candidates
    ids = [eid for eid, _ in adds]
    merged = sum(
        1
        for eid in ids
        if store.db.execute("SELECT cluster_id != id FROM entries WHERE id = ?", (eid,)).fetchone()[0]
    )
    times.sort()
    return Timing(
        stored,
        statistics.fmean(times),
        statistics.median(times),
        times[int(len(times) * 0.95)],
        statistics.fmean(seen),
        merged,
    )


def scaling(sizes: list[int], root: Path, adds_per_size: int, days: float) -> None:
    config = make_config(root)
    results: list[Timing] = []
    sample: list[Entry] = []
    rng = random.Random(99)

    def keep_sample(entries: Iterator[tuple[str, Entry]]) -> Iterator[tuple[str, Entry]]:
        for n, pair in enumerate(entries):
            if len(sample) < 2000:
                sample.append(pair[1])
            elif rng.random() < 2000 / (n + 1):
                sample[rng.randrange(2000)] = pair[1]
            yield pair

    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "scale.db") as store:
        stored = 0
        for size in sizes:
            t0 = time.perf_counter()
            need = size - store.count_entries()
            stored += fill(
                store,
                keep_sample(
                    corpus.scale_entries(need, seed=size, start=corpus.START, days=days, prefix=f"s{size}-")
                ),
            )
            fill_s = time.perf_counter() - t0
            adds = additions(size + 1, adds_per_size, sample, corpus.START, days)
            timing = time_additions(store, config, adds)
            results.append(timing)
            print(
                f"filled to {timing.stored:,} entries in {fill_s:.1f} s"
                f" ({need / max(fill_s, 1e-9):,.0f} entries/s); added {len(adds)}:"
                f" {timing.ms_mean:.2f} ms per entry"
            )
    print()
    print(
        f"time per added entry ({adds_per_size} additions, each: Insert + _cluster in its own transaction;"
        f" stored entries spread over {days:g} days, window ±{DedupeSettings().window.days} days):"
    )
    print()
    print("| stored entries | mean ms/entry | median | p95 | candidates/entry | merged |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r.stored:,} | {r.ms_mean:.2f} | {r.ms_median:.2f} | {r.ms_p95:.2f} |"
            f" {r.candidates:.1f} | {r.merged}/{adds_per_size} |"
        )
    if len(results) >= 2:
        a, b = results[0], results[-1]
        growth = b.stored / a.stored
        ratio = b.ms_mean / a.ms_mean
        verdict = "sub-linear" if ratio < growth / 2 else "NOT sub-linear"
        print()
        print(
            f"{b.stored / a.stored:.1f}x the entries stored -> {ratio:.2f}x the time per added entry"
            f" ({verdict})"
        )
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="scaling at 10,000 stored entries only")
    parser.add_argument("--seed", type=int, default=7, help="seed of the labelled corpus (default 7)")
    parser.add_argument("--stories", type=int, default=600, help="generated stories (default 600)")
    parser.add_argument("--show", type=int, default=20, help="false and missed merges listed (default 20)")
    parser.add_argument("--no-sweep", action="store_true", help="skip the threshold sweep")
    parser.add_argument("--no-scaling", action="store_true", help="skip the timing at 10k/100k")
    parser.add_argument("--adds", type=int, default=500, help="entries added at each size (default 500)")
    args = parser.parse_args(argv)

    items = corpus.labelled(args.seed, args.stories)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        score = measure(items, make_config(root))
        report_quality(items, score, args.show)
        if not args.no_sweep:
            sweep(items, root)
        if not args.no_scaling:
            scaling([10_000] if args.quick else [10_000, 100_000], root, args.adds, days=90)
    print(
        f"targets (precision >= {PRECISION_TARGET}, recall >= {RECALL_TARGET}):"
        f" {'met' if score.met else 'NOT met'}"
    )
    return 0 if score.met else 1


if __name__ == "__main__":
    sys.exit(main())
