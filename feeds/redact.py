"""Keeping secrets and strangers' control characters out of what we show. Pure.

Source URLs may carry credentials: ``https://user:PASS@host/x.rss`` or
``...?api_key=SECRET``. Everything public (``health.atom``, ``sources.opml``, the
``<source>`` of topic feeds, ``status.json``) and every log and terminal line shows
them through ``redact_url``/``redact_text``: the user-info is dropped, and the
value of a query parameter is replaced by ``REDACTED`` when the parameter's name
looks secret (``SECRET_WORDS``, ``SECRET_PARTS``) or is listed in
``[site] secret_query_params`` (``"*"``: every parameter), unless it is listed in
``[site] public_query_params``. Ordinary parameters (``?format=rss``,
``?tag=ai``) stay readable, so subscribers can still use the exported OPML.

Text from outside (feed titles, reason phrases, error messages) reaches the
terminal through ``terminal_safe``: control characters, and with them every ANSI
or OSC escape sequence, become visible escapes such as ``\\x1b``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote_plus, urlsplit, urlunsplit

from feeds.types import Settings, Source

REDACTED = "REDACTED"

# A parameter is secret when one of the words of its name is one of these
# ("api_key", "apiKey", "X-Amz-Signature", "sig")...
SECRET_WORDS = frozenset({
    "key", "apikey", "token", "secret", "password", "passwd", "pass", "pwd", "auth", "sig",
    "signature", "session", "sid", "credential", "credentials", "jwt", "bearer", "hmac", "otp",
    "code", "hash", "private", "access", "sso", "nonce", "license", "licence",
})
# ... or when its name, letters and digits only, contains one of these
# ("accesstoken", "sessionid"); "auth" alone would catch "author".
SECRET_PARTS = ("token", "secret", "passw", "apikey", "signature", "session", "credential",
                "accesskey", "privatekey", "authkey", "authcode")

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# Where a URL ends inside prose: whitespace, quotes and angle brackets.
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s<>\"'`]+")
_TRAILING = ".,;:!?)]}"


def secret_name(name: str, secret_params: Collection[str] = ()) -> bool:
    """Does a query parameter of this name hold a secret?"""
    folded = name.casefold()
    if "*" in secret_params or folded in {p.casefold() for p in secret_params}:
        return True
    words = {w.casefold() for w in _WORD.findall(name)}
    if words & SECRET_WORDS:
        return True
    compact = "".join(c for c in folded if c.isalnum())
    return any(part in compact for part in SECRET_PARTS)


def _hides(name: str, keep_params: Collection[str], secret_params: Collection[str]) -> bool:
    if name.casefold() in {p.casefold() for p in keep_params}:
        return False
    return secret_name(name, secret_params)


def _query(query: str, keep_params: Collection[str], secret_params: Collection[str]) -> str:
    # Pairs are rewritten in place, not parsed and re-encoded: what is not
    # secret keeps its exact bytes, so the URL still works for a subscriber.
    parts = []
    for pair in query.split("&"):
        name, eq, _value = pair.partition("=")
        if eq and _hides(unquote_plus(name), keep_params, secret_params):
            parts.append(f"{name}={REDACTED}")
        elif not eq and _hides(unquote_plus(name), keep_params, secret_params) and name:
            parts.append(REDACTED)  # a bare ?SECRET
        else:
            parts.append(pair)
    return "&".join(parts)


def redact_url(url: str, keep_params: Collection[str] = (), secret_params: Collection[str] = ()) -> str:
    """``url`` without user-info and with the values of secret query parameters
    replaced by ``REDACTED``; a URL that cannot be split is redacted whole."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a malformed netloc
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        netloc = netloc.rpartition("@")[2]
    query = _query(parts.query, keep_params, secret_params) if parts.query else parts.query
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment))


def _secrets_of(url: str, keep_params: Collection[str], secret_params: Collection[str]) -> set[str]:
    """The literal secrets a configured URL holds: its password and user name and
    the values of its secret parameters (short ones are too common to replace)."""
    found: set[str] = set()
    try:
        parts = urlsplit(url)
        found.update(x for x in (parts.password, parts.username) if x)
    except ValueError:
        return found
    for pair in parts.query.split("&"):
        name, eq, value = pair.partition("=")
        if eq and value and _hides(unquote_plus(name), keep_params, secret_params):
            found.update({value, unquote_plus(value)})
    return {s for s in found if len(s) >= 4}


def redact_text(text: str, keep_params: Collection[str] = (), secret_params: Collection[str] = (),
                known_urls: Iterable[str | None] = ()) -> str:
    """``text`` with every URL in it redacted, and the secrets of ``known_urls``
    (the configured URLs it may be about) removed wherever they appear."""
    def one(m: re.Match[str]) -> str:
        found = m.group()
        core = found.rstrip(_TRAILING)
        return redact_url(core, keep_params, secret_params) + found[len(core):]

    out = _URL_IN_TEXT.sub(one, text) if "://" in text else text
    for url in known_urls:
        if url:
            for secret in sorted(_secrets_of(url, keep_params, secret_params), key=len, reverse=True):
                out = out.replace(secret, REDACTED)
    return out


@dataclass(frozen=True)
class UrlPolicy:
    """The site's ``public_query_params`` and ``secret_query_params``, applied."""

    keep_params: frozenset[str] = frozenset()
    secret_params: frozenset[str] = frozenset()

    def url(self, url: str) -> str:
        return redact_url(url, self.keep_params, self.secret_params)

    def text(self, text: str, known_urls: Iterable[str | None] = ()) -> str:
        return redact_text(text, self.keep_params, self.secret_params, known_urls)


def url_policy(settings: Settings) -> UrlPolicy:
    return UrlPolicy(frozenset(settings.public_query_params), frozenset(settings.secret_query_params))


def public_sources(sources: Iterable[Source], policy: UrlPolicy) -> dict[str, Source]:
    """Sources by id as the public outputs may show them: URLs redacted."""
    from dataclasses import replace

    return {s.id: replace(s, url=policy.url(s.url)) if s.url else s for s in sources}


# C0 and C1 controls (but tab and, where allowed, newline), DEL, and the
# invisible direction marks and overrides that make text read other than it is.
_MARKS = "\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f{_MARKS}]")
_CONTROL_OR_NEWLINE = re.compile(f"[\x00-\x08\x0a-\x1f{_MARKS}]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str, *, multiline: bool = False) -> str:
    """``text`` with control characters shown as escapes, so that what a stranger
    wrote cannot move the cursor, recolour, retitle or rewrite the terminal, nor
    (without ``multiline``) forge a line of its own."""
    pattern = _CONTROL if multiline else _CONTROL_OR_NEWLINE
    return pattern.sub(_escape, text)


def strip_controls(text: str) -> str:
    """``text`` as a one-line name: control characters dropped, runs of white space one space."""
    return " ".join(_CONTROL_OR_NEWLINE.sub(" ", text).split())
