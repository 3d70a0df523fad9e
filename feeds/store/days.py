"""Per source and UTC day: fetches, failures, new entries and fetch latency
(``source_days``), for the status page's charts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from feeds.store.connection import Connection
from feeds.types import SourceDay

DAYS_KEPT = 30  # the status page charts this many days, today included


class DayStore(Connection):
    """The ``source_days`` table."""

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
