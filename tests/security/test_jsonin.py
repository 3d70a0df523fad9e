"""Hostile JSON Feeds: whatever a stranger's document holds, the source fails with a
clear sentence or its bad items are skipped with a warning; never a traceback, never
unbounded time or memory, and never a published file broken for everyone else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import FeedServer, Project
from helpers import parsed, run_cli

from feeds.errors import ParseError
from feeds.parse.adapter import parse_document
from feeds.types import Document

V11 = "https://jsonfeed.org/version/1.1"
MAX_WARNINGS = 5  # feeds.parse.jsonparse.MAX_WARNINGS: not imported, so this file runs on older code


def _doc(body: str | bytes) -> Document:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return Document("evil", "https://evil.test/feed.json", raw, {"content-type": "application/feed+json"})


def _feed(items: list[Any], **fields: Any) -> str:
    return json.dumps({"version": V11, "title": "T", "home_page_url": "https://evil.test/",
                       "items": items, **fields})


GOOD = {"id": "good", "url": "https://evil.test/good", "title": "Good", "content_text": "fine"}


def test_deep_nesting_is_a_clear_error() -> None:
    body = f'{{"version": "{V11}", "items": [{"[" * 200_000}{"]" * 200_000}]}}'
    with pytest.raises(ParseError, match=r"^evil: JSON nested too deeply to be a feed$"):
        parse_document(_doc(body))


def test_deep_nesting_in_an_extension_is_a_clear_error() -> None:
    body = _feed([GOOD])[:-1] + ', "_x": ' + "{\"a\": " * 100_000 + "1" + "}" * 100_000 + "}"
    with pytest.raises(ParseError, match="nested too deeply"):
        parse_document(_doc(body))


def test_huge_numbers_do_not_sink_the_feed() -> None:
    digits = "9" * 50_000  # beyond Python's 4,300-digit conversion limit
    body = (f'{{"version": "{V11}", "items": [{{"id": {digits}, "url": "https://evil.test/a", '
            f'"title": "A", "attachments": [{{"url": "https://evil.test/a.mp3", '
            f'"size_in_bytes": {digits}}}]}}, {json.dumps(GOOD)}]}}')
    feed = parse_document(_doc(body))
    assert [e.link for e in feed.entries] == ["https://evil.test/a", "https://evil.test/good"]
    assert feed.entries[0].enclosures[0].length == 0
    assert feed.entries[0].guid is None


def test_wrong_types_are_skipped_with_warnings() -> None:
    items: list[Any] = [
        "a string", 7, None, [1, 2],
        {"id": {"x": 1}, "url": ["no"], "title": 5, "content_html": {"a": 1}, "summary": False,
         "date_published": {"y": 2020}, "authors": "Eve", "tags": {"a": 1}, "attachments": "x",
         "language": 3, "external_url": "https://evil.test/ext"},
        {"url": "https://evil.test/weird", "authors": [1, None, {"name": ["x"]}],
         "attachments": [1, {"url": 5}, {"url": "https://evil.test/f", "size_in_bytes": "9"}]},
        GOOD,
    ]
    feed = parse_document(_doc(_feed(items, authors={"name": "x"}, title=["t"], language=1)))
    links = [e.link for e in feed.entries]
    assert links == ["https://evil.test/ext", "https://evil.test/weird", "https://evil.test/good"]
    assert feed.title is None
    assert feed.entries[0].title is None and feed.entries[0].content is None
    assert feed.entries[0].authors[0].name == "Eve"
    assert feed.entries[1].enclosures[0].length == 0
    assert feed.unreadable_dates == 1
    assert feed.warnings[0] == "item 1 is text, not an object; skipped"
    assert len(feed.warnings) == MAX_WARNINGS + 2  # five, "and N more", and the dates line
    assert feed.warnings[MAX_WARNINGS].startswith("... and ")


def test_huge_strings_skip_their_item() -> None:
    huge = "x" * 1_000_000
    items = [{"id": huge, "content_text": "a"}, {"id": "2", "title": huge},
             {"id": "3", "url": "https://evil.test/" + huge}, {"id": "4", "date_published": huge}, GOOD]
    feed = parse_document(_doc(_feed(items)))
    assert [e.guid for e in feed.entries] == ["good"]
    assert all(len(w) < 300 for w in feed.warnings)
    assert feed.warnings[0].startswith("item 1 (id 'xxxxx")
    assert feed.warnings[0].endswith('\'): "id" is 1,000,000 characters long; skipped')


def test_a_flood_of_bad_items_gives_few_warnings() -> None:
    feed = parse_document(_doc(_feed([1] * 100_000 + [GOOD])))
    assert len(feed.entries) == 1
    assert len(feed.warnings) == MAX_WARNINGS + 1
    assert feed.warnings[-1] == f"... and {100_000 - MAX_WARNINGS} more problems of the same kind"


def test_characters_xml_cannot_hold_are_dropped() -> None:
    item = {"id": "c\u0000", "url": "https://evil.test/c", "title": "A\u0001B\ud800C\ufffe",
            "content_html": "<p>x\u000by</p>", "tags": ["t\u0002"], "authors": [{"name": "N\u001f"}]}
    feed = parse_document(_doc(_feed([item])))
    [entry] = feed.entries
    assert entry.title is not None and entry.title.value == "ABC"
    assert entry.guid == "c" and entry.categories == ("t",) and entry.authors[0].name == "N"
    assert entry.content is not None and entry.content.value == "<p>xy</p>"


def test_a_hostile_json_feed_cannot_break_publishing(project: Project, server: FeedServer) -> None:
    """Control characters and lone surrogates are legal JSON and illegal XML and UTF-8: one
    source's strings must not stop every topic feed from being written."""
    item = {"id": "bad\u0000id", "url": "https://evil.test/x", "title": "Evil \u0001 \ud800 title",
            "summary": "s\u0007", "content_html": "<p>\u0008body\udfff</p>", "tags": ["\u0000"],
            "date_published": "2024-01-02T03:04:05Z"}
    server.add("/evil.json", _feed([item, GOOD]), content_type="application/feed+json")
    server.add("/nest.json", f'{{"version": "{V11}", "items": {"[" * 100_000}}}',
               content_type="application/feed+json")
    project.write_sources([
        {"id": "seeds", "title": "Local articles", "path": "seeds"},
        {"id": "evil", "title": "Evil", "url": server.url("/evil.json")},
        {"id": "nest", "title": "Nest", "url": server.url("/nest.json")},
    ])
    code, out, err = run_cli(project.root, "run")
    assert code == 0, err + out
    assert "Traceback" not in out + err
    assert "failed  nest: JSON nested too deeply to be a feed" in out
    titles = [e.title for e in parsed(project.public / "all.atom").entries]
    assert "Evil title" in titles and "Good" in titles
    json.loads((project.public / "all.json").read_bytes())
