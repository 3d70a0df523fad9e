"""Identity and exact deduplication. Pure: the store supplies what it knows.

Within a source an item is known by its GUID, else its link, else a content
hash (``Entry.item_key``). Across sources, the same URL identity (see
``url_identity``: AMP, ``www.``, scheme, trailing slash and tracking
parameters do not count) is the same story: the later copy becomes an alias
of the entry we hold. A publisher that changes an item's GUID keeps its entry
when the link (of an item no longer in the feed) or the title and text match.
Near-duplicates across sources are ``similar``'s business.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

from feeds.stories.similar import strip_marks
from feeds.types import Entry

# Query parameters that only say how a page was reached or rendered.
AMP_PARAMS = frozenset({"amp", "outputtype", "amp_js_v", "usqp", "_gsa"})

# Never change: every published id is derived from it.
_ID_NAMESPACE = uuid.UUID("6f2d7c1e-5b0a-4c55-9a57-3f1e8c2b9d40")


def entry_id(source_id: str, item_key: str) -> str:
    """The published id of a new entry: a URI that depends only on where it came from."""
    return "urn:uuid:" + str(uuid.uuid5(_ID_NAMESPACE, f"{source_id}\n{item_key}"))


def url_identity(url: str, tracking: Iterable[str] = ()) -> str:
    """The key under which two links are the same story, where it is safe to say so.

    ``url`` is already canonical (``normalize.canonical_url``). On top: http and
    https, ``www.``/``amp.``/``m.`` hosts, an ``/amp`` path segment or suffix,
    ``?amp=1`` and the like, a trailing slash, and the extra ``tracking``
    parameters are ignored. Idempotent.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    for prefix in ("www.", "amp.", "m."):
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix):]
            break
    if parts.port:
        host = f"{host}:{parts.port}"
    segments = [seg for seg in parts.path.split("/") if seg]
    segments = [seg for seg in segments if seg.lower() != "amp"]
    if segments:
        last = re.sub(r"\.amp(?=\.html?$|$)", "", segments[-1], flags=re.I)
        segments[-1] = last
    path = "/" + "/".join(segments)
    drop = AMP_PARAMS | {t.lower() for t in tracking}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k.lower() not in drop and not (k.lower() == "output" and v.lower() == "amp")]
    q = urlencode(query)
    return f"//{host}{path}" + (f"?{q}" if q else "")


_WORD = re.compile(r"\w+")


def story_key(title: str, text: str) -> str:
    """Title and text with case, accents, punctuation and spacing folded away."""
    def fold(value: str) -> str:
        if value.isascii():  # nothing to decompose or strip
            return " ".join(_WORD.findall(value.casefold()))
        value = strip_marks(unicodedata.normalize("NFKD", value.casefold()))
        return " ".join(_WORD.findall(value))
    return hashlib.sha256(f"{fold(title)}\n{fold(text)[:500]}".encode()).hexdigest()[:32]


def entry_story(entry: Entry) -> str:
    """The entry's story key: worked out with the parsing when it could be, else now."""
    return entry.story_key or story_key(entry.title, entry.summary_text)


@dataclass(frozen=True)
class Known:
    """An entry the store already holds."""

    entry_id: str
    source_id: str  # the source whose copy we publish
    content_hash: str
    published: datetime
    updated: datetime
    retired: bool = False  # past retention: remembered only so it does not come back
    item_key: str = ""  # the owner's item key


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
    """This item is a copy of an entry we hold: from another source with the same
    URL, or from this source under a new GUID (``remap`` names the old key)."""

    entry_id: str
    entry: Entry
    remap: str | None = None
    reason: str = "same URL"


@dataclass(frozen=True)
class Seen:
    entry_id: str
    entry: Entry


Action = Insert | Update | Alias | Seen


def has_own_id(entry: Entry) -> bool:
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
        if e.url_key is not None and e.url_key in seen_urls and not has_own_id(e):
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
    by_story: Mapping[str, Known] | None = None,
    also_present: Iterable[str] = (),
) -> list[Action]:
    """What to do with each entry of one source's document.

    ``by_item`` maps this source's item keys to what we hold for them;
    ``by_url`` maps URL identities to entries held from any source;
    ``by_story`` maps ``story_key``s to this source's entries;
    ``also_present``: item keys of the document's other items, sent again unchanged
    and not normalised (they are still seen; no GUID moved from them).
    """
    batch = unique_in_batch(entries)
    present = {e.item_key for e in batch} | set(also_present)
    actions: list[Action] = []
    for entry in batch:
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
        if other is not None and (other.source_id != entry.source_id or not has_own_id(entry)):
            actions.append(Alias(other.entry_id, entry))
            continue
        if other is not None and other.item_key not in present:
            # The same link under a new GUID, and the old GUID has left the feed.
            actions.append(Alias(other.entry_id, entry, remap=other.item_key,
                                 reason="GUID changed, same link"))
            continue
        same = (by_story or {}).get(entry_story(entry))
        if same is not None and same.source_id == entry.source_id and same.item_key not in present:
            actions.append(Alias(same.entry_id, entry, remap=same.item_key,
                                 reason="GUID changed, same title and text"))
            continue
        actions.append(Insert(entry_id(entry.source_id, entry.item_key), entry))
    return actions
