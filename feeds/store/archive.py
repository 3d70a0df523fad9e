"""Each topic's order of stories, and the stable archive positions drawn from it.

A story (cluster) gets a position in a topic's sequence (and in the all-topics
one) the first time a publication sees it in that topic, after every story that
already has one, and keeps it: RFC 5005 archive page k holds positions
(k-1)*size .. k*size-1, so a purge leaves holes rather than moving every story
to another page. Functions over an sqlite3 connection, used by the store
(``ClusterStore``) and by schema 10's migration, which numbers the stories as the
pages of the code before it stood (oldest first, in the order below).

Tables: ``archive_positions`` (cluster id, topic, position), ``archive_next``
(topic, the next position to give). The all-topics sequence's topic is ''.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

ALL_KEY = ""  # the all-topics sequence in the tables (None to callers)

SCHEMA_10 = (
    "CREATE TABLE archive_positions (cluster_id TEXT NOT NULL, topic TEXT NOT NULL,"
    " pos INTEGER NOT NULL, PRIMARY KEY (cluster_id, topic)) WITHOUT ROWID",
    "CREATE TABLE archive_next (topic TEXT PRIMARY KEY, next INTEGER NOT NULL) WITHOUT ROWID",
)


@dataclass(frozen=True)
class ArchiveOrder:
    """A topic's archive positions: of each story the caller named, and the next
    position to be given (one past the highest ever given, purged stories included)."""

    positions: Mapping[str, int]
    next: int


def topic_orders(db: sqlite3.Connection, topics: Iterable[str]) -> dict[str | None, list[str]]:
    """Ids of the clusters of every topic and of None (all), the cluster seen first
    most recently first (ties: newest published, then cluster id), from one read of
    the entries and one of their topics rather than a grouped query a topic."""
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    cluster_of: dict[int, str] = {}
    for num, cid, seen, published in db.execute(
            "SELECT num, cluster_id, first_seen, published FROM entries"):
        cluster_of[num] = cid
        if cid not in first or seen < first[cid]:
            first[cid] = seen
        if cid not in last or published > last[cid]:
            last[cid] = published
    members: dict[str, set[str]] = {t: set() for t in topics}
    for num, topic in db.execute("SELECT entry, topic FROM entry_topics"):
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


def stored_topics(db: sqlite3.Connection) -> list[str]:
    return [r[0] for r in db.execute("SELECT DISTINCT topic FROM entry_topics ORDER BY topic")]


def assign_positions(db: sqlite3.Connection, orders: Mapping[str | None, Sequence[str]]
                     ) -> dict[str | None, ArchiveOrder]:
    """Give every story of ``orders`` (each topic's cluster ids, newest first) that
    has no position in its topic the next ones, oldest first; return each topic's
    positions of those stories. A story keeps its position when it leaves a topic,
    so that it comes back to the same page if it returns. Call in a transaction."""
    known: dict[str, dict[str, int]] = {}
    for cid, topic, pos in db.execute("SELECT cluster_id, topic, pos FROM archive_positions"):
        known.setdefault(topic, {})[cid] = pos
    nexts = dict(db.execute("SELECT topic, next FROM archive_next").fetchall())
    out: dict[str | None, ArchiveOrder] = {}
    for topic, ids in orders.items():
        key = ALL_KEY if topic is None else topic
        positions = known.setdefault(key, {})
        start = nxt = int(nexts.get(key, 0))
        new: list[tuple[str, str, int]] = []
        for cid in reversed(ids):
            if cid not in positions:
                positions[cid] = nxt
                new.append((cid, key, nxt))
                nxt += 1
        if new:
            db.executemany("INSERT INTO archive_positions(cluster_id, topic, pos) VALUES (?, ?, ?)", new)
        if nxt != start:  # no row means 0, the start of every sequence
            db.execute("INSERT INTO archive_next(topic, next) VALUES (?, ?)"
                       " ON CONFLICT(topic) DO UPDATE SET next = excluded.next", (key, nxt))
        out[topic] = ArchiveOrder({cid: positions[cid] for cid in ids}, nxt)
    return out


def forget_clusters(db: sqlite3.Connection, clusters: Iterable[str]) -> None:
    """Drop the positions of those of ``clusters`` that no entry belongs to any more
    (purged, or joined to another cluster): their places stay holes, as the next
    position to give never goes back."""
    db.executemany(
        "DELETE FROM archive_positions WHERE cluster_id = ?"
        " AND NOT EXISTS (SELECT 1 FROM entries WHERE cluster_id = ?)",
        [(c, c) for c in clusters])


def migrate_10(db: sqlite3.Connection) -> None:
    """Number every topic's stories as today's archive pages hold them: pages were
    counted from the oldest story, so position n is the n-th oldest, and every
    archive page that exists keeps its URL and its stories."""
    for statement in SCHEMA_10:
        db.execute(statement)
    assign_positions(db, topic_orders(db, stored_topics(db)))
