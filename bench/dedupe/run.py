"""Near-duplicate benchmark: precision and recall of story merges, and the cost of
adding an entry as the store grows.

    .venv/bin/python bench/dedupe/run.py            # labelled corpus, threshold sweep, 10k and 100k
    .venv/bin/python bench/dedupe/run.py --quick    # the same with 10k stored entries only
    make bench-dedupe                               # the full run (BENCH_DEDUPE_ARGS=--quick)

See bench/dedupe/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus

from feeds.run.storing import cluster, finished_rows
from feeds.store.rows import new_entry
from feeds.store.state import Store, _ts
from feeds.stories.dedupe import Insert
from feeds.stories.similar import Thresholds
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


def judge_thresholds(config: Config, floor: float | None, lead: float | None) -> Thresholds:
    """The judge's thresholds: title and text from ``config``, as a run has them, and
    the title floor and opening-sentence threshold, which config does not set."""
    d = config.settings.dedupe
    t = Thresholds(title=d.title_threshold, text=d.text_threshold)
    return replace(t, title_floor=t.title_floor if floor is None else floor,
                   lead=t.lead if lead is None else lead)


def add(store: Store, config: Config, entry_id: str, entry: Entry, now: datetime = NOW,
        thresholds: Thresholds | None = None) -> None:
    """What the pipeline does for one new entry: store its Insert, then cluster it."""
    with store.transaction():
        rows = finished_rows(store, entry.source_id, [Insert(entry_id, entry)], _no_topics,
                             preclassified=False)
        for new_id, new in store.apply(entry.source_id, rows, now).inserted:
            cluster(store, config, new_id, new, thresholds)


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
    # True pairs with a reworded copy in them, and the others: (merged, true).
    reworded_pairs: tuple[int, int]
    other_pairs: tuple[int, int]

    @property
    def met(self) -> bool:
        return self.precision >= PRECISION_TARGET and self.recall >= RECALL_TARGET


def measure(items: list[corpus.Item], config: Config, thresholds: Thresholds | None = None) -> Score:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "state.db") as store:
        t0 = time.perf_counter()
        for item in items:
            add(store, config, item.entry_id, item.entry, thresholds=thresholds)
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
    pairs = {True: [0, 0], False: [0, 0]}  # reworded or not: [merged, true]
    for members in labelled.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                group = pairs[members[x].reworded or members[y].reworded]
                group[1] += 1
                if cluster_of[members[x].entry_id] != cluster_of[members[y].entry_id]:
                    missed.append((members[x], members[y]))
                else:
                    group[0] += 1
    precision = correct / predicted_pairs if predicted_pairs else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    return Score(
        precision,
        recall,
        true_pairs,
        predicted_pairs,
        correct,
        false_merges,
        missed,
        seconds,
        (pairs[True][0], pairs[True][1]),
        (pairs[False][0], pairs[False][1]),
    )


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
    for name, (merged, true) in (
        ("recall, pairs with a reworded headline", score.reworded_pairs),
        ("recall, the other pairs", score.other_pairs),
    ):
        print(f"| {name} | {merged / true if true else 1.0:.4f} ({merged}/{true}) | | |")
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


SWEEP = (  # (title, text, title floor, opening sentence); None keeps the default
    (None, None, None, None),
    (0.4, None, None, None),
    (0.5, None, None, None),
    (0.7, None, None, None),
    (0.8, None, None, None),
    (0.9, None, None, None),
    (None, 0.3, None, None),
    (None, 0.4, None, None),
    (None, 0.6, None, None),
    (None, 0.8, None, None),
    (None, None, 0.2, None),
    (None, None, 0.4, None),
    (None, None, None, 0.5),
    (None, None, None, 0.7),
    (None, None, None, 0.9),
    (None, None, None, 1.01),  # no merge on the opening sentence
    (0.5, 0.4, 0.2, 0.7),
    (0.7, 0.6, 0.4, 0.9),
)


def sweep(items: list[corpus.Item], root: Path) -> None:
    d, t = DedupeSettings(), Thresholds()

    def shown(value: float | None, default: float) -> str:
        if value is None:
            return f"{default:g}"
        return "off" if value > 1 else f"{value:g}"

    print(
        "threshold sweep (title = word overlap of titles, text = shingle overlap, floor = title overlap"
        " below which text cannot merge, opening = overlap of the summaries' first sentences for a"
        " reworded title; recall split as above):"
    )
    print()
    print(
        "| title | text | floor | opening | precision | recall | reworded | others | false merges"
        " | missed pairs | targets met |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for title, text, floor, lead in SWEEP:
        config = make_config(root, title, text)
        s = measure(items, config, judge_thresholds(config, floor, lead))
        mark = " (default)" if (title, text, floor, lead) == (None, None, None, None) else ""
        rw, other = s.reworded_pairs, s.other_pairs
        print(
            f"| {shown(title, d.title_threshold)}{mark} | {shown(text, d.text_threshold)} |"
            f" {shown(floor, t.title_floor)} | {shown(lead, t.lead)} | {s.precision:.4f} | {s.recall:.4f} |"
            f" {rw[0] / rw[1] if rw[1] else 1:.4f} | {other[0] / other[1] if other[1] else 1:.4f} |"
            f" {len(s.false_merges)} | {len(s.missed)} | {'yes' if s.met else 'no'} |"
        )
    print()


# --- cost of adding an entry ---------------------------------------------------------------------

RETENTION = timedelta(days=Settings(title="x", base_url="https://x.test/").retention_days)


@dataclass(frozen=True)
class Scenario:
    name: str
    per_day: float  # entries taken in a day
    sources: int
    until: timedelta  # how long the deployment has run when the additions are timed


@dataclass
class Timing:
    scenario: Scenario
    stored: int
    held_days: float  # published span of the stored entries
    in_window: int  # stored entries published within the window of the additions
    purged: int
    ms_mean: float
    ms_median: float
    ms_p95: float
    cpu_mean: float  # this process's CPU time: less moved by other work on the machine
    candidates: float
    merged: int


def grow(store: Store, stream: Iterator[corpus.Arrival], until: corpus.datetime, batch: int = 1000) -> int:
    """Take arrivals up to ``until`` as a deployment does, without timing them: through
    Store.apply, ``batch`` entries a transaction; a syndicated copy joins its story's
    cluster directly (what ``cluster`` would have found, without paying for it here, so
    the store holds clusters); entries first seen before the retention horizon are purged
    once a day, as every run does. Returns how many were purged."""
    purged = 0
    last_purge: corpus.datetime | None = None
    while True:
        chunk: list[corpus.Arrival] = []
        for arrival in stream:
            chunk.append(arrival)
            if len(chunk) == batch or arrival.arrived >= until:
                break
        with store.transaction():
            for a in chunk:
                store.apply(a.entry.source_id, [new_entry(a.entry_id, a.entry)], a.arrived)
                if a.copy_of is not None:
                    row = store.db.execute(
                        "SELECT cluster_id FROM entries WHERE id = ?", (a.copy_of,)
                    ).fetchone()
                    if row is not None:
                        store.join_clusters(a.entry_id, [row[0]], "bench: syndicated copy")
        now = chunk[-1].arrived
        if last_purge is None or now - last_purge >= timedelta(days=1):
            purged += store.purge(now - RETENTION)
            last_purge = now
        if now >= until:
            return purged


def time_additions(
    store: Store, config: Config, adds: list[corpus.Arrival]
) -> tuple[list[float], list[float], float, int]:
    """Milliseconds per addition (wall clock, CPU), mean candidates per addition,
    additions merged."""
    seen: list[int] = []
    original = store.cluster_candidates

    def counting(*args: object, **kw: object) -> list[object]:
        out = original(*args, **kw)  # type: ignore[arg-type]
        seen.append(len(out))
        return out  # type: ignore[return-value]

    times: list[float] = []
    cpu: list[float] = []
    store.cluster_candidates = counting  # type: ignore[method-assign,assignment]
    try:
        for a in adds:
            t0, c0 = time.perf_counter(), time.process_time()
            add(store, config, a.entry_id, a.entry, a.arrived)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
    finally:
        del store.cluster_candidates
    merged = sum(
        1
        for a in adds
        if store.db.execute("SELECT cluster_id != id FROM entries WHERE id = ?", (a.entry_id,)).fetchone()[0]
    )
    return times, cpu, statistics.fmean(seen), merged


def measure_at(
    store: Store, config: Config, scenario: Scenario, stream: Iterator[corpus.Arrival], adds: int, purged: int
) -> Timing:
    batch = list(itertools.islice(stream, adds))
    window = config.settings.dedupe.window
    first, last = batch[0].entry.published - window, batch[-1].entry.published + window
    stored, oldest, newest = store.db.execute(
        "SELECT count(*), min(published), max(published) FROM entries"
    ).fetchone()
    in_window = store.db.execute(
        "SELECT count(*) FROM entries WHERE published BETWEEN ? AND ?", (_ts(first), _ts(last))
    ).fetchone()[0]
    held = (datetime.fromisoformat(newest) - datetime.fromisoformat(oldest)).total_seconds() / 86400
    times, cpu, candidates, merged = time_additions(store, config, batch)
    times.sort()
    return Timing(
        scenario,
        stored,
        held,
        in_window,
        purged,
        statistics.fmean(times),
        statistics.median(times),
        times[int(len(times) * 0.95)],
        statistics.fmean(cpu),
        candidates,
        merged,
    )


def run_scenarios(plan: list[tuple[Scenario, ...]], root: Path, adds: int) -> list[Timing]:
    """Each tuple is one deployment, timed at each of its ages in turn."""
    config = make_config(root)
    results: list[Timing] = []
    for ages in plan:
        first = ages[0]
        stream = corpus.deployment(
            seed=int(first.per_day), start=corpus.START, per_day=first.per_day, sources=first.sources
        )
        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "scale.db") as store:
            for scenario in ages:
                t0 = time.perf_counter()
                purged = grow(store, stream, corpus.START + scenario.until)
                fill_s = time.perf_counter() - t0
                timing = measure_at(store, config, scenario, stream, adds, purged)
                results.append(timing)
                print(
                    f"{scenario.name}: {timing.stored:,} entries stored (filled in {fill_s:.0f} s);"
                    f" {adds} added: {timing.ms_mean:.2f} ms per entry",
                    flush=True,
                )
    return results


def scaling(root: Path, adds: int, quick: bool) -> None:
    window = DedupeSettings().window
    rate = 100_000 / RETENTION.days  # 100k stored once the deployment has run for the retention period
    young = Scenario("10k: a 9-day-old deployment", rate, 400, timedelta(days=9))
    grown = Scenario("100k: the same, 100 days old", rate, 400, RETENTION + timedelta(days=10))
    small = Scenario(
        "10k: a tenth of the intake, 100 days old", rate / 10, 40, RETENTION + timedelta(days=10)
    )
    results = run_scenarios([(young,)] if quick else [(young, grown), (small,)], root, adds)
    print()
    print(
        f"time per added entry ({adds} additions each, each its own transaction: Insert + cluster;"
        f" retention {RETENTION.days} days, window ±{window.days} days, a quarter of entries are"
        f" syndicated copies):"
    )
    print()
    print(
        "| store | stored | days held | entries/day | sources | in window | mean ms/entry | median | p95"
        " | CPU ms/entry | candidates/entry | merged |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r.scenario.name} | {r.stored:,} | {r.held_days:.0f} | {r.scenario.per_day:,.0f} |"
            f" {r.scenario.sources} | {r.in_window:,} | {r.ms_mean:.2f} | {r.ms_median:.2f} |"
            f" {r.ms_p95:.2f} | {r.cpu_mean:.2f} | {r.candidates:.1f} | {r.merged}/{adds} |"
        )
    by = {r.scenario: r for r in results}
    print()
    for big, little, how in (
        (grown, young, "the same intake, held longer"),
        (grown, small, "ten times the intake, the same retention"),
    ):
        if big in by and little in by:
            a, b = by[little], by[big]
            growth, ratio = b.stored / a.stored, b.ms_mean / a.ms_mean
            verdict = "sub-linear" if ratio < growth / 2 else "NOT sub-linear"
            print(
                f"{how}: {growth:.1f}x the entries stored -> {ratio:.2f}x the time per added entry"
                f" ({a.ms_mean:.2f} -> {b.ms_mean:.2f} ms; {verdict}); CPU time"
                f" {b.cpu_mean / a.cpu_mean:.2f}x ({a.cpu_mean:.2f} -> {b.cpu_mean:.2f} ms)"
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
            scaling(root, args.adds, args.quick)
    print(
        f"targets (precision >= {PRECISION_TARGET}, recall >= {RECALL_TARGET}):"
        f" {'met' if score.met else 'NOT met'}"
    )
    return 0 if score.met else 1


if __name__ == "__main__":
    sys.exit(main())
