"""The state database: SQLite in WAL mode, one transaction per source.

Tables:
- ``sources``: each source's HTTP cache and health;
- ``entries``: what we publish, one row per story, with when we first saw it;
- ``items``: every (source, item key) we have seen and the entry it maps to.
  An item whose entry is past retention stays here as a tombstone, so a
  source that still carries it does not bring it back as new.
- ``meta``: small facts, such as the fingerprint of the topic rules.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feeds.dedupe import Action, Alias, Insert, Known, Seen, Update
from feeds.errors import StateError
from feeds.types import Enclosure, Entry, HealthEvent, HttpCache, Person, SourceHealth, TopicMatch

SCHEMA_VERSION = 2

# The first schema, as version 1 shipped it. A new database is created with it
# and then brought forward by the same migrations as an old one, so every
# migration is exercised on every install.
_SCHEMA_V1 = """
CREATE TABLE sources (
    id TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    last_attempt TEXT,
    last_success TEXT,
    last_status TEXT,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE entries (
    id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL,
    item_key TEXT NOT NULL,
    url_key TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    gone TEXT,
    published TEXT NOT NULL,
    updated TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX entries_url ON entries(url_key);
CREATE INDEX entries_first_seen ON entries(first_seen);
CREATE INDEX entries_source ON entries(source_id);
CREATE TABLE entry_topics (
    entry_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    PRIMARY KEY (topic, entry_id)
) WITHOUT ROWID;
CREATE INDEX entry_topics_entry ON entry_topics(entry_id);
CREATE TABLE items (
    source_id TEXT NOT NULL,
    item_key TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (source_id, item_key)
) WITHOUT ROWID;
CREATE INDEX items_entry ON items(entry_id);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Forward-only migrations: MIGRATIONS[n] takes a database from version n - 1 to n.
MIGRATIONS: dict[int, str] = {
    2: """
ALTER TABLE sources ADD COLUMN state TEXT NOT NULL DEFAULT 'new';
UPDATE sources SET state = CASE WHEN last_status = 'failed' THEN 'failing'
                                WHEN last_status IS NULL THEN 'new' ELSE 'ok' END;
ALTER TABLE sources DROP COLUMN last_status;
ALTER TABLE sources ADD COLUMN config_url TEXT;
ALTER TABLE sources ADD COLUMN http_status INTEGER;
ALTER TABLE sources ADD COLUMN last_warning TEXT;
ALTER TABLE sources ADD COLUMN next_due TEXT;
ALTER TABLE sources ADD COLUMN redirect_target TEXT;
ALTER TABLE sources ADD COLUMN redirect_seen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN redirect_adopted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN entries_seen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN last_new_entry TEXT;
ALTER TABLE sources ADD COLUMN alerted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;
CREATE TABLE health_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id TEXT NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX health_events_at ON health_events(at);
""",
}

_HEALTH_COLUMNS = (
    "state", "config_url", "last_attempt", "last_success", "http_status", "failures",
    "last_error", "last_warning", "next_due", "redirect_target", "redirect_seen",
    "redirect_adopted", "entries_seen", "last_new_entry", "alerted", "stale",
)
_TIME_COLUMNS = frozenset({"last_attempt", "last_success", "next_due", "last_new_entry"})
_BOOL_COLUMNS = frozenset({"redirect_adopted", "alerted", "stale"})


def _ts(value: datetime) -> str:
    """Fixed-width UTC text, so that SQL ordering is time ordering."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dt(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _entry_json(e: Entry) -> str:
    return json.dumps({
        "source_id": e.source_id,
        "item_key": e.item_key,
        "url_key": e.url_key,
        "link": e.link,
        "title": e.title,
        "summary_html": e.summary_html,
        "content_html": e.content_html,
        "summary_text": e.summary_text,
        "published": _ts(e.published),
        "updated": _ts(e.updated),
        "authors": [[a.name, a.email, a.uri] for a in e.authors],
        "categories": list(e.categories),
        "enclosures": [[x.url, x.type, x.length] for x in e.enclosures],
        "language": e.language,
        "content_hash": e.content_hash,
        "topics": [[m.topic, m.rule, list(m.terms)] for m in e.topics],
        "date_guessed": e.date_guessed,
    }, ensure_ascii=False, sort_keys=True)


def _entry_from_json(text: str) -> Entry:
    d: dict[str, Any] = json.loads(text)
    return Entry(
        source_id=d["source_id"],
        item_key=d["item_key"],
        url_key=d["url_key"],
        link=d["link"],
        title=d["title"],
        summary_html=d["summary_html"],
        content_html=d["content_html"],
        summary_text=d["summary_text"],
        published=_dt(d["published"]),
        updated=_dt(d["updated"]),
        authors=tuple(Person(n, e, u) for n, e, u in d["authors"]),
        categories=tuple(d["categories"]),
        enclosures=tuple(Enclosure(u, t, n) for u, t, n in d["enclosures"]),
        language=d["language"],
        content_hash=d["content_hash"],
        topics=tuple(TopicMatch(t, r, tuple(terms)) for t, r, terms in d["topics"]),
        date_guessed=d.get("date_guessed", False),
    )


class Store:
    """The one owner of the state database."""

    def __init__(self, path: Path, *, shared: bool = False) -> None:
        """``shared``: the connection may be used from another thread (one at a time),
        as the daemon's worker thread does."""
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30,
                                      check_same_thread=not shared)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"{path}: cannot open the state database ({exc}); "
                "move it aside to start afresh, or restore it from a backup"
            ) from None
        except OSError as exc:
            raise StateError(f"{path}: cannot create the state database ({exc})") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StateError(
                f"{self.path}: the state database has schema {version}, newer than this "
                f"program's {SCHEMA_VERSION}; upgrade feeds"
            )
        if version == 0:
            tables = self.db.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()[0]
            if tables:
                raise StateError(f"{self.path}: this is not a feeds state database")
            self._script(_SCHEMA_V1, 1)
            version = 1
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self._script(MIGRATIONS[target], target)

    def _script(self, script: str, version: int) -> None:
        """Run a schema script and set the version in one transaction: a crash
        leaves the database at the old version or the new one, never between."""
        try:
            self.db.executescript(f"BEGIN IMMEDIATE;{script}PRAGMA user_version = {version};COMMIT;")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- meta -----------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    # --- sources --------------------------------------------------------------

    def http_cache(self, source_id: str) -> HttpCache:
        row = self.db.execute(
            "SELECT etag, last_modified, body_hash FROM sources WHERE id = ?", (source_id,)
        ).fetchone()
        return HttpCache() if row is None else HttpCache(row[0], row[1], row[2])

    def save_cache(self, source_id: str, cache: HttpCache) -> None:
        self.db.execute("INSERT OR IGNORE INTO sources(id) VALUES (?)", (source_id,))
        self.db.execute(
            "UPDATE sources SET etag = ?, last_modified = ?, body_hash = ? WHERE id = ?",
            (cache.etag, cache.last_modified, cache.body_hash, source_id))

    def health(self, source_id: str) -> SourceHealth:
        return self.all_health().get(source_id) or SourceHealth(source_id)

    def all_health(self) -> dict[str, SourceHealth]:
        cols = ", ".join(_HEALTH_COLUMNS)
        out: dict[str, SourceHealth] = {}
        for row in self.db.execute(f"SELECT id, {cols} FROM sources"):
            values: dict[str, Any] = {}
            for name, value in zip(_HEALTH_COLUMNS, row[1:], strict=True):
                if name in _TIME_COLUMNS:
                    value = _dt(value) if value else None
                elif name in _BOOL_COLUMNS:
                    value = bool(value)
                values[name] = value
            out[row[0]] = SourceHealth(source_id=row[0], **values)
        return out

    def save_health(self, health: SourceHealth, events: Iterable[HealthEvent] = ()) -> None:
        """Write a source's health and its events; call inside ``transaction()``."""
        self.db.execute("INSERT OR IGNORE INTO sources(id) VALUES (?)", (health.source_id,))
        values: list[Any] = []
        for name in _HEALTH_COLUMNS:
            value = getattr(health, name)
            if name in _TIME_COLUMNS:
                value = _ts(value) if value else None
            elif name in _BOOL_COLUMNS:
                value = int(value)
            values.append(value)
        assignments = ", ".join(f"{name} = ?" for name in _HEALTH_COLUMNS)
        self.db.execute(f"UPDATE sources SET {assignments} WHERE id = ?", (*values, health.source_id))
        self.db.executemany(
            "INSERT INTO health_events(source_id, at, kind, message) VALUES (?, ?, ?, ?)",
            [(e.source_id, _ts(e.at), e.kind, e.message) for e in events])

    def events(self, limit: int) -> list[tuple[int, HealthEvent]]:
        """The newest health events, newest first, with their ids."""
        rows = self.db.execute(
            "SELECT id, source_id, at, kind, message FROM health_events ORDER BY id DESC LIMIT ?",
            (limit,))
        return [(eid, HealthEvent(src, _dt(at), kind, msg)) for eid, src, at, kind, msg in rows]

    def entry_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT source_id, count(*) FROM entries GROUP BY source_id")
        return dict(rows)

    def first_seen_times(self, source_id: str, limit: int) -> list[datetime]:
        rows = self.db.execute(
            "SELECT first_seen FROM entries WHERE source_id = ? ORDER BY first_seen DESC LIMIT ?",
            (source_id, limit))
        return [_dt(first) for (first,) in rows]

    # --- entries ----------------------------------------------------------------

    def lookup(self, source_id: str, entries: Sequence[Entry]) -> tuple[dict[str, Known], dict[str, Known]]:
        """What we hold for these entries: by this source's item key, and by canonical link."""
        by_item: dict[str, Known] = {}
        by_url: dict[str, Known] = {}
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
                f"SELECT url_key, id, source_id, content_hash, published, updated FROM entries"
                f" WHERE url_key IN ({marks}) ORDER BY first_seen", chunk)
            for url, eid, owner, digest, published, updated in rows:
                by_url.setdefault(url, Known(eid, owner, digest, _dt(published), _dt(updated)))
        return by_item, by_url

    def apply(self, source_id: str, actions: Iterable[Action], now: datetime,
              topics_of: Any) -> tuple[int, int]:
        """Write one source's actions; ``topics_of(entry, extra_sources)`` classifies.

        Returns (new, updated). Call inside ``transaction()``.
        """
        new = updated = 0
        stamp = _ts(now)
        for action in actions:
            entry = action.entry
            if isinstance(action, Insert):
                entry = replace(entry, topics=topics_of(entry, ()))
                self.db.execute(
                    "INSERT INTO entries(id, source_id, item_key, url_key, first_seen, last_seen,"
                    " published, updated, content_hash, data) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (action.entry_id, source_id, entry.item_key, entry.url_key, stamp, stamp,
                     _ts(entry.published), _ts(entry.updated), entry.content_hash,
                     _entry_json(entry)))
                self._set_topics(action.entry_id, entry)
                new += 1
            elif isinstance(action, Update):
                carriers = self.carriers(action.entry_id) - {source_id}
                entry = replace(entry, topics=topics_of(entry, carriers))
                self.db.execute(
                    "UPDATE entries SET url_key = ?, last_seen = ?, gone = NULL, published = ?,"
                    " updated = ?, content_hash = ?, data = ? WHERE id = ?",
                    (entry.url_key, stamp, _ts(entry.published), _ts(entry.updated),
                     entry.content_hash, _entry_json(entry), action.entry_id))
                self._set_topics(action.entry_id, entry)
                updated += 1
            elif isinstance(action, Alias):
                self._upsert_item(source_id, entry.item_key, action.entry_id, stamp)
                self.reclassify_one(action.entry_id, topics_of)
                continue
            elif isinstance(action, Seen):
                self.db.execute("UPDATE entries SET last_seen = ?, gone = NULL WHERE id = ?"
                                " AND source_id = ?", (stamp, action.entry_id, source_id))
            self._upsert_item(source_id, entry.item_key, action.entry_id, stamp)
        return new, updated

    def _upsert_item(self, source_id: str, item_key: str, entry_id: str, stamp: str) -> None:
        self.db.execute(
            "INSERT INTO items(source_id, item_key, entry_id, last_seen) VALUES (?,?,?,?)"
            " ON CONFLICT(source_id, item_key) DO UPDATE SET last_seen = excluded.last_seen",
            (source_id, item_key, entry_id, stamp))

    def _set_topics(self, entry_id: str, entry: Entry) -> None:
        self.db.execute("DELETE FROM entry_topics WHERE entry_id = ?", (entry_id,))
        self.db.executemany("INSERT OR IGNORE INTO entry_topics(entry_id, topic) VALUES (?, ?)",
                            [(entry_id, t) for t in entry.topic_ids])

    def carriers(self, entry_id: str) -> set[str]:
        rows = self.db.execute("SELECT DISTINCT source_id FROM items WHERE entry_id = ?", (entry_id,))
        return {r[0] for r in rows}

    def reclassify_one(self, entry_id: str, topics_of: Any) -> None:
        row = self.db.execute("SELECT source_id, data FROM entries WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            return
        entry = _entry_from_json(row[1])
        carriers = self.carriers(entry_id) - {row[0]}
        topics = topics_of(entry, carriers)
        if topics != entry.topics:
            entry = replace(entry, topics=topics)
            self.db.execute("UPDATE entries SET data = ? WHERE id = ?", (_entry_json(entry), entry_id))
            self._set_topics(entry_id, entry)

    def reclassify_all(self, topics_of: Any) -> int:
        """Apply changed topic rules to every entry we hold. Returns how many moved."""
        ids = [r[0] for r in self.db.execute("SELECT id FROM entries")]
        moved = 0
        with self.transaction():
            for eid in ids:
                before = self.db.execute(
                    "SELECT group_concat(topic) FROM entry_topics WHERE entry_id = ?", (eid,)).fetchone()[0]
                self.reclassify_one(eid, topics_of)
                after = self.db.execute(
                    "SELECT group_concat(topic) FROM entry_topics WHERE entry_id = ?", (eid,)).fetchone()[0]
                moved += before != after
        return moved

    def mark_gone(self, source_id: str, present_keys: set[str], now: datetime) -> int:
        """Entries of ``source_id`` that its latest document no longer holds (local files)."""
        rows = self.db.execute(
            "SELECT id, item_key FROM entries WHERE source_id = ? AND gone IS NULL", (source_id,))
        gone = [eid for eid, key in rows if key not in present_keys]
        self.db.executemany("UPDATE entries SET gone = ? WHERE id = ?", [(_ts(now), g) for g in gone])
        return len(gone)

    def purge(self, cutoff: datetime) -> int:
        """Drop entries first seen before ``cutoff``; their items stay as tombstones
        until their sources stop carrying them."""
        with self.transaction():
            stamp = _ts(cutoff)
            ids = [r[0] for r in self.db.execute("SELECT id FROM entries WHERE first_seen < ?", (stamp,))]
            self.db.executemany("DELETE FROM entry_topics WHERE entry_id = ?", [(i,) for i in ids])
            self.db.execute("DELETE FROM entries WHERE first_seen < ?", (stamp,))
            self.db.execute("DELETE FROM items WHERE last_seen < ? AND entry_id NOT IN"
                            " (SELECT id FROM entries)", (stamp,))
        return len(ids)

    def entries_for(self, topic: str | None, limit: int) -> list[tuple[str, Entry, datetime]]:
        """The newest ``limit`` entries of a topic (None: all), newest first seen first."""
        if topic is None:
            cur = self.db.execute(
                "SELECT id, data, first_seen FROM entries"
                " ORDER BY first_seen DESC, published DESC, id LIMIT ?", (limit,))
        else:
            cur = self.db.execute(
                "SELECT e.id, e.data, e.first_seen FROM entry_topics t JOIN entries e ON e.id = t.entry_id"
                " WHERE t.topic = ? ORDER BY e.first_seen DESC, e.published DESC, e.id LIMIT ?",
                (topic, limit))
        return [(eid, _entry_from_json(data), _dt(first)) for eid, data, first in cur]

    def newest_update(self) -> datetime | None:
        row = self.db.execute("SELECT max(updated) FROM entries").fetchone()
        return _dt(row[0]) if row and row[0] else None

    def topic_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT topic, count(*) FROM entry_topics GROUP BY topic")
        return dict(rows)

    def count_entries(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM entries").fetchone()[0])


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
