"""What sanitised HTML must not contain, checked the way a browser would read it."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser

_URL_ATTRIBUTES = {"href", "src", "cite", "poster", "longdesc", "action", "formaction",
                   "srcset", "background", "data", "xlink:href"}
_SAFE_SCHEMES = {"http", "https", "mailto", "tel", "ftp", "data"}


class _Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((tag, name, value or "") for name, value in attrs)


def _browser_scheme(url: str) -> str:
    """The scheme a browser would see: it strips C0 controls and space, drops tabs and newlines."""
    cleaned = url.strip("".join(chr(c) for c in range(0x21)))
    cleaned = cleaned.replace("\t", "").replace("\n", "").replace("\r", "")
    head, sep, _ = cleaned.partition(":")
    if sep and head[:1].isascii() and head[:1].isalpha() and all(
            c.isascii() and (c.isalnum() or c in "+-.") for c in head):
        return head.lower()
    return ""


def safety_problems(fragment: str) -> Iterator[str]:
    """Everything in ``fragment`` that a sanitiser should have removed."""
    if "<script" in fragment.lower():
        yield "a <script> tag"
    parser = _Attributes()
    parser.feed(fragment)
    parser.close()
    for tag in parser.tags:
        if tag in {"script", "iframe", "object", "embed", "style", "svg", "math", "form", "base"}:
            yield f"a <{tag}> element"
    for tag, name, value in parser.attributes:
        if name.startswith("on"):
            yield f"an event handler {name}= on <{tag}>"
        if name == "style" and ("expression" in value.lower() or "url(" in value.lower()):
            yield f"active CSS on <{tag}>"
        if name in _URL_ATTRIBUTES:
            scheme = _browser_scheme(value)
            if not scheme:
                yield f"a relative or schemeless URL {name}={value!r} on <{tag}>"
            elif scheme not in _SAFE_SCHEMES:
                yield f"a {scheme}: URL {name}={value!r} on <{tag}>"
            elif scheme == "data" and tag != "img":
                yield f"a data: URL on <{tag}>"
