"""Publishing: every output rendered and the changed ones written, unless
nothing they show changed since the last publication (the gate); article pages,
index and OPML. Then the publish step (``finish_publish``), the one place that
cron and the daemon alike go through after rendering: the WebSub ping for the
feeds a run changed, status.json and the status page.

I/O: output files, the store's meta records, the hub.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Sequence
from concurrent.futures import Executor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from feeds import __version__
from feeds.errors import EmitError
from feeds.publish.archive import ArchivePage, archive_jobs, changed_archive_pages, newest_pages
from feeds.publish.files import Staged, write_if_changed
from feeds.publish.render import Renderer
from feeds.publish.status import make_snapshot, render_status_json
from feeds.publish.views import (
    ALL_TOPIC,
    HEALTH_TOPIC,
    build_views,
    health_view,
    read_archive_plan,
    read_topic_ids,
)
from feeds.publish.websub import ping_hub
from feeds.redact import url_policy
from feeds.sources.fetch import body_hash, make_client
from feeds.store.protocol import StoreProtocol
from feeds.stories.sourceinfo import home_pages, with_feed_titles
from feeds.types import Config, RunReport

if TYPE_CHECKING:
    from feeds.publish.emit import FeedView
    from feeds.publish.pages import Site
    from feeds.publish.templating import Templates

log = logging.getLogger("feeds")


# Bumped when a change to the code changes what the outputs hold for the same state.
OUTPUT_FORMAT = 1


def _outputs_key(config: Config) -> str:
    """What the outputs depend on besides the state database: the code and the config."""
    from feeds.publish.templating import templates_fingerprint

    # The operator's templates too: an edited template must show without a new entry.
    templates = templates_fingerprint(config.root)
    return body_hash(f"{__version__} {OUTPUT_FORMAT} {config!r} {templates}".encode())


def _outputs_current(config: Config, store: StoreProtocol, generation: int) -> int | None:
    """How many files the last publication wrote, if nothing they show has changed
    since and they are all still there; None if they must be rendered."""
    record = store.get_meta("outputs")
    if record is None:
        return None
    try:
        last = json.loads(record)
        names: list[str] = last["files"]
        if last["generation"] != generation or last["key"] != _outputs_key(config):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    # One listing per folder: a stat per file was a thousand system calls a run. Names
    # stay strings: a Path per file was most of the time for 7,000 archive pages.
    out = config.settings.output_dir
    listed: dict[str, set[str]] = {}
    for name in names:
        folder, _, base = name.rpartition("/")
        present = listed.get(folder)
        if present is None:
            try:
                present = listed[folder] = set(os.listdir(out / folder))
            except OSError:
                return None
        if base not in present:
            return None
    return len(names)


def publish(config: Config, store: StoreProtocol, pool: Executor | None = None,
            warnings: list[str] | None = None) -> tuple[list[str], int]:
    """Render every output and write those whose bytes changed. Returns (written, unchanged).

    An entry that cannot be rendered is left out of its feeds, logged, and said in
    ``warnings``; the rest publishes.

    Nothing is rendered when no entry, topic, cluster or health event has changed
    since the last publication (``Store.touch``), the config and code are the same
    and every file is still there: a run where every source answered 304 costs
    no rendering at all. ``pool``: worker processes to render in.
    """
    feed_infos = store.feed_infos()
    config = with_feed_titles(config, feed_infos)
    s = config.settings
    out_dir = s.output_dir
    generation = store.generation()
    current = _outputs_current(config, store, generation)
    if current is not None:
        return [], current
    from feeds.publish.opml import render_opml
    from feeds.publish.pages import Site, render_index
    from feeds.publish.templating import Templates

    topic_ids = read_topic_ids(config, store)
    plan = read_archive_plan(config, store, topic_ids)
    views = build_views(config, store, topic_ids, newest_pages(plan))
    site = Site(title=s.title, description=s.description, base_url=s.base_url, language=s.language,
                status_page=s.public_status)
    archived: set[Path] = set()
    fingerprints: dict[str, str] = {}
    # Every changed file is staged and fsynced as soon as it is rendered, and renamed
    # only when all are on disk: a full disk leaves the last good outputs, not a mix
    # of old and new, and no rendered file waits in memory.
    try:
        with Staged() as staged:
            renderer = Renderer(pool, staged)
            try:
                _render_feeds(config, store, views, topic_ids, plan, renderer, archived, fingerprints)
                renderer.finish()
            except BaseException:
                renderer.abandon()
                raise
            for problem in dict.fromkeys(renderer.problems):
                log.warning("%s", problem)
                if warnings is not None:
                    warnings.append(problem)
            listed = [v for v in views if v.topic not in {t.id for t in config.topics if not t.index}]
            templates = Templates(config.root)
            counts = {topic: len(ids) for topic, ids in topic_ids.items()}
            staged.add(out_dir / "index.html", render_index(site, listed, counts, templates=templates))
            staged.add(out_dir / "sources.opml", render_opml(config, home_pages(feed_infos)))
            for path, data in _article_pages(config, store, site, templates).items():
                staged.add(path, data)
            for problem in dict.fromkeys(templates.problems):
                log.warning("%s", problem)
                if warnings is not None:
                    warnings.append(problem)
            changed = staged.commit()
    except OSError as exc:
        name = Path(exc.filename).name if exc.filename else "outputs"
        raise EmitError(name, f"cannot write {exc.filename}: {exc.strerror or exc}") from None
    files = set(staged.paths)
    written = [path.relative_to(out_dir).as_posix() for path in changed]
    unchanged = len(files) - len(changed)
    record = {"key": _outputs_key(config), "generation": generation,
              "files": sorted(path.relative_to(out_dir).as_posix() for path in files | archived)}
    with store.transaction():
        for key, value in fingerprints.items():
            store.set_meta(key, value)
        store.set_meta("outputs", json.dumps(record))
    _remove_stale_pages(out_dir / "articles", {p for p in files if "articles" in p.parts}, "*.html")
    _remove_stale_pages(out_dir / "archive", archived, "*.*")
    return written, unchanged


def _render_feeds(config: Config, store: StoreProtocol, views: list[FeedView],
                  topic_ids: dict[str, list[str]], plan: list[ArchivePage], renderer: Renderer,
                  archived: set[Path],
                  fingerprints: dict[str, str]) -> None:
    """The topic feeds, the archive pages whose stories changed, and the health feed."""
    s = config.settings
    out_dir = s.output_dir
    for view in views:
        renderer.add(tuple(out_dir / f"{view.topic}.{kind}" for kind in ("atom", "rss", "json")),
                     view, ("atom", "rss", "json"))
    pages = changed_archive_pages(config, store, views, plan, topic_ids[ALL_TOPIC], archived, fingerprints)
    for files, job in archive_jobs(config, store, pages):
        renderer.add(files, job, ("atom", "rss"))
    renderer.add((out_dir / "health.atom", out_dir / "health.rss"), health_view(config, store),
                 ("atom", "rss"))


def _article_pages(config: Config, store: StoreProtocol, site: Site, templates: Templates
                   ) -> dict[Path, bytes]:
    """A page for each stored local article that links to a page of ours, at
    ``articles/<source>/<slug>.html``. The slug is made from the file's path in its
    folder (the item key); the stored link only tells which of that path's forms
    the entry was given. Entries stored by older versions may hold any link an
    article's front matter gave, so a link never becomes a path."""
    from feeds.publish.emit import Item
    from feeds.publish.pages import render_article
    from feeds.stories.slugs import is_safe_slug, page_slug

    local = {s.id: s for s in config.sources if s.is_local}
    articles = config.settings.output_dir / "articles"
    pages: dict[Path, bytes] = {}
    for eid, entry in store.entries_of_sources(sorted(local)):
        if not entry.item_key.startswith("file:"):
            continue
        slug = page_slug(entry.link, config.settings.base_url, entry.source_id,
                         entry.item_key[len("file:"):])
        if slug is None or not is_safe_slug(slug):
            continue  # the article gave its own address: the link leads there
        folder = articles / entry.source_id
        path = folder / f"{slug}.html"
        # Defence in depth: whatever made the name, the page stays in its source's folder.
        if not path.resolve().is_relative_to(folder.resolve()) or path.parent != folder:
            continue
        # Entries come newest first: when a file gone from the folder held the name a
        # new file now has (the only way two can share one), the new file's page wins.
        if path not in pages:
            item = Item(eid, entry, local[entry.source_id].title, None)
            pages[path] = render_article(site, item, templates=templates)
    return pages


def _remove_stale_pages(folder: Path, keep: set[Path], pattern: str) -> None:
    if not folder.is_dir():
        return
    for path in folder.rglob(pattern):
        if path not in keep and not path.name.startswith("."):
            path.unlink(missing_ok=True)


def changed_topic_feeds(config: Config, written: Sequence[str]) -> list[str]:
    """The public URLs of the topic feeds among ``written`` (paths relative to the
    output folder): what a WebSub hub is told about. Archive pages, article pages
    and the health feed are not topics anyone subscribes to through the hub."""
    base = config.settings.base_url
    return [base + rel for rel in written
            if "/" not in rel and rel.endswith((".atom", ".rss", ".json"))
            and not rel.startswith(f"{HEALTH_TOPIC}.")]


async def ping_hub_for(config: Config, written: Sequence[str]) -> list[str]:
    """Tell the WebSub hub about every topic feed this run changed. Returns each
    failure as a sentence."""
    s = config.settings
    changed = changed_topic_feeds(config, written)
    if not s.hub or not changed:
        return []
    async with make_client(s.fetch) as client:
        return await ping_hub(client, s.hub, changed)


def finish_publish(config: Config, store: StoreProtocol, report: RunReport | None,
                   written: Sequence[str], now: datetime) -> list[str]:
    """The publish step: everything after rendering, for ``feeds run`` and the
    daemon alike. Pings the hub for the topic feeds in ``written`` (what
    ``publish`` wrote), then writes status.json and the status page as of
    ``report`` (the last run that fetched; ``now`` when there is none yet), each
    only if its bytes changed. Returns the ping failures as sentences: a hub that
    is down never fails the publication. Runs its own event loop, so it is called
    from outside one."""
    warnings = asyncio.run(ping_hub_for(config, written)) if config.settings.hub else []
    snapshot = make_snapshot(config, store.all_health(), store.topic_counts(), store.count_entries(),
                             report)
    write_if_changed(config.settings.output_dir / "status.json", render_status_json(snapshot))
    # As of the run it reports, so that publishing again after no new run rewrites nothing.
    write_status_page(config, store, report.finished if report else now)
    return warnings


def status_page_paths(config: Config) -> tuple[Path, Path]:
    """Where status.html goes and where it must not be: the output folder when
    ``[site] public_status`` is true, else beside the state database."""
    s = config.settings
    public, private = s.output_dir / "status.html", s.state_path.parent / "status.html"
    return (public, private) if s.public_status else (private, public)


def write_status_page(config: Config, store: StoreProtocol, now: datetime) -> Path:
    """Render status.html as of ``now`` and write it if its bytes changed, like
    status.json; a copy left in the other place is removed, so that setting
    ``public_status`` back to false takes the page off the site."""
    from feeds.publish.status import page_rows
    from feeds.publish.statuspage import chart_days, render_status_page

    days = chart_days(now)
    rows = page_rows(config, store.all_health(), store.entry_counts(),
                     store.source_days(days[0], days[-1]), url_policy(config.settings))
    target, other = status_page_paths(config)
    s = config.settings
    write_if_changed(target, render_status_page(s.title, rows, now, language=s.language))
    other.unlink(missing_ok=True)
    return target
