"""RFC 5005 archive pages: which pages each topic has, which changed since they
were written (fingerprints), and the jobs they are rendered in.

Each story has a stable position in each of its topics (``feeds.store.archive``)
and page k holds positions (k-1)*size .. k*size-1, so an archived page keeps its
bytes as newer stories arrive and as older ones are purged. Reads the store;
renders nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from feeds.redact import public_sources, url_policy
from feeds.store.protocol import StoreProtocol
from feeds.store.state import ArchiveOrder, ClusterRow, clusters_from_rows
from feeds.types import Config, Source


def _sha256(data: bytes) -> str:
    # Not sources.fetch.body_hash (the same digest): importing fetch would load httpx
    # into the forkserver that renders archive pages, and no worker fetches.
    return hashlib.sha256(data).hexdigest()

if TYPE_CHECKING:
    from feeds.publish.emit import FeedView


def archive_pages(positions: int, size: int) -> int:
    """How many RFC 5005 archive pages ``positions`` stable positions fill, ``size``
    a page, leaving the newest ``size`` to the subscription feed.

    Page k holds positions (k-1)*size .. k*size-1, counted from the oldest story a
    topic ever had, so a page does not change as newer stories arrive (the newest
    page may repeat a few stories that are still in the subscription feed) nor
    when older ones are purged (they leave holes).
    """
    older = positions - size
    return 0 if older <= 0 else -(-older // size)


def archive_url(base_url: str, topic: str, page: int) -> str:
    return f"{base_url}archive/{topic}/{page}.atom"


@dataclass(frozen=True)
class ArchivePage:
    topic: str
    page: int
    ids: Sequence[str]  # the page's stories, oldest first (by position)
    url: str
    prev: int | None = None  # the published page before it (prev-archive), if any
    next: int | None = None  # the published page after it (next-archive), if any


def topic_archive(topic: str, ids: Sequence[str], order: ArchiveOrder, size: int,
                  base_url: str) -> list[ArchivePage]:
    """A topic's archive pages, given its stories newest first and their stable
    positions. Pure.

    A page with no story left (all purged, joined to others or moved to other
    topics) is not published, and the pages beside it link to each other: every
    prev-archive and next-archive link leads to a document that exists. Every
    story that is not among the newest ``size`` is on a page, even one whose
    position is past the pages the positions fill (a cluster whose oldest member
    was purged moves up in the order of the subscription feed)."""
    pages = archive_pages(order.next, size)
    for cid in ids[size:]:
        pages = max(pages, order.positions[cid] // size + 1)
    found: dict[int, list[tuple[int, str]]] = {}
    for cid in ids:
        pos = order.positions[cid]
        if pos // size < pages:
            found.setdefault(pos // size + 1, []).append((pos, cid))
    numbers = sorted(found)
    return [ArchivePage(topic, k, tuple(cid for _pos, cid in sorted(found[k])),
                        archive_url(base_url, topic, k),
                        numbers[n - 1] if n else None,
                        numbers[n + 1] if n + 1 < len(numbers) else None)
            for n, k in enumerate(numbers)]


def archive_plan(config: Config, topic_ids: Mapping[str, Sequence[str]],
                 orders: Mapping[str, ArchiveOrder]) -> list[ArchivePage]:
    """Every topic's archive pages (``topic_archive``), in the order of ``topic_ids``."""
    s = config.settings
    limits = {t.id: t.max_entries or s.max_entries for t in config.topics}
    out: list[ArchivePage] = []
    for topic, ids in topic_ids.items():
        out.extend(topic_archive(topic, ids, orders[topic], limits.get(topic, s.max_entries), s.base_url))
    return out


def newest_pages(plan: Iterable[ArchivePage]) -> dict[str, int]:
    """Each topic's newest archive page: where its subscription feed's prev-archive leads."""
    newest: dict[str, int] = {}
    for page in plan:
        newest[page.topic] = max(page.page, newest.get(page.topic, 0))
    return newest


def _archive_header(config: Config, view: FeedView, page: ArchivePage) -> FeedView:
    """An archive page's view, without its items."""
    s = config.settings
    links = [("current", view.atom_url)]
    if page.prev is not None:
        links.append(("prev-archive", archive_url(s.base_url, view.topic, page.prev)))
    if page.next is not None:
        links.append(("next-archive", archive_url(s.base_url, view.topic, page.next)))
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
    return _sha256(repr(setting).encode())


def archive_fingerprint(digests: dict[str, bytes], view: FeedView, page: ArchivePage,
                         settings: str) -> str:
    """Everything an archive page's bytes depend on (``Store.cluster_digests``), read
    without decoding entries."""
    stories = hashlib.sha256()
    for cid in page.ids:
        stories.update(cid.encode() + b"\0" + digests.get(cid, b""))
    setting: list[object] = [settings, view.title, page.next is not None]
    # The links of a page whose neighbours are all published are said as before
    # schema 10, so that fingerprints written then still hold.
    if page.prev != (page.page - 1 if page.page > 1 else None) or page.next not in (None, page.page + 1):
        setting.append((page.prev, page.next))
    page_setting = repr(setting).encode()
    return stories.hexdigest()[:32] + _sha256(page_setting)[:16]


def changed_archive_pages(config: Config, store: StoreProtocol, views: Sequence[FeedView],
                          plan: list[ArchivePage], all_ids: list[str],
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
    plan = time_ordered(plan, all_ids)
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
