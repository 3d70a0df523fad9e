"""OPML: export the source list, import another reader's subscriptions.

``render_opml`` and ``parse_opml`` are pure. ``merge_into_sources`` is pure
too: it takes the text of ``config/sources.toml`` and returns new text, so the
caller decides whether to write it (and can show a dry run).

listparser reads OPML because real files are rarely valid XML (unescaped
``&``, HTML entities, wrong case in ``xmlUrl``); it parses them with lxml's
forgiving HTML parser. tomlkit renders the appended tables, so titles with
quotes or non-ASCII text are escaped correctly.
"""

from __future__ import annotations

import codecs
import re
import tomllib
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import listparser
import tomlkit
import tomlkit.exceptions

from feeds.config import ID_RE
from feeds.errors import FeedsError
from feeds.redact import UrlPolicy, url_policy
from feeds.sources.netguard import with_userinfo
from feeds.types import Config, Source

OTHER_GROUP = "Other"
IMPORT_COMMENT = "# --- imported from OPML ---"

_MAX_GENERATED_ID = 40
# XML 1.0 cannot carry these at all, even escaped; a title from TOML could hold one.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class OpmlError(FeedsError):
    """The OPML file or the sources file could not be read."""


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str  # "" when the outline had neither text nor title
    # Each category is a path, outermost first: the folders the outline sits
    # in (("Tech", "AI")) and each entry of its ``category`` attribute.
    categories: tuple[tuple[str, ...], ...] = ()
    source_id: str | None = None  # the id to add it under; None: made from the title or host


ImportStatus = Literal["added", "duplicate", "invalid"]


@dataclass(frozen=True)
class ImportItem:
    url: str  # as the OPML file gave it
    title: str  # for added feeds, the title written to sources.toml
    status: ImportStatus
    source_id: str | None = None  # the new id, or the id it duplicates
    topics: tuple[str, ...] = ()
    reason: str = ""  # for duplicates and invalid URLs; a note for added ones

    def describe(self) -> str:
        """One line for the terminal."""
        name = self.title or self.url
        if self.status == "added":
            topics = f" (topics: {', '.join(self.topics)})" if self.topics else ""
            note = f"; {self.reason}" if self.reason else ""
            return f"added {self.source_id}: {name} <{self.url}>{topics}{note}"
        return f"{'skipped duplicate' if self.status == 'duplicate' else 'skipped invalid'}: " \
               f"{name} <{self.url}>: {self.reason}"


@dataclass(frozen=True)
class ImportReport:
    items: tuple[ImportItem, ...]

    def _with(self, status: ImportStatus) -> tuple[ImportItem, ...]:
        return tuple(i for i in self.items if i.status == status)

    @property
    def added(self) -> tuple[ImportItem, ...]:
        return self._with("added")

    @property
    def duplicates(self) -> tuple[ImportItem, ...]:
        return self._with("duplicate")

    @property
    def invalid(self) -> tuple[ImportItem, ...]:
        return self._with("invalid")

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.duplicates)} duplicate, "
                f"{len(self.invalid)} invalid")


# --- export -----------------------------------------------------------------


def _clean(text: str) -> str:
    return _XML_INVALID.sub("", text)


def _feed_outline(parent: ET.Element, source: Source, home_page: str | None,
                  policy: UrlPolicy | None) -> None:
    assert source.url is not None
    def shown(url: str) -> str:
        return _clean(policy.url(url) if policy is not None else url)

    url = source.url
    if policy is None and source.url_auth is not None:
        url = with_userinfo(url, *source.url_auth)  # as the config wrote it
    attrs = {"type": "rss", "text": _clean(source.title), "title": _clean(source.title),
             "xmlUrl": shown(url)}
    if home_page:
        attrs["htmlUrl"] = shown(home_page)
    ET.SubElement(parent, "outline", attrs)


def render_opml(config: Config, home_pages: Mapping[str, str] | None = None, *,
                with_secrets: bool = False) -> bytes:
    """OPML 2.0 of the enabled feed sources, one folder per topic.

    A source is listed under each of its default topics (readers that import
    folders as tags then tag it with all of them) and under "Other" if it has
    none. Folders are in config order, sources in config order within them.
    ``home_pages`` maps source ids to their site address, for ``htmlUrl``;
    the config does not know it, the fetched feeds do.
    No dates in the head: the same config gives the same bytes.
    URLs are redacted (``feeds.redact``: no user-info, no secret query values)
    unless ``with_secrets``, for an operator's own backup.
    """
    home_pages = home_pages or {}
    s = config.settings
    policy = None if with_secrets else url_policy(s)
    root = ET.Element("opml", {"version": "2.0"})
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = _clean(f"{s.title}: sources")
    if s.author:
        ET.SubElement(head, "ownerName").text = _clean(s.author)
    ET.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = ET.SubElement(root, "body")

    feeds = [src for src in config.sources if src.enabled and src.url]
    groups: list[tuple[str, list[Source]]] = [
        (t.title, [src for src in feeds if t.id in src.topics]) for t in config.topics
    ]
    groups.append((OTHER_GROUP, [src for src in feeds if not src.topics]))
    for title, members in groups:
        if not members:
            continue  # an empty folder is noise in a reader's sidebar
        folder = ET.SubElement(body, "outline", {"text": _clean(title), "title": _clean(title)})
        for src in members:
            _feed_outline(folder, src, home_pages.get(src.id), policy)

    ET.indent(root, space="  ")
    # ElementTree writes the declaration with single quotes; write our own.
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, encoding="unicode").encode("utf-8") + b"\n")


# --- import -------------------------------------------------------------------


_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")


def _as_utf8(data: bytes) -> bytes:
    """The document re-encoded as UTF-8 with a declaration that says so.

    listparser hands the bytes to libxml2's HTML parser, which ignores most
    XML declarations: it read Latin-1 files as UTF-8 and undeclared UTF-8 as
    Latin-1 when tried. So we decode (BOM, then the declaration, then UTF-8,
    then Windows-1252, which never fails) and give it what it reads right.
    """
    if data.startswith(codecs.BOM_UTF8):
        text = data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", errors="replace")
    else:
        m = _DECLARED_ENCODING.match(data)
        declared = m.group(1).decode("ascii") if m else "utf-8"
        try:
            encoding = codecs.lookup(declared).name
        except LookupError:
            encoding = "utf-8"
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            # Files that say (or default to) UTF-8 but are Windows-1252 are common.
            text = data.decode("cp1252" if encoding != "cp1252" else "latin-1", errors="replace")
    text = _DECLARATION.sub("", text, count=1)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode("utf-8")


def parse_opml(data: bytes) -> list[OpmlFeed]:
    """The feeds an OPML file subscribes to, in document order.

    Outlines that only link to another subscription list (``type="include"``)
    are not feeds and are left out. listparser merges outlines with exactly
    the same URL into one, with the categories of all of them.
    """
    result: Any = listparser.parse(_as_utf8(data))
    feeds = result.get("feeds") or []
    if not feeds and not result.get("version"):
        cause = result.get("bozo_exception")
        why = f": {cause}" if cause else ""
        raise OpmlError(f"not an OPML subscription list{why}")
    out: list[OpmlFeed] = []
    for feed in feeds:
        paths: list[tuple[str, ...]] = []
        for raw in feed.get("categories") or []:
            path = tuple(part.strip() for part in raw if part and part.strip())
            if path and path not in paths:
                paths.append(path)
        out.append(OpmlFeed(url=str(feed.get("url") or "").strip(),
                            title=" ".join(str(feed.get("title") or "").split()),
                            categories=tuple(paths)))
    return out


def _fix_scheme(url: str) -> tuple[str, str]:
    """Undo the ``feed:`` pseudo-scheme that old readers wrote; return (url, note)."""
    lower = url.lower()
    if lower.startswith(("feed:http://", "feed:https://")):
        return url[5:], "feed: prefix removed"
    if lower.startswith("feed://"):
        return "http://" + url[7:], "feed:// read as http://"
    return url, ""


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a source's feed address, or None. Mirrors config.py's check."""
    if not url:
        return "no URL"
    if any(c.isspace() for c in url):
        return "the URL contains white space"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"the URL cannot be parsed ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"'{parts.scheme or url}' is not http or https" if parts.scheme else "the URL is not absolute"
    if not parts.hostname:
        return "the URL has no host"
    return None


def url_key(url: str) -> str:
    """What two URLs of the same feed have in common: scheme and host case, default
    port, a trailing slash and the fragment do not count."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    if parts.username or parts.password:
        netloc = f"{parts.username or ''}:{parts.password or ''}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def slugify(text: str) -> str:
    """Lower-case ASCII letters, digits and single hyphens; accents folded, the rest dropped."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _host_slug(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    host = host.removeprefix("www.")
    return slugify(host)


def new_id(title: str, url: str, taken: set[str]) -> str:
    """The id a source added with ``title`` (or, without one, ``url``'s host) gets:
    a slug not in ``taken``."""
    base = slugify(title) or _host_slug(url) or "feed"
    if len(base) > _MAX_GENERATED_ID:
        # Cut at a word boundary so the id still reads as the title's start.
        base = base[:_MAX_GENERATED_ID].rsplit("-", 1)[0] or base[:_MAX_GENERATED_ID]
    candidate, n = base, 2
    while candidate in taken:
        candidate = f"{base}-{n}"
        n += 1
    return candidate


def _topic_matcher(topic_ids: set[str], topic_titles: Mapping[str, str] | None) -> dict[str, str]:
    """Lower-cased names (id, title, slug of the title) → topic id."""
    names: dict[str, str] = {}
    for tid in sorted(topic_ids):
        names.setdefault(tid.lower(), tid)
    for tid, title in sorted((topic_titles or {}).items()):
        if tid in topic_ids:
            names.setdefault(title.strip().lower(), tid)
            names.setdefault(slugify(title), tid)
    return names


def _topics_for(feed: OpmlFeed, names: Mapping[str, str]) -> tuple[str, ...]:
    found: list[str] = []
    # Every folder on the path counts: a feed under "Tech/AI" is in "ai", and
    # one under "AI/Labs" too.
    for path in feed.categories:
        for part in path:
            for key in (part.lower(), slugify(part)):
                tid = names.get(key)
                if tid and tid not in found:
                    found.append(tid)
    return tuple(found)


def _existing_sources(doc: Any) -> list[Mapping[str, Any]]:
    raw = doc.get("sources")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise OpmlError("config/sources.toml: 'sources' must be an array of [[sources]] tables")
    return [s for s in raw if isinstance(s, Mapping)]


def _table(source_id: str, title: str, url: str, topics: Sequence[str]) -> Any:
    table = tomlkit.table()
    table.add("id", source_id)
    table.add("title", title)
    table.add("url", url)
    if topics:
        table.add("topics", list(topics))
    return table


def _append(text: str, doc: Any, tables: list[Any]) -> str:
    if isinstance(doc.get("sources"), tomlkit.items.AoT) or "sources" not in doc:
        # Append text rather than re-serialise the document: the operator's
        # file stays byte for byte as it was, comments and spacing included.
        newline = "\r\n" if "\r\n" in text else "\n"
        block = tomlkit.dumps({"sources": tables})  # tomlkit escapes the strings
        block = IMPORT_COMMENT + "\n\n" + block
        head = text.rstrip("\r\n")
        sep = newline * 2 if head else ""
        return head + sep + block.replace("\n", newline).rstrip("\r\n") + newline
    # ``sources = [ {...}, ... ]``: a [[sources]] table after it would be an
    # error, so add inline tables to that array instead.
    array = doc["sources"]
    for table in tables:
        inline = tomlkit.inline_table()
        inline.update(table.unwrap())
        array.append(inline)
    return tomlkit.dumps(doc)


def merge_into_sources(
    sources_toml_text: str,
    feeds: Iterable[OpmlFeed],
    topic_ids: set[str],
    topic_titles: Mapping[str, str] | None = None,
) -> tuple[str, ImportReport]:
    """Append a [[sources]] table for each new, valid feed; report on every feed.

    ``topic_ids``: the topics in feeds.toml; an OPML folder or category whose
    name is a topic's id, or (with ``topic_titles``, id → title) its title,
    ignoring case, becomes a default topic of the source.
    Returns the new text (the input unchanged if nothing was added) and the report.
    """
    try:
        doc = tomlkit.parse(sources_toml_text)
    except tomlkit.exceptions.ParseError as exc:
        raise OpmlError(f"config/sources.toml is not valid TOML: {exc}") from None
    existing = _existing_sources(doc)
    count_before = len(doc.get("sources") or [])
    taken = {str(s["id"]) for s in existing if "id" in s}
    known: dict[str, tuple[str | None, str]] = {}  # url key → (id that has it, why a duplicate)
    for s in existing:
        if isinstance(s.get("url"), str):
            sid = str(s["id"]) if "id" in s else None
            known.setdefault(url_key(s["url"]), (sid, f"already in sources.toml as '{sid or '?'}'"))
    names = _topic_matcher(topic_ids, topic_titles)

    items: list[ImportItem] = []
    tables: list[Any] = []
    for feed in feeds:
        url, note = _fix_scheme(feed.url.strip())
        problem = url_problem(url)
        if problem:
            items.append(ImportItem(feed.url, feed.title, "invalid", reason=problem))
            continue
        key = url_key(url)
        if key in known:
            dup_id, why = known[key]
            items.append(ImportItem(feed.url, feed.title, "duplicate", dup_id, reason=why))
            continue
        title = feed.title or (urlsplit(url).hostname or url)
        if feed.source_id is not None and feed.source_id in taken:
            items.append(ImportItem(feed.url, feed.title, "invalid", feed.source_id,
                                    reason=f"the id '{feed.source_id}' is already taken"))
            continue
        source_id = feed.source_id or new_id(feed.title, url, taken)
        assert ID_RE.fullmatch(source_id), source_id
        topics = _topics_for(feed, names)
        taken.add(source_id)
        known[key] = (source_id, f"the same feed as '{source_id}' earlier in this import")
        tables.append(_table(source_id, title, url, topics))
        items.append(ImportItem(feed.url, title, "added", source_id, topics, note))

    report = ImportReport(tuple(items))
    if not tables:
        return sources_toml_text, report
    new_text = _append(sources_toml_text, doc, tables)
    # The result must load as the old sources plus the new ones, whatever the
    # input looked like; anything else is a bug here, not the operator's.
    after = tomllib.loads(new_text).get("sources", [])
    if len(after) != count_before + len(tables):
        raise AssertionError("merging the OPML sources did not give the expected TOML")
    return new_text, report
