"""The nh3 adapter: HTML from anywhere → HTML that is safe to republish, and plain text."""

from __future__ import annotations

import contextlib
import html
import re
import threading
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

import nh3

_URL_ATTRIBUTES = frozenset({"href", "src", "cite", "poster", "longdesc"})
_SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel", "ftp", "data"})

_TAGS = set(nh3.ALLOWED_TAGS) | {"figure", "figcaption", "picture", "source", "video", "audio",
                                 "track", "time", "mark", "section"}
_TAGS -= {"area", "map"}
_ATTRIBUTES: dict[str, set[str]] = {k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()}
for _tag, _attrs in {
    "img": {"src", "alt", "title", "width", "height", "loading"},
    "a": {"href", "title", "hreflang"},
    "video": {"src", "poster", "controls", "width", "height"},
    "audio": {"src", "controls"},
    "source": {"src", "type"},
    "track": {"src", "kind", "label", "srclang"},
    "time": {"datetime"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}.items():
    _ATTRIBUTES.setdefault(_tag, set()).update(_attrs)


# An absolute http(s) URL that urljoin returns unchanged whatever the base: printable
# ASCII, a host, no IPv6 brackets or ;params, and no empty query or fragment
# (urljoin drops a bare "?" or "#"). Most URLs in feeds are like this, and
# resolving them was half of what sanitising cost.
_PLAIN_URL = re.compile(r"(https?)://[^/?#\[\];\x00-\x20\x7f-\U0010ffff][^\[\];\x00-\x20\x7f-\U0010ffff]*")


def _path_kept(value: str) -> str | None:
    """``value`` up to its query or fragment, if urljoin keeps both as written; None
    if it has a bare "?" or "#" (an empty query or fragment), which urljoin drops."""
    head, hash_, fragment = value.partition("#")
    if hash_ and not fragment:
        return None
    path, question, query = head.partition("?")
    if question and not query:
        return None
    return path


def _plain_scheme(value: str) -> str | None:
    """The scheme of ``value`` if urljoin(base, value) is ``value`` for any base."""
    match = _PLAIN_URL.fullmatch(value)
    if match is None or _path_kept(value) is None:
        return None
    return match.group(1)


# A path from the root ("/img/1.jpg") whose urljoin with an http(s) base is the base's
# origin and the path as written: plain characters, no empty, "." or ".." segment
# (urljoin removes them), no empty query or fragment. Feeds write their images and
# tag pages so: half the URLs of the bench corpus's HTML, and joining them with
# urljoin was about a seventh of what normalising an entry cost.
_PLAIN_TEXT = re.compile(r"[^\[\];\x00-\x20\x7f-\U0010ffff]*")


def _rooted(base: str, value: str) -> tuple[str, str] | None:
    """``_resolve`` for a path from the root, where it can be done without urljoin."""
    if value[1:2] == "/" or _PLAIN_TEXT.fullmatch(value) is None:
        return None
    path = _path_kept(value)
    if path is None:
        return None
    segments = path.split("/")
    if "" in segments[1:-1] or "." in segments or ".." in segments:
        return None
    origin = _origin(base)
    return None if origin is None else (origin[0] + value, origin[1])


@lru_cache(maxsize=64)
def _origin(base: str) -> tuple[str, str] | None:
    """The scheme and authority of an http(s) ``base``, as urljoin writes them, and
    the scheme."""
    try:
        root = urljoin(base, "/")
        parts = urlsplit(root)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or root != f"{parts.scheme}://{parts.netloc}/":
        return None
    return root[:-1], parts.scheme


def resolve_url(base: str | None, value: str) -> str | None:
    """``value`` made absolute against ``base``; None when it has no scheme then."""
    resolved = _resolve(base, value)
    return None if resolved is None else resolved[0]


def _resolve(base: str | None, value: str) -> tuple[str, str] | None:
    """``resolve_url``, with the URL's scheme in lower case: found on the way."""
    value = value.strip()
    scheme = _plain_scheme(value)
    if scheme is not None:
        return value, scheme
    if base and value[:1] == "/":
        rooted = _rooted(base, value)
        if rooted is not None:
            return rooted
    if base:
        with contextlib.suppress(ValueError):  # a base that cannot be parsed ("https://[::1") is no base
            value = urljoin(base, value)
    try:
        scheme = urlsplit(value).scheme
    except ValueError:  # such as a broken IPv6 host
        return None
    return (value, scheme.lower()) if scheme else None


def _fix_url(tag: str, attribute: str, value: str) -> str | None:
    if attribute not in _URL_ATTRIBUTES:
        return value
    resolved = _resolve(_current.base, value)
    if resolved is None:
        return None  # a relative URL with nothing to resolve it against
    url, scheme = resolved
    if scheme not in _SAFE_SCHEMES or (scheme == "data" and tag != "img"):
        return None
    return url


class _Base(threading.local):
    base: str | None = None


# One sanitiser, built once: nh3.clean converted the allowed tags, attributes and
# schemes again on every call, a third of its cost. The base URL of the fragment
# being cleaned reaches its URL filter through a thread-local (nh3 calls the filter
# in the calling thread, during clean()).
_current = _Base()
_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    attributes=_ATTRIBUTES,
    attribute_filter=_fix_url,
    url_schemes=set(_SAFE_SCHEMES),
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)


def sanitize_html(fragment: str, base: str | None) -> str:
    """Remove scripts, event handlers and unsafe URLs; make every URL absolute against ``base``."""
    _current.base = base
    try:
        return _CLEANER.clean(fragment).strip()
    finally:
        _current.base = None


_TEXT_ONLY = nh3.Cleaner(tags=set(), strip_comments=True)
_BLOCK_END = re.compile(r"</(p|div|li|h[1-6]|blockquote|pre|tr|section|figure)>|<br\s*/?>", re.I)


def html_to_text(fragment: str) -> str:
    """The words of an HTML fragment, without tags, as one line of text."""
    spaced = _BLOCK_END.sub(lambda m: m.group(0) + " ", fragment)
    text = _TEXT_ONLY.clean(spaced)
    return " ".join(html.unescape(text).split())


def text_to_html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n".join(f"<p>{html.escape(' '.join(p.split()), quote=False)}</p>" for p in paragraphs)
