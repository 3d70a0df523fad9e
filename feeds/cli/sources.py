"""``feeds sources``: export the source list as OPML, import an OPML file into
config/sources.toml, and add one feed found from its URL or a page's."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from feeds.cli.common import Options, load, plural, say
from feeds.config import SOURCES_FILE
from feeds.errors import FeedsError, SourceError, UsageError
from feeds.publish.files import write_atomic
from feeds.store.factory import open_store, state_exists
from feeds.stories.sourceinfo import FeedInfo, clean_title, home_pages, with_feed_titles
from feeds.types import Config

if TYPE_CHECKING:
    from feeds.publish.opml import OpmlFeed


@click.group()
def sources() -> None:
    """Import, export and add sources (OPML)."""


@sources.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@click.option("--with-secrets", is_flag=True,
              help="Keep user names, passwords and secret query values in the URLs (for a backup).")
@click.pass_obj
def sources_export(opts: Options, output: Path | None, with_secrets: bool) -> None:
    """Write the source list as OPML, grouped by topic.

    URLs lose their credentials and the values of secret-looking query
    parameters, as in the published sources.opml, unless --with-secrets.
    Each feed's site (htmlUrl), and the title of a source the config leaves
    untitled, come from the feed as last fetched.
    """
    from feeds.publish.opml import render_opml

    config = load(opts.root)
    infos = _feed_infos(config)
    data = render_opml(with_feed_titles(config, infos), home_pages(infos), with_secrets=with_secrets)
    if output is None:
        click.echo(data.decode("utf-8"), nl=False)
    else:
        write_atomic(output, data)


def _feed_infos(config: Config) -> dict[str, FeedInfo]:
    """What each feed said about itself when last fetched; nothing before the first run."""
    if not state_exists(config.settings):
        return {}
    with open_store(config.settings) as store:
        return store.feed_infos()


def _merge_sources(opts: Options, config: Config, feeds: list[OpmlFeed], dry_run: bool) -> None:
    from feeds.publish.opml import merge_into_sources

    path = opts.root / SOURCES_FILE
    text = path.read_text(encoding="utf-8-sig")
    merged, report = merge_into_sources(text, feeds, set(config.topic_ids()),
                                        {t.id: t.title for t in config.topics})
    for item in report.items:
        say(item.describe())
    click.echo(report.summary() + (" (dry run: nothing written)" if dry_run else ""))
    if report.added and not dry_run:
        write_atomic(path, merged.encode("utf-8"))


@sources.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Report what would be added; change nothing.")
@click.pass_obj
def sources_import(opts: Options, file: Path, dry_run: bool) -> None:
    """Add the subscriptions of an OPML file to config/sources.toml.

    Comments and order in the file are kept; OPML categories that name a topic
    become the source's topics; duplicates and invalid URLs are reported.
    """
    from feeds.publish.opml import OpmlError, parse_opml

    config = load(opts.root)
    try:
        feeds = parse_opml(file.read_bytes())
    except OpmlError as exc:
        raise UsageError(f"{file}: {exc}") from exc
    _merge_sources(opts, config, feeds, dry_run)


@sources.command("add")
@click.argument("url")
@click.option("--title", help="Title for the source (default: the feed's own).")
@click.option("--id", "source_id", metavar="ID",
              help="Id for the source (default: made from the title, or from the host).")
@click.option("--topic", "topics", multiple=True, help="A default topic (repeatable).")
@click.option("--dry-run", is_flag=True, help="Check and report; change nothing.")
@click.pass_obj
def sources_add(opts: Options, url: str, title: str | None, source_id: str | None,
                topics: tuple[str, ...], dry_run: bool) -> None:
    """Add a feed, given its URL or the URL of a page that links to it.

    The feed is fetched once to check that it is one. Given a page, the feeds
    it advertises are tried in its order and the first that works is added;
    the others are listed, to add one of them instead.
    """
    from feeds.config import ID_RE
    from feeds.publish.opml import OpmlFeed, new_id

    config = load(opts.root)
    unknown = [t for t in topics if t not in config.topic_ids()]
    if unknown:
        raise UsageError(f"unknown topic {', '.join(unknown)} "
                         f"(known: {', '.join(config.topic_ids())})")
    taken = {s.id for s in config.sources}
    if source_id is not None and not ID_RE.fullmatch(source_id):
        raise UsageError(f"--id {source_id!r} is not a valid source id (lower-case letters, digits, "
                         "'-' and '_', starting with a letter or digit, at most 64)")
    if source_id is not None and source_id in taken:
        raise UsageError(f"--id {source_id!r} is already the id of a source in {SOURCES_FILE.as_posix()}")
    # Until the feed is read, the id is the one it gets without a feed title.
    provisional = source_id or new_id(title or "", url, taken)
    from feeds.sources.discover import discover_feed

    try:
        found = asyncio.run(discover_feed(url, config.settings.fetch, provisional))
    except FeedsError as exc:
        # The source's id is already in the sentence; a SourceError's own text repeats it.
        why = exc.message if isinstance(exc, SourceError) else str(exc)
        raise FeedsError(f"new source '{provisional}' ({url}): {why}; nothing was added") from exc
    if found.feed_url != url:
        say(f"found the feed {found.feed_url} on {url}")
    others = [u for u in found.advertised if u != found.chosen]
    if found.chosen is not None and others:
        failed = dict(found.failed)
        say(f"the page advertises {plural(len(found.advertised), 'feed')}; "
            f"chose {found.chosen}, the first that works. The others:")
        for other in others:
            say(f"  {other}" + (f" (failed: {failed[other]})" if other in failed else ""))
        click.echo("to add another instead: feeds sources add URL")
    # The feed's own title is a stranger's text: cleaned as for display (one line,
    # no markup or control characters, length-capped) before it goes into the config.
    name = title or clean_title(found.title) or ""
    _merge_sources(opts, config, [OpmlFeed(found.feed_url, name, tuple((t,) for t in topics),
                                           source_id)], dry_run)

