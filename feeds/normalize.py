"""``EntryData`` as a source gave it → ``Entry`` as we hold and publish it.

Pure: no I/O, and ``now`` is a parameter.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

from feeds.sanitize import html_to_text, sanitize_html, text_to_html
from feeds.slugs import article_slugs
from feeds.types import Entry, EntryData, FeedData, Person, Source

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


def normalize(data: EntryData, ctx: Context) -> Entry:
    source = ctx.source
    feed_link = ctx.feed.link if ctx.feed else None
    base = data.base or ctx.document_url or feed_link
    is_local = bool(data.guid and data.guid.startswith("file:"))

    link: str | None = None
    if data.link:
        link = canonical_url(data.link, base)
    if link is None and is_local and data.guid:
        link = local_article_link(ctx.base_url, source.id, data.guid[len("file:"):], ctx.local_slugs)
    if link is None and data.guid and data.guid.startswith(("http://", "https://")):
        # RSS guids are often the permalink even when <link> is missing.
        link = canonical_url(data.guid)

    def html_of(block_value: str, is_html: bool, block_base: str | None) -> str:
        raw = block_value if is_html else text_to_html(block_value)
        return sanitize_html(raw, block_base or link or base)

    content_html = ""
    if data.content:
        content_html = html_of(data.content.value, data.content.is_html, data.content.base)
    summary_html = ""
    if data.summary:
        summary_html = html_of(data.summary.value, data.summary.is_html, data.summary.base)
    summary_text = html_to_text(summary_html or content_html)

    title = ""
    if data.title:
        title = html_to_text(data.title.value) if data.title.is_html else " ".join(data.title.value.split())
    if not title:
        title = _truncate(summary_text, 80) or "(untitled)"

    guessed = data.date_from_mtime or (data.published is None and data.updated is None)
    published = data.published or data.updated or ctx.now
    published = _clamp(published, ctx.now)
    updated = _clamp(max(data.updated or published, published), ctx.now)

    authors = data.authors or (ctx.feed.authors if ctx.feed else ()) or (Person(source.title),)
    categories = tuple(dict.fromkeys(" ".join(c.split()) for c in data.categories if c.strip()))
    enclosures = tuple(
        replace(enc, url=url)
        for enc in data.enclosures
        if (url := canonical_url(enc.url, base)) is not None
    )

    if is_local and data.guid:
        item_key = data.guid
    elif data.guid:
        item_key = "guid:" + data.guid
    elif link:
        item_key = "url:" + link
    else:
        item_key = "hash1:" + content_hash(title, summary_text[:200])

    digest = content_hash(title, link, summary_html, content_html, categories,
                          [(e.url, e.type, e.length) for e in enclosures],
                          [(a.name, a.email, a.uri) for a in authors],
                          None if guessed else published.isoformat(),
                          None if guessed else updated.isoformat())
    return Entry(
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
        authors=tuple(authors),
        categories=categories,
        enclosures=enclosures,
        language=data.language or (ctx.feed.language if ctx.feed else None),
        content_hash=digest,
        date_guessed=guessed,
    )
