"""Rendering views to bytes, here or in worker processes, into staged files.

``render_views`` and ``render_staged`` are pure apart from staging and picklable:
a worker process runs them. ``Renderer`` hands jobs to a pool when there is one
and renders in this process when there is none or it broke; the bytes are the same.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import BrokenExecutor, Executor, Future
from pathlib import Path
from typing import TYPE_CHECKING

from feeds.publish.archive import ArchiveJob, archive_views
from feeds.publish.files import Staged, discard_staged, stage_if_changed

if TYPE_CHECKING:
    from feeds.publish.emit import FeedView

# The renderers (feedgen, lxml) are imported by the functions that use them: a run
# with nothing new to publish needs neither.

log = logging.getLogger("feeds")


def render_views(job: FeedView | ArchiveJob, kinds: tuple[str, ...],
            problems: list[str] | None = None) -> Iterator[bytes]:
    """A view, or each page of an archive job, in the given formats, one file at a
    time (a job's pages are megabytes). Pure, so that it can run in a worker process.
    Entries the renderer refuses are left out, and said in ``problems``."""
    from feeds.publish.emit import Fragments, render_atom, render_rss
    from feeds.publish.jsonfeed import render_json

    views = archive_views(job) if isinstance(job, ArchiveJob) else [job]
    fragments = Fragments()
    renderers = {"atom": lambda v: render_atom(v, fragments), "rss": lambda v: render_rss(v, fragments),
                 "json": render_json}
    for view in views:
        for kind in kinds:
            yield renderers[kind](view)
    if problems is not None:
        problems.extend(fragments.problems())


def render_staged(job: FeedView | ArchiveJob, kinds: tuple[str, ...],
                   paths: tuple[Path, ...]) -> tuple[list[str | None], list[str]]:
    """Render in a worker process and stage each changed file beside its target,
    so that the pages' bytes never travel back through a pipe. Returns
    each file's temp file, or None where the target already holds the bytes, and
    the entries left out (``render_views``)."""
    staged: list[str | None] = []
    problems: list[str] = []
    try:
        for path, data in zip(paths, render_views(job, kinds, problems), strict=True):
            staged.append(stage_if_changed(path, data))
    except BaseException:
        discard_staged(staged)
        raise
    return staged, problems


class Renderer:
    """Renders views here, or in worker processes when given a pool: a cold run
    renders every archive page, and feedgen is CPU-bound. Every file goes into
    ``staged`` in the order the views were added, and the bytes are the same
    either way. At most ``AHEAD`` jobs wait in the pool besides the one being
    added, so memory stays bounded however many pages there are (an archive job
    carries the rows of about a thousand stories)."""

    AHEAD = 2

    def __init__(self, pool: Executor | None, staged: Staged) -> None:
        self.pool = pool
        self.staged = staged
        self.pending: deque[tuple[tuple[Path, ...], FeedView | ArchiveJob, tuple[str, ...],
                                 Future[tuple[list[str | None], list[str]]]]] = deque()
        self.problems: list[str] = []  # entries left out of the feeds, and why

    def add(self, paths: tuple[Path, ...], view: FeedView | ArchiveJob, kinds: tuple[str, ...]) -> None:
        if self.pool is not None:
            try:
                future = self.pool.submit(render_staged, view, kinds, paths)
                self.pending.append((paths, view, kinds, future))
            except BrokenExecutor:
                self.pool = None
            else:
                while len(self.pending) > self.AHEAD:
                    self._collect()
                return
        self.finish()  # keep the order
        self._here(paths, view, kinds)

    def _here(self, paths: tuple[Path, ...], view: FeedView | ArchiveJob, kinds: tuple[str, ...]) -> None:
        for path, data in zip(paths, render_views(view, kinds, self.problems), strict=True):
            self.staged.add(path, data)

    def _collect(self) -> None:
        paths, view, kinds, future = self.pending.popleft()
        try:
            temps, problems = future.result()
        except BrokenExecutor:  # a worker the kernel killed: render the rest here
            log.warning("a worker process died while rendering; rendering in the main process")
            self.pool = None
            self._here(paths, view, kinds)
            return
        self.problems.extend(problems)
        for path, tmp in zip(paths, temps, strict=True):
            self.staged.adopt(path, tmp)

    def finish(self) -> None:
        while self.pending:
            self._collect()

    def abandon(self) -> None:
        """After a failure: wait for the pages still rendering and remove their temp files."""
        while self.pending:
            future = self.pending.popleft()[3]
            with contextlib.suppress(Exception):
                discard_staged(future.result()[0])
