"""An entry's rows in the ``lsh`` table: its sketch bands, keyed by (band, bucket,
published, entry num), where near-duplicate candidates are found."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from feeds.store.codec import _dt, _micros
from feeds.stories.similar import bands, sketch

_LSH_INSERT = "INSERT OR IGNORE INTO lsh(band, bucket, published, entry) VALUES (?, ?, ?, ?)"
_LSH_DELETE = "DELETE FROM lsh WHERE band = ? AND bucket = ? AND published = ? AND entry = ?"


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
