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
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import lxml.html
import yaml
from markdown_it import MarkdownIt

from feeds.errors import ParseError
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
    r"\s*(?P<ampm>[ap]\.?m\.?)?(?:\s*(?P<zone>[A-Za-z]{1,5}|[+-]\d{2}:?\d{2}))?)?"
)
_WEEKDAY_RE = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
_PREFIX_RE = (
    r"^(?:(?:published|posted|updated|last updated|date|dated|first published)"
    r"(?:\s+on)?\s*[:\-–—]?\s*)?"
)
_CLOCK_FIRST_RE = re.compile(
    r"^(?P<clock>\d{1,2}[:.]\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?(?:\s*[A-Za-z]{1,5})?)\s*[,|\-–—]?\s*(?P<date>.+)$",
    re.I,
)
_DATE_PATTERNS = [
    # Saturday, July 13, 2024 / July 13th, 2024 / Sept. 5, 2024 10:30 AM EDT
    re.compile(_PREFIX_RE + _WEEKDAY_RE + _MONTH_RE + r"\s+" + _DAY_RE + r",?\s+" + _YEAR_RE + _TIME_RE + r"$", re.I),
    # 12 February 2025 / Saturday 13 July 2024 / 13th of July, 2024
    re.compile(_PREFIX_RE + _WEEKDAY_RE + _DAY_RE + r"(?:\s+of)?\s+" + _MONTH_RE + r",?\s+" + _YEAR_RE + _TIME_RE + r"$", re.I),
    # 2024-11-02 / 2024/11/02 / 2024.11.02, optionally with a time
    re.compile(_PREFIX_RE + _YEAR_RE + r"[-/.](?P<nmonth>\d{1,2})[-/.]" + r"(?P<day>\d{1,2})" + _TIME_RE + r"$", re.I),
    # 13.07.2024 (day first, as in Europe) / 07/13/2024 (month first unless the first number is > 12)
    re.compile(_PREFIX_RE + _WEEKDAY_RE + r"(?P<first>\d{1,2})(?P<sep>[./])(?P<second_n>\d{1,2})[./]" + _YEAR_RE + _TIME_RE + r"$", re.I),
]
# Zones newsrooms print. Ambiguous abbreviations take their North American meaning.
_ZONES = {
    "UTC": 0, "GMT": 0, "Z": 0, "UT": 0, "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3,
    "MSK": 3, "IST": 5.5, "SGT": 8, "HKT": 8, "CST": -6, "JST": 9, "KST": 9, "AEST": 10,
    "AEDT": 11, "NZST": 12, "NZDT": 13, "EST": -5, "EDT": -4, "ET": -5, "CDT": -5,
    "CT": -6, "MST": -7, "MDT": -6, "MT": -7, "PST": -8, "PDT": -7, "PT": -8, "WIB": 7,
}


def parse_date(text: str) -> datetime | None:
    """A date line as newsrooms write it, as an aware UTC datetime; None if it is not one.

    A date without a time is taken as noon UTC, so that it shows as the same
    calendar day in every time zone from UTC-11 to UTC+11.
    """
    s = " ".join(text.strip().split())
    if not s or len(s) > 80:
        return None
    iso = s[:-1] + "+00:00" if s.endswith("Z") else s
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        pass
    else:
        if "T" in s or " " in s.strip() and ":" in s:
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if re.match(r"^[A-Za-z]{3},\s+\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d", s):
        try:
            rfc = parsedate_to_datetime(s)
        except (TypeError, ValueError):
            rfc = None
        if rfc is not None:
            return rfc.astimezone(UTC) if rfc.tzinfo else rfc.replace(tzinfo=UTC)
    for pattern in _DATE_PATTERNS:
        m = pattern.match(s)
        if m:
            return _from_match(m)
    m = _CLOCK_FIRST_RE.match(re.sub(_PREFIX_RE, "", s, count=1, flags=re.I))
    if m and not m.group("date")[:1].isdigit():
        return parse_date(f"{m.group('date')} {m.group('clock')}")
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
    offset = 0.0
    if zone:
        if zone[0] in "+-":
            digits = zone[1:].replace(":", "")
            offset = (int(digits[:2]) + int(digits[2:]) / 60) * (1 if zone[0] == "+" else -1)
        elif zone.upper() in _ZONES:
            offset = _ZONES[zone.upper()]
        else:
            return None
    return local.replace(tzinfo=timezone(timedelta(hours=offset))).astimezone(UTC)


# --- helpers ---------------------------------------------------------------


def _decode(body: bytes, name: str) -> str:
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # Legacy files are most often Windows-1252; it decodes every byte but five.
        text = body.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


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
    """Turn one local file into an entry. Raises ``ParseError`` if it holds no article."""
    text = _decode(file.body, file.relpath)
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
    )


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
    return all(len(b.split()) <= 20 and "\n" not in b.strip() or _FURNITURE.match(b) for b in blocks)


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
        if _FURNITURE.match(block) and _is_furniture_tail(blocks[i + 1:]):
            blocks = blocks[:i]
            break
    # A bylines line ("By Jane Doe") right under the headline is the author.
    if blocks and re.match(r"^by\s+[A-Z]", blocks[0]) and len(blocks[0].split()) <= 12:
        out["authors"] = [a.strip() for a in re.split(r",| and ", blocks[0][3:]) if a.strip()]
        blocks = blocks[1:]
    standfirst = None
    if len(blocks) >= 2 and _is_standfirst(blocks[0]):
        standfirst = " ".join(blocks[0].split())
        blocks = blocks[1:]
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


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    for fence, loader in (("---", "yaml"), ("+++", "toml")):
        if text.startswith(fence + "\n"):
            end = text.find("\n" + fence, len(fence))
            if end == -1:
                return {}, text
            raw = text[len(fence) + 1 : end]
            after = text[end + len(fence) + 1 :]
            try:
                meta = yaml.safe_load(raw) if loader == "yaml" else tomllib.loads(raw)
            except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
                raise ValueError(f"front matter is not valid {loader.upper()}: {exc}") from None
            return (meta if isinstance(meta, dict) else {}), after.lstrip("\n")
    return {}, text


def _as_date(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
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
    out["content"] = _md.render(body).strip()
    summary = meta.get("summary") or meta.get("description")
    if summary:
        out["summary"] = str(summary)
    return out


# --- html --------------------------------------------------------------------

_DROP = ("script", "style", "nav", "header", "footer", "aside", "form", "noscript",
         "iframe", "template", "svg", "button", "dialog")


def _meta(doc: Any, *names: str) -> str | None:
    for name in names:
        for attr in ("property", "name", "itemprop"):
            for el in doc.xpath(f'//meta[@{attr}="{name}"]'):
                content = (el.get("content") or "").strip()
                if content:
                    return content
    return None


def _json_ld(doc: Any) -> dict[str, Any]:
    for el in doc.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(el.text or "")
        except ValueError:
            continue
        items = data if isinstance(data, list) else data.get("@graph", [data]) if isinstance(data, dict) else []
        for item in items:
            if isinstance(item, dict) and "datePublished" in item:
                return item
    return {}


def _html(text: str) -> dict[str, Any]:
    try:
        doc = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        return {}
    ld = _json_ld(doc)
    out: dict[str, Any] = {}
    h1 = doc.xpath("//article//h1") or doc.xpath("//h1")
    title = _meta(doc, "og:title", "twitter:title") or ld.get("headline")
    if not title and h1:
        title = h1[0].text_content()
    if not title:
        found = doc.xpath("//title")
        title = found[0].text_content() if found else None
    out["title"] = " ".join(str(title).split()) if title else None
    out["summary"] = _meta(doc, "description", "og:description", "twitter:description")
    date = _meta(doc, "article:published_time", "datePublished", "date", "dc.date", "pubdate")
    date = date or ld.get("datePublished")
    if not date:
        times = doc.xpath("//time[@datetime]")
        date = times[0].get("datetime") if times else None
    out["published"] = parse_date(str(date)) if date else None
    modified = _meta(doc, "article:modified_time", "dateModified") or ld.get("dateModified")
    out["updated"] = parse_date(str(modified)) if modified else None
    author = _meta(doc, "author", "article:author")
    if not author and isinstance(ld.get("author"), dict):
        author = ld["author"].get("name")
    out["authors"] = [str(author)] if author and not str(author).startswith("http") else []
    canonical = doc.xpath('//link[@rel="canonical"]/@href')
    out["link"] = (canonical[0] if canonical else None) or _meta(doc, "og:url")
    out["tags"] = [t for t in (_meta(doc, "keywords") or "").split(",") if t.strip()][:20]
    lang = doc.get("lang")
    if lang:
        out["language"] = lang
    for el in doc.xpath("|".join(f"//{t}" for t in _DROP)):
        el.drop_tree()
    body_el = (doc.xpath("//article") or doc.xpath("//main") or doc.xpath("//body") or [doc])[0]
    for el in body_el.xpath(".//h1"):
        if " ".join(el.text_content().split()) == out["title"]:
            el.drop_tree()
    out["content"] = "".join(
        lxml.html.tostring(child, encoding="unicode") for child in body_el
    ).strip()
    return out
