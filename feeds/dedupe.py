"""Identity and first-level deduplication. Pure: the store supplies what it knows.

Within a source an item is known by its GUID, else its canonical link, else a
content hash (``Entry.item_key``). Across sources, the same canonical link is
the same story: the later copy becomes an alias of the entry we hold.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from feeds.types import Entry

# Never change: every published id is derived from it.
_ID_NAMESPACE = uuid.UUID("6f2d7c1e-5b0a-4c55-9a57-3f1e8c2b9d40")


def entry_id(source_id: str, item_key: str) -> str:
    """The published id of a new entry: a URI that depends only on where it came from."""
    return "urn:uuid:" + str(uuid.uuid5(_ID_NAMESPACE, f"{source_id}\n{item_key}"))


@dataclass(frozen=True)
class Known:
    """An entry the store already holds."""

    entry_id: str
    source_id: str  # the source whose copy we publish
    content_hash: str
    published: datetime
    updated: datetime
    retired: bool = False  # past retention: remembered only so it does not come back


@dataclass(frozen=True)
class Insert:
    entry_id: str
    entry: Entry


@dataclass(frozen=True)
class Update:
    entry_id: str
    entry: Entry


@dataclass(frozen=True)
class Alias:
    """This source's item is a copy of an entry we hold from elsewhere."""

    entry_id: str
    entry: Entry


@dataclass(frozen=True)
class Seen:
    entry_id: str
    entry: Entry


Action = Insert | Update | Alias | Seen


def _has_own_id(entry: Entry) -> bool:
    """The publisher gave the item an id (GUID, Atom id, or a local file's name)."""
    return entry.item_key.startswith(("guid:", "file:"))


def unique_in_batch(entries: Sequence[Entry]) -> list[Entry]:
    """Drop repeats within one document, first wins: the same item key, or the same link
    for items without an id of their own. Items with distinct ids stay distinct even
    when they share a link (day pages with one anchor per item, like Scripting News)."""
    seen_keys: set[str] = set()
    seen_urls: set[str] = set()
    out: list[Entry] = []
    for e in entries:
        if e.item_key in seen_keys:
            continue
        if e.url_key is not None and e.url_key in seen_urls and not _has_own_id(e):
            continue
        seen_keys.add(e.item_key)
        if e.url_key is not None:
            seen_urls.add(e.url_key)
        out.append(e)
    return out


def plan(
    entries: Sequence[Entry],
    by_item: Mapping[str, Known],
    by_url: Mapping[str, Known],
    now: datetime,
) -> list[Action]:
    """What to do with each entry of one source's document.

    ``by_item`` maps this source's item keys to what we hold for them;
    ``by_url`` maps canonical links to entries held from any source.
    """
    actions: list[Action] = []
    for entry in unique_in_batch(entries):
        known = by_item.get(entry.item_key)
        if known is not None:
            if known.retired or known.source_id != entry.source_id:
                actions.append(Seen(known.entry_id, entry))
            elif known.content_hash != entry.content_hash:
                if entry.date_guessed:
                    entry = replace(entry, published=known.published)
                if entry.updated <= known.updated:
                    # Changed without saying so: the change is news as of now.
                    entry = replace(entry, updated=max(now, known.updated))
                actions.append(Update(known.entry_id, entry))
            else:
                actions.append(Seen(known.entry_id, entry))
            continue
        other = by_url.get(entry.url_key) if entry.url_key else None
        if other is not None and (other.source_id != entry.source_id or not _has_own_id(entry)):
            actions.append(Alias(other.entry_id, entry))
            continue
        actions.append(Insert(entry_id(entry.source_id, entry.item_key), entry))
    return actions
