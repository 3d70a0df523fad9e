"""Load ``config/feeds.toml`` and ``config/sources.toml`` into a validated ``Config``.

Every problem is collected, not just the first, and each names the file, the
line (tomllib gives no positions, so a small scanner of the raw text finds
them) and the key.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feeds.errors import ConfigError, ConfigErrors
from feeds.reference import RULE_KEYS, keys
from feeds.sources.netguard import split_userinfo
from feeds.stories.classify import UnsupportedRegex, regex_pattern, term_pattern
from feeds.types import Config, DedupeSettings, FetchSettings, Rule, Settings, Source, Topic
from feeds.xmlchars import xml_safe

FEEDS_FILE = Path("config/feeds.toml")
SOURCES_FILE = Path("config/sources.toml")

ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")  # use fullmatch: "$" also matches before "\n"
RESERVED_TOPICS = frozenset({"all", "index", "articles", "sources", "health", "status"})

Key = tuple[str | int, ...]

_KEY_PART = r"""(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)"""
_KEY_LINE = re.compile(rf"^({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=(.*)$")


def _split_dotted(text: str) -> list[str]:
    parts = re.findall(r'"((?:\\.|[^"\\])*)"|\'([^\']*)\'|([^.\s]+)', text)
    out: list[str] = []
    for basic, literal, bare in parts:
        if basic:
            # A basic string key may hold escapes ("a\nb"); name it as tomllib does.
            with contextlib.suppress(tomllib.TOMLDecodeError):
                basic = tomllib.loads(f'k = "{basic}"')["k"]
        out.append(basic or literal or bare)
    return out


def shown(text: object) -> str:
    """A name or value as it can stand in a one-line message: control characters escaped."""
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029]", lambda m: f"\\x{ord(m.group()):02x}", str(text))


def locate_keys(text: str) -> dict[Key, int]:
    """Map each table and key path to the line it is written on.

    Array-of-tables entries get their index in the path, so
    ``("sources", 2, "url")`` is the url of the third ``[[sources]]``.
    """
    lines: dict[Key, int] = {}
    current: Key = ()
    counters: dict[Key, int] = {}
    depth = 0  # inside a multi-line array, keys are not keys
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if depth == 0:
            m = re.match(r"^\[\[\s*(.+?)\s*\]\]", line)
            if m:
                name = tuple(_split_dotted(m.group(1)))
                index = counters.get(name, -1) + 1
                counters[name] = index
                current = (*name, index)
                lines.setdefault(current, number)
                continue
            m = re.match(r"^\[\s*([^\[\]]+?)\s*\]", line)
            if m:
                current = tuple(_split_dotted(m.group(1)))
                lines.setdefault(current, number)
                continue
            m = _KEY_LINE.match(line)
            if m:
                lines.setdefault((*current, *_split_dotted(m.group(1))), number)
                line = m.group(2)
        # Track brackets of multi-line arrays, ignoring those inside strings.
        stripped = re.sub(r'"(?:\\.|[^"\\])*"|\'[^\']*\'', "", line.split("#", 1)[0])
        depth = max(0, depth + stripped.count("[") - stripped.count("]"))
    return lines


_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


def _type_name(value: object) -> str:
    for t, name in _TYPE_NAMES.items():
        if type(value) is t:
            return name
    return type(value).__name__


class _Checker:
    """Validates one TOML document and collects its errors."""

    def __init__(self, display: str, text: str) -> None:
        self.display = display
        self.text = text
        self.errors: list[ConfigError] = []

    @cached_property
    def lines(self) -> dict[Key, int]:
        """Each key's line in the file, worked out only when a line is first asked
        for: a valid file asks for none, and locating keys is a full scan."""
        return locate_keys(self.text)

    def line_of(self, path: Key) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def errors_at(self, path: Key) -> bool:
        key = ".".join(str(p) for p in path)
        return any(e.key == key or e.key.startswith(key + ".") for e in self.errors)

    def error(self, path: Key, message: str) -> None:
        key = ".".join(str(p) for p in path)
        self.errors.append(
            ConfigError(self.display, shown(message), line=self.line_of(path), key=key)
        )

    def known_keys(self, table: Mapping[str, Any], path: Key, allowed: set[str], what: str) -> None:
        for key in table:
            if key not in allowed:
                hint = difflib.get_close_matches(key, sorted(allowed), n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                self.error((*path, key), f"unknown key '{shown(key)}' in {shown(what)}{suggestion}")

    def get(
        self,
        table: Mapping[str, Any],
        path: Key,
        key: str,
        kind: type,
        default: Any,
        what: str,
        check: Callable[[Any], str | None] | None = None,
    ) -> Any:
        if key not in table:
            return default
        value = table[key]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            expected = _TYPE_NAMES[kind]
            self.error((*path, key), f"{what} '{key}' must be {expected}, not {_type_name(value)}")
            return default
        if check is not None:
            problem = check(value)
            if problem:
                self.error((*path, key), f"{what} '{key}' {problem}")
                return default
        return value

    def duration(self, table: Mapping[str, Any], path: Key, key: str, default: timedelta | None,
                 what: str) -> Any:
        if key not in table:
            return default
        value = table[key]
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.error((*path, key), f"{what} '{key}' {exc}")
            return default

    def get_strings(self, table: Mapping[str, Any], path: Key, key: str, what: str) -> tuple[str, ...]:
        value = self.get(table, path, key, list, [], what)
        out: list[str] = []
        for item in value:
            if not isinstance(item, str) or not item.strip():
                self.error((*path, key),
                           f"{what} '{key}' must be a list of non-empty strings, found {item!r}")
                continue
            out.append(item.strip())
        return tuple(out)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """``90s``, ``30m``, ``2h``, ``1d``; a bare number is minutes. Raises ``ValueError``
    with the end of a sentence ("must be ...") for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("must be a duration such as \"90s\", \"30m\", \"2h\" or \"1d\"")
    text = str(value).strip().lower()
    unit = text[-1:] if text[-1:] in _UNITS else "m"
    number = text[:-1] if text[-1:] in _UNITS else text
    try:
        amount = float(number)
    except ValueError:
        raise ValueError(f"must be a duration such as \"90s\", \"30m\", \"2h\" or \"1d\", "
                         f"not {value!r}") from None
    if not amount > 0 or amount > 10 * 365 * 86400:
        raise ValueError(f"must be longer than zero and shorter than ten years, not {value!r}")
    return timedelta(seconds=amount * _UNITS[unit])


def _display(value: str | None) -> str | None:
    """A title or description as the outputs can carry it: without the control
    characters XML 1.0 forbids (a TOML "\\u0001" escape would otherwise fail every feed)."""
    return None if value is None else xml_safe(value)


def _positive(value: Any) -> str | None:
    return None if value > 0 else f"must be greater than 0, not {value}"


def _http_url(value: str) -> str | None:
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return f"'{value}' is not an http(s) URL"
    if parts.scheme not in ("http", "https") or not host:
        return f"'{value}' is not an http(s) URL"
    if any(c.isspace() for c in value):
        return f"'{value}' contains white space"
    return None


def _read(root: Path, relpath: Path) -> tuple[str, Any]:
    display = relpath.as_posix()
    path = root / relpath
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigErrors(
            [ConfigError(display, f"not found in {root} (run in the project folder or pass --root)")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigErrors([ConfigError(display, f"cannot be read: {exc}")]) from None
    try:
        data = tomllib.loads(text)
    except RecursionError:
        too_deep = "not valid TOML: arrays or tables nested too deeply"
        raise ConfigErrors([ConfigError(display, too_deep)]) from None
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+), column (\d+)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        line = int(m.group(1)) if m else None
        col = f", column {m.group(2)}" if m else ""
        raise ConfigErrors(
            [ConfigError(display, f"not valid TOML: {message}{col}", line=line)]
        ) from None
    return text, data


def config_mtimes(root: Path) -> tuple[int, ...]:
    """When the two config files were last changed (0: missing), so that a long-running
    process can tell an edit without reading them."""
    out = []
    for rel in (FEEDS_FILE, SOURCES_FILE):
        try:
            out.append((root / rel).stat().st_mtime_ns)
        except OSError:
            out.append(0)
    return tuple(out)


def load_config(root: Path) -> Config:
    """Read and validate both config files; raise ``ConfigErrors`` listing every problem."""
    root = root.resolve()
    errors: list[ConfigError] = []
    feeds_text, feeds_data = _read(root, FEEDS_FILE)
    sources_text, sources_data = _read(root, SOURCES_FILE)

    fc = _Checker(FEEDS_FILE.as_posix(), feeds_text)
    settings = _settings(fc, feeds_data, root)
    topics = _topics(fc, feeds_data)
    errors.extend(fc.errors)

    sc = _Checker(SOURCES_FILE.as_posix(), sources_text)
    sources = _sources(sc, sources_data, root, {t.id for t in topics})
    errors.extend(sc.errors)
    errors.extend(_check_rule_sources(fc, topics, sources))

    if errors or settings is None:
        raise ConfigErrors(errors)
    return Config(root=root, settings=settings, sources=tuple(sources), topics=tuple(topics))


def _settings(c: _Checker, data: dict[str, Any], root: Path) -> Settings | None:
    c.known_keys(data, (), {"site", "fetch", "dedupe", "topics"}, "config/feeds.toml")
    site = data.get("site")
    if not isinstance(site, dict):
        c.error(("site",), "the [site] table is missing" if site is None else "'site' must be a table")
        return None
    p: Key = ("site",)
    c.known_keys(site, p, keys("[site]"), "[site]")
    title = _display(c.get(site, p, "title", str, None, "site"))
    if not title:
        c.error((*p, "title"), "site has no title")
    base_url = c.get(site, p, "base_url", str, None, "site", _http_url)
    if base_url is None and "base_url" not in site:
        c.error(p, "site has no base_url (the public address of the output folder)")
    language = c.get(site, p, "language", str, "en", "site",
                     lambda v: None if re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", v)
                     else f"'{v}' is not a language tag such as 'en' or 'en-GB'")

    fetch = data.get("fetch", {})
    fp: Key = ("fetch",)
    fetch_settings = FetchSettings()
    if not isinstance(fetch, dict):
        c.error(fp, "'fetch' must be a table")
    else:
        c.known_keys(fetch, fp, keys("[fetch]"), "[fetch]")
        d = FetchSettings()
        fetch_settings = FetchSettings(
            concurrency=c.get(fetch, fp, "concurrency", int, d.concurrency, "fetch", _positive),
            connect_timeout=c.get(fetch, fp, "connect_timeout", float, d.connect_timeout, "fetch", _positive),
            read_timeout=c.get(fetch, fp, "read_timeout", float, d.read_timeout, "fetch", _positive),
            total_timeout=c.get(fetch, fp, "total_timeout", float, d.total_timeout, "fetch", _positive),
            max_bytes=c.get(fetch, fp, "max_bytes", int, d.max_bytes, "fetch", _positive),
            max_redirects=c.get(fetch, fp, "max_redirects", int, d.max_redirects, "fetch",
                                lambda v: None if v >= 0 else "must not be negative"),
            user_agent=c.get(fetch, fp, "user_agent", str, d.user_agent, "fetch",
                             lambda v: None if v.strip() else "must not be empty"),
            per_host=c.get(fetch, fp, "per_host", int, d.per_host, "fetch", _positive),
            default_interval=c.duration(fetch, fp, "default_interval", d.default_interval, "fetch"),
            min_interval=c.duration(fetch, fp, "min_interval", d.min_interval, "fetch"),
            max_interval=c.duration(fetch, fp, "max_interval", d.max_interval, "fetch"),
            max_backoff=c.duration(fetch, fp, "max_backoff", d.max_backoff, "fetch"),
            alert_after=c.get(fetch, fp, "alert_after", int, d.alert_after, "fetch", _positive),
            allow_private=c.get(fetch, fp, "allow_private", bool, d.allow_private, "fetch"),
            parse_workers=c.get(fetch, fp, "parse_workers", int, d.parse_workers, "fetch",
                                lambda v: None if 0 <= v <= 64 else "must be between 0 and 64"),
            max_items=c.get(fetch, fp, "max_items", int, d.max_items, "fetch", _positive),
            max_title_chars=c.get(fetch, fp, "max_title_chars", int, d.max_title_chars, "fetch", _positive),
            max_text_chars=c.get(fetch, fp, "max_text_chars", int, d.max_text_chars, "fetch", _positive),
            max_categories=c.get(fetch, fp, "max_categories", int, d.max_categories, "fetch", _positive),
        )
        if fetch_settings.min_interval > fetch_settings.max_interval:
            c.error((*fp, "min_interval"), "fetch 'min_interval' is longer than 'max_interval'")
    dedupe = _dedupe(c, data)
    if title is None or base_url is None:
        return None
    if not base_url.endswith("/"):
        base_url += "/"
    return Settings(
        title=title,
        base_url=base_url,
        description=_display(c.get(site, p, "description", str, "", "site")) or "",
        author=_display(c.get(site, p, "author", str, "", "site")) or title,
        language=language,
        output_dir=root / c.get(site, p, "output_dir", str, "public", "site"),
        state_path=root / c.get(site, p, "state_path", str, "var/state.db", "site"),
        state_url=_state_url(c, c.get(site, p, "state_url", str, None, "site", _postgres_url)),
        max_entries=c.get(site, p, "max_entries", int, 50, "site", _positive),
        retention_days=c.get(site, p, "retention_days", int, 90, "site", _positive),
        fetch=fetch_settings,
        dedupe=dedupe,
        hub=c.get(site, p, "hub", str, None, "site", _http_url),
        public_query_params=c.get_strings(site, p, "public_query_params", "site"),
        secret_query_params=c.get_strings(site, p, "secret_query_params", "site"),
        public_status=c.get(site, p, "public_status", bool, False, "site"),
    )


STATE_URL_ENV = "FEEDS_STATE_URL"


def _postgres_url(value: Any) -> str | None:
    if str(value).startswith(("postgresql://", "postgres://")):
        return None
    return "must be a PostgreSQL URL (postgresql://user@host/database)"


def _state_url(c: _Checker, configured: str | None) -> str | None:
    """The state's URL: FEEDS_STATE_URL if set (an operator's override for one
    machine or one command), else ``[site] state_url``; None keeps SQLite."""
    env = os.environ.get(STATE_URL_ENV, "").strip()
    if not env:
        return configured
    if _postgres_url(env) is not None:
        c.error(("site", "state_url"), f"environment variable {STATE_URL_ENV} "
                f"must be a PostgreSQL URL (postgresql://user@host/database)")
        return None
    return env


def _share(value: Any) -> str | None:
    return None if 0 < value <= 1 else f"must be between 0 and 1, not {value}"


def _dedupe(c: _Checker, data: dict[str, Any]) -> DedupeSettings:
    raw = data.get("dedupe", {})
    p: Key = ("dedupe",)
    d = DedupeSettings()
    if not isinstance(raw, dict):
        c.error(p, "'dedupe' must be a table")
        return d
    c.known_keys(raw, p, keys("[dedupe]"), "[dedupe]")
    return DedupeSettings(
        enabled=c.get(raw, p, "enabled", bool, d.enabled, "dedupe"),
        window=c.duration(raw, p, "window", d.window, "dedupe"),
        title_threshold=c.get(raw, p, "title_threshold", float, d.title_threshold, "dedupe", _share),
        text_threshold=c.get(raw, p, "text_threshold", float, d.text_threshold, "dedupe", _share),
        tracking_params=c.get_strings(raw, p, "tracking_params", "dedupe"),
    )


_TOPIC_ONLY = frozenset({"title", "description", "max_entries", "index", "include", "rules",
                         "threshold"})


def _valid_regexes(c: _Checker, p: Key, key: str, expressions: Iterable[str], what: str) -> bool:
    """Report each invalid expression with the position of its fault."""
    ok = True
    for expression in expressions:
        try:
            regex_pattern(expression)
        except re.error as exc:
            at = f" at position {exc.pos}" if exc.pos is not None else ""
            c.error((*p, key), f"{what}: invalid regular expression {expression!r}{at}: {exc.msg}")
            ok = False
        except UnsupportedRegex as exc:
            c.error((*p, key), f"{what}: regular expression {expression!r}: {exc}")
            ok = False
    return ok


def _rule(c: _Checker, body: Mapping[str, Any], p: Key, what: str, name: str,
          topic_level_excludes: bool) -> Rule | None:
    """One rule from a table; None (with errors said) if it is unusable."""
    strings = {k: c.get_strings(body, p, k, what) for k in RULE_KEYS
               if not (topic_level_excludes and k in ("exclude", "exclude_regex"))}
    ok = True
    for key in ("keywords", "weak", "all", "require", "exclude"):
        for term in strings.get(key, ()):
            try:
                term_pattern(term)
            except ValueError:
                c.error((*p, key), f"{what}: '{term}' is not a usable term")
                ok = False
    for key in ("regex", "exclude_regex"):
        ok = _valid_regexes(c, p, key, strings.get(key, ()), what) and ok
    if not any(strings.get(k) for k in ("keywords", "weak", "all", "regex", "categories", "sources",
                                        "authors")):
        return None
    return Rule(**strings, name=name) if ok else None


def _topics(c: _Checker, data: dict[str, Any]) -> list[Topic]:
    raw = data.get("topics", {})
    if not isinstance(raw, dict):
        c.error(("topics",), "'topics' must be a table of [topics.<id>] tables")
        return []
    if not raw:
        c.error(("topics",), "no topics are defined: add at least one [topics.<id>] table")
    topics: list[Topic] = []
    for topic_id, body in raw.items():
        p: Key = ("topics", topic_id)
        if not ID_RE.fullmatch(topic_id):
            c.error(p, f"topic id '{topic_id}' must be lower-case letters, digits, '-' or '_'")
            continue
        if topic_id in RESERVED_TOPICS:
            c.error(p, f"topic id '{topic_id}' is reserved for the feed of all entries or the index")
            continue
        if not isinstance(body, dict):
            c.error(p, f"topic '{topic_id}' must be a table")
            continue
        what = f"topic '{topic_id}'"
        c.known_keys(body, p, keys("[topics.<id>]"), what)
        rules: list[Rule] = []
        first = _rule(c, body, p, what, f"rule 1 (line {c.line_of(p)})", topic_level_excludes=True)
        if first is not None:
            rules.append(first)
        extra = c.get(body, p, "rules", list, [], what)
        for n, rule_body in enumerate(extra):
            rp: Key = (*p, "rules", n)
            rwhat = f"{what} rule {len(rules) + 1}"
            if not isinstance(rule_body, dict):
                c.error(rp, f"{rwhat} must be a table ([[topics.{topic_id}.rules]])")
                continue
            c.known_keys(rule_body, rp, set(RULE_KEYS), rwhat)
            rule = _rule(c, rule_body, rp, rwhat, f"rule {len(rules) + 1} (line {c.line_of(rp)})",
                         topic_level_excludes=False)
            if rule is None and not c.errors_at(rp):
                c.error(rp, f"{rwhat} has no keywords, all, regex, categories, sources or authors: "
                            "it would match every entry")
            elif rule is not None:
                rules.append(rule)
        exclude = c.get_strings(body, p, "exclude", what)
        exclude_regex = c.get_strings(body, p, "exclude_regex", what)
        _valid_regexes(c, p, "exclude_regex", exclude_regex, what)
        include = c.get_strings(body, p, "include", what)
        if not rules and not include:
            stated = any(k in body for k in RULE_KEYS - {"exclude", "exclude_regex"})
            if stated and not c.errors_at(p):
                c.error(p, f"{what} has no keywords, all, regex, categories, sources or authors: "
                           "it would match every entry")
        topics.append(Topic(
            id=topic_id,
            title=_display(c.get(body, p, "title", str, topic_id, what)) or topic_id,
            description=_display(c.get(body, p, "description", str, "", what)) or "",
            rules=tuple(rules),
            exclude=exclude,
            exclude_regex=exclude_regex,
            include=include,
            max_entries=c.get(body, p, "max_entries", int, None, what, _positive),
            index=c.get(body, p, "index", bool, True, what),
            threshold=c.get(body, p, "threshold", float, 1.0, what, _positive),
        ))
    _check_includes(c, topics)
    return topics


def _check_rule_sources(c: _Checker, topics: list[Topic], sources: list[Source]) -> list[ConfigError]:
    """Rules that select sources must name sources and tags that exist."""
    before = len(c.errors)
    ids = {s.id for s in sources}
    tags = {t for s in sources for t in s.tags}
    for t in topics:
        for rule in t.rules:
            for name in rule.sources:
                if name.startswith("tag:") and name[4:] not in tags:
                    c.error(("topics", t.id), f"topic '{t.id}' {rule.name}: no source has the tag "
                                              f"'{name[4:]}'")
                elif not name.startswith("tag:") and name not in ids:
                    c.error(("topics", t.id), f"topic '{t.id}' {rule.name}: unknown source '{name}'")
    return c.errors[before:]


def _check_includes(c: _Checker, topics: list[Topic]) -> None:
    ids = {t.id for t in topics}
    graph = {t.id: t.include for t in topics}
    for t in topics:
        for other in t.include:
            if other not in ids:
                c.error(("topics", t.id, "include"),
                        f"topic '{t.id}' includes unknown topic '{other}' (known: {', '.join(sorted(ids))})")
    for start in graph:
        stack, seen = [start], set()
        while stack:
            node = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    c.error(("topics", start, "include"), f"topic '{start}' includes itself "
                                                          "through its included topics")
                    stack = []
                    break
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def _headers(c: _Checker, body: dict[str, Any], p: Key, what: str) -> tuple[tuple[str, str], ...]:
    raw = c.get(body, p, "headers", dict, {}, what)
    out: list[tuple[str, str]] = []
    for name, value in raw.items():
        if not _HEADER_NAME.match(name):
            c.error((*p, "headers", name), f"{what}: '{name}' is not a valid HTTP header name")
        elif not isinstance(value, str) or "\n" in value or "\r" in value:
            c.error((*p, "headers", name), f"{what}: header '{name}' must be a one-line string")
        else:
            out.append((name, value))
    return tuple(out)


def _auth(c: _Checker, body: dict[str, Any], p: Key, what: str) -> tuple[str, str] | None:
    user = c.get(body, p, "username", str, None, what)
    password = c.get(body, p, "password", str, None, what)
    env = c.get(body, p, "password_env", str, None, what)
    if env is not None:
        if password is not None:
            c.error((*p, "password_env"), f"{what} has both password and password_env (give one)")
        elif env not in os.environ:
            c.error((*p, "password_env"), f"{what}: environment variable {env} is not set")
        else:
            password = os.environ[env]
    if (user is None) != (password is None):
        if user is not None:
            c.error((*p, "username"), f"{what} has a username but no password (or password_env)")
        else:
            c.error((*p, "password"), f"{what} has a password but no username")
        return None
    return (user, password) if user is not None and password is not None else None


def _sources(c: _Checker, data: dict[str, Any], root: Path, topic_ids: set[str]) -> list[Source]:
    c.known_keys(data, (), {"sources"}, "config/sources.toml")
    raw = data.get("sources", [])
    if not isinstance(raw, list):
        c.error(("sources",), "'sources' must be an array of [[sources]] tables")
        return []
    sources: list[Source] = []
    seen: dict[str, Key] = {}  # where each id was first given
    allowed = keys("[[sources]]")
    for index, body in enumerate(raw):
        p: Key = ("sources", index)
        if not isinstance(body, dict):
            c.error(p, f"sources entry {index + 1} must be a table")
            continue
        source_id = body.get("id")
        if not isinstance(source_id, str) or not source_id:
            c.error((*p, "id"), f"source number {index + 1} has no id" if source_id is None
                    else f"source number {index + 1}: 'id' must be a non-empty string")
            continue
        what = f"source '{source_id}'"
        c.known_keys(body, p, allowed, what)
        if not ID_RE.fullmatch(source_id):
            c.error((*p, "id"), f"{what}: id must be lower-case letters, digits, '-' or '_'")
            continue
        if source_id in seen:
            first = c.line_of(seen[source_id])
            at = f" (first at line {first})" if first else ""
            c.error((*p, "id"), f"source id '{source_id}' is used twice{at}")
            continue
        seen[source_id] = (*p, "id")
        url = c.get(body, p, "url", str, None, what, _http_url)
        url_auth = None
        if url is not None:  # http://user:password@host/ is basic auth, kept out of the URL
            url, url_auth = split_userinfo(url)
            if url_auth is not None and ("username" in body or "password" in body):
                c.error((*p, "url"), f"{what} has credentials both in its url and in "
                                     "username/password (give one)")
        rel = c.get(body, p, "path", str, None, what)
        if ("url" in body) == ("path" in body):
            c.error(p, f"{what} has " + ("both url and path (give one)" if "url" in body
                                         else "no url or path (give one)"))
            continue
        path: Path | None = None
        if rel is not None:
            try:
                path = (root / rel).resolve()
                readable = path.is_dir() and os.access(path, os.R_OK | os.X_OK)
            except (ValueError, OSError):  # a NUL character, a name too long
                readable = False
            if not readable:
                c.error((*p, "path"), f"{what}: path '{rel}' is not a readable folder")
                continue
        elif url is None:
            continue  # the bad url was reported already
        topics = c.get_strings(body, p, "topics", what)
        eligible = c.get_strings(body, p, "eligible", what)
        for key, listed in (("topics", topics), ("eligible", eligible)):
            for t in listed:
                if t not in topic_ids:
                    known = ", ".join(sorted(topic_ids)) or "none"
                    c.error((*p, key), f"{what}: unknown topic '{t}' (known: {known})")
        tags = c.get_strings(body, p, "tags", what)
        title = _display(c.get(body, p, "title", str, None, what)) or None
        sources.append(Source(
            id=source_id,
            title=title or source_id,
            url=url,
            path=path,
            topics=tuple(dict.fromkeys(topics)),
            enabled=c.get(body, p, "enabled", bool, True, what),
            tags=tuple(dict.fromkeys(tags)),
            eligible=tuple(dict.fromkeys(eligible)),
            headers=_headers(c, body, p, what),
            user_agent=c.get(body, p, "user_agent", str, None, what,
                             lambda v: None if v.strip() else "must not be empty"),
            auth=_auth(c, body, p, what) or url_auth, url_auth=url_auth,
            timeout=c.get(body, p, "timeout", float, None, what, _positive),
            max_bytes=c.get(body, p, "max_bytes", int, None, what, _positive),
            interval=c.duration(body, p, "interval", None, what),
            priority=c.get(body, p, "priority", int, 0, what),
            max_items=c.get(body, p, "max_items", int, None, what, _positive),
            title_given=title is not None,
        ))
    return sources
