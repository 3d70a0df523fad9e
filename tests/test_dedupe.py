"""First-level deduplication and identity."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import timedelta

import pytest
from helpers import NOW, make_entry
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feeds.stories.dedupe import (
    Alias,
    Insert,
    Known,
    Seen,
    Update,
    entry_id,
    plan,
    story_key,
    unique_in_batch,
    url_identity,
)


def known(eid: str, source: str = "src", digest: str = "h", **kw: object) -> Known:
    return Known(eid, source, digest, kw.get("published", NOW), kw.get("updated", NOW))  # type: ignore[arg-type]


def test_entry_id_is_a_stable_uri() -> None:
    a = entry_id("src", "guid:1")
    assert a == entry_id("src", "guid:1")
    assert a.startswith("urn:uuid:") and len(a) == len("urn:uuid:") + 36
    assert a != entry_id("src", "guid:2") != entry_id("other", "guid:1")


def test_same_item_twice_in_one_document_is_one() -> None:
    a = make_entry(item_key="guid:1", url_key="https://x/1")
    b = make_entry(item_key="guid:1", url_key="https://x/other")
    c = make_entry(item_key="guid:2", url_key="https://x/1")  # same page, its own id: kept
    d = make_entry(item_key="guid:3", url_key=None)
    e = make_entry(item_key="url:https://x/1", url_key="https://x/1")  # no id, same link: dropped
    assert unique_in_batch([a, b, c, d, e]) == [a, c, d]


def test_items_with_own_ids_on_one_page_stay_apart_across_runs() -> None:
    first = make_entry(item_key="guid:1", url_key="https://x/day")
    e = make_entry(item_key="guid:2", url_key="https://x/day", title="Another item")
    by_item = {"guid:1": Known("urn:uuid:first", "src", first.content_hash, NOW, NOW, item_key="guid:1")}
    same_source = {"https://x/day": Known("urn:uuid:first", "src", "h", NOW, NOW, item_key="guid:1")}
    assert plan([first, e], by_item, same_source, NOW) == [
        Seen("urn:uuid:first", first), Insert(entry_id("src", "guid:2"), e)]


def test_guid_change_with_the_same_link_keeps_the_entry() -> None:
    e = make_entry(item_key="guid:new", url_key="https://x/story")
    held = {"https://x/story": Known("urn:uuid:old", "src", "h", NOW, NOW, item_key="guid:old")}
    assert plan([e], {}, held, NOW) == [Alias("urn:uuid:old", e, remap="guid:old",
                                              reason="GUID changed, same link")]


def test_guid_change_with_the_same_title_and_text_keeps_the_entry() -> None:
    e = make_entry(item_key="guid:new", url_key="https://x/moved", title="Same Title!")
    key = story_key("same title", e.summary_text)
    held = {key: Known("urn:uuid:old", "src", "h", NOW, NOW, item_key="guid:old")}
    [action] = plan([e], {}, {}, NOW, held)
    assert isinstance(action, Alias) and action.remap == "guid:old"


@pytest.mark.parametrize(("a", "b"), [
    ("https://www.example.com/a/b/", "http://example.com/a/b"),
    ("https://amp.example.com/a/b?amp=1", "https://example.com/a/b"),
    ("https://example.com/amp/a/b", "https://example.com/a/b/amp"),
    ("https://m.example.com/a/b.amp.html", "https://example.com/a/b.html"),
    ("https://example.com/a?id=3&outputType=amp", "https://example.com/a?id=3"),
])
def test_url_identity_ignores_amp_www_scheme_and_slash(a: str, b: str) -> None:
    assert url_identity(a) == url_identity(b)


@pytest.mark.parametrize(("a", "b"), [
    ("https://example.com/a?id=3", "https://example.com/a?id=4"),
    ("https://example.com/a/b", "https://example.org/a/b"),
    ("https://example.com/ampere", "https://example.com/"),
    ("https://news.example.com/a", "https://example.com/a"),
])
def test_url_identity_keeps_what_matters(a: str, b: str) -> None:
    assert url_identity(a) != url_identity(b)


def test_url_identity_drops_configured_tracking_and_is_idempotent() -> None:
    key = url_identity("https://example.com/a?src=rss&id=1", ["src"])
    assert key == "//example.com/a?id=1"
    assert url_identity("https:" + key, ["src"]) == key


def test_new_entries_are_inserted_with_derived_ids() -> None:
    e = make_entry()
    assert plan([e], {}, {}, NOW) == [Insert(entry_id("src", "guid:1"), e)]


def test_same_link_from_another_source_is_an_alias() -> None:
    e = make_entry(source_id="b")
    actions = plan([e], {}, {e.url_key or "": known("urn:uuid:x", source="a")}, NOW)
    assert actions == [Alias("urn:uuid:x", e)]


def test_unchanged_entry_is_seen_and_changed_entry_updated() -> None:
    e = make_entry()
    assert plan([e], {e.item_key: known("id1", digest=e.content_hash)}, {}, NOW) == [Seen("id1", e)]
    [action] = plan([e], {e.item_key: known("id1", digest="old")}, {}, NOW)
    assert isinstance(action, Update) and action.entry_id == "id1"


def test_silent_change_moves_updated_to_now() -> None:
    old = NOW - timedelta(days=2)
    e = make_entry(published=old, updated=old)
    [action] = plan([e], {e.item_key: known("id1", digest="old", updated=old)}, {}, NOW)
    assert action.entry.updated == NOW


def test_undated_entry_keeps_its_first_published_time() -> None:
    first = NOW - timedelta(days=3)
    e = make_entry(date_guessed=True)
    [action] = plan([e], {e.item_key: known("id1", digest="old", published=first, updated=first)}, {}, NOW)
    assert action.entry.published == first


def test_retired_item_does_not_come_back() -> None:
    e = make_entry()
    retired = Known("id1", "src", "", NOW, NOW, retired=True)
    assert plan([e], {e.item_key: retired}, {}, NOW) == [Seen("id1", e)]


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=30))
def test_plan_never_inserts_one_key_or_link_twice(pairs: list[tuple[int, int]]) -> None:
    entries = [make_entry(item_key=f"url:{k}", url_key=f"https://x/{u}") for k, u in pairs]
    inserted = [a.entry for a in plan(entries, {}, {}, NOW) if isinstance(a, Insert)]
    assert len({e.item_key for e in inserted}) == len(inserted)
    assert len({e.url_key for e in inserted}) == len(inserted)
    assert len({replace(e, content_hash="") for e in inserted}) == len(inserted)


def _story_key_reference(title: str, text: str) -> str:
    """story_key as first written: every character looked at. Stored keys must not change."""
    import hashlib
    import re
    import unicodedata

    def fold(value: str) -> str:
        value = unicodedata.normalize("NFKD", value.casefold())
        return " ".join(re.findall(r"\w+", "".join(c for c in value if not unicodedata.combining(c))))
    return hashlib.sha256(f"{fold(title)}\n{fold(text)[:500]}".encode()).hexdigest()[:32]


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40), st.text(alphabet=st.characters(max_codepoint=0x2200), max_size=60))
@example("\u2121 call", "Ǆemal \ufb01le caf\u00e9 \u0130stanbul na\u00efve \u2014 \u201cquoted\u201d")
def test_story_keys_are_those_of_the_first_definition(title: str, text: str) -> None:
    from feeds.stories.similar import _fold

    assert story_key(title, text) == _story_key_reference(title, text)
    assert story_key(text, title) == _story_key_reference(text, title)
    reference = unicodedata.normalize("NFKC", text).casefold()
    reference = "".join(c for c in unicodedata.normalize("NFKD", reference) if not unicodedata.combining(c))
    assert _fold(text) == (text.casefold() if text.isascii() else reference)
