"""Text that every output format can carry: the characters XML 1.0 forbids or discourages, removed.

Pure, and free of third-party imports so that the state codec can use it on
every decoded entry (stored entries written by older versions may hold such
characters; see ``state._entry_from_json``).

Removed: C0 controls except tab, line feed and carriage return (XML 1.0 forbids
them, and lxml refuses to serialise them, which failed whole feeds); DEL and
the C1 controls (XML 1.0 discourages them and the W3C feed validator flags
them; in feeds they are almost always text decoded with the wrong charset);
lone surrogates (not characters at all: they cannot be encoded as UTF-8);
and the noncharacters U+FDD0..U+FDEF, U+FFFE and U+FFFF.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from feeds.types import Enclosure, Entry, Person

# Only characters of the Basic Multilingual Plane: the noncharacters of the other
# planes (U+1FFFE...) are XML 1.0 characters, which lxml writes and readers take, and
# listing them makes every search many times slower (this runs on every field of
# every entry).
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]+")


def xml_safe(text: str) -> str:
    """``text`` without the characters an XML 1.0 document may not (or should not) hold."""
    # search() first: almost every string is clean, and sub() would copy it.
    return _UNSAFE.sub("", text) if _UNSAFE.search(text) else text


def xml_safe_or_none(text: str | None) -> str | None:
    """``xml_safe`` for an optional field; an empty result is no value."""
    if text is None:
        return None
    return xml_safe(text) or None


def _web_url(url: str | None) -> str | None:
    # Stored entries were canonicalised when normalised, so an http(s) prefix is the
    # whole test here; anything else (a javascript: author URI kept by older
    # versions) is dropped.
    if url is None:
        return None
    url = xml_safe(url)
    return url if url[:8].lower().startswith(("http://", "https://")) else None


def safe_entry(entry: Entry) -> Entry:
    """``entry`` with every text field ``xml_safe`` and every URL field http(s) or gone.

    The last step of normalising, and applied again to each entry read from the
    state database, so that entries stored by versions that kept such characters
    publish again without a migration."""
    changed: dict[str, Any] = {}
    for name in ("title", "summary_html", "content_html", "summary_text", "item_key"):
        value = getattr(entry, name)
        clean = xml_safe(value)
        if clean is not value:
            changed[name] = clean
    if "title" in changed and not changed["title"].strip():
        changed["title"] = "(untitled)"
    for name in ("link", "url_key"):
        value = getattr(entry, name)
        clean_url = _web_url(value)
        if clean_url != value:
            changed[name] = clean_url
    if entry.language is not None and xml_safe(entry.language) != entry.language:
        changed["language"] = xml_safe_or_none(entry.language)
    authors = tuple(
        Person(xml_safe(a.name), xml_safe_or_none(a.email), _web_url(a.uri)) for a in entry.authors)
    if authors != entry.authors:
        changed["authors"] = tuple(a for a in authors if a.name)
    categories = tuple(c for c in map(xml_safe, entry.categories) if c.strip())
    if categories != entry.categories:
        changed["categories"] = categories
    enclosures = tuple(
        Enclosure(url, xml_safe(e.type), e.length)
        for e in entry.enclosures if (url := _web_url(e.url)) is not None)
    if enclosures != entry.enclosures:
        changed["enclosures"] = enclosures
    return replace(entry, **changed) if changed else entry
