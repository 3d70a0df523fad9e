"""Both parse paths against documents other people wrote: the real-world corpus
(tests/data/corpus/) and feedparser's own test documents (tests/data/feedparser-suite/).

For every document:

- the fast path never raises, and either hands over (None) or gives exactly the
  ``FeedData`` of the feedparser adapter, field for field;
- the adapter hands on what feedparser read: one entry per feedparser entry,
  with feedparser's title and summary (not those of some element nested inside
  the entry, whose details feedparser lets overwrite the entry's).

The documents the fast path takes are then mutated (elements repeated, moved,
nested, emptied; loose text; attributes) and compared again.

Documents are grouped by folder so that a failure lists every document of the
group that disagrees, and xdist can spread the groups.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

import feedparser
import pytest
from conftest import DATA
from lxml import etree

from feeds.errors import ParseError
from feeds.parse.adapter import parse_with_feedparser
from feeds.parse.fastparse import fast_parse
from feeds.types import Document, FeedData

CORPUS = DATA / "corpus"
SUITE = DATA / "feedparser-suite"
XML = "http://www.w3.org/XML/1998/namespace"
NOT_DOCUMENTS = {"MANIFEST.tsv", "README.md", "LICENSE"}
# feedparser's test documents give the HTTP headers they are to be served with.
HEADER = re.compile(rb"^Header:\s+([^:\r\n]+):([^\r\n]*)$", re.M)


def _files(folder: Path, recursive: bool = True) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.is_file() and p.name not in NOT_DOCUMENTS
                  and p.parent.name != "LICENSES")


def _groups() -> dict[str, list[Path]]:
    groups = {"corpus": _files(CORPUS, recursive=False)}
    for top in sorted(p for p in SUITE.iterdir() if p.is_dir()):
        subfolders = sorted(p for p in top.iterdir() if p.is_dir())
        if top.name == "wellformed":  # three quarters of the suite: one group per topic
            for sub in subfolders:
                groups[f"{top.name}/{sub.name}"] = _files(sub)
            loose = [p for p in top.iterdir() if p.is_file()]
            if loose:
                groups[top.name] = sorted(loose)
        else:
            groups[top.name] = _files(top)
    return groups


GROUPS = _groups()


def document(path: Path) -> Document:
    body = path.read_bytes()
    headers = {k.strip().lower().decode("latin-1"): v.strip().decode("latin-1")
               for k, v in HEADER.findall(body[:4096])}
    return Document("s", f"https://host.example/{path.relative_to(DATA).as_posix()}", body, headers)


@contextmanager
def feedparser_results() -> Iterator[list[Any]]:
    """What feedparser.parse returns to the adapter, for a look at the raw result."""
    results: list[Any] = []
    real = feedparser.parse

    def spy(*args: Any, **kwargs: Any) -> Any:
        results.append(real(*args, **kwargs))
        return results[-1]

    with mock.patch.object(feedparser, "parse", spy):
        yield results


def _blank(value: Any) -> bool:
    return not isinstance(value, str) or not value.strip()


def adapter_problems(feed: FeedData, raw: Any) -> list[str]:
    """How the adapter's entries differ from what feedparser read."""
    entries = raw.get("entries") or []
    if len(feed.entries) != len(entries):
        return [f"{len(feed.entries)} entries, feedparser read {len(entries)}"]
    problems = []
    for i, (ours, theirs) in enumerate(zip(feed.entries, entries, strict=True)):
        title = None if _blank(theirs.get("title")) else theirs["title"]
        if (ours.title.value if ours.title else None) != title:
            problems.append(f"entry {i}: title {ours.title!r}, feedparser's {title!r}")
        summary = None if _blank(theirs.get("summary")) else theirs["summary"]
        if ours.summary is not None:
            if ours.summary.value != summary:
                problems.append(f"entry {i}: summary {ours.summary.value[:60]!r}, "
                                f"feedparser's {(summary or '')[:60]!r}")
        elif summary is not None and not (ours.content and ours.content.value == summary):
            # a summary may only be dropped for repeating the content
            problems.append(f"entry {i}: summary dropped: feedparser's {summary[:60]!r}")
    return problems


def check(path: Path) -> tuple[bool, list[str]]:
    """Whether the fast path took the document, and how the paths disagree."""
    doc = document(path)
    try:
        fast = fast_parse(doc)
    except Exception as failure:  # whatever it raises is the finding
        return False, [f"fast path raised {type(failure).__name__}: {failure}"]
    with feedparser_results() as raw:
        try:
            slow: FeedData | ParseError = parse_with_feedparser(doc)
        except ParseError as failure:
            slow = failure
    problems: list[str] = []
    if fast is not None and fast != slow:
        problems.append(f"fast path differs: {fast!r} != {slow!r}")
    if isinstance(slow, FeedData) and raw:
        problems += adapter_problems(slow, raw[-1])
    return fast is not None, problems


@pytest.mark.parametrize("group", GROUPS)
def test_fast_path_and_adapter_agree_with_feedparser(group: str) -> None:
    differ: dict[str, list[str]] = {}
    for path in GROUPS[group]:
        _, problems = check(path)
        if problems:
            differ[str(path.relative_to(DATA))] = problems
    report = "\n".join(f"{name}:\n  " + "\n  ".join(p[:400] for p in problems)
                       for name, problems in differ.items())
    assert not differ, f"{len(differ)} of {len(GROUPS[group])} documents differ:\n{report}"


def test_the_documents_are_all_there() -> None:
    # 80 real-world feeds, and feedparser's well- and ill-formed documents
    assert len(GROUPS["corpus"]) == 80
    assert sum(len(files) for name, files in GROUPS.items() if name != "corpus") >= 2000
    assert (SUITE / "LICENSE").is_file()


def test_the_fast_path_still_takes_plain_feeds() -> None:
    """It exists for speed: handing everything over would pass the test above."""
    taken = {name: sum(fast_parse(document(p)) is not None for p in files) for name, files in GROUPS.items()
             if name in ("corpus", "wellformed/atom10", "wellformed/rss")}
    # what it takes since markup inside a feed's <subtitle>, <rights> or <description>
    # goes to feedparser: fewer means it lost ground
    assert taken["corpus"] >= 7, taken
    assert taken["wellformed/atom10"] >= 104, taken
    assert taken["wellformed/rss"] >= 49, taken


@pytest.mark.parametrize("name", ["netnewswire--cloudblog.rss"])
def test_titles_nested_in_an_rss_author_are_not_the_item_title(name: str) -> None:
    """Google Cloud Blog, 2019: each <author> holds a <title> (the author's job)."""
    feed = parse_with_feedparser(document(CORPUS / name))
    titles = [e.title.value for e in feed.entries if e.title]
    assert titles[0] == "Want to keep your employees productive? Pay attention to shadow IT clues"
    assert not {"ML Solutions Engineer", "CTO, Musiio", "Product Manager, Office of the CTO"} & set(titles)
    assert feed.entries[0].authors[0].name == "Diane Chaleff"


# --- the same documents, mutated as a stranger might -----------------------------

_ATTRIBUTES = (("type", "html"), ("type", "xhtml"), ("type", "text"), (f"{{{XML}}}base", "sub/"),
               (f"{{{XML}}}lang", "de"), ("rel", "alternate"), ("rel", "self"), ("rel", "enclosure"),
               ("isPermaLink", "false"), ("href", "x.html"), ("url", "y.mp3"), ("label", ""))


def mutate(root: Any, rng: random.Random) -> bool:
    """One structural change somewhere in ``root``: False if there was none to make."""
    elements = [e for e in root.iter() if isinstance(e.tag, str) and e is not root]
    if not elements:
        return False
    el = rng.choice(elements)
    parent = el.getparent()
    op = rng.randrange(8)
    if op == 0:  # the same element twice, the copy sometimes different
        twin = copy.deepcopy(el)
        if (twin.text or "").strip() and rng.random() < 0.5:
            twin.text += " (again)"
        parent.insert(parent.index(el) + rng.randrange(2), twin)
    elif op == 1:  # moved to the first or last place
        parent.remove(el)
        parent.insert(0 if rng.random() < 0.5 else len(parent), el)
    elif op == 2:  # emptied
        el.text = rng.choice(["", " ", "\n"])
        for child in list(el):
            el.remove(child)
    elif op == 3:  # moved inside a sibling
        siblings = [s for s in parent if s is not el and isinstance(s.tag, str)]
        if not siblings:
            return False
        parent.remove(el)
        rng.choice(siblings).append(el)
    elif op == 4:  # a copy inside any other element
        target = rng.choice(elements)
        if target is el or el in target.iterancestors():
            return False
        target.insert(rng.randrange(len(target) + 1), copy.deepcopy(el))
    elif op == 5:  # text that needs care
        el.text = rng.choice(["  ", "&", "<b>x</b>", "\u00c3\u00a9", "\t"]) + (el.text or "")
    elif op == 6:  # text between elements
        el.tail = rng.choice(["x", " loose text ", "&"]) + (el.tail or "")
    else:  # an attribute
        el.set(*rng.choice(_ATTRIBUTES))
    return True


def test_mutated_documents_agree_or_hand_over() -> None:
    """Each document the fast path takes, changed in ways feedparser reads its own
    way (a repeated channel title, an item inside a description, text inside a
    person...): the fast path must still agree with the adapter or hand over."""
    rng = random.Random(20261204)  # fixed: a failure is reproduced by running again
    taken = [d for d in (document(p) for files in GROUPS.values() for p in files) if fast_parse(d)]
    differ: dict[str, str] = {}
    tried = 0
    for doc in taken:
        root = etree.fromstring(doc.body.removeprefix(b"\xef\xbb\xbf"),
                                etree.XMLParser(resolve_entities=False, no_network=True))
        for _ in range(4):
            changed = copy.deepcopy(root)
            if not mutate(changed, rng):
                continue
            body = etree.tostring(changed, xml_declaration=True, encoding="utf-8")
            mutant = replace(doc, body=body)
            tried += 1
            fast = fast_parse(mutant)
            if fast is None:
                continue
            try:
                slow: FeedData | ParseError = parse_with_feedparser(mutant)
            except ParseError as failure:
                slow = failure
            if fast != slow:
                differ.setdefault(doc.url, body.decode("utf-8", "replace")[:1500])
    assert tried > 1500
    assert not differ, f"{len(differ)} mutated documents differ, e.g.:\n" + "\n\n".join(
        f"{url}:\n{body}" for url, body in list(differ.items())[:3])
