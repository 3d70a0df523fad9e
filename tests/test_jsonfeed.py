"""JSON Feed 1.1: valid against the spec's fields, deterministic, and the same entries as Atom."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import jsonschema
import pytest
from helpers import NOW, make_entry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.publish.emit import FeedView, Item, render_atom, render_rss
from feeds.publish.jsonfeed import json_feed_url, render_json, rfc3339
from feeds.types import Enclosure, Person

SCHEMA = json.loads((Path(__file__).parent / "data" / "jsonfeed-1.1.schema.json").read_text("utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def schema_errors(data: bytes) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in VALIDATOR.iter_errors(json.loads(data))]


def view(items: list[Item], **kw: Any) -> FeedView:
    fields: dict[str, Any] = {
        "topic": "ai", "title": "Wire: AI", "description": "About AI", "site_url": "https://w.test/",
        "atom_url": "https://w.test/ai.atom", "rss_url": "https://w.test/ai.rss", "author": "Desk",
        "language": "en", "items": items}
    fields.update(kw)
    return FeedView(**fields)


def item(n: int, **kw: Any) -> Item:
    kw.setdefault("published", NOW - timedelta(hours=n))
    kw.setdefault("updated", kw["published"])
    kw.setdefault("title", f"Story {n}")
    kw.setdefault("link", f"https://e.test/{n}")
    entry = make_entry(item_key=f"guid:{n}", **kw)
    return Item(f"urn:uuid:00000000-0000-4000-8000-{n:012d}", entry, "Source", "https://e.test/feed")


def test_feed_level_fields() -> None:
    data = render_json(view([item(1)]))
    assert schema_errors(data) == []
    feed = json.loads(data)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "Wire: AI"
    assert feed["home_page_url"] == "https://w.test/"
    assert feed["feed_url"] == "https://w.test/ai.json"
    assert feed["description"] == "About AI"
    assert feed["language"] == "en"
    assert feed["authors"] == [{"name": "Desk"}]
    assert "hubs" not in feed


def test_item_fields_round_trip() -> None:
    published = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    it = item(1, published=published, updated=published + timedelta(minutes=5, microseconds=250),
              content_html="<p>Body &amp; more</p>", summary_text="Short — plain",
              authors=(Person("Jane Doe", "jane@e.test"), Person("Bob", None, "https://bob.test/")),
              categories=("AI", "Policy"), language="fr",
              enclosures=(Enclosure("https://e.test/a.mp3", "audio/mpeg", 1234),
                          Enclosure("https://e.test/b.pdf", "application/pdf", 0)))
    data = render_json(view([it]))
    assert schema_errors(data) == []
    [got] = json.loads(data)["items"]
    assert got == {
        "id": it.id,
        "url": "https://e.test/1",
        "title": "Story 1",
        "content_html": "<p>Body &amp; more</p>",
        "summary": "Short — plain",
        "date_published": "2026-03-01T09:30:00Z",
        "date_modified": "2026-03-01T09:35:00.000250Z",
        "authors": [{"name": "Jane Doe", "url": "mailto:jane@e.test"},
                    {"name": "Bob", "url": "https://bob.test/"}],
        "tags": ["AI", "Policy"],
        "language": "fr",
        "attachments": [
            {"url": "https://e.test/a.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 1234},
            # Length 0 means "unknown" in our model, so it is left out rather than claimed.
            {"url": "https://e.test/b.pdf", "mime_type": "application/pdf"},
        ],
        "_source": {"title": "Source", "url": "https://e.test/feed"},
    }
    for key in ("date_published", "date_modified"):
        parsed = datetime.fromisoformat(got[key])
        assert parsed == (it.entry.published if key == "date_published" else it.entry.updated)


def test_bytes_are_utf8_deterministic_and_end_with_newline() -> None:
    items = [item(2, title="Été à Zürich"), item(1), item(3)]
    data = render_json(view(items))
    assert data == render_json(view(list(reversed(items))))
    assert data.endswith(b"}\n") and not data.endswith(b"\n\n")
    assert "Été à Zürich".encode() in data  # not \u escapes
    assert json.loads(data.decode("utf-8"))["items"][1]["title"] == "Été à Zürich"


def test_same_ids_and_order_as_atom() -> None:
    # Ties on published are broken by updated, then id, the same way in every format.
    same = NOW - timedelta(hours=5)
    items = [item(4), item(1), item(7, published=same, updated=same),
             item(8, published=same, updated=same + timedelta(seconds=1)),
             item(9, published=same, updated=same), item(2)]
    v = view(items)
    atom_ids = [e.id for e in feedparser.parse(render_atom(v)).entries]
    json_ids = [i["id"] for i in json.loads(render_json(v))["items"]]
    rss_ids = [e.id for e in feedparser.parse(render_rss(v)).entries]
    assert json_ids == atom_ids == rss_ids


def test_entry_without_link_or_body_still_has_content() -> None:
    bare = Item("urn:uuid:1", make_entry(link=None, url_key=None, summary_html="", summary_text="",
                                         content_html="", title="Only <a> title"), "S", None)
    data = render_json(view([bare]))
    assert schema_errors(data) == []
    [got] = json.loads(data)["items"]
    assert "url" not in got and "summary" not in got
    assert got["content_html"] == "<p>Only &lt;a&gt; title</p>"
    assert got["_source"] == {"title": "S"}


def test_empty_feed_and_optional_fields() -> None:
    data = render_json(view([], description="", author="", language=""))
    assert schema_errors(data) == []
    feed = json.loads(data)
    assert feed["items"] == []
    assert not {"description", "authors", "language"} & feed.keys()


def test_hub_is_advertised() -> None:
    data = render_json(replace(view([item(1)]), hub="https://hub.test/"))
    assert schema_errors(data) == []
    assert json.loads(data)["hubs"] == [{"type": "WebSub", "url": "https://hub.test/"}]


@pytest.mark.parametrize(("atom", "expected"), [
    ("https://w.test/ai.atom", "https://w.test/ai.json"),
    ("https://w.test/feeds/all.atom", "https://w.test/feeds/all.json"),
    ("https://w.test/odd", "https://w.test/odd.json"),
])
def test_feed_url_derivation(atom: str, expected: str) -> None:
    assert json_feed_url(atom) == expected


def test_rfc3339_converts_to_utc() -> None:
    from zoneinfo import ZoneInfo
    paris = datetime(2026, 7, 1, 14, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert rfc3339(paris) == "2026-07-01T12:00:00Z"


def test_schema_rejects_what_the_spec_forbids() -> None:
    # The schema itself must bite, or the other tests prove nothing.
    good = json.loads(render_json(view([item(1)])))
    bad_version = {**good, "version": "https://jsonfeed.org/version/1"}
    no_content = {**good, "items": [{"id": "x", "title": "t"}]}
    typo = {**good, "home_page": "https://w.test/"}
    bad_date = {**good, "items": [{**good["items"][0], "date_published": "2026-03-01 09:30"}]}
    for doc in (bad_version, no_content, typo, bad_date):
        assert list(VALIDATOR.iter_errors(doc)), doc


text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=60)
moments = st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2035, 1, 1),
                       timezones=st.just(UTC))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=text, summary=text, published=moments, categories=st.lists(text, max_size=3))
def test_any_text_round_trips(title: str, summary: str, published: datetime,
                              categories: list[str]) -> None:
    it = item(1, title=title, summary_text=summary, published=published, updated=published,
              categories=tuple(categories))
    data = render_json(view([it]))
    assert schema_errors(data) == []
    [got] = json.loads(data)["items"]
    assert got["title"] == title
    assert got["summary"] == summary
    assert got.get("tags", []) == categories
    assert datetime.fromisoformat(got["date_published"]) == published
