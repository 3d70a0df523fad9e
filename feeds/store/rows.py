"""What the store is handed to write: finished rows, decided elsewhere.

The pure side (planning, classifying, sketching, encoding) makes these; the store
writes them as they are and reports what it inserted. Nothing here reads or
writes a database.
"""

from __future__ import annotations

from dataclasses import dataclass

from feeds.store.codec import entry_json
from feeds.stories.dedupe import entry_story
from feeds.stories.similar import bands, sketch
from feeds.types import Entry


@dataclass(frozen=True)
class NewEntry:
    """A story stored for the first time, with its topics already decided."""

    entry_id: str
    entry: Entry
    data: str  # entry_json(entry)
    story_key: str
    bands: tuple[int, ...]  # its sketch bands, -1 where a band is empty


@dataclass(frozen=True)
class ChangedEntry:
    """A stored story whose content changed (same fields as ``NewEntry``)."""

    entry_id: str
    entry: Entry
    data: str
    story_key: str
    bands: tuple[int, ...]


@dataclass(frozen=True)
class Carried:
    """A source carries a story another item already stored (``remap``: the item key
    it carried it under before, when its GUID changed)."""

    entry_id: str
    item_key: str
    remap: str | None = None


@dataclass(frozen=True)
class StillSeen:
    """A source still carries an item it carried before, unchanged."""

    entry_id: str
    item_key: str


@dataclass(frozen=True)
class Retopic:
    """A stored story's topics changed: ``entry`` carries the new ones."""

    entry_id: str
    entry: Entry
    data: str


Row = NewEntry | ChangedEntry | Carried | StillSeen | Retopic


@dataclass(frozen=True)
class Applied:
    """What writing one source's rows did."""

    new: int
    updated: int
    inserted: tuple[tuple[str, Entry], ...]  # (entry id, entry) of each NewEntry, in order


def entry_bands(entry: Entry) -> tuple[int, ...]:
    """The sketch bands stored for ``entry``: those a worker computed, else computed
    here. They must depend only on the stored title and summary text, because the
    store computes them again from those to delete them."""
    return tuple(entry.bands) if entry.bands else tuple(bands(sketch(entry.title, entry.summary_text)))


def new_entry(entry_id: str, entry: Entry, data: str | None = None) -> NewEntry:
    return NewEntry(entry_id, entry, data if data is not None else entry_json(entry),
                    entry_story(entry), entry_bands(entry))


def changed_entry(entry_id: str, entry: Entry) -> ChangedEntry:
    return ChangedEntry(entry_id, entry, entry_json(entry), entry_story(entry), entry_bands(entry))


def retopic(entry_id: str, entry: Entry) -> Retopic:
    return Retopic(entry_id, entry, entry_json(entry))
