"""Trying the rules without fetching: ``feeds check`` (the config, the templates,
and the topic rules on the entries held), ``feeds topics preview`` and ``diff``
(which entries a rule change moves, and what it does to the scored labels),
``feeds topics label`` and ``score`` (operators' judgements, and how the rules
agree with them), and ``feeds explain`` (why an entry's copies were merged and
which topics it is in, with the evidence)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from feeds.cli.common import Options, check_templates, load, plural, say
from feeds.config import FEEDS_FILE, SOURCES_FILE, load_config
from feeds.errors import ConfigError, ConfigErrors, FeedsError, UsageError
from feeds.store.factory import open_store, state_exists
from feeds.stories import scoring
from feeds.stories.classify import Classifier, lint
from feeds.stories.scoring import Judgement
from feeds.types import Config, Entry, Source

LABELS_FILE = FEEDS_FILE.parent / "labels.tsv"


@click.command()
@click.option("--reference", is_flag=True,
              help="Print the reference of every config key (as in docs/operations.md) and exit.")
@click.pass_obj
def check(opts: Options, reference: bool) -> None:
    """Validate config/ without touching the network."""
    if reference:
        from feeds.reference import reference_markdown

        click.echo(reference_markdown())
        return
    config = load(opts.root)
    check_templates(config, always=True)
    enabled = sum(1 for s in config.sources if s.enabled)
    if opts.verbosity >= 0:
        click.echo(f"config is valid: {plural(len(config.sources), 'source')} ({enabled} enabled), "
                   f"{plural(len(config.topics), 'topic')}: {', '.join(config.topic_ids())}")
    # With a state database, the rules are also tried on the entries we hold.
    samples = _samples(config)
    for problem in lint(Classifier(config.topics, config.sources), samples):
        click.echo(f"warning: {FEEDS_FILE.as_posix()}: {problem}")


def _samples(config: Config) -> list[tuple[Entry, list[Source]]]:
    """Stored entries with the sources that carry them, for trying rules on."""
    if not state_exists(config.settings):
        return []
    by_id = {s.id: s for s in config.sources}
    with open_store(config.settings) as store:
        rows = store.all_entries()
    return [(entry, [by_id[s] for s in carriers if s in by_id]) for _id, entry, carriers in rows]


@click.group()
def topics() -> None:
    """Try topic rules on the entries held, without fetching anything."""


@topics.command("preview")
@click.argument("topic", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="Titles shown per topic.")
@click.pass_obj
def topics_preview(opts: Options, topic: str | None, limit: int) -> None:
    """The entries each topic (or TOPIC) would hold now under the current rules."""
    config = load(opts.root)
    if topic is not None and topic not in config.topic_ids():
        raise UsageError(f"unknown topic '{topic}' (known: {', '.join(config.topic_ids())})")
    samples = _samples(config)
    classifier = Classifier(config.topics, config.sources)
    members: dict[str, list[str]] = {t: [] for t in config.topic_ids()}
    for entry, carriers in samples:
        for m in classifier.classify(entry, carriers):
            members[m.topic].append(entry.title)
    for t in config.topics:
        if topic is not None and t.id != topic:
            continue
        titles = members[t.id]
        click.echo(f"{t.id}: {plural(len(titles), 'entry', 'entries')} of {len(samples)}")
        for title in titles[:limit]:
            say(f"  {title}")
        if len(titles) > limit:
            click.echo(f"  ... and {len(titles) - limit} more")


def _config_at(opts: Options, against: str) -> Config:
    """The config to compare with: a feeds.toml file, a folder holding one, or a git revision."""
    import shutil
    import subprocess
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="feeds-against-"))
    try:
        (tmp / "config").mkdir()
        # Paths in the other config resolve against this project, as they would after a merge.
        for child in opts.root.resolve().iterdir():
            if child.name != "config":
                (tmp / child.name).symlink_to(child)
        given = Path(against)
        if given.is_file():
            shutil.copy(given, tmp / FEEDS_FILE)
            shutil.copy(opts.root / SOURCES_FILE, tmp / SOURCES_FILE)
        elif given.is_dir():
            folder = given / "config" if (given / "config").is_dir() else given
            for rel in (FEEDS_FILE, SOURCES_FILE):
                src = folder / rel.name
                shutil.copy(src if src.exists() else opts.root / rel, tmp / rel)
        else:
            for rel in (FEEDS_FILE, SOURCES_FILE):
                shown = subprocess.run(["git", "-C", str(opts.root), "show", f"{against}:{rel.as_posix()}"],
                                       capture_output=True, check=False, timeout=30)
                if shown.returncode != 0:
                    raise UsageError(f"{against} is neither a file, a folder nor a git revision with "
                                     f"{rel.as_posix()}: {shown.stderr.decode(errors='replace').strip()}")
                (tmp / rel).write_bytes(shown.stdout)
        try:
            return load_config(tmp)
        except ConfigErrors as exc:
            # Named by what the user gave, as the temporary copy's paths mean nothing.
            raise ConfigErrors([ConfigError(against, str(e)) for e in exc.errors], what=None) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@topics.command("diff")
@click.option("--against", required=True, metavar="CONFIG",
              help="The config before the change: a feeds.toml file, a folder with config files, "
                   "or a git revision of config/.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Titles shown per change.")
@click.option("--labels", metavar="FILE",
              help=f"Judgements to score both configs against (default {LABELS_FILE.as_posix()}, "
                   "when it exists).")
@click.pass_obj
def topics_diff(opts: Options, against: str, limit: int, labels: str | None) -> None:
    """Review a rule change: which stored entries enter or leave each topic going
    from CONFIG (before) to the working config in config/ (after), and, with
    labels, precision and recall before and after and the judgements that flip.

    As with `git diff REV`, the working config is the change under review: an
    `exclude` added to it shows the entries that would leave.
    """
    current = load(opts.root)
    base = _config_at(opts, against)
    samples = _samples(current)
    base_sources = {s.id: s for s in base.sources}
    before = Classifier(base.topics, base.sources)
    after = Classifier(current.topics, current.sources)
    moves: dict[str, tuple[list[str], list[str]]] = {}
    for entry, carriers in samples:
        # A source the base config did not have yet classifies as it does now.
        old = {m.topic for m in before.classify(entry, [base_sources.get(s.id, s) for s in carriers])}
        new = {m.topic for m in after.classify(entry, carriers)}
        for t in new - old:
            moves.setdefault(t, ([], []))[0].append(entry.title)
        for t in old - new:
            moves.setdefault(t, ([], []))[1].append(entry.title)
    click.echo(f"from {against} to the working config ({SOURCES_FILE.parent.as_posix()}/), "
               f"over {plural(len(samples), 'stored entry', 'stored entries')}:")
    if not moves:
        click.echo("  no entry would change topic")
    for topic_id in sorted(moves):
        entering, leaving = moves[topic_id]
        click.echo(f"{topic_id}: {len(entering)} would enter, {len(leaving)} would leave")
        for sign, titles in (("+", entering), ("-", leaving)):
            for title in titles[:limit]:
                say(f"  {sign} {title}")
            if len(titles) > limit:
                click.echo(f"  {sign} ... and {len(titles) - limit} more")
    path, shown = _labels_path(opts, labels)
    if labels is not None or path.is_file():
        _diff_labels(shown, _judgements(path, shown, current, None), base, current, before, after,
                     limit)


def _diff_labels(shown: str, judgements: list[Judgement], base: Config, current: Config,
                 before: Classifier, after: Classifier, limit: int) -> None:
    """What a rule change does to the scored labels: each topic's precision and recall
    before and after, and the judgements the rules now get right or wrong."""
    old = scoring.predictions(before, judgements, {s.id: s for s in base.sources})
    new = scoring.predictions(after, judgements, {s.id: s for s in current.sources})
    old_scores = {s.topic: s for s in scoring.score(before, judgements, {s.id: s for s in base.sources})}
    new_scores = scoring.score(after, judgements, {s.id: s for s in current.sources})
    click.echo(f"\nscored against {shown} ({plural(len(judgements), 'judgement')}):")
    click.echo(f"{'topic':<17}{'precision':>20}{'recall':>20}")
    for s in new_scores:
        o = old_scores[s.topic]
        click.echo(f"{s.topic:<17}{o.precision:>9.3f} -> {s.precision:.3f}{o.recall:>11.3f} -> "
                   f"{s.recall:.3f}")
    flips = [j for j in judgements if old[(j.sample.key, j.topic)][0] != new[(j.sample.key, j.topic)][0]]
    if not flips:
        click.echo("  no judged entry changes")
    for j in flips[:limit]:
        got = new[(j.sample.key, j.topic)]
        verdict = "now right" if got[0] == j.expected else "now WRONG"
        say(f"  {'+' if got[0] else '-'} {j.topic}: {j.sample.title} ({j.sample.key}; labelled "
            f"{'in' if j.expected else 'out'}, {verdict}): {got[1]}")
    if len(flips) > limit:
        click.echo(f"  ... and {len(flips) - limit} more")

def _labels_path(opts: Options, labels: str | None) -> tuple[Path, str]:
    """The labels file (default: config/labels.tsv) and its name as the user gave it."""
    if labels is not None:
        return Path(labels), labels
    return opts.root / LABELS_FILE, LABELS_FILE.as_posix()


def _judgements(path: Path, shown: str, config: Config, split: str | None) -> list[Judgement]:
    if not path.is_file():
        hint = "" if shown != LABELS_FILE.as_posix() else \
            " (record some with 'feeds topics label ENTRY TOPIC --in')"
        raise UsageError(f"{shown}: no such labels file{hint}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{shown}: cannot read it: {exc}") from exc
    try:
        return scoring.parse(text, shown, config.topic_ids(), split)
    except scoring.LabelsError as exc:
        raise UsageError(str(exc)) from exc


@topics.command("label")
@click.argument("entry", metavar="ENTRY")
@click.argument("topic")
@click.option("--in/--out", "member", default=None,
              help="The entry belongs in TOPIC (--in) or not (--out).")
@click.pass_obj
def topics_label(opts: Options, entry: str, topic: str, member: bool | None) -> None:
    """Record that ENTRY (an entry id, link or URL) belongs in TOPIC or not, in
    config/labels.tsv, with a copy of what the rules read of it, so that
    `feeds topics score` can judge rule changes against it after the entry is gone.
    A later judgement of the same entry and topic replaces the earlier one."""
    if member is None:
        raise UsageError("say --in or --out: does the entry belong in the topic?")
    config = load(opts.root)
    if topic not in config.topic_ids():
        raise UsageError(f"unknown topic '{topic}' (known: {', '.join(config.topic_ids())})")
    if not state_exists(config.settings):
        raise FeedsError("no runs yet: run 'feeds run' first")
    titles = {s.id: s.title for s in config.sources}
    with open_store(config.settings) as store:
        infos = store.feed_infos()
        found: dict[str, Entry] = {}
        for eid in store.find_entries(entry):
            cluster = store.cluster_of(eid)
            for m in cluster.members if cluster else ():
                if m.id == eid:
                    found[eid] = m.entry
    if not found:
        raise FeedsError(f"no entry with the id, link or URL {entry}")
    def feed_title(source_id: str) -> str:
        info = infos.get(source_id)
        return titles.get(source_id) or (info.title if info is not None and info.title else "")

    judged = datetime.now(UTC).strftime("%Y-%m-%d")
    new = [Judgement(scoring.sample_of(eid, e, feed_title(e.source_id)), topic, member, judged)
           for eid, e in found.items()]
    path, shown = _labels_path(opts, None)
    merged = scoring.merge(_judgements(path, shown, config, None) if path.exists() else [], new)
    try:
        path.write_text(scoring.render(merged), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{LABELS_FILE.as_posix()}: cannot write it: {exc}") from exc
    for j in new:
        say(f"{'in' if member else 'out of'} {topic}: {j.sample.title} ({j.sample.key})")
    click.echo(f"{LABELS_FILE.as_posix()}: {plural(len(merged), 'judgement')}")


def _rules_config(opts: Options, rules: str | None) -> Config:
    return load(opts.root) if rules is None else _config_at(opts, rules)


@topics.command("score")
@click.option("--labels", metavar="FILE",
              help=f"Judgements to score against (default {LABELS_FILE.as_posix()}); also a "
                   "labelled set such as tests/data/topics/entries.tsv.")
@click.option("--rules", metavar="CONFIG",
              help="Score these rules instead of the working config: a feeds.toml file, a folder "
                   "with config files, or a git revision of config/.")
@click.option("--split", metavar="NAME",
              help="Only the rows of a labelled set in this split (test, train...).")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="Disagreements shown per topic.")
@click.pass_obj
def topics_score(opts: Options, labels: str | None, rules: str | None, split: str | None,
                 limit: int) -> None:
    """Precision, recall and F1 of each topic's rules over the judged entries, then
    every disagreement: the entry, the topic, what the label says, what the rules
    say, and the evidence they weighed."""
    config = _rules_config(opts, rules)
    path, shown = _labels_path(opts, labels)
    judgements = _judgements(path, shown, config, split)
    classifier = Classifier(config.topics, config.sources)
    scores = scoring.score(classifier, judgements, {s.id: s for s in config.sources})
    entries = len({j.sample.key for j in judgements})
    click.echo(f"{shown}: {plural(len(judgements), 'judgement')} of "
               f"{plural(entries, 'entry', 'entries')}; rules: {rules or FEEDS_FILE.as_posix()}")
    for line in scoring.table(scores):
        click.echo(line)
    for s in scores:
        if not s.disagreements:
            continue
        click.echo(f"\n{s.topic}: {s.fp} in by the rules, out by the labels; "
                   f"{s.fn} out by the rules, in by the labels")
        for d in s.disagreements[:limit]:
            say(f"  {'FP' if d.got else 'FN'} {d.key}: {d.title}")
            say(f"     expected {'in' if d.expected else 'out'}, got {'in' if d.got else 'out'}: "
                f"{d.evidence}")
        if len(s.disagreements) > limit:
            click.echo(f"  ... and {len(s.disagreements) - limit} more")


@click.command()
@click.argument("what", metavar="URL_OR_ID")
@click.pass_obj
def explain(opts: Options, what: str) -> None:
    """Show the story an entry belongs to, why its copies were merged, and its topics."""
    from feeds.publish.clusters import representative

    config = load(opts.root)
    if not state_exists(config.settings):
        raise FeedsError("no runs yet: run 'feeds run' first")
    sources = {s.id: s for s in config.sources}
    classifier = Classifier(config.topics, config.sources)
    with open_store(config.settings) as store:
        found = store.find_entries(what)
        clusters = {c.id: c for eid in found if (c := store.cluster_of(eid)) is not None}
    if not clusters:
        raise FeedsError(f"no entry with the id, link or URL {what}")
    for cluster in clusters.values():
        shown = representative(cluster, sources)
        say(f"story {cluster.id}: {shown.entry.title}")
        click.echo(f"  published copy: {shown.entry.source_id} "
                   f"({'highest priority' if shown is not cluster.members[0] else 'first seen'})")
        for m in cluster.members:
            e = m.entry
            say(f"  - {e.source_id}: {e.title}")
            say(f"      id {m.id}, link {e.link or '(none)'}")
            click.echo(f"      first seen {m.first_seen:%Y-%m-%d %H:%M} UTC, "
                       f"published {e.published:%Y-%m-%d}")
            if m.carriers:
                click.echo(f"      same URL also from: {', '.join(m.carriers)}")
            if m.reason:
                say(f"      joined because: {m.reason}")
            carriers = [sources[s] for s in (e.source_id, *m.carriers) if s in sources]
            for x in classifier.explain(e, carriers):
                say(f"      {'in' if x.member else 'not in'} {x.topic}: {x.how}")

