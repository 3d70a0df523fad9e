"""The schema of the state database and its forward-only migrations.

A new database is created with the first schema and brought forward by the same
migrations as an old one, so every migration is exercised on every install.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from feeds.errors import StateError
from feeds.store.archive import migrate_10
from feeds.store.codec import _entry_from_json, entry_json
from feeds.stories.dedupe import entry_story, url_identity
from feeds.stories.similar import bands, sketch

SCHEMA_VERSION = 11

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


def _migrate_3(db: sqlite3.Connection) -> None:
    """Story clusters: every entry starts as its own cluster; URL keys become URL
    identities (AMP, www, scheme no longer count); sketches for near-duplicates."""
    # execute(), not executescript(): the latter would commit the open transaction.
    for statement in (
        "ALTER TABLE entries ADD COLUMN cluster_id TEXT",
        "ALTER TABLE entries ADD COLUMN cluster_reason TEXT",
        "ALTER TABLE entries ADD COLUMN story_key TEXT",
        "UPDATE entries SET cluster_id = id",
        "CREATE INDEX entries_cluster ON entries(cluster_id)",
        "CREATE INDEX entries_story ON entries(source_id, story_key)",
        "CREATE TABLE lsh (band INTEGER NOT NULL, bucket INTEGER NOT NULL, entry_id TEXT NOT NULL,"
        " PRIMARY KEY (band, bucket, entry_id)) WITHOUT ROWID",
        "CREATE INDEX lsh_entry ON lsh(entry_id)",
        "CREATE TABLE remaps (source_id TEXT NOT NULL, old_key TEXT NOT NULL, new_key TEXT NOT NULL,"
        " entry_id TEXT NOT NULL, at TEXT NOT NULL)",
        "CREATE INDEX remaps_source ON remaps(source_id)",
    ):
        db.execute(statement)
    for eid, data in db.execute("SELECT id, data FROM entries").fetchall():
        entry = _entry_from_json(data)
        url_key = url_identity(entry.url_key) if entry.url_key else None
        entry = replace(entry, url_key=url_key)
        db.execute("UPDATE entries SET url_key = ?, story_key = ?, data = ? WHERE id = ?",
                   (url_key, entry_story(entry), entry_json(entry), eid))
        # Schema 3's lsh rows; schema 4 adds their time.
        found = bands(sketch(entry.title, entry.summary_text))
        db.executemany("INSERT OR IGNORE INTO lsh(band, bucket, entry_id) VALUES (?, ?, ?)",
                       [(b, bucket, eid) for b, bucket in enumerate(found) if bucket >= 0])


# Schema 4: an lsh row carries its entry's publication time in its key, so that the
# candidates of an entry are a time range of each of its buckets. Before, every row of
# a bucket was read and its entry looked up to check the time: buckets of stock phrases
# hold thousands of entries over a retention period, and adding an entry cost time in
# proportion to the entries stored. The time is microseconds since the epoch, read
# from entries.published (fixed-width text, see _ts()). The rows are copied through a
# small temporary table of times and in key order, not by a lookup in entries per
# row in random order.
_MIGRATE_4 = """
CREATE TEMP TABLE entry_times (id TEXT PRIMARY KEY, published INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO entry_times
    SELECT id, CAST(strftime('%s', substr(published, 1, 19)) AS INTEGER) * 1000000
               + CAST(substr(published, 21, 6) AS INTEGER)
    FROM entries;
CREATE TABLE lsh4 (
    band INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    published INTEGER NOT NULL,
    entry_id TEXT NOT NULL,
    PRIMARY KEY (band, bucket, published, entry_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO lsh4(band, bucket, published, entry_id)
    SELECT l.band, l.bucket, t.published, l.entry_id
    FROM lsh l JOIN temp.entry_times t ON t.id = l.entry_id
    ORDER BY 1, 2, 3, 4;
DROP TABLE temp.entry_times;
DROP TABLE lsh;
ALTER TABLE lsh4 RENAME TO lsh;
CREATE INDEX lsh_entry ON lsh(entry_id);
"""

# Schema 5: entries get an integer key, ``num`` (AUTOINCREMENT: never reused), and an
# lsh row names its entry by it, with no index by entry, so that an entry's 16 rows
# go into one tree rather than two; they are deleted by their keys, which its
# stored title, summary text and publication time give again (``rows.entry_bands``).
# The index of entries by source also holds first_seen: a run where every source
# answered 304 reads each source's latest times (its cadence) from the index alone.
_MIGRATE_5 = """
CREATE TABLE entries5 (
    num INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    source_id TEXT NOT NULL,
    item_key TEXT NOT NULL,
    url_key TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    gone TEXT,
    published TEXT NOT NULL,
    updated TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    data TEXT NOT NULL,
    cluster_id TEXT,
    cluster_reason TEXT,
    story_key TEXT
);
INSERT INTO entries5(num, id, source_id, item_key, url_key, first_seen, last_seen, gone, published,
                     updated, content_hash, data, cluster_id, cluster_reason, story_key)
    SELECT rowid, id, source_id, item_key, url_key, first_seen, last_seen, gone, published,
           updated, content_hash, data, cluster_id, cluster_reason, story_key
    FROM entries ORDER BY rowid;
CREATE TEMP TABLE entry_nums (id TEXT PRIMARY KEY, num INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO entry_nums SELECT id, num FROM entries5;
DROP TABLE entries;
ALTER TABLE entries5 RENAME TO entries;
CREATE INDEX entries_url ON entries(url_key);
CREATE INDEX entries_first_seen ON entries(first_seen);
CREATE INDEX entries_source_seen ON entries(source_id, first_seen);
CREATE INDEX entries_cluster ON entries(cluster_id);
CREATE INDEX entries_story ON entries(source_id, story_key);
CREATE TABLE lsh5 (
    band INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    published INTEGER NOT NULL,
    entry INTEGER NOT NULL,
    PRIMARY KEY (band, bucket, published, entry)
) WITHOUT ROWID;
INSERT OR IGNORE INTO lsh5(band, bucket, published, entry)
    SELECT l.band, l.bucket, l.published, n.num
    FROM lsh l JOIN temp.entry_nums n ON n.id = l.entry_id
    ORDER BY 1, 2, 3, 4;
DROP TABLE temp.entry_nums;
DROP TABLE lsh;
ALTER TABLE lsh5 RENAME TO lsh;
"""


# Schema 6: an entry's topics name it by ``entries.num``. Entry ids are hashes, so rows
# keyed by (topic, entry id), and their index by entry id, go into random places of
# two trees that outgrow the page cache; keys that only grow do not. Rows of entries
# no longer stored are dropped on the way. The index of entries by cluster also holds
# what an archive page's fingerprint reads (``cluster_digests``), so reading it never
# visits the rows, each on a page of its own with its text, and needs no sort.
_MIGRATE_6 = """
DROP INDEX entries_cluster;
CREATE INDEX entries_cluster ON entries(cluster_id, id, content_hash, updated, first_seen);
CREATE TABLE entry_topics6 (
    topic TEXT NOT NULL,
    entry INTEGER NOT NULL,
    PRIMARY KEY (topic, entry)
) WITHOUT ROWID;
INSERT OR IGNORE INTO entry_topics6(topic, entry)
    SELECT t.topic, e.num FROM entry_topics t JOIN entries e ON e.id = t.entry_id ORDER BY 1, 2;
DROP TABLE entry_topics;
ALTER TABLE entry_topics6 RENAME TO entry_topics;
CREATE INDEX entry_topics_entry ON entry_topics(entry);
"""


# Forward-only migrations: MIGRATIONS[n] takes a database from version n - 1 to n,
# as an SQL script or, where rows must be rewritten, a function.
MIGRATIONS: dict[int, str | Callable[[sqlite3.Connection], None]] = {
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
    3: _migrate_3,
    4: _MIGRATE_4,
    5: _MIGRATE_5,
    6: _MIGRATE_6,
    # How many entry dates of the last document could not be read (feeds status).
    7: "ALTER TABLE sources ADD COLUMN unreadable_dates INTEGER NOT NULL DEFAULT 0;",
    # A source's fetches a day, for the status page (``record_fetch``, ``source_days``).
    8: """
CREATE TABLE source_days (
    source_id TEXT NOT NULL,
    day TEXT NOT NULL,
    fetches INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    new_entries INTEGER NOT NULL DEFAULT 0,
    latency_count INTEGER NOT NULL DEFAULT 0,
    latency_ms_sum INTEGER NOT NULL DEFAULT 0,
    latency_ms_max INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source_id, day)
) WITHOUT ROWID;
CREATE INDEX source_days_day ON source_days(day);
""",
    # When the current run of failures began (feeds run reports sources in backoff).
    9: "ALTER TABLE sources ADD COLUMN failing_since TEXT;",
    # Stable RFC 5005 archive pages: each story's position in its topics' sequences
    # (``feeds.store.archive``), numbered as the pages stood, oldest first.
    10: migrate_10,
    # A hash of each item as its source last sent it (``run.skip``): an item sent
    # again unchanged is not normalised again. Rows from before have none and are
    # normalised once more, then get one.
    11: "ALTER TABLE items ADD COLUMN raw TEXT;",
}


def refuse_foreign(db: sqlite3.Connection, path: Path) -> None:
    """Before changing anything in the file (WAL mode, migrations): is it ours?"""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and not {"meta", "entries", "sources"} <= tables:
        raise StateError(f"{path}: this is not a feeds state database; set state_path in "
                         "config/feeds.toml to another file, or move this one aside")


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the database at ``path`` to ``SCHEMA_VERSION``, creating it if empty."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StateError(
            f"{path}: the state database has schema {version}, newer than this "
            f"program's {SCHEMA_VERSION}; upgrade feeds"
        )
    if version == 0:
        tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if tables:
            raise StateError(f"{path}: this is not a feeds state database; set state_path "
                             "in config/feeds.toml to another file, or move this one aside")
        _script(db, _SCHEMA_V1, 1)
        version = 1
    for target in range(version + 1, SCHEMA_VERSION + 1):
        _script(db, MIGRATIONS[target], target)


def _script(db: sqlite3.Connection, script: str | Callable[[sqlite3.Connection], None],
            version: int) -> None:
    """Run a migration and set the version in one transaction: a crash leaves
    the database at the old version or the new one, never between."""
    try:
        if isinstance(script, str):
            db.executescript(f"BEGIN IMMEDIATE;{script}PRAGMA user_version = {version};COMMIT;")
        else:
            db.execute("BEGIN IMMEDIATE")
            script(db)
            db.execute(f"PRAGMA user_version = {version}")
            db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
