"""SQLite's dialect translated to PostgreSQL's (store/pgsql.py): pure, no server."""

from __future__ import annotations

import pytest

pytest.importorskip("psycopg")

from feeds.store.pgsql import translate


def test_placeholders_and_percent_signs_outside_and_inside_literals() -> None:
    assert translate("SELECT a FROM t WHERE b = ? AND c LIKE '%?x'") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE '%%?x'")


def test_insert_or_ignore_and_pragmas() -> None:
    assert translate("INSERT OR IGNORE INTO sources(id) VALUES (?)") == (
        "INSERT INTO sources(id) VALUES (%s) ON CONFLICT DO NOTHING")
    assert translate("PRAGMA cache_size = -32768") is None
    assert translate("BEGIN IMMEDIATE") == "BEGIN"
    assert translate("UPDATE items SET raw = ? WHERE raw IS NOT ?") == (
        "UPDATE items SET raw = %s WHERE raw IS DISTINCT FROM %s")


def test_functions_sqlite_has_and_postgres_names_otherwise() -> None:
    assert translate("SELECT json_extract(e.data, '$.title') FROM entries e") == (
        "SELECT (e.data::json->>'title') FROM entries e")
    assert translate("SELECT group_concat(i.source_id, ' ') FROM items i") == (
        "SELECT string_agg(i.source_id, ' ') FROM items i")


def test_upserts_name_the_stored_row_and_new_keys_are_returned() -> None:
    text = translate("INSERT INTO source_days(source_id, day, fetches, latency_ms_max) VALUES (?, ?, 1, ?)"
                     " ON CONFLICT(source_id, day) DO UPDATE SET fetches = fetches + 1,"
                     " latency_ms_max = max(latency_ms_max, excluded.latency_ms_max)")
    assert text is not None
    assert "fetches = source_days.fetches + 1" in text
    assert "greatest(source_days.latency_ms_max, excluded.latency_ms_max)" in text
    assert translate("INSERT INTO entries(id) VALUES (?)") == (
        "INSERT INTO entries(id) VALUES (%s) RETURNING num")
