"""End to end on the real-world corpus: every feed served on loopback, one `feeds run`.

Every feed that feedparser reads at least one entry from must come out published,
under the titles feedparser gives its entries (as plain text, whitespace
collapsed), and every output must be well-formed, with the Atom files valid
against RFC 4287. The expectations come from feedparser reading the bytes as they
are served, not from our parse path, so a wrong element read on either of our
paths (fastparse or the feedparser adapter) shows up here.
"""

from __future__ import annotations

import csv
import fcntl
import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser
import lxml.html
import pytest
from atomschema import atom_errors
from click.testing import CliRunner
from conftest import DATA, FeedServer, Project
from lxml import etree

from feeds.cli.commands import cli

CORPUS = DATA / "corpus"
ATOM = "{http://www.w3.org/2005/Atom}"


def _manifest() -> list[dict[str, str]]:
    with open(CORPUS / "MANIFEST.tsv", encoding="utf-8", newline="") as fh:
        return sorted(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE), key=lambda r: r["file"])


MANIFEST = _manifest()
FILES = [row["file"] for row in MANIFEST]
SOURCE_IDS = {name: f"c{i:02d}" for i, name in enumerate(FILES)}

# Corpus feeds that fail today for a reason another part of the work owns. Each
# is marked xfail (not strict) and is to be unmarked once that part is merged.
KNOWN: dict[str, str] = {}


def _json_feed(name: str) -> bool:
    return name.endswith(".json")


def plain(value: str, is_html: bool) -> str:
    """A title as a reader sees it: the text of its HTML, whitespace collapsed."""
    if is_html and value.strip():
        value = lxml.html.fragment_fromstring(value, create_parent="div").text_content()
    return " ".join(html.unescape(value).split()) if is_html else " ".join(value.split())


def expected_json_titles(body: bytes) -> list[list[str]]:
    """A JSON Feed's item titles, read with nothing but ``json`` (feedparser reads no
    JSON): plain text by the spec, entities as some publishers write them decoded.
    Nothing for JSON that is not a JSON Feed or does not load."""
    try:
        doc = json.loads(body)
    except ValueError:
        return []
    version = str(doc.get("version", "")) if isinstance(doc, dict) else ""
    if not (re.match(r"https?://jsonfeed\.org/version/", version) and isinstance(doc.get("items"), list)):
        return []
    groups: dict[str, list[str]] = {}
    for i, item in enumerate(doc["items"]):
        if not isinstance(item, dict):
            continue
        title = item.get("title") if isinstance(item.get("title"), str) else ""
        key = str(item.get("id") or item.get("url") or f"#{i}").strip()
        groups.setdefault(key, []).append(" ".join(html.unescape(title or "").split()))
    return list(groups.values())


def expected_titles(body: bytes) -> list[list[str]]:
    """What feedparser reads from the served bytes: its entries' titles, grouped by
    identity (entries that share an id or link are one item to us: either title may
    be the one published)."""
    parsed = feedparser.parse(body, response_headers={"content-type": "application/xml"})
    groups: dict[str, list[str]] = {}
    for i, e in enumerate(parsed.entries):
        title = e.get("title") or ""
        detail = e.get("title_detail") or {}
        # The detail can belong to another element than the title (feedparser
        # keeps the outermost <title> but the innermost one's detail), so its
        # type counts only when it describes this value.
        if detail.get("value") == title:
            is_html = "html" in str(detail.get("type", ""))
        else:
            is_html = bool(re.search(r"<[a-zA-Z/!]", title))
        key = str(e.get("id") or e.get("link") or f"#{i}").strip()
        groups.setdefault(key, []).append(plain(title, is_html))
    return list(groups.values())


@dataclass(frozen=True)
class Published:
    code: int
    out: str
    public: Path
    # source title (the corpus file name) -> titles of its entries in all.atom
    by_source: dict[str, list[str]]
    everywhere: frozenset[str]


def run_corpus(root: Path) -> tuple[int, str]:
    """One `feeds run` in ``root`` over every corpus feed served on loopback."""
    (root / "config").mkdir(parents=True)
    project = Project(root)
    # Room for every entry of the corpus in one feed; the largest file is 1.6 MB.
    project.write_feeds(max_entries=5000, max_bytes=4_000_000, read_timeout=10, total_timeout=30)
    server = FeedServer()
    try:
        sources: list[dict[str, object]] = []
        for name in FILES:
            # No charset: the document's own declaration (or its absence) decides,
            # as it does for most servers that send these files.
            kind = "application/feed+json" if _json_feed(name) else "application/xml"
            url = server.add(f"/{name}", (CORPUS / name).read_bytes(), content_type=kind)
            sources.append({"id": SOURCE_IDS[name], "title": name, "url": url})
        project.write_sources(sources)
        result = CliRunner().invoke(cli, ["--root", str(root), "run"], catch_exceptions=False)
    finally:
        server.close()
    return result.exit_code, result.stdout


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Published:
    # The run takes seconds of both cores: xdist workers share one (the first to
    # take the lock runs it, the other reads its result), in the session's folder.
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    root, report = shared / "corpus-run", shared / "corpus-run.json"
    with open(shared / "corpus-run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not report.exists():
            code, out = run_corpus(root)
            report.write_text(json.dumps({"code": code, "out": out}), encoding="utf-8")
        result = json.loads(report.read_text(encoding="utf-8"))
    public = Project(root).public
    by_source: dict[str, list[str]] = {}
    atom = public / "all.atom"
    if atom.exists():
        for entry in etree.fromstring(atom.read_bytes()).iter(f"{ATOM}entry"):
            source = entry.findtext(f"{ATOM}source/{ATOM}title") or ""
            by_source.setdefault(source, []).append(entry.findtext(f"{ATOM}title") or "")
    everywhere = frozenset(t for titles in by_source.values() for t in titles)
    return Published(result["code"], result["out"], public.resolve(), by_source, everywhere)


def test_the_run_publishes(published: Published) -> None:
    assert published.code == 0, published.out
    assert published.by_source, "all.atom holds no entries"


def test_every_output_is_well_formed_and_atom_is_valid(published: Published) -> None:
    outputs = sorted(p for p in published.public.rglob("*") if p.is_file())
    assert any(p.suffix == ".atom" for p in outputs)
    problems: list[str] = []
    for path in outputs:
        data = path.read_bytes()
        name = str(path.relative_to(published.public))
        if path.suffix in (".atom", ".rss", ".opml", ".xml"):
            try:
                etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
            except etree.XMLSyntaxError as failure:
                problems.append(f"{name}: not well-formed XML: {failure}")
                continue
            if path.suffix == ".atom":
                problems += [f"{name}: {error}" for error in atom_errors(data)]
        elif path.suffix == ".json":
            try:
                json.loads(data)
            except ValueError as failure:
                problems.append(f"{name}: not JSON: {failure}")
    assert problems == []


def _params() -> list[Any]:
    params = []
    for name in FILES:
        marks: list[pytest.MarkDecorator] = []
        if name in KNOWN:
            marks.append(pytest.mark.xfail(reason=KNOWN[name], strict=False))
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def _cut(title: str) -> str | None:
    """The start of a title cut short with an ellipsis (a length cap), or None."""
    return title[:-1].rstrip() if title.endswith("\u2026") and len(title) > 20 else None


class Titles:
    """Published titles, matched as a reader would: equal, or cut short with an ellipsis."""

    def __init__(self, titles: Iterable[str]) -> None:
        self.exact = set(titles)
        self.cuts = [c for c in map(_cut, self.exact) if c]

    def __contains__(self, title: object) -> bool:
        return isinstance(title, str) and (title in self.exact or any(title.startswith(c) for c in self.cuts))


@pytest.mark.parametrize("name", _params())
def test_corpus_feed_is_published_with_feedparsers_titles(published: Published, name: str) -> None:
    body = (CORPUS / name).read_bytes()
    items = expected_json_titles(body) if _json_feed(name) else expected_titles(body)
    source = SOURCE_IDS[name]
    failed = re.search(rf"^\s*failed\s+{source}: (.*)$", published.out, re.M)
    if not items:
        # Nothing to publish; the run says why rather than publish an empty source.
        assert failed is not None or name not in published.by_source
        return
    assert failed is None, f"{name}: feedparser reads {len(items)} items, the run said {failed.group(1)}"
    ours = published.by_source.get(name, [])
    assert ours, f"{name}: feedparser reads {len(items)} items, none is published"
    mine, everywhere = Titles(ours), Titles(published.everywhere)
    # An item that is also another source's (the same story) may be shown as theirs.
    missing = [i for i, titles in enumerate(items)
               if all(t and t not in mine and t not in everywhere for t in titles)]
    lost = [items[i][0] for i in missing[:5]]
    if missing and re.search(rf"^\s*warning\s+{source}: ", published.out, re.M):
        # A source capped with a warning keeps its first items in document order.
        assert missing == list(range(missing[0], len(items))), f"{name}: items lost in the middle: {lost}"
    else:
        assert missing == [], f"{name}: feedparser's titles not published: {lost}"
    theirs = {t for titles in items for t in titles}
    untitled = sum(1 for titles in items if not all(titles))
    unexpected = [t for t in ours if t not in theirs
                  and not any(f.startswith(c) for c in [_cut(t)] if c for f in theirs)]
    assert len(unexpected) <= untitled, f"{name}: titles feedparser does not give: {unexpected[:5]}"
