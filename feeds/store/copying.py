"""``feeds state copy``: a whole state from one store to another (SQLite to
PostgreSQL and back), row for row, then checked.

Every table is copied with its keys as they are (entry numbers, event ids), and
the counters that hand out new ones continue where the source's stood, so that
nothing published (entry ids, health event ids) changes. The source is read in
one snapshot. The copy is checked table by table: the same number of rows and
the same digest of every row in key order, read back from both sides.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from feeds.errors import StateError
from feeds.store.protocol import StoreProtocol
from feeds.store.schema import SCHEMA_VERSION
from feeds.store.state import Store

# Schema 9's tables: columns, the key (order of reading) first. A migration that
# adds a table or a column changes this too (tests/test_state_copy.py checks it
# against the schema SQLite makes).
TABLES: dict[str, tuple[str, ...]] = {
    "meta": ("key", "value"),
    "sources": ("id", "etag", "last_modified", "body_hash", "last_attempt", "last_success",
                "last_error", "failures", "state", "config_url", "http_status", "last_warning",
                "next_due", "redirect_target", "redirect_seen", "redirect_adopted", "entries_seen",
                "last_new_entry", "alerted", "stale", "unreadable_dates", "failing_since"),
    "health_events": ("id", "source_id", "at", "kind", "message"),
    "entries": ("num", "id", "source_id", "item_key", "url_key", "first_seen", "last_seen", "gone",
                "published", "updated", "content_hash", "data", "cluster_id", "cluster_reason",
                "story_key"),
    "items": ("source_id", "item_key", "entry_id", "last_seen", "raw"),
    "archive_positions": ("cluster_id", "topic", "pos"),
    "archive_next": ("topic", "next"),
    "entry_topics": ("topic", "entry"),
    "lsh": ("band", "bucket", "published", "entry"),
    "remaps": ("source_id", "old_key", "new_key", "entry_id", "at"),
    "source_days": ("source_id", "day", "fetches", "failures", "new_entries", "latency_count",
                    "latency_ms_sum", "latency_ms_max"),
}
KEYS: dict[str, tuple[str, ...]] = {
    "meta": ("key",), "sources": ("id",), "health_events": ("id",), "entries": ("num",),
    "items": ("source_id", "item_key"), "entry_topics": ("topic", "entry"),
    "lsh": ("band", "bucket", "published", "entry"), "remaps": TABLES["remaps"],
    "source_days": ("source_id", "day"),
    "archive_positions": ("cluster_id", "topic"), "archive_next": ("topic",),
}
# Tables whose new keys come from a counter, and the counter's column.
COUNTERS = {"entries": "num", "health_events": "id"}
_CHUNK = 2000


@dataclass(frozen=True)
class Copied:
    """What was copied, as checked on the target."""

    rows: dict[str, int]  # table -> rows
    sources: int
    entries: int
    clusters: int
    validators: int  # sources with an ETag or a Last-Modified

    def describe(self) -> str:
        return (f"{self.sources} sources ({self.validators} with validators), {self.entries} entries "
                f"in {self.clusters} stories; " +
                ", ".join(f"{table} {n}" for table, n in self.rows.items()))


def _concrete(store: StoreProtocol) -> Store:
    if not isinstance(store, Store):
        raise StateError(f"{store.name}: cannot copy a state of this kind")
    return store


def _counts(store: Store) -> dict[str, int]:
    return {t: int(store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}


def _counter(store: Store, table: str) -> int:
    """The last key the table's counter handed out (0: none)."""
    column = COUNTERS[table]
    if store.dialect == "postgresql":
        row = store.db.execute(
            f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM"
            f" {_pg_sequence(store, table, column)}").fetchone()
    else:
        row = store.db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    top = store.db.execute(f"SELECT max({column}) FROM {table}").fetchone()
    return max(int(row[0]) if row and row[0] is not None else 0,
               int(top[0]) if top and top[0] is not None else 0)


def _pg_sequence(store: Store, table: str, column: str) -> str:
    row = store.db.execute("SELECT pg_get_serial_sequence(?, ?)", (table, column)).fetchone()
    return str(row[0])


def _set_counter(store: Store, table: str, value: int) -> None:
    if value <= 0:
        return
    if store.dialect == "postgresql":
        sequence = _pg_sequence(store, table, COUNTERS[table])
        store.db.execute("SELECT setval(?::regclass, ?)", (sequence, value))
    else:
        store.db.execute("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
        store.db.execute("INSERT INTO sqlite_sequence(name, seq) VALUES (?, ?)", (table, value))


def _rows(store: Store, table: str) -> Any:
    columns = ", ".join(TABLES[table])
    order = ", ".join(KEYS[table])
    return store.db.execute(f"SELECT {columns} FROM {table} ORDER BY {order}")


def _digest(store: Store, table: str) -> tuple[int, bytes]:
    digest = hashlib.blake2b(digest_size=16)
    n = 0
    for row in _rows(store, table):
        digest.update(repr(tuple(row)).encode())
        n += 1
    return n, digest.digest()


def _begin_snapshot(store: Store) -> None:
    store.db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ" if store.dialect == "postgresql"
                     else "BEGIN")


def copy_state(source_store: StoreProtocol, target_store: StoreProtocol, *, force: bool = False
               ) -> Copied:
    """Copy every row of ``source_store`` into ``target_store`` and check the copy.
    A target that holds anything is refused unless ``force``, which empties it
    first. One transaction on the target: a failed copy leaves it as it was."""
    source, target = _concrete(source_store), _concrete(target_store)
    if source.name == target.name:
        raise StateError(f"{source.name}: the source and the target are the same state")
    held = {t: n for t, n in _counts(target).items() if n}
    if held and not force:
        what = ", ".join(f"{n} {t}" for t, n in held.items())
        raise StateError(f"{target.name}: the target state is not empty ({what}); "
                         "give --force to replace what it holds")
    try:
        _copy(source, target)
    except (*source.errors, *target.errors) as exc:
        raise StateError(f"cannot copy {source.name} to {target.name}: {exc}") from None
    return summary(target)


def _copy(source: Store, target: Store) -> None:
    _begin_snapshot(source)
    try:
        with target.transaction():
            for table in TABLES:
                target.db.execute(f"DELETE FROM {table}")
            for table, columns in TABLES.items():
                insert = (f"INSERT INTO {table}({', '.join(columns)})"
                          f" VALUES ({', '.join('?' * len(columns))})")
                cursor = _rows(source, table)
                while chunk := cursor.fetchmany(_CHUNK):
                    target.db.executemany(insert, [tuple(r) for r in chunk])
            for table in COUNTERS:
                _set_counter(target, table, _counter(source, table))
            mismatched = [t for t in TABLES if _digest(source, t) != _digest(target, t)]
            if mismatched:
                raise StateError(f"{target.name}: the copy differs from {source.name} in "
                                 f"{', '.join(mismatched)}; nothing was copied")
    finally:
        source.db.execute("COMMIT")


def summary(store_: StoreProtocol) -> Copied:
    """The counts ``copy_state`` reports, read from ``store_``."""
    store = _concrete(store_)

    def one(sql: str) -> int:
        return int(store.db.execute(sql).fetchone()[0])

    return Copied(
        rows=_counts(store),
        sources=one("SELECT count(*) FROM sources"),
        entries=one("SELECT count(*) FROM entries"),
        clusters=one("SELECT count(DISTINCT cluster_id) FROM entries"),
        validators=one("SELECT count(*) FROM sources WHERE etag IS NOT NULL OR last_modified IS NOT NULL"),
    )


def check_tables(store: StoreProtocol) -> list[str]:
    """Differences between ``TABLES`` and the SQLite schema (for the tests):
    a migration that changes a table must change ``TABLES`` too."""
    db = _concrete(store).db
    problems = []
    found = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
             if not r[0].startswith("sqlite_")}
    if found != set(TABLES):
        problems.append(f"tables {sorted(found)} != {sorted(TABLES)} at schema {SCHEMA_VERSION}")
    for table in found & set(TABLES):
        columns = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
        if columns != set(TABLES[table]):
            problems.append(f"{table}: columns {sorted(columns)} != {sorted(TABLES[table])}")
    return problems
