"""One source's document or folder made into entries: parse, normalise, identity,
topics as its own source gives them, the item cap, and the notes worth a warning.

Pure and picklable: the worker processes run ``ingest`` (``workers``), and so does
the main process in a small run, with the same result. Failures come back as values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from feeds.errors import ParseError, SourceError
from feeds.run.skip import document_key, item_hash
from feeds.store.state import entry_json
from feeds.stories.classify import Classifier
from feeds.stories.dedupe import has_own_id, story_key, url_identity
from feeds.stories.similar import bands, sketch
from feeds.stories.sourceinfo import FeedInfo, clean_home_page, clean_title
from feeds.types import Config, Document, Entry, EntryData, LocalFolder, Source

if TYPE_CHECKING:
    from feeds.stories.normalize import Context

# The parsers (feedparser, markdown-it, nh3) are imported by the functions that use
# them: a run where every source answers 304 needs none.

log = logging.getLogger("feeds")


@dataclass
class Ingest:
    entries: list[Entry] = field(default_factory=list)
    # entry_json() of each entry, when the worker process made it: storing is the
    # serial part of a run, so encoding is done before it, in parallel.
    encoded: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ttl: int | None = None
    partly_broken: str | None = None  # the parser recovered what it could
    unreadable_dates: int = 0  # entry dates the parser could not read
    feed_info: FeedInfo | None = None  # the feed's own title and site (None: a folder)
    # The hash of each entry's item as parsed (``skip.item_hash``), by position in
    # ``entries``; None where it must not be remembered (a date in the future).
    raw: list[str | None] = field(default_factory=list)
    # Item keys of the items sent again unchanged (their hash was in ``Seen.raw``):
    # not normalised; stored as still seen.
    unchanged: list[str] = field(default_factory=list)

    @property
    def items(self) -> int:
        """Items taken from the document: normalised or sent again unchanged."""
        return len(self.entries) + len(self.unchanged)


@dataclass(frozen=True)
class Seen:
    """What the store holds of a source's items, for skipping those sent unchanged:
    the run's key (``skip.run_key``) and the source's raw hashes -> item keys."""

    key: str
    raw: Mapping[str, str]


_classifiers: dict[int, Classifier] = {}


def _classifier(config: Config) -> Classifier:
    """The config's classifier, built once per process and config (looked up by
    value: the daemon reloads the config, and each worker holds its own copy)."""
    key = hash((config.topics, config.sources))
    classifier = _classifiers.get(key)
    if classifier is None:
        _classifiers.clear()
        classifier = _classifiers[key] = Classifier(config.topics, config.sources)
    return classifier


def _with_topics(entry: Entry, source: Source, classifier: Classifier) -> Entry:
    """The entry's topics as if its own source were its only carrier, worked out
    where it is parsed (a worker process, in a large run), off the serial path:
    that is what a new entry gets."""
    return replace(entry, topics=classifier.classify(entry, [source]))


def _ingest_document(config: Config, source: Source, doc: Document, now: datetime,
                     seen: Seen | None) -> Ingest:
    from feeds.parse.adapter import parse_document
    from feeds.stories.normalize import Context

    limits = config.settings.fetch
    cap = source.max_items or limits.max_items
    feed = parse_document(doc, cap)
    out = Ingest(warnings=list(feed.warnings), ttl=feed.ttl,
                  partly_broken=feed.warnings[0] if feed.warnings else None,
                  unreadable_dates=feed.unreadable_dates,
                  feed_info=FeedInfo(clean_title(feed.title), clean_home_page(feed.link, doc.url)))
    ctx = Context(source=source, base_url=config.settings.base_url, now=now,
                  document_url=doc.url, feed=feed, limits=limits)
    entries = feed.entries[:cap]
    if feed.items_total is not None:
        # Document order: feeds put their newest items first.
        out.warnings.append(f"the feed has {feed.items_total} items; only the first {cap} were read "
                            f"({feed.items_total - cap} dropped; max_items = {cap})")
    classifier = _classifier(config)
    hashes: list[str | None] = [None] * len(entries)
    skip: dict[int, str] = {}
    if seen is not None:
        doc_key = document_key(seen.key, source, doc.url, feed)
        hashes = [item_hash(doc_key, data) for data in entries]
        skip = {i: key for i, h in enumerate(hashes) if h is not None
                and (key := seen.raw.get(h)) is not None}
    warnings = list(out.warnings)
    made = _normalize_items(entries, [i for i in range(len(entries)) if i not in skip], ctx, config,
                            source, classifier, out, hashes)
    if skip and (any(key in made for key in skip.values()) or not all(map(has_own_id, out.entries))):
        # An item sent unchanged may share its key with one that changed (a document
        # that repeats an id), or its link with one that has no id of its own: which
        # one counts is decided in document order (``dedupe.unique_in_batch``), as it
        # always was, so this document is normalised whole.
        skip = {}
        out.entries, out.raw, out.warnings = [], [], warnings
        ctx.notes.clear()
        _normalize_items(entries, list(range(len(entries))), ctx, config, source, classifier, out, hashes)
    out.unchanged = list(dict.fromkeys(skip[i] for i in sorted(skip)))
    out.warnings.extend(_summarised(ctx.notes))
    out.encoded = [entry_json(e) for e in out.entries]
    return out


def _normalize_items(entries: Sequence[EntryData], todo: list[int], ctx: Context, config: Config,
                     source: Source, classifier: Classifier, out: Ingest, hashes: list[str | None]
                     ) -> dict[str, int]:
    """Normalise and classify ``entries[i]`` for each i of ``todo`` into ``out``;
    returns the first position of each item key made."""
    firsts: dict[str, int] = {}
    for i in todo:
        data = entries[i]
        entry = _normalized(data, ctx, config, out)
        if entry is None:
            continue
        out.entries.append(_with_topics(entry, source, classifier))
        # A date normalising did not believe (in the future) may be believed later:
        # such an item is normalised every time.
        future = entry.date_guessed and (data.published is not None or data.updated is not None)
        out.raw.append(None if future else hashes[i])
        firsts.setdefault(entry.item_key, i)
    return firsts


def _summarised(notes: list[str], shown: int = 3) -> list[str]:
    """A few of normalising's notes, and how many more: one hostile feed must not
    flood the run's report."""
    if len(notes) <= shown:
        return list(notes)
    return [*notes[:shown], f"... and {len(notes) - shown} more item(s) kept as plain text"]


def _normalized(data: EntryData, ctx: Context, config: Config, out: Ingest) -> Entry | None:
    """The entry normalised, or None with a warning: one item that breaks the
    normaliser (a bug meeting odd input) costs that item, not its source's others."""
    from feeds.stories.normalize import normalize

    try:
        return _with_identity(normalize(data, ctx), config)
    except Exception as exc:
        where = data.link or data.guid or (data.title.value[:80] if data.title else "an item")
        log.exception("internal error while normalising an item of %s", ctx.source.id)
        out.warnings.append(f"item {where!r} left out: internal error while normalising it "
                            f"({type(exc).__name__}: {exc})")
        return None


def _with_identity(entry: Entry, config: Config) -> Entry:
    url_key = entry.url_key
    if url_key is not None:
        url_key = url_identity(url_key, config.settings.dedupe.tracking_params)
    return replace(entry, url_key=url_key, story_key=story_key(entry.title, entry.summary_text),
                   bands=tuple(bands(sketch(entry.title, entry.summary_text))))


def _ingest_folder(config: Config, source: Source, folder: LocalFolder, now: datetime) -> Ingest:
    from feeds.parse.articles import parse_article, without_site_link
    from feeds.stories.normalize import Context
    from feeds.stories.slugs import article_slugs

    out = Ingest(warnings=list(folder.warnings))
    base_url = config.settings.base_url
    classifier = _classifier(config)
    parsed: list[EntryData] = []
    for file in folder.files:
        try:
            data = parse_article(file, source.id)
        except ParseError as exc:
            out.warnings.append(exc.message)
            continue
        data, problem = without_site_link(data, file.relpath, base_url)
        if problem:
            out.warnings.append(problem)
        if data.date_from_mtime:
            out.warnings.append(f"{file.relpath}: no date found; using the file's modification time")
        out.warnings.extend(f"{file.relpath}: {note}" for note in data.notes)
        parsed.append(data)
    # Page names are given across the folder, so that two files never share one.
    slugs = article_slugs(d.guid[len("file:"):] for d in parsed if d.guid and not d.link)
    ctx = Context(source=source, base_url=base_url, now=now, local_slugs=slugs,
                  limits=config.settings.fetch)
    for data in parsed:
        entry = _normalized(data, ctx, config, out)
        if entry is not None:
            out.entries.append(_with_topics(entry, source, classifier))
    out.warnings.extend(_summarised(ctx.notes))
    return out


def ingest(config: Config, source: Source, result: Document | LocalFolder,
           now: datetime, seen: Seen | None = None) -> Ingest | SourceError:
    """Parse and normalise one document or folder. Pure and picklable, so that it can
    run in a worker process; failures come back as values. ``seen``: the items of the
    source the store holds, by hash; a document's items among them are not normalised
    again (``Ingest.unchanged``). Folders are always read whole."""
    try:
        if isinstance(result, Document):
            return _ingest_document(config, source, result, now, seen)
        return _ingest_folder(config, source, result, now)
    except SourceError as exc:
        return exc
