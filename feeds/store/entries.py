"""Entries, the items that map to them, their topics, and retention."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from feeds.store.archive import forget_clusters
from feeds.store.codec import _dt, _entry_from_json, _ts
from feeds.store.connection import _chunks
from feeds.store.lsh import _LSH_DELETE, _LSH_INSERT, _lsh_rows, _stored_band_rows
from feeds.store.meta import MetaStore
from feeds.store.rows import Applied, Carried, ChangedEntry, NewEntry, Retopic, Row, StillSeen
from feeds.stories.dedupe import Known, entry_story, url_identity
from feeds.types import Entry

CACHE_KIB = 32 * 1024


class EntryStore(MetaStore):
    """The ``entries``, ``items``, ``entry_topics`` and ``remaps`` tables."""

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

    def apply(self, source_id: str, rows: Iterable[Row], now: datetime) -> Applied:
        """Write one source's finished rows, in order, and say what was inserted.

        ``rows`` may be a generator that decides each row after the one before it is
        written (reading this store in between, in the same transaction): the run's
        topics for a carried story depend on the carriers written just before.
        Call inside ``transaction()``.
        """
        new = updated = changed = 0
        inserted: list[tuple[str, Entry]] = []
        stamp = _ts(now)
        if not self._large_cache:
            # SQLite's default 2 MiB page cache is far smaller than the indexes that
            # storing entries inserts into at random (lsh, entries). Only a run that
            # stores entries gets the larger one: the cache fills with whatever is
            # read, and a run where every source answered 304 has no use for it.
            self.db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            self._large_cache = True
        for row in rows:
            if isinstance(row, NewEntry):
                entry = row.entry
                num = self.db.execute(
                    "INSERT INTO entries(id, source_id, item_key, url_key, first_seen, last_seen,"
                    " published, updated, content_hash, data, cluster_id, story_key)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (row.entry_id, source_id, entry.item_key, entry.url_key, stamp, stamp,
                     _ts(entry.published), _ts(entry.updated), entry.content_hash,
                     row.data, row.entry_id, row.story_key)).lastrowid
                assert num is not None
                self._set_topics(num, entry, new=True)
                self._lsh(_LSH_INSERT, _lsh_rows(num, row.bands, entry.published))
                self._upsert_item(source_id, entry.item_key, row.entry_id, stamp)
                inserted.append((row.entry_id, entry))
                new += 1
            elif isinstance(row, ChangedEntry):
                entry = row.entry
                self._lsh(_LSH_DELETE, _stored_band_rows(self.db, "id = ?", (row.entry_id,)))
                num = self.db.execute(
                    "UPDATE entries SET url_key = ?, last_seen = ?, gone = NULL, published = ?,"
                    " updated = ?, content_hash = ?, data = ?, story_key = ? WHERE id = ? RETURNING num",
                    (entry.url_key, stamp, _ts(entry.published), _ts(entry.updated),
                     entry.content_hash, row.data, row.story_key, row.entry_id)).fetchone()[0]
                self._set_topics(num, entry)
                self._lsh(_LSH_INSERT, _lsh_rows(num, row.bands, entry.published))
                self._upsert_item(source_id, entry.item_key, row.entry_id, stamp)
                updated += 1
            elif isinstance(row, Carried):
                self._upsert_item(source_id, row.item_key, row.entry_id, stamp)
                if row.remap is not None:
                    self.db.execute(
                        "INSERT INTO remaps(source_id, old_key, new_key, entry_id, at) VALUES (?,?,?,?,?)",
                        (source_id, row.remap, row.item_key, row.entry_id, stamp))
                    self.db.execute("UPDATE entries SET last_seen = ?, gone = NULL WHERE id = ?",
                                    (stamp, row.entry_id))
                changed += 1
            elif isinstance(row, StillSeen):
                self.db.execute("UPDATE entries SET last_seen = ?, gone = NULL WHERE id = ?"
                                " AND source_id = ?", (stamp, row.entry_id, source_id))
                self._upsert_item(source_id, row.item_key, row.entry_id, stamp)
            else:
                changed += self._retopic(row)
        if new or updated or changed:
            self.touch()
        return Applied(new, updated, tuple(inserted))

    def release_cache(self) -> None:
        """Back to the default page cache once entries are stored: the larger one
        (``CACHE_KIB``) pays while storing, and held through publishing it was a
        fifth of a run's peak memory."""
        if self._large_cache:
            self.db.execute("PRAGMA cache_size = -2000")
            self.db.execute("PRAGMA shrink_memory")
            self._large_cache = False

    def raw_items(self, source_id: str) -> dict[str, tuple[str, str]]:
        """This source's items by the hash of the item as it last sent it (``run.skip``):
        raw hash -> (item key, entry id). Tombstones included: they stay while carried."""
        rows = self.db.execute("SELECT raw, item_key, entry_id FROM items"
                               " WHERE source_id = ? AND raw IS NOT NULL", (source_id,))
        return {raw: (key, eid) for raw, key, eid in rows}

    def remember_raw(self, source_id: str, pairs: Iterable[tuple[str, str]]) -> None:
        """Record (item key, raw hash) of items just stored (rows written by ``apply``
        in the same transaction); an item without a row is ignored."""
        self.db.executemany("UPDATE items SET raw = ? WHERE source_id = ? AND item_key = ? AND raw IS NOT ?",
                            [(raw, source_id, key, raw) for key, raw in pairs])

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

    def _retopic(self, row: Retopic) -> int:
        found = self.db.execute("UPDATE entries SET data = ? WHERE id = ? RETURNING num",
                                (row.data, row.entry_id)).fetchone()
        if found is None:
            return 0
        self._set_topics(found[0], row.entry)
        return 1

    def retopic(self, rows: Iterable[Retopic]) -> int:
        """Give stored stories new topics (rules changed). Returns how many were found."""
        done = 0
        with self.transaction():
            for row in rows:
                done += self._retopic(row)
            if done:
                self.touch()
        return done

    def carriers(self, entry_id: str) -> set[str]:
        """Every source that carries the story, its owner included."""
        rows = self.db.execute("SELECT DISTINCT source_id FROM items WHERE entry_id = ?", (entry_id,))
        return {r[0] for r in rows}

    def stored_entry(self, entry_id: str) -> Entry | None:
        row = self.db.execute("SELECT data FROM entries WHERE id = ?", (entry_id,)).fetchone()
        return None if row is None else _entry_from_json(row[0])

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
