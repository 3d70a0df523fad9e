"""Story clusters: near-duplicate candidates, joining clusters, and reading clusters
back for publishing."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from feeds.store.archive import ArchiveOrder, assign_positions, forget_clusters, topic_orders
from feeds.store.codec import _dt, _entry_from_json, _micros
from feeds.store.connection import _chunks
from feeds.store.lsh import _lsh_rows
from feeds.store.meta import MetaStore
from feeds.store.rows import entry_bands
from feeds.types import Entry


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


class ClusterStore(MetaStore):
    """Clusters (``entries.cluster_id``) and the ``lsh`` table's candidates."""

    def lock_stories(self, entries: Sequence[Entry]) -> None:
        """Keep other writers storing copies of these entries (the same URL identity,
        or a shared sketch band) out until this transaction ends, so that its lookup
        and candidate search see their copies committed, or they see this one. Call
        first in the transaction. SQLite's writers are serialised already
        (``BEGIN IMMEDIATE``): nothing to do; PostgreSQL takes advisory locks."""

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
        rows = _lsh_rows(0, entry_bands(entry), entry.published)
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
        former = [r[0] for r in self.db.execute("SELECT cluster_id FROM entries WHERE id = ?", (entry_id,))]
        keep = self.db.execute(
            f"SELECT cluster_id FROM entries WHERE cluster_id IN ({marks})"
            f" GROUP BY cluster_id ORDER BY min(first_seen), cluster_id LIMIT 1",
            tuple(clusters)).fetchone()[0]
        self.db.execute(f"UPDATE entries SET cluster_id = ? WHERE cluster_id IN ({marks})",
                        (keep, *clusters))
        self.db.execute("UPDATE entries SET cluster_id = ?, cluster_reason = ? WHERE id = ?",
                        (keep, reason, entry_id))
        forget_clusters(self.db, [c for c in {*clusters, *former} if c != keep])
        self.touch()
        return str(keep)

    def topic_cluster_ids(self, topics: Iterable[str]) -> dict[str | None, list[str]]:
        """Ids of the clusters of every topic and of None (all), the cluster seen first
        most recently first (ties: newest published, then cluster id)."""
        return topic_orders(self.db, topics)

    def archive_positions(self, orders: Mapping[str | None, Sequence[str]]
                          ) -> dict[str | None, ArchiveOrder]:
        """Each topic's (None: all) stable archive positions of the clusters named
        in ``orders`` (newest first, as ``topic_cluster_ids`` gives them); those that
        have none get the next ones, oldest first, and keep them. Not a change the
        outputs show (no ``touch``): the positions follow from the stories."""
        with self.transaction():
            return assign_positions(self.db, orders)

    def cluster_digests(self) -> dict[str, bytes]:
        """Per cluster, a digest of what its published form depends on: its members,
        each member's content hash, update time and first sighting, and the sources
        that carry it. An archive page's fingerprint is made of its clusters' (an entry
        is on a page of "all" and of each of its topics), and these come from one scan
        of the index of entries by cluster, which holds those columns, rather than
        a query a page."""
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
