"""Builders for test data."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from feeds.stories.normalize import content_hash
from feeds.types import Entry, Person

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def make_entry(**kw: Any) -> Entry:
    base = Entry(
        source_id="src",
        item_key="guid:1",
        url_key="https://example.com/a",
        link="https://example.com/a",
        title="A title",
        summary_html="<p>Summary</p>",
        content_html="",
        summary_text="Summary",
        published=NOW,
        updated=NOW,
        authors=(Person("Jane"),),
        categories=(),
        enclosures=(),
        language=None,
        content_hash="h",
    )
    entry = replace(base, **kw)
    if "content_hash" not in kw:
        entry = replace(entry, content_hash=content_hash(entry.title, entry.summary_html, entry.link))
    return entry
