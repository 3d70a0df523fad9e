"""Trying the rules without fetching: ``feeds check`` (the config, the templates,
and the topic rules on the entries held), ``feeds topics preview`` and ``diff``
(which entries a rule change moves), and ``feeds explain`` (why an entry's
copies were merged and which topics it is in)."""

from __future__ import annotations

from pathlib import Path

import click

from feeds.cli.common import Options, check_templates, load, plural, say
from feeds.config import FEEDS_FILE, SOURCES_FILE, load_config
from feeds.errors import ConfigError, ConfigErrors, FeedsError, UsageError
from feeds.store.factory import open_store, state_exists
from feeds.stories.classify import Classifier, lint
from feeds.types import Config, Entry, Source


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
@click.pass_obj
def topics_diff(opts: Options, against: str, limit: int) -> None:
    """Review a rule change: which stored entries enter or leave each topic going
    from CONFIG (before) to the working config in config/ (after).

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

