"""The nh3 adapter: HTML from anywhere → HTML that is safe to republish, and plain text."""

from __future__ import annotations

import bisect
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
# (urljoin drops a bare "?" or "#"). Most URLs in feeds are like this, so they
# skip urljoin.
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
# tag pages so, and they skip urljoin too.
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


# One sanitiser, built once, where nh3.clean converts the allowed tags, attributes
# and schemes again on every call. The base URL of the fragment
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
    """Remove scripts, event handlers and unsafe URLs; make every URL absolute against ``base``.

    Takes time linear in the length of ``fragment``. A fragment past the limits of
    ``html_budget_exceeded`` keeps only its text, in paragraphs (``sanitize_html_checked``
    says so).
    """
    return sanitize_html_checked(fragment, base)[0]


def sanitize_html_checked(fragment: str, base: str | None) -> tuple[str, str | None]:
    """``sanitize_html``, and why the fragment was reduced to its text (None if it was not)."""
    reason = html_budget_exceeded(fragment)
    if reason is not None:
        return _CLEANER.clean(text_to_html(_flat_text(fragment, paragraphs=True))).strip(), reason
    _current.base = base
    try:
        return _CLEANER.clean(fragment).strip(), None
    finally:
        _current.base = None


_TEXT_ONLY = nh3.Cleaner(tags=set(), strip_comments=True)
_BLOCK_END = re.compile(r"</(p|div|li|h[1-6]|blockquote|pre|tr|section|figure)>|<br\s*/?>", re.I)


def html_to_text(fragment: str, *, sanitized: bool = False) -> str:
    """The words of an HTML fragment, without tags, as one line of text.

    Linear in the length of ``fragment``, like ``sanitize_html``: past the limits of
    ``html_budget_exceeded`` the tags are stripped without building a tree.
    ``sanitized``: the fragment is ``sanitize_html``'s output, which is well-formed
    and within those limits (it was checked, or reduced to text), so the check is
    not made again.
    """
    if not sanitized and html_budget_exceeded(fragment) is not None:
        return " ".join(_flat_text(fragment, paragraphs=False).split())
    spaced = _BLOCK_END.sub(lambda m: m.group(0) + " ", fragment)
    text = _TEXT_ONLY.clean(spaced)
    return " ".join(html.unescape(text).split())


# ---------------------------------------------------------------------------
# What HTML may cost.
#
# nh3 parses with html5ever, which follows the HTML5 tree-construction algorithm,
# and that algorithm is quadratic on hostile input: most start and end tags search
# the stack of open elements, and misnested formatting elements (<a>, <b>, ...) are
# cloned again at every text after any tag that closes them implicitly (figures in
# docs/design.md, "HTML that would cost too much"). So before nh3 sees a
# fragment, one linear pass tokenises it as the HTML tokenizer does and keeps a
# model of the stack that is never shallower than html5ever's: it pushes every
# element, and pops one only where html5ever certainly pops it too (its own end tag
# while on top; the few implied closes that are sure, such as <p> closing an open <p>
# on top). It also charges, for every tag that might close formatting elements
# implicitly, the size of the formatting elements open: what html5ever would copy at
# the next text. Where the tokenizer's state depends on the tree (raw text such as
# <script> after <svg>, <math> or <select>, CDATA), the pass counts every "<" that
# could start a tag, and ignores end tags, to the end of the fragment.
# ---------------------------------------------------------------------------

MAX_HTML_CHARS = 1_000_000
"""Longer HTML keeps only its text (the first ``MAX_TEXT_CHARS`` of it)."""
MAX_DEPTH = 512
"""HTML nested deeper keeps only its text. Browsers stop nesting at 512 as well."""
MAX_TEXT_CHARS = 200_000
"""The text kept from HTML past the limits is cut to this many characters."""


def _formatting_budget(length: int) -> int:
    """How many characters of formatting elements html5ever may copy for a fragment."""
    return 4 * length + 65_536


_ATTRS = (r"""(?:[\t\n\f\r /]++|[^\t\n\f\r />][^\t\n\f\r />=]*+"""
          r"""(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:"[^"]*+"?|'[^']*+'?|[^\t\n\f\r >]*+))?)*+""")
# One token from a "<", as the HTML tokenizer reads it in its data state: a comment
# (with its abrupt "<!-->" and "<!--->" and its "--!>" end), a bogus comment or
# doctype up to ">", "</>", or a start or end tag with its attributes (a quoted
# value may hold ">"). A "<" it does not match is text.
_TOKEN = re.compile(
    r"<(?:!--(?:-?>|.*?--!?>|.*)"
    r"|[!?][^>]*+>?"
    r"|/>"
    r"|/[^A-Za-z>][^>]*+>?"
    r"|(/?)([A-Za-z][^\t\n\f\r />]*+)" + _ATTRS + r"(>?))",
    re.S,
)
_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_MAYBE_MARKUP = re.compile(r"<[A-Za-z!?/]")
_MAYBE_START = re.compile(r"<[A-Za-z]")
_FORMATTING = frozenset({"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small",
                         "strike", "strong", "tt", "u"})
_MAYBE_FORMATTING = re.compile(
    r"<(?:" + "|".join(sorted(_FORMATTING, key=len, reverse=True)) + r")(?![^\t\n\f\r />])",
    re.I | re.A)
_VOID = frozenset({"area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr",
                   "image", "img", "input", "keygen", "link", "meta", "param", "source", "track",
                   "wbr"})
# Void elements that also leave <svg> and <math> for HTML: void wherever they are.
_VOID_ALWAYS = frozenset({"br", "embed", "hr", "img", "image", "meta"})
# After these, html5ever's tokenizer state depends on where in the tree it is.
_FOREIGN_OR_SELECT = frozenset({"svg", "math", "select"})
_RAW_TEXT = frozenset({"script", "style", "xmp", "iframe", "noembed", "noframes", "noscript",
                       "textarea", "title", "plaintext"})
_RAW_END = {name: re.compile(r"</" + name + r"[\t\n\f\r />]", re.I | re.A) for name in _RAW_TEXT}
# Start tags that close an open <p> in button scope.
_CLOSES_P = frozenset({
    "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div",
    "dl", "fieldset", "figcaption", "figure", "footer", "header", "hgroup", "main", "menu", "nav",
    "ol", "p", "search", "section", "summary", "ul", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
    "listing", "form", "plaintext", "table", "hr", "xmp", "li", "dd", "dt"})
# End tags that html5ever handles by "in scope, generate implied end tags, pop to it":
# the model may pop open <p>, <li>, <dd>, <dt> above the element with it.
_SCOPED_END = frozenset({
    "address", "article", "aside", "blockquote", "button", "center", "details", "dialog", "dir",
    "div", "dl", "fieldset", "figcaption", "figure", "footer", "header", "hgroup", "listing",
    "main", "menu", "nav", "ol", "pre", "search", "section", "summary", "ul", "li", "dd", "dt",
    "p"})
_IMPLIED_END = frozenset({"p", "li", "dd", "dt"})
_CELLS = frozenset({"td", "th"})
_ROWS = frozenset({"tr"})
_SECTIONS = frozenset({"tbody", "thead", "tfoot"})
_TABLE_INNER = {"tr": _CELLS, "tbody": _CELLS | _ROWS, "thead": _CELLS | _ROWS,
                "tfoot": _CELLS | _ROWS, "table": _CELLS | _ROWS | _SECTIONS | _IMPLIED_END}
# Start tags that may make html5ever pop open elements ("close a p element", the
# list-item loop, the adoption agency for <a> and <nobr>, table contexts...), mapped
# to the elements it may pop down to. Every other start tag pops nothing.
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_POPS_TO: dict[str, frozenset[str]] = {name: frozenset({"p"}) for name in _CLOSES_P}
_POPS_TO.update({h: frozenset({"p"} | _HEADINGS) for h in _HEADINGS})
_POPS_TO.update({
    "li": frozenset({"p", "li"}), "dd": frozenset({"p", "dd", "dt"}),
    "dt": frozenset({"p", "dd", "dt"}), "table": frozenset({"p", "table"}),
    "a": frozenset({"a"}), "nobr": frozenset({"nobr"}), "button": frozenset({"button"}),
    "option": frozenset({"option"}), "optgroup": frozenset({"option", "optgroup"}),
})
for _name in ("rb", "rtc", "rp", "rt"):
    _POPS_TO[_name] = frozenset({"p", "li", "dd", "dt", "option", "optgroup", "rb", "rp", "rt",
                                 "rtc"})
for _name in ("caption", "col", "colgroup", "tbody", "td", "tfoot", "th", "thead", "tr"):
    _POPS_TO[_name] = frozenset({"table"})


class _Model:
    """The stack of open elements as ``html_budget_exceeded`` keeps it: never
    shallower than html5ever's, with the formatting elements html5ever might copy."""

    def __init__(self, length: int) -> None:
        self.names: list[str] = []
        self.formatting: list[tuple[int, int]] = []  # (place, size of the start tag)
        self.open_formatting = 0  # characters of the formatting elements open
        # html5ever may have popped the formatting elements from ``loose`` up (or hold
        # them only as clones on top of its stack); ``detached`` is their size.
        self.loose = -1
        self.detached = 0
        self.pending = False  # the next text or start tag may copy them
        self.cost = 0
        self.budget = _formatting_budget(length)

    def push_formatting(self, size: int) -> None:
        self.formatting.append((len(self.names) - 1, size))
        self.open_formatting += size
        if self.loose >= 0:
            self.detached += size

    def pop_to(self, place: int) -> None:
        """Pop the elements from ``place`` up (html5ever pops them, and any clones above)."""
        del self.names[place:]
        formatting = self.formatting
        while formatting and formatting[-1][0] >= place:
            size = formatting.pop()[1]
            self.open_formatting -= size
            if self.loose >= 0:
                self.detached -= size
        if self.loose >= place:
            self.loose = -1
            self.detached = 0
        self.pending = self.detached > 0

    def reach(self, place: int) -> None:
        """html5ever may pop the elements from ``place`` up, leaving them in its list
        of active formatting elements."""
        old = len(self.names) if self.loose < 0 else self.loose
        if place < old:
            lo = bisect.bisect_left(self.formatting, (place, -1))
            hi = bisect.bisect_left(self.formatting, (old, -1))
            self.detached += sum(size for _, size in self.formatting[lo:hi])
            self.loose = place
        self.pending = self.detached > 0

    def lowest(self, names: frozenset[str]) -> int:
        """The lowest place of an element named one of ``names``; -1 if none is open."""
        stack = self.names
        places = [stack.index(name) for name in names if name in stack]
        return min(places) if places else -1

    def copy(self) -> bool:
        """A text or start tag: html5ever re-creates the formatting elements it popped.
        False once that has cost more than the budget."""
        self.pending = False
        self.cost += self.detached
        return self.cost <= self.budget


def html_budget_exceeded(fragment: str) -> str | None:
    """Why ``fragment`` is too costly to sanitise as HTML, or None if it is not.

    A sentence such as "its HTML is nested more than 512 elements deep". For such a
    fragment ``sanitize_html`` and ``html_to_text`` keep only its text (escaped, in
    paragraphs for the former, cut to ``MAX_TEXT_CHARS``); the caller should warn
    that the entry lost its markup. The check is one pass, linear in the length.
    """
    length = len(fragment)
    if length > MAX_HTML_CHARS:
        return f"its HTML is {length:,} characters long (the limit is {MAX_HTML_CHARS:,})"
    tags = fragment.count("<")
    if tags <= MAX_DEPTH and (2 * tags + 1) * length <= _formatting_budget(length):
        # A short fragment with few tags is cheap whatever its tags: no deeper than its
        # tags, and each text or tag copies at most every formatting element in it.
        return None
    if ("<![CDATA[" not in fragment or _FOREIGN_HINT.search(fragment) is None) and all(
            map(_plain_raw_text, _RAW_START.finditer(fragment))):
        return _scan_plain(fragment)
    return _scan(fragment)


# Most HTML has no "<" inside a <script>, <iframe> or the like, and no CDATA section
# in <svg> or <math>: then every "<" that starts a token starts one for html5ever
# too, whatever state its tokenizer is in, and one findall tokenises the fragment.
_FOREIGN_HINT = re.compile(r"<(?:svg|math)", re.I | re.A)
_RAW_START = re.compile(r"<(" + "|".join(sorted(_RAW_TEXT)) + r")(?![^\t\n\f\r />])", re.I | re.A)


def _plain_raw_text(m: re.Match[str]) -> bool:
    name = m.group(1).lower()
    if name == "plaintext":
        return False
    close = _RAW_END[name].search(m.string, m.end())
    return m.string.find("<", m.end(), len(m.string) if close is None else close.start()) < 0


_TAGS_ONLY = re.compile(
    r"(<(?:!--(?:-?>|.*?--!?>|.*)"
    r"|[!?][^>]*+>?"
    r"|/>"
    r"|/[^A-Za-z>][^>]*+>?"
    r"|(/?)([A-Za-z][^\t\n\f\r />]*+)" + _ATTRS + r"(>?)))",
    re.S,
)


_DEEP = f"its HTML is nested more than {MAX_DEPTH} elements deep"
_COPIES = "its HTML has misnested formatting elements that the sanitiser would copy too often"


def _scan_plain(s: str) -> str | None:
    """``_scan`` for a fragment that passed the test above: the same model, charging
    at every tag (text between tags is not told apart)."""
    model = _Model(len(s))
    names = model.names
    foreign = False
    for tag, slash, name, closed in _TAGS_ONLY.findall(s):
        if not name:
            continue
        if not closed:
            return None
        if model.pending and not model.copy():
            return _COPIES
        name = name.lower() if name.isascii() else name.translate(_UPPER)
        if slash:
            if names and names[-1] == name:
                if model.loose < 0 and name not in _FORMATTING:
                    names.pop()
                else:
                    model.pop_to(len(names) - 1)
            else:
                _end_tag(model, name, foreign)
            continue
        _start_tag(model, name, foreign)
        if name in _VOID_ALWAYS or (name in _VOID and not foreign):
            continue
        names.append(name)
        if len(names) > MAX_DEPTH:
            return _DEEP
        if name in _FORMATTING:
            model.push_formatting(len(tag))
        elif name in _FOREIGN_OR_SELECT:
            foreign = True
    if model.pending and not model.copy():
        return _COPIES
    return None


def _scan(s: str) -> str | None:
    n = len(s)
    model = _Model(n)
    names = model.names
    foreign = False  # <svg>, <math> or <select> seen: raw text and CDATA are ambiguous
    pos = 0
    while pos < n:
        done = pos
        for m in _TOKEN.finditer(s, pos):
            start, end = m.span()
            if model.pending and start > done and not model.copy():  # text before the tag
                return _COPIES
            done = end
            slash, name, closed = m.groups()
            if name is None:  # comment, doctype, bogus comment
                if foreign and s.startswith("<![CDATA[", start):
                    # Text up to "]]>" in <svg> or <math>; elsewhere a comment up to ">".
                    close = s.find("]]>", start + 9)
                    stop = n if close < 0 else close + 3
                    if _MAYBE_MARKUP.search(s, end, stop):
                        return _uncertain(s, end, model)
                    pos = stop
                    break
                continue
            if not closed:
                return None  # a tag cut off by the end: html5ever drops it, and nothing follows
            name = name.lower() if name.isascii() else name.translate(_UPPER)
            if slash:
                if names and names[-1] == name:
                    model.pop_to(len(names) - 1)
                else:
                    if name == "br" and model.pending and not model.copy():  # read as <br>
                        return _COPIES
                    _end_tag(model, name, foreign)
                continue
            if model.pending and not model.copy():
                return _COPIES
            _start_tag(model, name, foreign)
            if name in _VOID_ALWAYS or (name in _VOID and not foreign):
                continue
            names.append(name)
            if len(names) > MAX_DEPTH:
                return _DEEP
            if name in _FORMATTING:
                model.push_formatting(end - start)
            elif name in _FOREIGN_OR_SELECT:
                foreign = True
            elif name in _RAW_TEXT:
                if name == "plaintext":
                    return _uncertain(s, end, model) if foreign else None
                close_tag = _RAW_END[name].search(s, end)
                stop = n if close_tag is None else close_tag.start()
                if (foreign and _MAYBE_MARKUP.search(s, end, stop)) or (
                        name == "script" and s.find("<!--", end, stop) >= 0):
                    # Another state of html5ever's tokenizer may read markup in there.
                    return _uncertain(s, end, model)
                if model.pending and stop > end and not model.copy():
                    return _COPIES
                pos = stop
                break
        else:
            if model.pending and done < n and not model.copy():
                return _COPIES
            return None
    return None


# Start tags that pop the element on top when it is one of these: html5ever certainly
# does too (an open <p> is in button scope; <li> finds the <li> below any <p>...).
_POPS_TO_TOP: dict[str, frozenset[str]] = {name: frozenset({"p"}) for name in _CLOSES_P}
_POPS_TO_TOP.update({"li": frozenset({"p", "li"}), "dd": frozenset({"p", "dd", "dt"}),
                     "dt": frozenset({"p", "dd", "dt"}), "td": _CELLS | _IMPLIED_END,
                     "th": _CELLS | _IMPLIED_END, "tr": _CELLS | _ROWS | _IMPLIED_END})


def _start_tag(model: _Model, name: str, foreign: bool) -> None:
    """What a start tag does to the elements already open, before it is pushed: in
    <svg>, <math> or <select> html5ever may pop any of them (``reach(0)``);
    elsewhere those it certainly closes are popped, and those it may close, from
    the lowest element it closes up to (``_POPS_TO``), are reached."""
    if foreign:
        model.reach(0)
        return
    pops_to = _POPS_TO.get(name)
    if pops_to is not None:
        _pop_implied(model, name)
        lowest = model.lowest(pops_to)
        if lowest >= 0:
            model.reach(lowest)


def _pop_implied(model: _Model, name: str) -> None:
    """Pop the elements on top that the start tag ``name`` certainly closes."""
    closes = _POPS_TO_TOP.get(name)
    names = model.names
    if closes and names and names[-1] in closes:
        place = len(names) - 1
        while place > 0 and names[place - 1] in closes:
            place -= 1
        model.pop_to(place)


def _end_tag(model: _Model, name: str, foreign: bool) -> None:
    """An end tag that does not close the element on top."""
    names = model.names
    if foreign:
        model.reach(0)
        return
    # html5ever generates implied end tags (it pops <p>, <li>...) before this one.
    between = _IMPLIED_END if name in _SCOPED_END else _TABLE_INNER.get(name)
    if between is not None:
        place = len(names) - 1
        while place >= 0 and names[place] != name and names[place] in between:
            place -= 1
        if place >= 0 and names[place] == name:
            model.pop_to(place)
            return
    # Ignored here; html5ever may pop down to an element of that name.
    if name in names:
        model.reach(names.index(name))
    else:
        model.pending = model.detached > 0


def _uncertain(s: str, start: int, model: _Model) -> str | None:
    """The rest of ``s`` from ``start``, where html5ever may read tags or text: every
    "<" and a letter may be a start tag, every tag may copy every formatting element."""
    starts = len(_MAYBE_START.findall(s, start))
    if len(model.names) + starts > MAX_DEPTH:
        return _DEEP
    copied = model.open_formatting + (len(s) - start if _MAYBE_FORMATTING.search(s, start) else 0)
    if copied:
        model.cost += (2 * s.count("<", start) + 1) * copied
        if model.cost > model.budget:
            return _COPIES
    return None


_BLOCK = frozenset({"address", "article", "aside", "blockquote", "br", "dd", "details", "dialog",
                    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
                    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol",
                    "p", "pre", "section", "summary", "table", "td", "th", "tr", "ul"})
_HIDDEN = frozenset({"script", "style", "template", "noscript", "iframe", "noembed", "noframes",
                     "xmp", "title", "textarea"})


def _flat_text(fragment: str, *, paragraphs: bool) -> str:
    """The text of ``fragment`` without building a tree: tags, comments and the
    contents of scripts, styles and the like removed, character references decoded;
    a blank line between blocks when ``paragraphs``. Cut to ``MAX_TEXT_CHARS``."""
    s = fragment[:2 * MAX_HTML_CHARS]
    pieces: list[str] = []
    size = 0
    pos = 0
    n = len(s)
    gap = "\n\n" if paragraphs else " "
    while pos < n and size <= MAX_TEXT_CHARS:
        lt = s.find("<", pos)
        if lt < 0:
            lt = n
        if lt > pos:
            pieces.append(s[pos:lt])
            size += lt - pos
        if lt >= n:
            break
        m = _TOKEN.match(s, lt)
        if m is None:
            pieces.append("<")
            size += 1
            pos = lt + 1
            continue
        pos = m.end()
        raw_name = m.group(2)
        if raw_name is None or not m.group(3):
            continue
        name = raw_name.translate(_UPPER)
        if name in _BLOCK:
            pieces.append(gap)
        if not m.group(1) and name in _RAW_TEXT:
            if name == "plaintext":
                pieces.append(s[pos:])
                break
            close_tag = _RAW_END[name].search(s, pos)
            stop = n if close_tag is None else close_tag.start()
            if name not in _HIDDEN:
                pieces.append(s[pos:stop])
                size += stop - pos
            pos = stop
    text = html.unescape("".join(pieces))
    if paragraphs:
        text = "\n\n".join(" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(text) if not p.isspace())
    else:
        text = " ".join(text.split())
    if len(text) > MAX_TEXT_CHARS:
        cut = text[:MAX_TEXT_CHARS]
        space = max(cut.rfind(" "), cut.rfind("\n"))
        text = (cut[:space] if space > MAX_TEXT_CHARS // 2 else cut) + " …"
    return text


_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def text_to_html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n".join(f"<p>{html.escape(' '.join(p.split()), quote=False)}</p>" for p in paragraphs)
