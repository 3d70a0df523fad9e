"""Entries, the items that map to them, their topics, and retention."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from feeds.store.archive import forget_clusters
from feeds.store.codec import _dt, _entry_from_json, _ts, entry_json
from feeds.store.connection import _chunks
from feeds.store.lsh import _LSH_DELETE, _LSH_INSERT, _band_rows, _stored_band_rows
from feeds.store.meta import MetaStore
from feeds.stories.dedupe import Action, Alias, Insert, Known, Seen, Update, entry_story, url_identity
from feeds.types import Entry

CACHE_KIB = 32 * 1024


class EntryStore(MetaStore):
    """The ``entries``, ``items``, ``entry_topics`` and ``remaps`` tables."""

    inserted: list[tuple[str, Entry]]  # entries the last apply() added, for clustering

    def lookup(self, source_id: str, entries: Sequence[Entry]
               ) -> tuple[dict[str, Known], dict[str, Known], dict[str, Known]]:
        """What we hold for these entries: by this source's item key, by URL identity
        (any source), and by story key (this source)."""
        by_item: dict[str, Known] = {}
        by_url: dict[str, Known] = {}
        by_story: dict[str, Known] = {}
        keys = [e.item_key for e in entries]
        for chunk in _chunks(keys, 500):
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT i.item_key, i.entry_id, e.source_id, e.content_hash, e.published, e.updated"
                f" FROM items i LEFT JOIN entries e ON e.id = i.entry_id"
                f" WHERE i.source_id = ? AND i.item_key IN ({marks})", (source_id, *chunk))
            for key, eid, owner, digest, published, updated in rows:
                if owner is None:  # past retention
                    by_item[key] = Known(eid, source_id, "", _dt("1970-01-01T00:00:00.000000Z"),
                                         _dt("1970-01-01T00:00:00.000000Z"), retired=True)
                else:
                    by_item[key] = Known(eid, owner, digest, _dt(published), _dt(updated))
        urls = [e.url_key for e in entries if e.url_key]
        for chunk in _chunks(urls, 500):
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT url_key, id, source_id, content_hash, published, updated, item_key FROM entries"
                f" WHERE url_key IN ({marks}) ORDER BY first_seen", chunk)
            for url, eid, owner, digest, published, updated, key in rows:
                by_url.setdefault(url, Known(eid, owner, digest, _dt(published), _dt(updated),
                                             item_key=key))
        stories = list({entry_story(e) for e in entries})
        for chunk in _chunks(stories, 500):
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT story_key, id, content_hash, published, updated, item_key FROM entries"
                f" WHERE source_id = ? AND story_key IN ({marks}) ORDER BY first_seen", (source_id, *chunk))
            for story, eid, digest, published, updated, key in rows:
                by_story.setdefault(story, Known(eid, source_id, digest, _dt(published), _dt(updated),
                                                 item_key=key))
        return by_item, by_url, by_story

    def apply(self, source_id: str, actions: Iterable[Action], now: datetime,
              topics_of: Any, *, preclassified: bool = False,
              encoded: Mapping[int, tuple[Entry, str]] | None = None,
              carrying_matters: bool = True) -> tuple[int, int]:
        """Write one source's actions; ``topics_of(entry, extra_sources)`` classifies.
        ``preclassified``: the entries' topics are already those of their own source
        alone, so only entries that other sources also carry are classified again.
        ``encoded``: ``entry_json`` of entries, by ``id()``, made elsewhere; used only
        for the very entry object it was made from. ``carrying_matters``: False when
        this source carrying an entry can never change its topics
        (``Classifier.carrying_matters``), so that an entry it aliases keeps them.

        Returns (new, updated). Call inside ``transaction()``.
        """
        new = updated = aliased = 0
        stamp = _ts(now)
        self.inserted = []
        if not self._large_cache:
            # SQLite's default 2 MiB page cache is far smaller than the indexes that
            # storing entries inserts into at random (lsh, entries). Only a run that
            # stores entries gets the larger one: the cache fills with whatever is
            # read, and a run where every source answered 304 has no use for it.
            self.db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            self._large_cache = True
        for action in actions:
            entry = action.entry
            if isinstance(action, Insert):
                if not preclassified:
                    entry = replace(entry, topics=topics_of(entry, ()))
                made = encoded.get(id(entry)) if encoded else None
                data = made[1] if made is not None and made[0] is entry else entry_json(entry)
                num = self.db.execute(
                    "INSERT INTO entries(id, source_id, item_key, url_key, first_seen, last_seen,"
                    " published, updated, content_hash, data, cluster_id, story_key)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (action.entry_id, source_id, entry.item_key, entry.url_key, stamp, stamp,
                     _ts(entry.published), _ts(entry.updated), entry.content_hash,
                     data, action.entry_id, entry_story(entry))).lastrowid
                assert num is not None
                self._set_topics(num, entry, new=True)
                self._lsh(_LSH_INSERT, _band_rows(num, entry))
                self.inserted.append((action.entry_id, entry))
                new += 1
            elif isinstance(action, Update):
                carriers = self.carriers(action.entry_id) - {source_id}
                if carriers or not preclassified:
                    entry = replace(entry, topics=topics_of(entry, carriers))
                self._lsh(_LSH_DELETE, _stored_band_rows(self.db, "id = ?", (action.entry_id,)))
                num = self.db.execute(
                    "UPDATE entries SET url_key = ?, last_seen = ?, gone = NULL, published = ?,"
                    " updated = ?, content_hash = ?, data = ?, story_key = ? WHERE id = ? RETURNING num",
                    (entry.url_key, stamp, _ts(entry.published), _ts(entry.updated),
                     entry.content_hash, entry_json(entry),
                     entry_story(entry), action.entry_id)).fetchone()[0]
                self._set_topics(num, entry)
                self._lsh(_LSH_INSERT, _band_rows(num, entry))
                updated += 1
            elif isinstance(action, Alias):
                self._upsert_item(source_id, entry.item_key, action.entry_id, stamp)
                if action.remap is not None:
                    self.db.execute(
                        "INSERT INTO remaps(source_id, old_key, new_key, entry_id, at) VALUES (?,?,?,?,?)",
                        (source_id, action.remap, entry.item_key, action.entry_id, stamp))
                    self.db.execute("UPDATE entries SET last_seen = ?, gone = NULL WHERE id = ?",
                                    (stamp, action.entry_id))
                if carrying_matters:
                    self.reclassify_one(action.entry_id, topics_of)
                aliased += 1
                continue
            elif isinstance(action, Seen):
                self.db.execute("UPDATE entries SET last_seen = ?, gone = NULL WHERE id = ?"
                                " AND source_id = ?", (stamp, action.entry_id, source_id))
            self._upsert_item(source_id, entry.item_key, action.entry_id, stamp)
        if new or updated or aliased:
            self.touch()
        return new, updated

    def _upsert_item(self, source_id: str, item_key: str, entry_id: str, stamp: str) -> None:
        self.db.execute(
            "INSERT INTO items(source_id, item_key, entry_id, last_seen) VALUES (?,?,?,?)"
            " ON CONFLICT(source_id, item_key) DO UPDATE SET last_seen = excluded.last_seen",
            (source_id, item_key, entry_id, stamp))

    def _set_topics(self, num: int, entry: Entry, *, new: bool = False) -> None:
        if not new:
            self.db.execute("DELETE FROM entry_topics WHERE entry = ?", (num,))
        self.db.executemany("INSERT OR IGNORE INTO entry_topics(entry, topic) VALUES (?, ?)",
                            [(num, t) for t in entry.topic_ids])

    def carriers(self, entry_id: str) -> set[str]:
        rows = self.db.execute("SELECT DISTINCT source_id FROM items WHERE entry_id = ?", (entry_id,))
        return {r[0] for r in rows}

    def reclassify_one(self, entry_id: str, topics_of: Any) -> None:
        row = self.db.execute("SELECT source_id, data, num FROM entries WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            return
        entry = _entry_from_json(row[1])
        carriers = self.carriers(entry_id) - {row[0]}
        topics = topics_of(entry, carriers)
        if topics != entry.topics:
            entry = replace(entry, topics=topics)
            self.db.execute("UPDATE entries SET data = ? WHERE id = ?", (entry_json(entry), entry_id))
            self._set_topics(row[2], entry)
            self.touch()

    def reclassify_all(self, topics_of: Any) -> int:
        """Apply changed topic rules to every entry we hold. Returns how many moved."""
        ids = self.db.execute("SELECT id, num FROM entries").fetchall()
        moved = 0
        with self.transaction():
            for eid, num in ids:
                before = self.db.execute(
                    "SELECT group_concat(topic) FROM entry_topics WHERE entry = ?", (num,)).fetchone()[0]
                self.reclassify_one(eid, topics_of)
                after = self.db.execute(
                    "SELECT group_concat(topic) FROM entry_topics WHERE entry = ?", (num,)).fetchone()[0]
                moved += before != after
        return moved

    def mark_gone(self, source_id: str, present_keys: set[str], now: datetime) -> int:
        """Entries of ``source_id`` that its latest document no longer holds (local files)."""
        rows = self.db.execute(
            "SELECT id, item_key FROM entries WHERE source_id = ? AND gone IS NULL", (source_id,))
        gone = [eid for eid, key in rows if key not in present_keys]
        self.db.executemany("UPDATE entries SET gone = ? WHERE id = ?", [(_ts(now), g) for g in gone])
        if gone:
            self.touch()
        return len(gone)

    def purge(self, cutoff: datetime) -> int:
        """Drop entries first seen before ``cutoff``; their items stay as tombstones
        until their sources stop carrying them."""
        with self.transaction():
            stamp = _ts(cutoff)
            rows = self.db.execute("SELECT num, cluster_id FROM entries WHERE first_seen < ?",
                                   (stamp,)).fetchall()
            nums = [num for num, _cid in rows]
            self.db.executemany("DELETE FROM entry_topics WHERE entry = ?", [(n,) for n in nums])
            if nums:
                self.db.executemany(_LSH_DELETE, _stored_band_rows(self.db, "first_seen < ?", (stamp,)))
            self.db.execute("DELETE FROM entries WHERE first_seen < ?", (stamp,))
            forget_clusters(self.db, {cid for _num, cid in rows})
            self.db.execute("DELETE FROM items WHERE last_seen < ? AND entry_id NOT IN"
                            " (SELECT id FROM entries)", (stamp,))
            if nums:
                self.touch()
        return len(nums)

    def find_entries(self, text: str) -> list[str]:
        """Ids of entries whose id, cluster id, link or URL identity is ``text``."""
        key = url_identity(text) if text.startswith(("http://", "https://")) else text
        rows = self.db.execute(
            "SELECT id FROM entries WHERE id = ? OR cluster_id = ? OR url_key = ?"
            " OR json_extract(data, '$.link') = ? ORDER BY first_seen", (text, text, key, text))
        return [r[0] for r in rows]

    def entries_of_sources(self, source_ids: Sequence[str]) -> list[tuple[str, Entry]]:
        if not source_ids:
            return []
        marks = ",".join("?" * len(source_ids))
        rows = self.db.execute(f"SELECT id, data FROM entries WHERE source_id IN ({marks})"
                               " ORDER BY first_seen DESC, id", tuple(source_ids))
        return [(eid, _entry_from_json(data)) for eid, data in rows]

    def all_entries(self) -> list[tuple[str, Entry, tuple[str, ...]]]:
        """Every entry with the ids of the sources that carry it (its own first)."""
        rows = self.db.execute(
            "SELECT e.id, e.data, e.source_id, (SELECT group_concat(i.source_id, ' ') FROM items i"
            " WHERE i.entry_id = e.id AND i.source_id != e.source_id) FROM entries e"
            " ORDER BY e.first_seen DESC, e.published DESC, e.id")
        return [(eid, _entry_from_json(data), (owner, *sorted(set((others or "").split()))))
                for eid, data, owner, others in rows]

    def remap_count(self) -> dict[str, tuple[int, str | None]]:
        """Per source: how many GUID changes were mapped back, and the latest."""
        rows = self.db.execute(
            "SELECT source_id, count(*), max(at || ' ' || old_key || ' -> ' || new_key)"
            " FROM remaps GROUP BY source_id")
        return {src: (n, last) for src, n, last in rows}

    def newest_update(self) -> datetime | None:
        row = self.db.execute("SELECT max(updated) FROM entries").fetchone()
        return _dt(row[0]) if row and row[0] else None

    def topic_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT topic, count(*) FROM entry_topics GROUP BY topic")
        return dict(rows)

    def count_entries(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM entries").fetchone()[0])
