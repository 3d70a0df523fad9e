"""``EntryData`` as a source gave it → ``Entry`` as we hold and publish it.

Pure: no I/O, and ``now`` is a parameter.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

from feeds.stories.sanitize import html_to_text, sanitize_html_checked, text_to_html
from feeds.stories.slugs import article_slugs
from feeds.types import Enclosure, Entry, EntryData, FeedData, FetchSettings, Person, Source, TextBlock
from feeds.xmlchars import safe_entry, xml_safe, xml_safe_or_none

TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
    "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id",
    "ref_src", "cmpid", "ncid", "sr_share", "guccounter", "at_medium", "at_campaign", "spm",
})
_TRACKING_PREFIXES = ("utm_", "__twitter", "pk_", "mtm_", "hsa_")
_DEFAULT_PORTS = {"http": 80, "https": 443}

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_CHARS = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_QUERY_CHARS = _PATH_CHARS | {"?"}
# The WHATWG URL standard's forbidden host code points (besides controls and space).
_FORBIDDEN_HOST_CHARS = frozenset("#%/:<>?@[\\]^|\"{}`")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# Text made only of these, with no escape, is already in canonical form.
_PLAIN = {chars: re.compile("[" + re.escape("".join(sorted(chars))) + "]*")
          for chars in (_PATH_CHARS, _QUERY_CHARS)}

# How far ahead of our clock an entry's date may be before we believe our clock instead.
FUTURE_TOLERANCE = timedelta(days=1)
SUMMARY_TEXT_CHARS = 400
# Fixed caps on fields no reader needs long (the configurable ones are in FetchSettings).
MAX_AUTHORS = 20
MAX_NAME_CHARS = 200
MAX_CATEGORY_CHARS = 200
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*")
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*(?:\s*;[^\x00-\x1f]*)?")
# An addr-spec without comments, quotes or white space: enough to make a mailto: URL.
_EMAIL = re.compile(r"[^\s@<>()\[\]\\,;:\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253})")


def canonical_url(url: str, base: str | None = None) -> str | None:
    """An absolute, canonical form of ``url``: the key under which a link is the same link.

    Scheme and host lower-cased, default port and fragment dropped, tracking
    parameters removed, percent-encoding normalised. Idempotent. None for a URL
    that is not http(s) or cannot be parsed.
    """
    url = url.strip()
    if not url:
        return None
    try:
        if base:
            url = urljoin(base, url)
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    try:
        host = host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    # After IDNA, which turns "。" and "．" into ".".
    host = host.rstrip(".")
    if not host:
        return None
    if ":" in host:  # IPv6 literal
        # urlsplit checks only the first [...] of the netloc, not the host it returns.
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None
        host = f"[{host}]"
    elif any(c in _FORBIDDEN_HOST_CHARS or c <= " " or c == "\x7f" for c in host):
        # White space, controls and delimiters: a browser refuses such a host, and
        # kept as they are they would make a different URL each time round.
        return None
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _normalize_escapes(parts.path, _PATH_CHARS) or "/"
    query = "&".join(
        _normalize_escapes(pair, _QUERY_CHARS)
        for pair in parts.query.split("&")
        if pair and not _is_tracking(pair)
    )
    return urlunsplit((scheme, netloc, path, query, ""))


def _normalize_escapes(text: str, allowed: frozenset[str]) -> str:
    """Percent-encoding in one canonical form, without changing what the URL means.

    Escaped unreserved characters are decoded and other escapes upper-cased;
    everything else that may not appear raw is escaped as UTF-8. Escapes of
    reserved characters (``%2F``, ``%2B``, ``%26``) and of bytes that are not
    UTF-8 stay as they are: decoding them would make a different URL.
    """
    plain = _PLAIN.get(allowed)
    if plain is not None and plain.fullmatch(text):  # most paths: nothing to do, char by char
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        m = _ESCAPE.match(text, i)
        if m:
            char = chr(int(m.group(1), 16))
            out.append(char if char in _UNRESERVED else m.group(0).upper())
            i += 3
            continue
        char = text[i]
        if char in allowed:
            out.append(char)
        else:
            out.extend(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(out)


def _is_tracking(pair: str) -> bool:
    key = unquote_plus(pair.split("=", 1)[0]).strip().lower()
    return key in TRACKING_PARAMS or key.startswith(_TRACKING_PREFIXES)


def content_hash(*parts: object) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Context:
    """What normalising an entry needs to know beyond the entry itself."""

    source: Source
    base_url: str  # the site's public address, for local articles' links
    now: datetime
    document_url: str | None = None
    feed: FeedData | None = None
    local_slugs: Mapping[str, str] | None = None  # a local folder's page names, by path
    limits: FetchSettings = field(default_factory=FetchSettings)  # its max_*_chars, max_categories
    # What normalising had to give up (HTML kept only as text), one line an item and
    # field, for the run's warnings. The caller owns the list.
    notes: list[str] = field(default_factory=list)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:-–—")
    return cut + "…"


def _clamp(value: datetime, now: datetime) -> datetime:
    return now if value > now + FUTURE_TOLERANCE else value


def local_article_link(base_url: str, source_id: str, relpath: str,
                       slugs: Mapping[str, str] | None = None) -> str:
    """The address of a local article's page. ``slugs`` are the folder's, from
    ``article_slugs``: without them the file is taken to be alone in its folder."""
    slug = (slugs or {}).get(relpath) or article_slugs([relpath])[relpath]
    return f"{base_url}articles/{source_id}/{slug}.html"


def web_url(url: str | None, base: str | None = None) -> str | None:
    """The one URL policy for every URL an entry publishes (its link, author URIs,
    enclosures) and every base URL it is resolved against: absolute http(s) in
    canonical form, else None. ``javascript:``, ``data:`` and the like never pass."""
    if not url:
        return None
    return canonical_url(xml_safe(url), base)


@lru_cache(maxsize=256)
def _base_url(url: str | None, base: str | None = None) -> str | None:
    """A base to resolve against: ``url`` (made absolute) if it is http(s), else None.
    Not canonicalised: a base's query and fragment do not matter, its path as written does.
    Cached: a document's entries share their bases, and this ran four times an entry."""
    if not url or web_url(url, base) is None:
        return None
    return urljoin(base, url) if base else url


def _person(person: Person, base: str | None) -> Person | None:
    name = _truncate(" ".join(xml_safe(person.name).split()), MAX_NAME_CHARS)
    email = xml_safe_or_none(person.email)
    if email is not None and not _EMAIL.fullmatch(email.strip()):
        email = None  # it is published as a mailto: URL in JSON Feed
    if not name:
        return None
    return Person(name, email.strip() if email else None, web_url(person.uri, base))


def _block(block: TextBlock | None, limit: int) -> TextBlock | None:
    if block is None:
        return None
    # Cut before sanitising (which closes what the cut leaves open), so that a huge
    # body costs no more than the limit.
    value = xml_safe(block.value[:limit])
    return replace(block, value=value, base=_base_url(block.base))


def normalize(data: EntryData, ctx: Context) -> Entry:
    """The entry as we publish it. Whatever the source sent, every text field holds
    only characters XML 1.0 allows (``xmlchars.safe_entry``), every URL is absolute
    http(s) (``web_url``), and every field is within ``ctx.limits``."""
    source = ctx.source
    limits = ctx.limits
    document_url = _base_url(ctx.document_url)
    feed_link = _base_url(ctx.feed.link, document_url) if ctx.feed else None
    base = _base_url(data.base) or document_url or feed_link
    is_local = bool(data.guid and data.guid.startswith("file:"))
    guid = xml_safe_or_none(data.guid.strip()) if data.guid else None

    link: str | None = None
    if data.link:
        link = web_url(data.link, base)
    if link is None and is_local and guid:
        link = local_article_link(ctx.base_url, source.id, guid[len("file:"):], ctx.local_slugs)
    if link is None and guid and guid.startswith(("http://", "https://")):
        # RSS guids are often the permalink even when <link> is missing.
        link = web_url(guid)

    def html_of(block: TextBlock, field_name: str) -> str:
        raw = block.value if block.is_html else text_to_html(block.value)
        cleaned, degraded = sanitize_html_checked(raw, block.base or link or base)
        if degraded is not None:
            ctx.notes.append(f"item {link or guid or '(no link)'}: {field_name}: {degraded}; "
                             "kept as plain text")
        return cleaned

    content = _block(data.content, limits.max_text_chars)
    summary = _block(data.summary, limits.max_text_chars)
    content_html = html_of(content, "content") if content else ""
    summary_html = html_of(summary, "summary") if summary else ""
    # Our own sanitiser's output: well-formed and within the HTML budget already.
    summary_text = html_to_text(summary_html or content_html, sanitized=True)

    title = ""
    if data.title:
        # A few times the limit: markup and white space shrink when made plain.
        raw_title = xml_safe(data.title.value[: limits.max_title_chars * 8])
        title = html_to_text(raw_title) if data.title.is_html else " ".join(raw_title.split())
        title = _truncate(xml_safe(title), limits.max_title_chars)
    if not title:
        title = _truncate(summary_text, 80) or "(untitled)"

    guessed = data.date_from_mtime or (data.published is None and data.updated is None)
    published = data.published or data.updated or ctx.now
    updated = max(data.updated or published, published)
    if published > ctx.now + FUTURE_TOLERANCE or updated > ctx.now + FUTURE_TOLERANCE:
        # A date in the future is not believed: the entry takes the time first seen,
        # as an undated one does, and keeps it (``dedupe.plan`` keeps a guessed date,
        # and the content hash ignores it), so it cannot stay on top by being
        # "updated" to a new now each time the feed changes.
        guessed = True
        published = min(published, ctx.now)
        updated = max(min(updated, ctx.now), published)

    # A title the feed lent the source (``sourceinfo``) is not used here: the
    # authors are hashed, and a feed renaming itself would "update" every entry.
    named = source.title if source.title_given else source.id
    people = data.authors or (ctx.feed.authors if ctx.feed else ()) or (Person(named),)
    authors = tuple(p for a in people[:MAX_AUTHORS] if (p := _person(a, base)) is not None)
    if not authors:
        authors = (Person(xml_safe(named) or source.id),)
    categories = tuple(dict.fromkeys(
        _truncate(" ".join(xml_safe(c).split()), MAX_CATEGORY_CHARS) for c in data.categories
        if xml_safe(c).strip()))[: limits.max_categories]
    enclosures = tuple(
        Enclosure(url, enc.type if _MEDIA_TYPE.fullmatch(enc.type) else "application/octet-stream",
                  max(enc.length, 0))
        for enc in data.enclosures
        if (url := web_url(enc.url, base)) is not None
    )
    language = data.language or (ctx.feed.language if ctx.feed else None)
    if language is not None and not _LANGUAGE.fullmatch(language.strip()):
        language = None

    if is_local and guid:
        item_key = guid
    elif guid:
        item_key = "guid:" + guid
    elif link:
        item_key = "url:" + link
    else:
        item_key = "hash1:" + content_hash(title, summary_text[:200])

    digest = content_hash(title, link, summary_html, content_html, categories,
                          [(e.url, e.type, e.length) for e in enclosures],
                          [(a.name, a.email, a.uri) for a in authors],
                          None if guessed else published.isoformat(),
                          None if guessed else updated.isoformat())
    return safe_entry(Entry(
        source_id=source.id,
        item_key=item_key,
        url_key=None if is_local and not data.link else link,
        link=link,
        title=title,
        summary_html=summary_html,
        content_html=content_html,
        summary_text=_truncate(summary_text, SUMMARY_TEXT_CHARS),
        published=published,
        updated=updated,
        authors=authors,
        categories=categories,
        enclosures=enclosures,
        language=language.strip() if language else None,
        content_hash=digest,
        date_guessed=guessed,
    ))
