"""SQLite's dialect, as the store's domain modules write it, spoken to PostgreSQL.

The domain modules (``meta``, ``sources``, ``days``, ``entries``, ``clusters``, ``lsh``)
hold one text per statement, written for SQLite. ``PgDb`` gives them what they use of
an ``sqlite3.Connection`` (``execute``, ``executemany``, ``in_transaction``, ``close``)
over a psycopg connection, and ``translate`` turns each statement text into
PostgreSQL's once (cached): placeholders, ``INSERT OR IGNORE``, ``json_extract``,
``group_concat``, two-argument ``max``, ``lastrowid`` (as ``RETURNING``), and PRAGMAs
(nothing). The SQLite path never comes here, so it pays nothing for PostgreSQL.

psycopg is imported only by this module and ``postgres``: ``make run`` needs neither.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

_JSON_EXTRACT = re.compile(r"json_extract\(([\w.]+), '\$\.(\w+)'\)")
_MAX_OF_TWO = re.compile(r"\bmax\(([\w.]+), ([\w.]+)\)")
_UPSERT = re.compile(r"^INSERT INTO (\w+).* DO UPDATE SET ", re.DOTALL)
_SELF_REFERENCE = re.compile(r"\b(\w+) = \1\b|\bgreatest\((\w+),")
_INSERT_OR_IGNORE = re.compile(r"^\s*INSERT OR IGNORE INTO", re.IGNORECASE)
# Statements whose sqlite3 ``lastrowid`` the domain modules read: the new row's key.
_RETURNING = {"INSERT INTO entries(": "num"}
# Expressions SQLite takes and PostgreSQL types more strictly.
_REWRITES = (
    # meta.value is text: SQLite converts the sum back to text, PostgreSQL refuses
    ("CAST(value AS INTEGER) + 1", "(CAST(meta.value AS INTEGER) + 1)::text"),
    # PostgreSQL does not know an output column's name in HAVING
    ("HAVING shared >=", "HAVING count(*) >="),
    ("BEGIN IMMEDIATE", "BEGIN"),
    # SQLite's IS NOT compares with NULL as a value; PostgreSQL's IS NOT takes only NULL
    ("IS NOT ?", "IS DISTINCT FROM ?"),
)


@lru_cache(maxsize=1024)
def translate(sql: str) -> str | None:
    """``sql`` (SQLite's dialect, as the domain modules write it) in PostgreSQL's, or
    None for a statement that means nothing there (PRAGMA)."""
    text = sql.strip()
    if text.upper().startswith("PRAGMA"):
        return None
    for old, new in _REWRITES:
        text = text.replace(old, new)
    text = _JSON_EXTRACT.sub(r"(\1::json->>'\2')", text)
    text = text.replace("group_concat(", "string_agg(")
    text = _MAX_OF_TWO.sub(r"greatest(\1, \2)", text)
    upsert = _UPSERT.match(text)
    if upsert:  # "x = x + 1" is ambiguous to PostgreSQL: the stored row's x is "table.x"
        table, head, tail = upsert.group(1), text[:upsert.end()], text[upsert.end():]
        text = head + _SELF_REFERENCE.sub(
            lambda m: (f"{m[1]} = {table}.{m[1]}" if m[1] else f"greatest({table}.{m[2]},"), tail)
    if _INSERT_OR_IGNORE.match(text):
        text = _INSERT_OR_IGNORE.sub("INSERT INTO", text, count=1) + " ON CONFLICT DO NOTHING"
    for start, column in _RETURNING.items():
        if text.startswith(start):
            text += f" RETURNING {column}"
    return _placeholders(text)


def _placeholders(text: str) -> str:
    """``?`` outside string literals becomes ``%s``; every ``%`` is doubled (psycopg
    reads them everywhere in a statement given parameters)."""
    out: list[str] = []
    quoted = False
    for ch in text:
        if ch == "'":
            quoted = not quoted  # '' inside a literal flips twice: still inside
        if ch == "%":
            out.append("%%")
        elif ch == "?" and not quoted:
            out.append("%s")
        else:
            out.append(ch)
    return "".join(out)


def _clean(params: Sequence[Any]) -> tuple[Any, ...]:
    """PostgreSQL's text cannot hold NUL, which SQLite's can: a stranger's error
    message or validator with one is stored with U+FFFD instead of failing its source."""
    return tuple(p.replace("\x00", "\ufffd") if isinstance(p, str) and "\x00" in p else p
                 for p in params)


class _Done:
    """What a statement translated to nothing (a PRAGMA) returns."""

    lastrowid = None

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list[Any]:
        return []

    def __iter__(self) -> Iterator[Any]:
        return iter(())


class _Inserted:
    """The result of an insert whose key the caller reads as ``lastrowid``."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        row = cursor.fetchone()
        self.lastrowid = None if row is None else row[0]
        self._row = row

    def fetchone(self) -> Any:
        return self._row


class PgDb:
    """What the domain modules use of an ``sqlite3.Connection``, over psycopg (in
    autocommit mode: ``Connection`` says BEGIN, SAVEPOINT and COMMIT itself)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        text = translate(sql)
        if text is None:
            return _Done()
        cursor = self.conn.execute(text, _clean(params))
        if text.endswith(" RETURNING num") and sql.lstrip().startswith("INSERT INTO entries("):
            return _Inserted(cursor)
        return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        text = translate(sql)
        if text is None:
            return
        batch = [_clean(r) for r in rows]
        if batch:
            with self.conn.cursor() as cursor:
                cursor.executemany(text, batch)

    @property
    def in_transaction(self) -> bool:
        if self.conn.closed:
            raise psycopg.InterfaceError("the connection is closed")
        return self.conn.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self.conn.close()
