"""The nh3 adapter: HTML from anywhere → HTML that is safe to republish, and plain text."""

from __future__ import annotations

import html
import re
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


def sanitize_html(fragment: str, base: str | None) -> str:
    """Remove scripts, event handlers and unsafe URLs; make every URL absolute against ``base``."""

    def fix_url(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in _URL_ATTRIBUTES:
            return value
        value = value.strip()
        if base:
            try:
                value = urljoin(base, value)
            except ValueError:
                return None
        scheme = urlsplit(value).scheme.lower()
        if not scheme:
            return None  # a relative URL with nothing to resolve it against
        if scheme not in _SAFE_SCHEMES or (scheme == "data" and tag != "img"):
            return None
        return value

    cleaned = nh3.clean(
        fragment,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=fix_url,
        url_schemes=set(_SAFE_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return cleaned.strip()


_BLOCK_END = re.compile(r"</(p|div|li|h[1-6]|blockquote|pre|tr|section|figure)>|<br\s*/?>", re.I)


def html_to_text(fragment: str) -> str:
    """The words of an HTML fragment, without tags, as one line of text."""
    spaced = _BLOCK_END.sub(lambda m: m.group(0) + " ", fragment)
    text = nh3.clean(spaced, tags=set(), strip_comments=True)
    return " ".join(html.unescape(text).split())


def text_to_html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n".join(f"<p>{html.escape(' '.join(p.split()), quote=False)}</p>" for p in paragraphs)
