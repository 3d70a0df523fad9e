"""Sources: each one's HTTP validators, health and health events, and the times its
entries were first seen (its cadence)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from feeds.store.codec import _dt, _ts
from feeds.store.meta import MetaStore
from feeds.types import HealthEvent, HttpCache, SourceHealth

_HEALTH_COLUMNS = (
    "state", "config_url", "last_attempt", "last_success", "http_status", "failures",
    "last_error", "last_warning", "next_due", "redirect_target", "redirect_seen",
    "redirect_adopted", "entries_seen", "last_new_entry", "alerted", "stale", "unreadable_dates",
    "failing_since",
)
_TIME_COLUMNS = frozenset({"last_attempt", "last_success", "next_due", "last_new_entry", "failing_since"})
_BOOL_COLUMNS = frozenset({"redirect_adopted", "alerted", "stale"})


class SourceStore(MetaStore):
    """The ``sources`` and ``health_events`` tables."""

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

    def entry_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT source_id, count(*) FROM entries GROUP BY source_id")
        return dict(rows)

    def first_seen_times(self, source_id: str, limit: int) -> list[datetime]:
        rows = self.db.execute(
            "SELECT first_seen FROM entries WHERE source_id = ? ORDER BY first_seen DESC LIMIT ?",
            (source_id, limit))
        return [_dt(first) for (first,) in rows]
