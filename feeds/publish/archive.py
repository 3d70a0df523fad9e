"""RFC 5005 archive pages: which pages each topic has, which changed since they
were written (fingerprints), and the jobs they are rendered in.

Pages are counted from the oldest story and always full, so an archived page
keeps its bytes as newer stories arrive. Reads the store; renders nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from feeds.redact import public_sources, url_policy
from feeds.sources.fetch import body_hash
from feeds.store.protocol import StoreProtocol
from feeds.store.state import ClusterRow, clusters_from_rows
from feeds.types import Config, Source

if TYPE_CHECKING:
    from feeds.publish.emit import FeedView


def archive_pages(count: int, size: int) -> int:
    """RFC 5005 archive pages for a topic of ``count`` stories, ``size`` a page.

    Pages are counted from the oldest story and are always full, so that a page
    does not change as newer stories arrive: the newest page may repeat a few
    stories that are still in the subscription feed.
    """
    older = count - size
    return 0 if older <= 0 else -(-older // size)


def archive_url(base_url: str, topic: str, page: int) -> str:
    return f"{base_url}archive/{topic}/{page}.atom"


@dataclass(frozen=True)
class ArchivePage:
    topic: str
    page: int
    pages: int
    ids: Sequence[str]  # the page's stories, oldest first
    url: str


def archive_plan(config: Config, views: Sequence[FeedView],
                 topic_ids: dict[str, list[str]]) -> list[ArchivePage]:
    """Every topic's archive pages: full pages of stories counted from the oldest."""
    s = config.settings
    limits = {t.id: t.max_entries or s.max_entries for t in config.topics}
    out: list[ArchivePage] = []
    for view in views:
        size = limits.get(view.topic, s.max_entries)
        ids = topic_ids[view.topic]
        pages = archive_pages(len(ids), size)
        oldest_first = ids[::-1]
        for page in range(1, pages + 1):
            out.append(ArchivePage(view.topic, page, pages, oldest_first[(page - 1) * size : page * size],
                                   archive_url(s.base_url, view.topic, page)))
    return out


def _archive_header(config: Config, view: FeedView, page: ArchivePage) -> FeedView:
    """An archive page's view, without its items."""
    s = config.settings
    links = [("current", view.atom_url)]
    if page.page > 1:
        links.append(("prev-archive", archive_url(s.base_url, view.topic, page.page - 1)))
    if page.page < page.pages:
        links.append(("next-archive", archive_url(s.base_url, view.topic, page.page + 1)))
    # No page count in the title: a page must not change when newer pages are added.
    return replace(view, title=f"{view.title} (archive {page.page})", atom_url=page.url,
                   rss_url=page.url.removesuffix(".atom") + ".rss", items=[],
                   links=tuple(links), archive=True, hub=None)


@dataclass(frozen=True)
class ArchiveJob:
    """Archive pages before their entries are decoded, rendered together: decoding
    is most of the cost of a page besides rendering, so it is done where the pages
    are rendered (a worker process, in a large run), once per job; and an entry is
    on a page of "all" and of each of its topics, so a job holds pages of about
    the same time and renders each entry once (``Fragments``)."""

    pages: Sequence[tuple[FeedView, Sequence[str]]]  # each page's header and cluster ids
    rows: list[ClusterRow]  # the members of every cluster of those pages
    sources: dict[str, Source]  # those the rows name


# Stories rendered per job, counting each page's: large enough that most of a
# job's entries are on several of its pages, small enough that two workers share
# the pages evenly and a job's rows stay a few MB.
ARCHIVE_JOB_STORIES = 1000


# A page to render: its topic's view, the page, its files.
PlannedPage: TypeAlias = "tuple[FeedView, ArchivePage, tuple[Path, ...]]"


def archive_jobs(config: Config, store: StoreProtocol, pages: Iterable[PlannedPage]
                  ) -> Iterator[tuple[tuple[Path, ...], ArchiveJob]]:
    """``pages`` (in the order of ``time_ordered``) in jobs of about
    ``ARCHIVE_JOB_STORIES`` stories, with the files of each job's pages."""
    job: list[PlannedPage] = []
    stories = 0
    for page in pages:
        job.append(page)
        stories += len(page[1].ids)
        if stories >= ARCHIVE_JOB_STORIES:
            yield _archive_job(config, store, job)
            job, stories = [], 0
    if job:
        yield _archive_job(config, store, job)


def time_ordered(plan: list[ArchivePage], all_ids: list[str]) -> list[ArchivePage]:
    """Archive pages by the place of their oldest story in the all-topics order, so
    that pages next to one another share stories (a job renders each once)."""
    order = {cid: n for n, cid in enumerate(reversed(all_ids))}
    return sorted(plan, key=lambda p: (order.get(p.ids[0], 0) if p.ids else 0, p.topic))


def _archive_job(config: Config, store: StoreProtocol, pages: list[PlannedPage]
                 ) -> tuple[tuple[Path, ...], ArchiveJob]:
    ids = list(dict.fromkeys(i for _view, page, _files in pages for i in page.ids))
    rows = store.cluster_rows(ids)
    named = {r[6] for r in rows} | {sid for r in rows for sid in (r[5] or "").split()}
    sources = public_sources((src for src in config.sources if src.id in named),
                             url_policy(config.settings))
    files = tuple(f for _view, _page, pair in pages for f in pair)
    return files, ArchiveJob([(_archive_header(config, view, page), page.ids) for view, page, _f in pages],
                              rows, sources)


def archive_views(job: ArchiveJob) -> list[FeedView]:
    from feeds.publish.clusters import cluster_item

    ids = list(dict.fromkeys(i for _header, page_ids in job.pages for i in page_ids))
    items = {c.id: cluster_item(c, job.sources) for c in clusters_from_rows(ids, job.rows)}
    return [replace(header, items=[items[i] for i in page_ids if i in items])
            for header, page_ids in job.pages]


def archive_settings(config: Config) -> str:
    """What every archive page's bytes depend on besides its stories: hashed once
    per run, not per page (it names every source)."""
    s = config.settings
    shown = public_sources(config.sources, url_policy(s)).values()  # the URLs pages show
    setting = [s.base_url, s.author, s.language,
               [(src.id, src.title, src.url, src.priority) for src in shown]]
    return body_hash(repr(setting).encode())


def archive_fingerprint(digests: dict[str, bytes], view: FeedView, page: ArchivePage,
                         settings: str) -> str:
    """Everything an archive page's bytes depend on (``Store.cluster_digests``), read
    without decoding entries."""
    stories = hashlib.sha256()
    for cid in page.ids:
        stories.update(cid.encode() + b"\0" + digests.get(cid, b""))
    page_setting = repr([settings, view.title, page.page < page.pages]).encode()
    return stories.hexdigest()[:32] + body_hash(page_setting)[:16]


def changed_archive_pages(config: Config, store: StoreProtocol, views: Sequence[FeedView],
                          topic_ids: dict[str, list[str]], all_ids: list[str],
                          archived: set[Path], fingerprints: dict[str, str]) -> Iterator[PlannedPage]:
    """The archive pages to render: those whose fingerprint changed since they were
    written, or whose files are gone, in the order of ``time_ordered``. Adds every
    page's files to ``archived`` and each changed page's new fingerprint (its meta
    key ``archive:<topic>:<page>``) to ``fingerprints``, to be saved once the pages
    are written."""
    # Pages are many and mostly unchanged: render only those whose stories changed.
    # A generator, so that working out which changed goes on while workers render.
    s = config.settings
    out_dir = s.output_dir
    by_topic = {v.topic: v for v in views}
    settings = archive_settings(config)
    plan = time_ordered(archive_plan(config, views, topic_ids), all_ids)
    digests = store.cluster_digests() if plan else {}
    for page in plan:
        stem = out_dir / "archive" / page.url.removeprefix(s.base_url + "archive/")
        pair = (stem, stem.with_suffix(".rss"))
        archived.update(pair)
        key = f"archive:{page.topic}:{page.page}"
        fingerprint = archive_fingerprint(digests, by_topic[page.topic], page, settings)
        if store.get_meta(key) == fingerprint and all(p.exists() for p in pair):
            continue
        fingerprints[key] = fingerprint
        yield by_topic[page.topic], page, pair
