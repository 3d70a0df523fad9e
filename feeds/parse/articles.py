"""Local articles: a file's bytes and name become an ``EntryData``.

Three kinds, told apart by extension and then by content:
- plain-text news articles: a date line, the headline, an optional standfirst,
  body paragraphs, then site furniture ("Related Articles"...) that is dropped;
- Markdown with YAML (``---``) or TOML (``+++``) front matter;
- HTML pages: the article's headline, description, time and body.
"""

from __future__ import annotations

import html
import json
import re
import tomllib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import lxml.html
import yaml
from markdown_it import MarkdownIt

from feeds.errors import ParseError
from feeds.parse.textfile import decode_text
from feeds.stories.sanitize import text_to_html
from feeds.stories.slugs import on_site
from feeds.types import EntryData, LocalFile, Person, TextBlock

MARKDOWN_EXT = {".md", ".markdown", ".mdown", ".mkd"}
HTML_EXT = {".html", ".htm", ".xhtml"}

# --- dates -----------------------------------------------------------------

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}
_MONTH_RE = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"
    r"aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY_RE = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR_RE = r"(?P<year>\d{4})"
_TIME_RE = (
    r"(?:(?:\s*(?:at|,|-|–|—|\|)\s*|\s+)(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    r"\s*(?P<ampm>[ap]\.?m\.?)?"
    r"(?:\s*(?P<zone>(?:(?:UTC|GMT)\s?)?[+-]\d{1,2}(?::?\d{2})?|[A-Za-z]{1,5}))?)?"
)
_WEEKDAY_RE = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
_PREFIX_RE = (
    r"^(?:(?:published|posted|updated|last updated|date|dated|first published)"
    r"(?:\s+on)?\s*[:\-–—]?\s*)?"
)
_DATE_PATTERNS = [
    re.compile(_PREFIX_RE + _WEEKDAY_RE + body + _TIME_RE + r"$", re.I)
    for body in (
        # Saturday, July 13, 2024 / July 13th, 2024 / Sept. 5, 2024 10:30 AM EDT
        _MONTH_RE + r"\s+" + _DAY_RE + r",?\s+" + _YEAR_RE,
        # 12 February 2025 / Saturday 13 July 2024 / 13th of July, 2024
        _DAY_RE + r"(?:\s+of)?\s+" + _MONTH_RE + r",?\s+" + _YEAR_RE,
        # 2024-11-02 / 2024/11/02 / 2024.11.02, optionally with a time
        _YEAR_RE + r"[-/.](?P<nmonth>\d{1,2})[-/.](?P<day>\d{1,2})",
        # 13.07.2024 (day first, as in Europe) / 07/13/2024 (month first unless the first is > 12)
        r"(?P<first>\d{1,2})(?P<sep>[./])(?P<second_n>\d{1,2})[./]" + _YEAR_RE,
    )
]
# Zones newsrooms print. Ambiguous abbreviations take their North American meaning.
_ZONES = {
    "UTC": 0, "GMT": 0, "Z": 0, "UT": 0, "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3,
    "MSK": 3, "IST": 5.5, "SGT": 8, "HKT": 8, "CST": -6, "JST": 9, "KST": 9, "AEST": 10,
    "AEDT": 11, "NZST": 12, "NZDT": 13, "EST": -5, "EDT": -4, "ET": -5, "CDT": -5,
    "CT": -6, "MST": -7, "MDT": -6, "MT": -7, "PST": -8, "PDT": -7, "PT": -8, "WIB": 7,
}
# Only a known zone may follow a leading clock, so that "10:30 Sat July 13" keeps its "Sat".
_CLOCK_FIRST_RE = re.compile(
    r"^(?P<clock>\d{1,2}[:.]\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?"
    r"(?:\s*(?:(?:UTC|GMT)?[+-]\d{1,2}(?::?\d{2})?|(?:"
    + "|".join(sorted(_ZONES, key=len, reverse=True))
    + r")\b))?)\s*[,|\-–—]?\s*(?P<date>.+)$",
    re.I,
)
# "ET" and its kin name no offset: they mean EDT in July and EST in January.
_GENERIC_ZONES = {
    "ET": "America/New_York", "CT": "America/Chicago", "MT": "America/Denver",
    "PT": "America/Los_Angeles",
}


def _to_utc(value: datetime) -> datetime | None:
    """Naive means UTC; None when the shift to UTC leaves the years datetime can hold."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _zone(name: str) -> tzinfo | None:
    upper = name.upper().replace(" ", "")
    if upper.startswith(("UTC", "GMT")) and len(upper) > 3:
        upper = upper[3:]
    if upper[0] in "+-":
        hours, _, minutes = upper[1:].partition(":")
        if not minutes and len(hours) > 2:
            hours, minutes = hours[:-2], hours[-2:]
        offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if offset >= timedelta(hours=24) or int(minutes or 0) >= 60:
            return None
        return timezone(offset if upper[0] == "+" else -offset)
    if upper in _GENERIC_ZONES:
        try:
            return ZoneInfo(_GENERIC_ZONES[upper])
        except ZoneInfoNotFoundError:
            pass  # no tz database here: the standard-time offset below is the best guess
    if upper in _ZONES:
        return timezone(timedelta(hours=_ZONES[upper]))
    return None


def parse_date(text: str) -> datetime | None:
    """A date line as newsrooms write it, as an aware UTC datetime; None if it is not one.

    A date without a time is taken as noon UTC, so that it shows as the same
    calendar day in every time zone from UTC-11 to UTC+11.
    """
    return _parse_date(" ".join(text.strip().split()), clock_first=True)


def _parse_date(s: str, *, clock_first: bool) -> datetime | None:
    if not s or len(s) > 80:
        return None
    iso = s[:-1] + "+00:00" if s.endswith("Z") else s
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        pass
    else:
        if "T" in s or (" " in s.strip() and ":" in s):
            return _to_utc(parsed)
    rfc_match = re.match(r"^[A-Za-z]{3},\s+\d{1,2}\s+[A-Za-z]{3}\s+(\d{4})\s+\d", s)
    if rfc_match:
        try:
            rfc = parsedate_to_datetime(s)
        except (TypeError, ValueError):
            rfc = None
        # The email module reads years below 100 as two-digit ones, even when written "0024".
        if rfc is not None and rfc.year == int(rfc_match.group(1)):
            return _to_utc(rfc)
    for pattern in _DATE_PATTERNS:
        m = pattern.match(s)
        if m:
            return _from_match(m)
    if not clock_first:
        return None
    # "3:15 PM ET, Sat July 13, 2024": move the clock to the end, once only, so that
    # a string of clocks cannot send the rotation round for ever.
    m = _CLOCK_FIRST_RE.match(re.sub(_PREFIX_RE, "", s, count=1, flags=re.I))
    if m:
        return _parse_date(f"{m.group('date')} {m.group('clock')}", clock_first=False)
    return None


def _from_match(m: re.Match[str]) -> datetime | None:
    g = m.groupdict()
    if g.get("first"):
        a, b = int(g["first"]), int(g["second_n"])
        day_first = g["sep"] == "." or a > 12
        g["day"], g["nmonth"] = (str(a), str(b)) if day_first else (str(b), str(a))
    if g.get("nmonth"):
        month = int(g["nmonth"])
    else:
        name = g["month"].lower().rstrip(".")
        month = _MONTHS[name[:3]]
    try:
        year, day = int(g["year"]), int(g["day"])
        if g.get("hour") is None:
            return datetime(year, month, day, 12, 0, tzinfo=UTC)
        hour, minute = int(g["hour"]), int(g["minute"])
        second = int(g["second"] or 0)
        ampm = (g.get("ampm") or "").replace(".", "").lower()
        if ampm == "pm" and hour < 12:
            hour += 12
        elif ampm == "am" and hour == 12:
            hour = 0
        local = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    zone = g.get("zone")
    tz = _zone(zone) if zone else UTC
    if tz is None:
        return None
    return _to_utc(local.replace(tzinfo=tz))


# --- helpers ---------------------------------------------------------------


def _paragraphs_html(paragraphs: list[str]) -> str:
    return "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)


def kind_of(relpath: str, body: bytes) -> str:
    lower = relpath.lower()
    ext = lower[lower.rfind("."):] if "." in lower.rsplit("/", 1)[-1] else ""
    if ext in MARKDOWN_EXT:
        return "markdown"
    if ext in HTML_EXT:
        return "html"
    if ext in {".txt", ".text"}:
        return "text"
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<article", b"<head")):
        return "html"
    if head.startswith((b"---\n", b"---\r\n", b"+++\n", b"+++\r\n")):
        return "markdown"
    return "text"


def parse_article(file: LocalFile, source_id: str) -> EntryData:
    """Turn one local file into an entry. Raises ``ParseError`` if it holds no article:
    a file that is not text or is empty, front matter that cannot be read, no headline."""
    try:
        text = decode_text(file.body)
    except ValueError as exc:
        raise ParseError(source_id, f"{file.relpath}: {exc}") from None
    if not text.strip():
        raise ParseError(source_id, f"{file.relpath}: skipped, the file is empty")
    kind = kind_of(file.relpath, file.body)
    try:
        if kind == "markdown":
            data = _markdown(text)
        elif kind == "html":
            data = _html(text)
        else:
            data = _plain(text)
    except ValueError as exc:
        raise ParseError(source_id, f"{file.relpath}: {exc}") from None
    title = data.get("title")
    if not title:
        raise ParseError(source_id, f"{file.relpath}: no headline found")
    published = data.get("published")
    from_mtime = published is None
    if published is None:
        published = file.mtime
    return EntryData(
        guid=f"file:{file.relpath}",
        link=data.get("link"),
        title=TextBlock(title, is_html=False),
        summary=TextBlock(data["summary"], is_html=data.get("summary_html", False))
        if data.get("summary") else None,
        content=TextBlock(data["content"], is_html=True, base=data.get("link"))
        if data.get("content") else None,
        published=published,
        updated=data.get("updated"),
        authors=tuple(Person(a) for a in data.get("authors", ()) if a),
        categories=tuple(data.get("tags", ())),
        language=data.get("language"),
        date_from_mtime=from_mtime,
        notes=tuple(data.get("notes", ())),
    )


def without_site_link(data: EntryData, relpath: str, base_url: str) -> tuple[EntryData, str | None]:
    """The entry without a link of its own that lies on this site, and a warning
    naming the file if it had one. Addresses under ``base_url`` are the pages we
    write; an article may not claim one (it would point readers at another page of
    ours, or at none), so it gets the page we make for it instead."""
    if not data.link:
        return data, None
    from feeds.stories.normalize import canonical_url

    link = canonical_url(data.link)
    if link is not None and not on_site(link, base_url):
        return data, None
    # A link that is no http(s) URL goes too, without a word: normalising would drop
    # it anyway, and the folder's page names go to the files without a link.
    problem = None if link is None else (
        f"{relpath}: its link {data.link} lies on this site, whose addresses are ours "
        "to give; it gets its own page instead")
    content = replace(data.content, base=None) if data.content else None
    return replace(data, link=None, content=content), problem


# --- plain text --------------------------------------------------------------

# Headings that start the site furniture a copied page drags along.
_FURNITURE = re.compile(
    r"^(related( articles| stories| posts| news| content| coverage)?|latest( articles| news| stories)?|"
    r"most (popular|read|viewed|shared)|popular( now| stories)?|trending( now| stories)?|"
    r"recommended( for you| stories)?|read (more|next|also)|more (from|on|stories|news).*|"
    r"you (may|might) (also )?like|see also|also read|top stories|editor'?s picks|"
    r"share( this( article| story)?)?|follow us.*|sign up.*|subscribe.*|newsletter|advertisement|"
    r"tags?:.*|topics?:.*|comments?|leave a (comment|reply)|about the author|copyright.*|©.*|"
    r"all rights reserved.*)[.:]?$",
    re.I,
)


def _is_furniture_tail(blocks: list[str]) -> bool:
    """The rest of a page after a furniture heading: headings and short link lines only."""
    return all(_is_link_list(b) or _FURNITURE.match(b) for b in blocks)


def _is_link_list(block: str) -> bool:
    """One short line, or a stack of short capitalised lines (headlines of other stories).

    A hard-wrapped paragraph also has short lines, but almost always one that starts
    in lower case; that keeps body text after a mid-article "Related" heading.
    """
    lines = [line.strip() for line in block.split("\n") if line.strip()]
    if any(len(line.split()) > 20 for line in lines):
        return False
    return len(lines) <= 1 or all(not line[0].islower() for line in lines)


# "By Jane Doe", "BY JANE DOE and Omar al-Haddad", "By Li Wei, Reuters": names only, so that
# "By Tuesday, officials said." stays a paragraph.
_NAME = r"(?:[A-Z][\w.'’-]*|de|da|di|du|van|von|der|den|la|le|bin|al|el|ibn)"
_BYLINE = re.compile(
    rf"^[Bb][Yy]:?\s+(?P<names>[A-Z][\w.'’-]*(?:(?:\s*,\s*|\s+(?:and|&)\s+|\s+){_NAME})*)$"
)


def _take_byline(blocks: list[str], out: dict[str, Any]) -> list[str]:
    if blocks and "authors" not in out:
        m = _BYLINE.match(" ".join(blocks[0].split()))
        if m:
            names = re.split(r"\s*,\s*|\s+(?:and|&)\s+", m.group("names"))
            out["authors"] = [n.strip() for n in names if n.strip()]
            return blocks[1:]
    return blocks


def _plain(text: str) -> dict[str, Any]:
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    out: dict[str, Any] = {}
    # The date line may share its block with the headline when no blank line follows it.
    if blocks:
        first, _, rest = blocks[0].partition("\n")
        date = parse_date(first)
        if date is not None:
            out["published"] = date
            blocks = [rest.strip(), *blocks[1:]] if rest.strip() else blocks[1:]
    if not blocks:
        return out
    head, _, rest = blocks[0].partition("\n")
    out["title"] = " ".join(head.split())
    blocks = ([rest.strip()] if rest.strip() else []) + blocks[1:]
    # Drop the trailing furniture: from the first furniture heading that is followed
    # only by headings and short lines.
    for i, block in enumerate(blocks):
        # The heading may sit on the first line of its list, with no blank line after it.
        heading, _, listed = block.partition("\n")
        if _FURNITURE.match(heading.strip()) and _is_furniture_tail(
            ([listed] if listed.strip() else []) + blocks[i + 1:]
        ):
            blocks = blocks[:i]
            break
    # The byline sits right under the headline, or under the standfirst.
    blocks = _take_byline(blocks, out)
    standfirst = None
    if len(blocks) >= 2 and _is_standfirst(blocks[0]):
        standfirst = " ".join(blocks[0].split())
        blocks = _take_byline(blocks[1:], out)
    paragraphs = [" ".join(b.split()) for b in blocks]
    out["summary"] = standfirst or (paragraphs[0] if paragraphs else "")
    body = ([f"<p><strong>{html.escape(standfirst, quote=False)}</strong></p>"] if standfirst else [])
    body.append(_paragraphs_html(paragraphs))
    out["content"] = "\n".join(b for b in body if b)
    return out


def _is_standfirst(block: str) -> bool:
    """A standfirst is one short line under the headline, usually without a closing full stop."""
    if "\n" in block:
        return False
    words = block.split()
    if not words or len(words) > 60:
        return False
    if not block.rstrip().endswith((".", "!", "?", "\"", "”")):
        return True
    capitalised = sum(1 for w in words if w[:1].isupper())
    return len(words) <= 40 and capitalised / len(words) >= 0.6


# --- markdown ----------------------------------------------------------------

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")


# Front matter holds a title, dates, authors and tags: a few hundred bytes.
MAX_FRONT_MATTER = 64 * 1024
MAX_FRONT_MATTER_DEPTH = 16


class _FrontMatterLoader(yaml.SafeLoader):
    """YAML without anchors and aliases, nested at most ``MAX_FRONT_MATTER_DEPTH`` deep.

    An alias stands for a whole node, so aliases of aliases grow exponentially:
    a few hundred bytes can stand for gigabytes. Front matter has no use for
    them. Deep nesting would exhaust the
    composer's recursion.
    """

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in the stubs
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (& and *) are not allowed in front matter",
                event.start_mark)
        if self._depth >= MAX_FRONT_MATTER_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested more than {MAX_FRONT_MATTER_DEPTH} levels deep", event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    for fence, loader in (("---", "yaml"), ("+++", "toml")):
        if text.startswith(fence + "\n"):
            end = text.find("\n" + fence, len(fence))
            if end == -1:
                return {}, text
            raw = text[len(fence) + 1 : end]
            if len(raw) > MAX_FRONT_MATTER:
                raise ValueError(f"front matter is longer than {MAX_FRONT_MATTER:,} characters")
            after = text[end + len(fence) + 1 :]
            try:
                # The loader is a SafeLoader: plain data only.
                meta = yaml.load(raw, Loader=_FrontMatterLoader) if loader == "yaml" else tomllib.loads(raw)
            except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
                raise ValueError(f"front matter is not valid {loader.upper()}: {exc}") from None
            except RecursionError:  # TOML nested thousands deep
                raise ValueError(f"front matter is not valid {loader.upper()}: nested too deeply") from None
            return (meta if isinstance(meta, dict) else {}), after.lstrip("\n")
    return {}, text


def _as_date(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return _to_utc(value)
    if hasattr(value, "year") and hasattr(value, "month"):  # a date
        return datetime(value.year, value.month, value.day, 12, tzinfo=UTC)
    if isinstance(value, str):
        return parse_date(value)
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return []


# Larger Markdown bodies are published as plain text (see _markdown).
MAX_MARKDOWN_CHARS = 256 * 1024


def _markdown(text: str) -> dict[str, Any]:
    meta, body = _front_matter(text)
    meta = {str(k).lower(): v for k, v in meta.items()}
    out: dict[str, Any] = {}
    title = meta.get("title")
    if not title:
        m = re.search(r"^#\s+(.+?)\s*#*\s*$", body, re.M)
        if m:
            title = m.group(1)
            body = body[: m.start()] + body[m.end():]
    out["title"] = " ".join(str(title).split()) if title else None
    out["published"] = _as_date(meta.get("date") or meta.get("published"))
    out["updated"] = _as_date(meta.get("updated") or meta.get("lastmod"))
    out["authors"] = _strings(meta.get("author") or meta.get("authors"))
    out["tags"] = _strings(meta.get("tags") or meta.get("categories"))
    link = meta.get("link") or meta.get("url")
    out["link"] = str(link) if link else None
    if isinstance(meta.get("lang") or meta.get("language"), str):
        out["language"] = meta.get("lang") or meta.get("language")
    if len(body) > MAX_MARKDOWN_CHARS:
        # markdown-it takes about 10 us a character on hostile input (runs of "*a" or
        # "[a"), and every local file is read again on every run.
        out["content"] = text_to_html(body[:MAX_MARKDOWN_CHARS]).strip()
        out["notes"] = (f"Markdown over {MAX_MARKDOWN_CHARS:,} characters; published as plain "
                        "text, cut there",)
    else:
        out["content"] = _md.render(body).strip()
    summary = meta.get("summary") or meta.get("description")
    if summary:
        out["summary"] = str(summary)
    return out


# --- html --------------------------------------------------------------------

_DROP = ("script", "style", "nav", "header", "footer", "aside", "form", "noscript",
         "iframe", "template", "svg", "button", "dialog")


def _elements(node: lxml.html.HtmlElement, expr: str) -> list[lxml.html.HtmlElement]:
    found = node.xpath(expr)
    return [el for el in found if isinstance(el, lxml.html.HtmlElement)] if isinstance(found, list) else []


def _strings_at(node: lxml.html.HtmlElement, expr: str) -> list[str]:
    found = node.xpath(expr)
    return [str(v) for v in found if isinstance(v, str)] if isinstance(found, list) else []


def _meta(doc: lxml.html.HtmlElement, *names: str) -> str | None:
    for name in names:
        for attr in ("property", "name", "itemprop"):
            for el in _elements(doc, f'//meta[@{attr}="{name}"]'):
                content = (el.get("content") or "").strip()
                if content:
                    return content
    return None


def _json_ld(doc: lxml.html.HtmlElement) -> dict[str, Any]:
    for el in _elements(doc, '//script[@type="application/ld+json"]'):
        try:
            data = json.loads(el.text or "")
        except ValueError:
            continue
        if isinstance(data, dict):
            graph = data.get("@graph", [data])
            items = graph if isinstance(graph, list) else [graph]
        else:
            items = data if isinstance(data, list) else []
        for item in items:
            if isinstance(item, dict) and "datePublished" in item:
                return item
    return {}


def _ld_authors(value: Any) -> list[str]:
    """JSON-LD gives one author or a list, each a name or a Person with a name."""
    names: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name.strip():
            names.append(" ".join(name.split()))
    return names


def _html(text: str) -> dict[str, Any]:
    # lxml refuses a str that carries an encoding declaration, as XHTML pages often do;
    # the text is decoded already, so the declaration says nothing we need.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    try:
        doc = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        return {}
    ld = _json_ld(doc)
    out: dict[str, Any] = {}
    h1 = _elements(doc, "//article//h1") or _elements(doc, "//h1")
    title: Any = _meta(doc, "og:title", "twitter:title") or ld.get("headline")
    if not title and h1:
        title = h1[0].text_content()
    if not title:
        found = _elements(doc, "//title")
        title = found[0].text_content() if found else None
    out["title"] = " ".join(str(title).split()) if title else None
    out["summary"] = _meta(doc, "description", "og:description", "twitter:description")
    date: Any = _meta(doc, "article:published_time", "datePublished", "date", "dc.date", "pubdate")
    date = date or ld.get("datePublished")
    if not date:
        times = _elements(doc, "//time[@datetime]")
        date = times[0].get("datetime") if times else None
    out["published"] = parse_date(str(date)) if date else None
    modified = _meta(doc, "article:modified_time", "dateModified") or ld.get("dateModified")
    out["updated"] = parse_date(str(modified)) if modified else None
    author = _meta(doc, "author", "article:author")
    # article:author is often the writer's profile URL, which is no name.
    if author and not author.startswith("http"):
        out["authors"] = [author]
    else:
        out["authors"] = [a for a in _ld_authors(ld.get("author")) if not a.startswith("http")]
    canonical = _strings_at(doc, '//link[@rel="canonical"]/@href')
    out["link"] = (canonical[0] if canonical else None) or _meta(doc, "og:url")
    out["tags"] = [t.strip() for t in (_meta(doc, "keywords") or "").split(",") if t.strip()][:20]
    lang = doc.get("lang")
    if lang:
        out["language"] = lang
    for el in _elements(doc, "|".join(f"//{t}" for t in _DROP)):
        el.drop_tree()
    body_el = (
        _elements(doc, "//article") or _elements(doc, "//main") or _elements(doc, "//body") or [doc]
    )[0]
    for el in _elements(body_el, ".//h1"):
        if " ".join(el.text_content().split()) == out["title"]:
            el.drop_tree()
    # Text before the first child element is body text too ("<article>Lead <p>...").
    parts = [html.escape(body_el.text or "", quote=False)]
    for child in body_el:
        if isinstance(child.tag, str):
            parts.append(lxml.html.tostring(child, encoding="unicode"))
        else:
            # A comment or processing instruction: keep only the text that follows it.
            parts.append(html.escape(child.tail or "", quote=False))
    out["content"] = "".join(parts).strip()
    return out
