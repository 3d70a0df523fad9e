"""The state database: SQLite in WAL mode, one transaction per source.

Tables:
- ``sources``: each source's HTTP cache and health;
- ``entries``: what we publish, one row per story, with when we first saw it;
- ``items``: every (source, item key) we have seen and the entry it maps to.
  An item whose entry is past retention stays here as a tombstone, so a
  source that still carries it does not bring it back as new.
- ``meta``: small facts, such as the fingerprint of the topic rules, and what
  each feed says about itself (``feed:<source id>``: title and site link).
- ``lsh``: each entry's sketch bands, keyed by (band, bucket, published, entry
  num), where near-duplicate candidates are found (``cluster_candidates``).
- ``source_days``: per source and UTC day, fetches, failures, new entries and
  fetch latency, for the status page's charts; kept ``DAYS_KEPT`` days.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from feeds.errors import StateError
from feeds.stories import sourceinfo
from feeds.stories.dedupe import Action, Alias, Insert, Known, Seen, Update, entry_story, url_identity
from feeds.stories.similar import bands, sketch
from feeds.stories.sourceinfo import FeedInfo
from feeds.types import Enclosure, Entry, HealthEvent, HttpCache, Person, SourceDay, SourceHealth, TopicMatch
from feeds.xmlchars import safe_entry

SCHEMA_VERSION = 9
CACHE_KIB = 32 * 1024

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
# small temporary table of times and in key order: a lookup in entries per row, in
# random order, took three times as long (18 s for 100,000 entries).
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
# lsh row names its entry by it, with no index by entry. The text ids and the index
# made lsh four fifths of the database and half the cost of storing an entry
# (16 rows, each in two trees); an entry's rows are deleted by their keys, which its
# stored title, summary text and publication time give again (``_band_rows``).
# The index of entries by source also holds first_seen: a run where every source
# answered 304 reads each source's latest times (its cadence), and looking each row
# up in the table was a tenth of such a run on 1,000 sources.
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

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LSH_INSERT = "INSERT OR IGNORE INTO lsh(band, bucket, published, entry) VALUES (?, ?, ?, ?)"
_LSH_DELETE = "DELETE FROM lsh WHERE band = ? AND bucket = ? AND published = ? AND entry = ?"


def _micros(value: datetime) -> int:
    """The lsh table's time: microseconds since the epoch, exact (no float)."""
    return (value - _EPOCH) // timedelta(microseconds=1)


def _band_rows(num: int, entry: Entry) -> list[tuple[int, int, int, int]]:
    """The entry's lsh rows. Deleting an entry's rows computes them again from what is
    stored (``_stored_band_rows``), so they must depend on nothing else (a change to
    ``sketch`` or ``bands`` needs a migration that rebuilds the table)."""
    found = entry.bands or tuple(bands(sketch(entry.title, entry.summary_text)))
    return _lsh_rows(num, found, entry.published)


def _stored_band_rows(db: sqlite3.Connection, where: str, args: Sequence[object]
                      ) -> list[tuple[int, int, int, int]]:
    """The lsh rows of the stored entries that ``where`` selects."""
    out: list[tuple[int, int, int, int]] = []
    for num, published, title, summary in db.execute(
            f"SELECT num, published, json_extract(data, '$.title'), json_extract(data, '$.summary_text')"
            f" FROM entries WHERE {where}", args):
        out += _lsh_rows(num, bands(sketch(title, summary)), _dt(published))
    return out


def _lsh_rows(num: int, found: Sequence[int], published: datetime) -> list[tuple[int, int, int, int]]:
    at = _micros(published)
    return [(b, bucket, at, num) for b, bucket in enumerate(found) if bucket >= 0]


# Schema 6: an entry's topics name it by ``entries.num``. Entry ids are hashes, so rows
# keyed by (topic, entry id), and their index by entry id, went into random places of
# two trees that outgrow the page cache: storing an entry cost 100 us more for its two
# or three topics than with keys that only grow (45,000 entries replayed, 330 us an
# entry against 250). Rows of entries no longer stored are dropped on the way.
# The index of entries by cluster also holds what an archive page's fingerprint reads
# (``cluster_digests``), so reading it no longer visits the rows, each on a page of its
# own with its text, and needs no sort: 1.10 s against 0.55 s for the pages of 45,000
# entries when it was read a page at a time.
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
}

DAYS_KEPT = 30  # the status page charts this many days, today included


_HEALTH_COLUMNS = (
    "state", "config_url", "last_attempt", "last_success", "http_status", "failures",
    "last_error", "last_warning", "next_due", "redirect_target", "redirect_seen",
    "redirect_adopted", "entries_seen", "last_new_entry", "alerted", "stale", "unreadable_dates",
    "failing_since",
)
_TIME_COLUMNS = frozenset({"last_attempt", "last_success", "next_due", "last_new_entry", "failing_since"})
_BOOL_COLUMNS = frozenset({"redirect_adopted", "alerted", "stale"})


def _ts(value: datetime) -> str:
    """Fixed-width UTC text, so that SQL ordering is time ordering. isoformat pads the
    year to four digits; strftime's %Y does not (before 1000), and a feed dated "0999"
    was stored as text that _dt could not read, which failed every later publication."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def _dt(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)  # reads the "Z" of _ts() as UTC, and fast
    except ValueError:  # a year of fewer than four digits, as _ts wrote it before
        year, _, rest = value.partition("-")
        return datetime.fromisoformat(f"{year.zfill(4)}-{rest}")


def entry_json(e: Entry) -> str:
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
    """The stored entry, through ``safe_entry``: versions up to 1c1bdc8 stored control
    characters and javascript: author URIs as sources gave them, and one such entry
    failed every publication until retention dropped it. Cleaning on read heals
    those databases with no migration and no manual step (see docs/design.md)."""
    d: dict[str, Any] = json.loads(text)
    return safe_entry(Entry(
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
    ))


class Store:
    """The one owner of the state database."""

    inserted: list[tuple[str, Entry]]  # entries the last apply() added, for clustering

    def __init__(self, path: Path, *, shared: bool = False) -> None:
        """``shared``: the connection may be used from another thread (one at a time),
        as the daemon's worker thread does."""
        self.path = path
        self._batch_started: float | None = None
        self._batch_seconds = 1.0
        self._large_cache = False
        self._in_transaction = False
        # lsh changes of the transaction in progress, made when it ends (_flush_lsh)
        self._lsh_later: list[tuple[str, list[tuple[int, int, int, int]]]] = []
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30,
                                      check_same_thread=not shared)
            self._refuse_foreign()
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

    def _refuse_foreign(self) -> None:
        """Before changing anything in the file (WAL mode, migrations): is it ours?"""
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and not {"meta", "entries", "sources"} <= tables:
            self.db.close()
            raise StateError(f"{self.path}: this is not a feeds state database; set state_path in "
                             "config/feeds.toml to another file, or move this one aside")

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
                raise StateError(f"{self.path}: this is not a feeds state database; set state_path "
                                 "in config/feeds.toml to another file, or move this one aside")
            self._script(_SCHEMA_V1, 1)
            version = 1
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self._script(MIGRATIONS[target], target)

    def _script(self, script: str | Callable[[sqlite3.Connection], None], version: int) -> None:
        """Run a migration and set the version in one transaction: a crash leaves
        the database at the old version or the new one, never between."""
        try:
            if isinstance(script, str):
                self.db.executescript(f"BEGIN IMMEDIATE;{script}PRAGMA user_version = {version};COMMIT;")
            else:
                self.db.execute("BEGIN IMMEDIATE")
                script(self.db)
                self.db.execute(f"PRAGMA user_version = {version}")
                self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing. A database that cannot be written (disk full, read-only,
        damaged) is a StateError naming the file, not a traceback. Inside ``batch()``
        this is a savepoint: it undoes itself on error, and commits with the batch;
        if its lsh rows cannot be written after it (``_lsh``), the batch is undone."""
        batched = self._batch_started is not None
        try:
            self.db.execute("SAVEPOINT tx" if batched else "BEGIN IMMEDIATE")
            self._in_transaction = True
            try:
                yield
            except BaseException:
                self._lsh_later = []
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK TO tx" if batched else "ROLLBACK")
                    if batched:
                        self.db.execute("RELEASE tx")
                raise
            finally:
                self._in_transaction = False
            if batched:
                self.db.execute("RELEASE tx")
            try:
                self._flush_lsh()
                if not batched:
                    self.db.execute("COMMIT")
            except BaseException:
                # The source is stored without (some of) its lsh rows: that cannot be
                # committed. Outside a batch the transaction is undone; inside one, the
                # whole batch is (it lost what a crash would) and a new one begins.
                self._lsh_later = []
                with contextlib.suppress(sqlite3.DatabaseError):
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
                    if batched:
                        self.db.execute("BEGIN IMMEDIATE")
                        self._batch_started = time.monotonic()
                raise
        except sqlite3.DatabaseError as exc:
            self._lsh_later = []
            if self.db.in_transaction and not batched:
                with contextlib.suppress(sqlite3.DatabaseError):
                    self.db.execute("ROLLBACK")
            raise self.failure(exc) from None

    def _lsh(self, statement: str, rows: list[tuple[int, int, int, int]]) -> None:
        """Insert or delete lsh rows when the transaction in progress ends: inside a
        batch, after its savepoint is released. Whatever a savepoint first changes on
        a page that the batch already changed is copied aside in case it is rolled
        back, and lsh rows go into random places of a large tree: replaying 45,000
        entries a source at a time in a batch, 260 us an entry with them inside the
        savepoints, 174-190 after (166 with no savepoints at all). The rows are
        derived from the entry (``_band_rows``), so they need no undoing of their own:
        a source rolled back never makes them, and a failure writing them undoes the
        batch (``transaction``). Candidates never need them earlier: they are another
        source's."""
        if self._in_transaction:
            self._lsh_later.append((statement, rows))
        else:
            self.db.executemany(statement, rows)

    def _flush_lsh(self) -> None:
        later, self._lsh_later = self._lsh_later, []
        for statement, rows in later:
            self.db.executemany(statement, rows)

    @contextmanager
    def batch(self, seconds: float = 1.0) -> Iterator[None]:
        """Transactions inside commit together, at the latest ``seconds`` after the
        batch (or its last commit) began; see ``commit_if_due``. A commit costs a
        WAL write of every page touched, and one per source was a tenth of a cold
        run. A crash loses at most the uncommitted part: those sources' entries
        and validators together, so they are simply fetched again."""
        if self._batch_started is not None:  # already in one
            yield
            return
        self._batch_seconds = seconds
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self._batch_started = time.monotonic()
            try:
                yield
            except BaseException:
                self._batch_started = None
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
            self._batch_started = None
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._batch_started = None
            if self.db.in_transaction:
                with contextlib.suppress(sqlite3.DatabaseError):
                    self.db.execute("ROLLBACK")
            raise self.failure(exc) from None

    def commit_if_due(self) -> None:
        """Inside ``batch()``: commit what is done if the batch is old enough."""
        started = self._batch_started
        if started is None or time.monotonic() - started < self._batch_seconds:
            return
        try:
            self.db.execute("COMMIT")
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise self.failure(exc) from None
        self._batch_started = time.monotonic()

    def failure(self, exc: sqlite3.DatabaseError) -> StateError:
        """What to tell the operator about an SQLite error on this database."""
        code = getattr(exc, "sqlite_errorcode", None)
        if code in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR,
                    sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_BUSY):
            return StateError(f"{self.path}: cannot write the state database: {exc}")
        return StateError(f"{self.path}: the state database is damaged ({exc}); "
                          "restore it from a backup or move it aside to start afresh")

    # --- meta -----------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def touch(self) -> None:
        """Count a change to something the outputs show (entries, topics, clusters,
        health events). Call inside ``transaction()``: the change and the count
        commit together, so a crash before publishing still leaves outputs marked
        as stale."""
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES ('generation', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    # A feed's own title and site link live in ``meta`` under ``feed:<source id>``
    # (no schema change: they are a few small facts per source).

    def save_feed_info(self, source_id: str, info: FeedInfo) -> None:
        """Remember what a source's feed says about itself; call inside
        ``transaction()``. A change counts as a change to the outputs (``touch``):
        they show the title and link."""
        key, value = f"feed:{source_id}", sourceinfo.encode(info)
        if self.get_meta(key) != value:
            self.set_meta(key, value)
            self.touch()

    def feed_infos(self) -> dict[str, FeedInfo]:
        """Source id → what its feed last said about itself."""
        rows = self.db.execute("SELECT key, value FROM meta WHERE key >= 'feed:' AND key < 'feed;'")
        return {str(k)[len("feed:"):]: sourceinfo.decode(str(v)) for k, v in rows}

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
        return self._health("WHERE id = ?", (source_id,)).get(source_id) or SourceHealth(source_id)

    def all_health(self) -> dict[str, SourceHealth]:
        return self._health("", ())

    def _health(self, where: str, args: tuple[str, ...]) -> dict[str, SourceHealth]:
        cols = ", ".join(_HEALTH_COLUMNS)
        out: dict[str, SourceHealth] = {}
        for row in self.db.execute(f"SELECT id, {cols} FROM sources {where}", args):
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
        if events:
            self.touch()

    def events(self, limit: int) -> list[tuple[int, HealthEvent]]:
        """The newest health events, newest first, with their ids."""
        rows = self.db.execute(
            "SELECT id, source_id, at, kind, message FROM health_events ORDER BY id DESC LIMIT ?",
            (limit,))
        return [(eid, HealthEvent(src, _dt(at), kind, msg)) for eid, src, at, kind, msg in rows]

    def record_fetch(self, source_id: str, now: datetime, *, failed: bool, new_entries: int = 0,
                     seconds: float | None = None) -> None:
        """Count one fetch of a source on ``now``'s UTC day; call inside the
        ``transaction()`` that saves its health, so the two never disagree.
        ``seconds``: how long an answered fetch took (None for a failure, whose
        time says more about our timeouts than about the server). Days older than
        ``DAYS_KEPT`` go as new ones come."""
        day = now.astimezone(UTC).date()
        millis = None if seconds is None else max(0, round(seconds * 1000))
        self.db.execute(
            "INSERT INTO source_days(source_id, day, fetches, failures, new_entries, latency_count, "
            "latency_ms_sum, latency_ms_max) VALUES (?, ?, 1, ?, ?, ?, ?, ?) "
            "ON CONFLICT(source_id, day) DO UPDATE SET fetches = fetches + 1, "
            "failures = failures + excluded.failures, new_entries = new_entries + excluded.new_entries, "
            "latency_count = latency_count + excluded.latency_count, "
            "latency_ms_sum = latency_ms_sum + excluded.latency_ms_sum, "
            "latency_ms_max = max(latency_ms_max, excluded.latency_ms_max)",
            (source_id, day.isoformat(), int(failed), max(0, new_entries),
             int(millis is not None), millis or 0, millis or 0))
        cutoff = day - timedelta(days=DAYS_KEPT - 1)
        self.db.execute("DELETE FROM source_days WHERE day < ?", (cutoff.isoformat(),))

    def source_days(self, since: date, until: date) -> dict[str, list[SourceDay]]:
        """Each source's counted days from ``since`` to ``until`` (UTC days), oldest first."""
        out: dict[str, list[SourceDay]] = {}
        rows = self.db.execute(
            "SELECT source_id, day, fetches, failures, new_entries, latency_count, latency_ms_sum, "
            "latency_ms_max FROM source_days WHERE day BETWEEN ? AND ? ORDER BY source_id, day",
            (since.isoformat(), until.isoformat()))
        for source_id, day, *counts in rows:
            out.setdefault(source_id, []).append(SourceDay(date.fromisoformat(day), *counts))
        return out

    def entry_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT source_id, count(*) FROM entries GROUP BY source_id")
        return dict(rows)

    def first_seen_times(self, source_id: str, limit: int) -> list[datetime]:
        rows = self.db.execute(
            "SELECT first_seen FROM entries WHERE source_id = ? ORDER BY first_seen DESC LIMIT ?",
            (source_id, limit))
        return [_dt(first) for (first,) in rows]

    # --- entries ----------------------------------------------------------------

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
            # storing entries inserts into at random (lsh, entries): on the 200-feed
            # bench corpus a cold run made 1.2 M page reads and 1.0 M page writes
            # with it, 0.27 M and 0.6 M with 32 MiB. Only a run that stores entries
            # gets it: the cache fills with whatever is read, and a run where every
            # source answered 304 has no use for it.
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
            nums = [r[0] for r in self.db.execute("SELECT num FROM entries WHERE first_seen < ?", (stamp,))]
            self.db.executemany("DELETE FROM entry_topics WHERE entry = ?", [(n,) for n in nums])
            if nums:
                self.db.executemany(_LSH_DELETE, _stored_band_rows(self.db, "first_seen < ?", (stamp,)))
            self.db.execute("DELETE FROM entries WHERE first_seen < ?", (stamp,))
            self.db.execute("DELETE FROM items WHERE last_seen < ? AND entry_id NOT IN"
                            " (SELECT id FROM entries)", (stamp,))
            if nums:
                self.touch()
        return len(nums)

    def cluster_candidates(self, entry_id: str, entry: Entry, since: datetime,
                           until: datetime, min_bands: int = 2, most: int = 32) -> list[Candidate]:
        """Entries of other sources published in [since, until] that share at least
        ``min_bands`` sketch bands: one shared band is mostly chance (shared stock
        phrases), and a copy of the same story shares several. At most ``most``,
        those sharing the most bands: feeds built from one template share bands with
        thousands of entries, and judging them all would make storing quadratic.

        Each band is one range of the lsh primary key (band, bucket, published), so
        the rows read are those of the window, however many the store holds; entries
        are read only for the entries that share enough bands."""
        rows = _band_rows(0, entry)
        if not rows:
            return []
        lo, hi = _micros(since), _micros(until)
        where = " OR ".join("(band = ? AND bucket = ? AND published BETWEEN ? AND ?)" for _ in rows)
        found = self.db.execute(
            f"SELECT e.id, e.cluster_id, e.source_id, json_extract(e.data, '$.title'),"
            f" json_extract(e.data, '$.summary_text') FROM"
            f" (SELECT entry, count(*) AS shared FROM lsh WHERE {where}"
            f"  GROUP BY entry HAVING shared >= ?) l"
            f" JOIN entries e ON e.num = l.entry WHERE e.source_id != ?"
            f" ORDER BY l.shared DESC, e.id LIMIT ?",
            (*[v for band, bucket, _at, _id in rows for v in (band, bucket, lo, hi)],
             min(min_bands, len(rows)), entry.source_id, most))
        return [Candidate(*row) for row in found]

    def join_clusters(self, entry_id: str, clusters: Sequence[str], reason: str) -> str:
        """Put ``entry_id`` and every entry of ``clusters`` in one cluster, named by
        the cluster seen first (its id was published first and must stay)."""
        marks = ",".join("?" * len(clusters))
        keep = self.db.execute(
            f"SELECT cluster_id FROM entries WHERE cluster_id IN ({marks})"
            f" GROUP BY cluster_id ORDER BY min(first_seen), cluster_id LIMIT 1",
            tuple(clusters)).fetchone()[0]
        self.db.execute(f"UPDATE entries SET cluster_id = ? WHERE cluster_id IN ({marks})",
                        (keep, *clusters))
        self.db.execute("UPDATE entries SET cluster_id = ?, cluster_reason = ? WHERE id = ?",
                        (keep, reason, entry_id))
        self.touch()
        return str(keep)

    def cluster_ids_for(self, topic: str | None, limit: int = -1) -> list[str]:
        """Ids of a topic's clusters (None: all), seen first most recently first."""
        if topic is None:
            rows = self.db.execute(
                "SELECT cluster_id FROM entries GROUP BY cluster_id"
                " ORDER BY min(first_seen) DESC, max(published) DESC, cluster_id LIMIT ?", (limit,))
        else:
            rows = self.db.execute(
                "SELECT e.cluster_id FROM entries e WHERE e.cluster_id IN (SELECT e2.cluster_id"
                " FROM entry_topics t JOIN entries e2 ON e2.num = t.entry WHERE t.topic = ?)"
                " GROUP BY e.cluster_id ORDER BY min(e.first_seen) DESC, max(e.published) DESC,"
                " e.cluster_id LIMIT ?", (topic, limit))
        return [r[0] for r in rows]

    def topic_cluster_ids(self, topics: Iterable[str]) -> dict[str | None, list[str]]:
        """``cluster_ids_for`` of every topic and of None (all), from one read of the
        entries and one of their topics: the queries, one a topic, each grouped
        every entry again, and were half of the serial part of publishing."""
        first: dict[str, str] = {}
        last: dict[str, str] = {}
        cluster_of: dict[int, str] = {}
        for num, cid, seen, published in self.db.execute(
                "SELECT num, cluster_id, first_seen, published FROM entries"):
            cluster_of[num] = cid
            if cid not in first or seen < first[cid]:
                first[cid] = seen
            if cid not in last or published > last[cid]:
                last[cid] = published
        members: dict[str, set[str]] = {t: set() for t in topics}
        for num, topic in self.db.execute("SELECT entry, topic FROM entry_topics"):
            if topic in members and num in cluster_of:
                members[topic].add(cluster_of[num])
        # newest first: min(first_seen) DESC, max(published) DESC, then cluster_id
        # ascending. Two stable sorts (a reverse sort keeps ties in their order): a
        # key that turned the id around made a copy of each and a Python call for
        # every tie, and the sort was most of this method's time.
        ordered = sorted(first)
        ordered.sort(key=lambda c: (first[c], last[c]), reverse=True)
        out: dict[str | None, list[str]] = {None: ordered}
        for topic, clusters in members.items():
            out[topic] = [c for c in ordered if c in clusters]
        return out

    def clusters_for(self, topic: str | None, limit: int) -> list[Cluster]:
        """The ``limit`` clusters of a topic (None: all) seen first most recently."""
        return self.clusters(self.cluster_ids_for(topic, limit))

    def cluster_digests(self) -> dict[str, bytes]:
        """Per cluster, a digest of what its published form depends on: its members,
        each member's content hash, update time and first sighting, and the sources
        that carry it. An archive page's fingerprint is made of its clusters' (an entry
        is on a page of "all" and of each of its topics), and these come from one scan
        of the index of entries by cluster, which holds those columns. A query a page
        read each member's carriers again for every page it was on: two fifths of a
        run that publishes without rendering (45,000 entries, 180,000 member rows)."""
        out: dict[str, bytes] = {}
        current: str | None = None
        digest = hashlib.blake2b(digest_size=16)
        for cid, eid, content, updated, first, carriers in self.db.execute(
                "SELECT e.cluster_id, e.id, e.content_hash, e.updated, e.first_seen,"
                " (SELECT group_concat(i.source_id, ' ') FROM items i WHERE i.entry_id = e.id)"
                " FROM entries e ORDER BY e.cluster_id, e.id"):
            if cid != current:
                if current is not None:
                    out[current] = digest.digest()
                current, digest = cid, hashlib.blake2b(digest_size=16)
            # group_concat's order is SQLite's choice; the carriers are a set
            digest.update(repr((eid, content, updated, first, sorted((carriers or "").split()))).encode())
        if current is not None:
            out[current] = digest.digest()
        return out

    def clusters(self, ids: Sequence[str]) -> list[Cluster]:
        return clusters_from_rows(ids, self.cluster_rows(ids))

    def cluster_of(self, entry_id: str) -> Cluster | None:
        row = self.db.execute("SELECT cluster_id FROM entries WHERE id = ? OR cluster_id = ? LIMIT 1",
                              (entry_id, entry_id)).fetchone()
        return self.clusters([row[0]])[0] if row else None

    def find_entries(self, text: str) -> list[str]:
        """Ids of entries whose id, cluster id, link or URL identity is ``text``."""
        key = url_identity(text) if text.startswith(("http://", "https://")) else text
        rows = self.db.execute(
            "SELECT id FROM entries WHERE id = ? OR cluster_id = ? OR url_key = ?"
            " OR json_extract(data, '$.link') = ? ORDER BY first_seen", (text, text, key, text))
        return [r[0] for r in rows]

    def cluster_rows(self, ids: Sequence[str]) -> list[ClusterRow]:
        """The stored rows of these clusters' members, undecoded (``clusters_from_rows``
        decodes them, in a worker process if need be)."""
        out: list[ClusterRow] = []
        for chunk in _chunks(list(ids), 400):
            marks = ",".join("?" * len(chunk))
            out.extend(self.db.execute(
                f"SELECT e.id, e.cluster_id, e.data, e.first_seen, e.cluster_reason,"
                f" (SELECT group_concat(i.source_id, ' ') FROM items i"
                f"  WHERE i.entry_id = e.id AND i.source_id != e.source_id), e.source_id"
                f" FROM entries e WHERE e.cluster_id IN ({marks}) ORDER BY e.first_seen, e.id", chunk))
        return out

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


@dataclass(frozen=True)
class Candidate:
    entry_id: str
    cluster_id: str
    source_id: str
    title: str
    summary_text: str


@dataclass(frozen=True)
class Member:
    id: str
    entry: Entry
    first_seen: datetime
    reason: str | None  # why it joined its cluster
    carriers: tuple[str, ...]  # other sources with the same URL


@dataclass(frozen=True)
class Cluster:
    id: str  # the published id
    members: tuple[Member, ...]  # first seen first


# id, cluster id, data, first seen, cluster reason, other carriers, source id
ClusterRow = tuple[str, str, str, str, str | None, str | None, str]


def clusters_from_rows(ids: Sequence[str], rows: Iterable[ClusterRow]) -> list[Cluster]:
    """The clusters ``ids``, in that order, from their members' rows. Pure."""
    members: dict[str, list[Member]] = {i: [] for i in ids}
    for eid, cid, data, first, reason, carriers, _source in rows:
        members[cid].append(Member(eid, _entry_from_json(data), _dt(first), reason,
                                   tuple(sorted(set((carriers or "").split())))))
    return [Cluster(i, tuple(members[i])) for i in ids if members[i]]


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
