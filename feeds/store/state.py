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
- ``archive_positions``, ``archive_next``: each story's stable place in each of
  its topics' archive sequences (``feeds.store.archive``).
"""

from __future__ import annotations

from feeds.store.archive import ArchiveOrder
from feeds.store.clusters import Candidate, Cluster, ClusterRow, ClusterStore, Member, clusters_from_rows
from feeds.store.codec import _dt, _entry_from_json, _micros, _ts, entry_json
from feeds.store.connection import Connection, _chunks, sealed
from feeds.store.days import DAYS_KEPT, DayStore
from feeds.store.entries import CACHE_KIB, EntryStore
from feeds.store.lsh import _LSH_DELETE, _LSH_INSERT, _lsh_rows, _stored_band_rows
from feeds.store.meta import MetaStore
from feeds.store.protocol import StoreProtocol
from feeds.store.schema import _SCHEMA_V1, MIGRATIONS, SCHEMA_VERSION, migrate
from feeds.store.sources import SourceStore
from feeds.types import HttpCache

__all__ = [
    "CACHE_KIB", "DAYS_KEPT", "MIGRATIONS", "SCHEMA_VERSION", "_LSH_DELETE", "_LSH_INSERT",
    "_SCHEMA_V1", "ArchiveOrder", "Candidate", "Cluster", "ClusterRow", "Connection", "HttpCache", "Member",
    "Store", "StoreProtocol", "_chunks", "_dt", "_entry_from_json", "_lsh_rows",
    "_micros", "_stored_band_rows", "_ts", "clusters_from_rows", "entry_json", "migrate",
]


@sealed
class Store(SourceStore, DayStore, EntryStore, ClusterStore, MetaStore):
    """The one owner of the state database: its connection and transactions
    (``connection``), and the queries of each domain (``meta``, ``sources``, ``days``,
    ``entries``, ``clusters``). Every public method raises ``StateError``, never an
    ``sqlite3`` error, for a problem of the database (``sealed``)."""

