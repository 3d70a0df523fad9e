"""The fuzz targets, shared by tests/test_fuzz.py (hypothesis) and fuzz/ (atheris).

Each target is a function of one ``bytes`` input that decodes it the same way
every time, runs a part of feeds on it and checks what must hold whatever the
input: no exception but our own ``FeedsError``s, sanitised HTML stays safe,
canonical URLs are canonical, config problems are one line each. A property
that does not hold raises ``PropertyFailure``.

A crash found by fuzzing is kept as a file under
``tests/data/fuzz-regressions/<target>/`` and replayed by the test suite.
"""

from __future__ import annotations

import json
import re
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from html_safety import safety_problems
from lxml import etree

from feeds.config import load_config
from feeds.errors import ConfigError, ConfigErrors, FeedsError
from feeds.parse.adapter import parse_document
from feeds.parse.articles import parse_article
from feeds.publish.emit import FeedView, Fragments, Item, render_atom, render_rss
from feeds.publish.jsonfeed import render_json
from feeds.stories.normalize import FUTURE_TOLERANCE, Context, canonical_url, normalize
from feeds.stories.sanitize import html_to_text, sanitize_html
from feeds.types import Document, Entry, LocalFile, Source

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
DATA = TESTS / "data"
REGRESSIONS = DATA / "fuzz-regressions"

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
MTIME = datetime(2023, 3, 4, 5, 6, 7, tzinfo=UTC)
SOURCE = Source(id="fuzz", title="Fuzz Source")
FEED_URL = "https://feeds.example.org/feed.xml"
SITE = "https://me.example.net/"

# Each input must be dealt with in this many seconds. The slowest real feed takes
# well under 0.1 s; the margin is for a loaded 2-core machine running the suite
# in parallel (atheris runs use libFuzzer's -timeout instead).
TIME_LIMIT = 5.0


class PropertyFailure(AssertionError):
    """An input broke a property; ``kind`` names which, for grouping crashes."""

    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind
        super().__init__(f"{kind}: {detail}")


def _require(ok: bool, kind: str, detail: str) -> None:
    if not ok:
        raise PropertyFailure(kind, detail)


# --- shared checks ---------------------------------------------------------------


def check_safe_html(html: str, where: str) -> None:
    problems = list(safety_problems(html))
    _require(not problems, "unsafe-html", f"{where}: {problems} in {html[:300]!r}")


def check_canonical(url: str | None, where: str) -> None:
    """``url`` is a canonical URL: canonicalising it again changes nothing."""
    if url is None:
        return
    _require(url.isascii() and url.startswith(("http://", "https://")) and "#" not in url
             and not any(c.isspace() for c in url), "bad-canonical-form", f"{where}: {url!r}")
    again = canonical_url(url)
    _require(again == url, "canonical-not-idempotent", f"{where}: {url!r} -> {again!r}")


def check_entry(entry: Entry) -> None:
    _require(bool(entry.title.strip()), "empty-title", repr(entry))
    check_canonical(entry.link, "link")
    for enc in entry.enclosures:
        check_canonical(enc.url, "enclosure")
    check_safe_html(entry.summary_html, "summary_html")
    check_safe_html(entry.content_html, "content_html")
    for name, value in (("published", entry.published), ("updated", entry.updated)):
        _require(value.utcoffset() is not None, "naive-date", f"{name} {value!r}")
        _require(value <= NOW + FUTURE_TOLERANCE, "future-date", f"{name} {value!r}")
    _require(entry.updated >= entry.published, "updated-before-published",
             f"{entry.published!r} > {entry.updated!r}")


# --- the targets -----------------------------------------------------------------


def check_rendered(entries: Sequence[Entry]) -> None:
    """The entries go on into every output format, as a run would publish them:
    each document must be rendered (no entry left out for a character it holds),
    parse as XML 1.0 without recovery, and JSON Feed as JSON."""
    items = [Item(f"urn:uuid:00000000-0000-5000-8000-{n:012d}", e, SOURCE.title, FEED_URL)
             for n, e in enumerate(entries)]
    view = FeedView(topic="all", title="Fuzz: all", description="fuzz", site_url=SITE,
                    atom_url=SITE + "all.atom", rss_url=SITE + "all.rss", author="Fuzz",
                    language="en", items=items)
    for kind, render in (("atom", render_atom), ("rss", render_rss)):
        fragments = Fragments()
        try:
            out = render(view, fragments)
        except Exception as exc:
            raise PropertyFailure(f"render-{kind}", f"{type(exc).__name__}: {exc}") from exc
        _require(not fragments.problems(), f"render-{kind}-dropped", repr(fragments.problems())[:300])
        try:
            etree.fromstring(out, etree.XMLParser(recover=False, resolve_entities=False, huge_tree=True))
        except etree.XMLSyntaxError as exc:
            raise PropertyFailure(f"render-{kind}-ill-formed", str(exc)) from exc
    try:
        json.loads(render_json(view))
    except Exception as exc:
        raise PropertyFailure("render-json", f"{type(exc).__name__}: {exc}") from exc


def check_parse(data: bytes) -> None:
    """Arbitrary bytes as a feed document; every entry recovered must normalise
    cleanly and render into valid Atom, RSS and JSON Feed."""
    doc = Document(source_id=SOURCE.id, url=FEED_URL, body=data, headers={})
    try:
        feed = parse_document(doc)
    except FeedsError:
        return
    ctx = Context(source=SOURCE, base_url=SITE, now=NOW, document_url=doc.url, feed=feed)
    entries = [normalize(entry_data, ctx) for entry_data in feed.entries]
    for entry in entries:
        check_entry(entry)
    check_rendered(entries)


ARTICLE_NAMES = ("fuzz.txt", "fuzz.md", "fuzz.html", "fuzz")


def check_articles(data: bytes) -> None:
    """First byte picks the file name (.txt, .md, .html, none); the rest is the file."""
    name = ARTICLE_NAMES[data[0] % len(ARTICLE_NAMES)] if data else "fuzz"
    body = data[1:]
    try:
        entry_data = parse_article(LocalFile(f"sub/{name}", body, MTIME), SOURCE.id)
    except FeedsError:
        return
    _require(entry_data.title is not None and bool(entry_data.title.value.strip()),
             "article-without-title", repr(entry_data.title))
    _require(entry_data.published is not None and entry_data.published.utcoffset() is not None,
             "article-naive-date", repr(entry_data.published))
    local = Source(id=SOURCE.id, title=SOURCE.title, path=REPO / "seeds")
    ctx = Context(source=local, base_url=SITE, now=NOW)
    entry = normalize(entry_data, ctx)
    check_entry(entry)
    check_rendered([entry])


def check_canonical_url(data: bytes) -> None:
    """``url`` NUL ``base`` (the base is optional)."""
    url_b, sep, base_b = data.partition(b"\0")
    url = url_b.decode("utf-8", "replace")
    base = base_b.decode("utf-8", "replace") if sep else None
    once = canonical_url(url, base)
    check_canonical(once, f"canonical_url({url!r}, {base!r})")
    if once is not None:
        again = canonical_url(once, base)
        _require(again == once, "canonical-not-idempotent",
                 f"with base {base!r}: {once!r} -> {again!r}")


SANITIZE_BASES: tuple[str | None, ...] = (
    None, "https://safe.example/dir/page.html", "http://Safe.Example:8080/", "/relative/base",
    "javascript:alert(1)", "", "https://[::1]/", "data:text/html,x",
)


def check_sanitize(data: bytes) -> None:
    """First byte picks the base URL; the rest is an HTML fragment."""
    base = SANITIZE_BASES[data[0] % len(SANITIZE_BASES)] if data else None
    fragment = data[1:].decode("utf-8", "replace")
    cleaned = sanitize_html(fragment, base)
    check_safe_html(cleaned, f"sanitize_html(base={base!r})")
    check_safe_html(sanitize_html(cleaned, base), "second pass")
    html_to_text(cleaned)


CONFIG_SEPARATOR = b"\n#@@ config/sources.toml @@\n"
_CONFIG_LINE = re.compile(r"^config/(feeds|sources)\.toml(:[1-9]\d*)?: \S.*$")
_DEFAULT_SOURCES = b'[[sources]]\nid = "seeds"\npath = "seeds"\n'


class _ProjectDir:
    """One temporary project folder per process, its config rewritten for each input."""

    _root: Path | None = None

    @classmethod
    def root(cls) -> Path:
        if cls._root is None or not cls._root.exists():
            cls._root = Path(tempfile.mkdtemp(prefix="feeds-fuzz-config-"))
            (cls._root / "config").mkdir()
            (cls._root / "seeds").mkdir()
        return cls._root


def check_config(data: bytes) -> None:
    """feeds.toml, the separator line, sources.toml; every failure is one ConfigError line."""
    feeds_b, sep, sources_b = data.partition(CONFIG_SEPARATOR)
    root = _ProjectDir.root()
    (root / "config" / "feeds.toml").write_bytes(feeds_b)
    (root / "config" / "sources.toml").write_bytes(sources_b if sep else _DEFAULT_SOURCES)
    try:
        load_config(root)
    except ConfigErrors as exc:
        _require(bool(exc.errors), "config-no-errors", "ConfigErrors with an empty list")
        for error in exc.errors:
            _require(isinstance(error, ConfigError), "config-error-type", repr(error))
            text = str(error)
            _require("\n" not in text and "\r" not in text, "config-error-not-one-line", repr(text))
            _require(bool(_CONFIG_LINE.match(text)), "config-error-form", repr(text))
    except ConfigError as exc:  # one alone is acceptable too
        _require("\n" not in str(exc), "config-error-not-one-line", repr(str(exc)))


TARGETS: dict[str, Callable[[bytes], None]] = {
    "parse": check_parse,
    "articles": check_articles,
    "canonical": check_canonical_url,
    "sanitize": check_sanitize,
    "config": check_config,
}


# --- known bugs, in modules this fuzzing work does not own ---------------------------

# signature -> what is wrong. The fuzzers and property tests step over these, so that
# they keep looking for new ones; their regression files are strict xfails, so a fix
# shows up as XPASS and the entry here should then go.
KNOWN_BUGS: dict[str, str] = {}


def _innermost_feeds_frame(exc: BaseException) -> str:
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if path.parent.name == "feeds" and path.parent.parent == REPO:
            where = f"feeds/{path.name}:{frame.name}"
    return where


def signature(target: str, exc: BaseException) -> str:
    """A name for a crash that stays the same while the code around it is edited."""
    if isinstance(exc, PropertyFailure):
        return f"{target}:PropertyFailure:{exc.kind}"
    return f"{target}:{type(exc).__name__}@{_innermost_feeds_frame(exc)}"


def known_bug(target: str, exc: BaseException) -> str | None:
    return KNOWN_BUGS.get(signature(target, exc))


# --- time bounds -----------------------------------------------------------------------


class Hang(Exception):
    """An input took longer than its time limit."""


@contextmanager
def time_limit(seconds: float = TIME_LIMIT) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (main thread only) and fail it if it ran long.

    pytest-timeout may have its own SIGALRM timer running; it is put back afterwards.
    """
    use_signal = threading.current_thread() is threading.main_thread()
    start = time.monotonic()
    old_handler: object = None
    old_remaining = 0.0
    if use_signal:
        def on_alarm(signum: int, frame: FrameType | None) -> None:
            raise Hang(f"still running after {seconds} s")

        old_handler = signal.signal(signal.SIGALRM, on_alarm)
        old_remaining, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        elapsed = time.monotonic() - start
        if use_signal:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)  # type: ignore[arg-type]
            if old_remaining:
                signal.setitimer(signal.ITIMER_REAL, max(old_remaining - elapsed, 0.001))
    if elapsed > seconds:
        raise Hang(f"took {elapsed:.2f} s (limit {seconds} s)")


# --- seeds and mutations ---------------------------------------------------------------


def _files(folder: Path, pattern: str = "*") -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("."))


def _feed_files() -> list[Path]:
    # Mutants of the corpus' podcasts (up to 1.6 MB) cost feedparser a second each: the
    # smaller feeds carry the same constructs.
    corpus = [p for p in _files(DATA / "corpus") if p.suffix in {".xml", ".rss", ".atom", ".rdf", ".json"}
              and p.stat().st_size <= 100_000]
    golden = [p for p in _files(DATA / "golden") if p.suffix in {".atom", ".rss"}]
    return corpus + _files(DATA / "feeds") + golden


def _article_seeds() -> list[bytes]:
    out: list[bytes] = []
    for p in _files(DATA / "articles") + _files(REPO / "seeds"):
        kind = {".txt": 0, ".md": 1, ".html": 2}.get(p.suffix, 3)
        out.append(bytes([kind]) + p.read_bytes())
        out.append(bytes([3]) + p.read_bytes())  # the same file, its kind sniffed
    return out


_URL_IN_FEED = re.compile(rb"""(?:href|src|url)=["']([^"'<>]{1,300})["']|<link>([^<]{1,300})</link>""")


def _url_seeds() -> list[bytes]:
    found: dict[bytes, None] = {}
    for p in _feed_files():
        for m in _URL_IN_FEED.finditer(p.read_bytes()):
            found.setdefault((m.group(1) or m.group(2)).strip(), None)
    hand = [
        b"HTTPS://Example.COM:443/a/../b/%7euser/caf%c3%a9?utm_source=x&b=2&&a=1#frag",
        b"http://user:pw@[2001:DB8::1]:80/x?fbclid=1",
        b"../other.html?q=a+b\0https://example.com/a/b/c.html",
        b"//cdn.example.net/x.png\0https://example.com/",
        b"https://b\xc3\xbccher.example/\xc3\xbc\0",
        b"?page=2\0https://example.com/list?page=1",
        b"http://0\xe3\x80\x82/", b"https://example.com/100%", b"javascript:alert(1)",
    ]
    return hand + list(found)[:200]


def _sanitize_seeds() -> list[bytes]:
    out: list[bytes] = [
        b'\x00<a href="javascript:alert(1)" onclick="x()">x</a><img src=x onerror=alert(1)>',
        b'\x01<svg><a xlink:href="javascript:alert(1)">x</a></svg><script>alert(1)</script>',
        b'\x03<video poster="javascript:alert(1)" src="v.mp4"></video><p style="x:url(y)">p</p>',
        b"\x01<table><tr><td colspan=2><a href='/x'>a</a></td></tr></table><!-- c -->",
    ]
    for p in _feed_files():
        try:
            feed = parse_document(Document(SOURCE.id, FEED_URL, p.read_bytes(), {}))
        except FeedsError:
            continue
        for i, e in enumerate(feed.entries[:5]):
            for block in (e.content, e.summary):
                if block is not None and block.is_html:
                    out.append(bytes([i % len(SANITIZE_BASES)]) + block.value.encode("utf-8")[:8192])
    for p in _files(DATA / "articles", "*.html") + _files(DATA / "golden" / "articles"):
        out.append(b"\x01" + p.read_bytes())
    return out


def _config_seeds() -> list[bytes]:
    real_feeds = (REPO / "config" / "feeds.toml").read_bytes()
    real_sources = (REPO / "config" / "sources.toml").read_bytes()
    minimal = b'[site]\ntitle = "T"\nbase_url = "https://x.test/"\n\n[topics.ai]\nkeywords = ["AI"]\n'
    rich_sources = (
        b'[[sources]]\nid = "seeds"\npath = "seeds"\n\n[[sources]]\nid = "eff"\n'
        b'url = "https://www.eff.org/rss/updates.xml"\ntopics = ["ai"]\ninterval = "2h"\n'
        b'timeout = 20\nmax_bytes = 2000000\nuser_agent = "ua"\nheaders = { X-Api-Key = "k" }\n'
        b'username = "me"\npassword = "pw"\nenabled = false\n'
    )
    full_fetch = (
        minimal + b'\n[fetch]\nconcurrency = 8\nconnect_timeout = 10\nread_timeout = 30.5\n'
        b'default_interval = "30m"\nmin_interval = 10\nmax_interval = "1d"\nmax_backoff = "2d"\n'
        b'alert_after = 2\nper_host = 2\n'
    )
    return [
        real_feeds + CONFIG_SEPARATOR + real_sources,
        minimal + CONFIG_SEPARATOR + rich_sources,
        full_fetch + CONFIG_SEPARATOR + _DEFAULT_SOURCES,
        minimal,
    ]


SEEDS: dict[str, Callable[[], list[bytes]]] = {
    "parse": lambda: [p.read_bytes() for p in _feed_files()],
    "articles": _article_seeds,
    "canonical": _url_seeds,
    "sanitize": _sanitize_seeds,
    "config": _config_seeds,
}

# Byte strings worth inserting, per target (also written out as libFuzzer dictionaries).
TOKENS: dict[str, tuple[bytes, ...]] = {
    "parse": (
        b"<?xml version='1.0' encoding='utf-16'?>", b'<?xml version="1.0" encoding="x-bogus"?>',
        b"<!DOCTYPE rss>", b"<![CDATA[", b"]]>", b"&#0;", b"&#xD800;", b"&amp;", b"&nbsp;",
        b' xml:base="javascript:alert(1)"', b' xml:base="../"', b"<entry>", b"</entry>",
        b"<item>", b"</item>", b"<link>", b'<link href="', b"<pubDate>", b"<updated>",
        b"<content type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'>", b"<script>",
        b" onload=", b"<enclosure url='", b"9999-12-31T23:59:59+14:00", b"Mon, 01 Jan 0001 00:00:00 GMT",
        b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"<html>", b"<guid>", b"<ttl>99999999999999",
    ),
    "articles": (
        b"---\n", b"+++\n", b"\n---\n", b"\n+++\n", b"date: ", b"date = ", b"title: ", b"tags: [",
        b"<html>", b"<article>", b"<h1>", b'<meta property="article:published_time" content="',
        b'<script type="application/ld+json">', b'{"@graph": [{"datePublished": ',
        b"Saturday, July 13, 2024", b"10:30 PM ET", b"9999-12-31T23:59:59-14:00",
        b"0001-01-01T00:00:00+14:00", b"Related Articles\n", b"By Jane Doe\n", b"\r\n", b"\n\n",
        b"\xef\xbb\xbf", b"# ", b"<?xml version='1.0'?>", b"<!-- -->", b"\x00",
    ),
    "canonical": (
        b"http://", b"https://", b"%", b"%2F", b"%e9", b"[", b"]", b"::", b":0", b":99999",
        b"@", b"?", b"#", b"&", b"utm_source=", b"xn--", b"\xe3\x80\x82", b"..", b"//", b"\0",
        b"\\", b"\t", b"\xef\xbc\x8e",
    ),
    "sanitize": (
        b"<script>", b"</script>", b"<svg>", b"<math>", b"<a href='", b"<img src=",
        b" onerror=", b"javascript:", b"&#106;", b"&colon;", b"<!--", b"-->", b"<![CDATA[",
        b"<style>", b"<iframe", b"<base href=", b"<form action=", b"data:", b"<noscript>",
        b"<template>", b"<table>", b"<select>", b"<textarea>", b"<xmp>", b"<plaintext>",
    ),
    "config": (
        b"[site]\n", b"[fetch]\n", b"[topics.", b"[[sources]]\n", b"id = ", b"url = ", b"path = ",
        b"\"http://[::1\"", b"\"\\u0000\"", b"\"\\n\"", b"[[[[[[[[", b"{a={b={", b"= 1e999",
        b"= -0", b"= nan", b"= inf", b"= 9223372036854775807", b"= 1979-05-27T07:32:00Z",
        b'= "1e400d"', b'"0.5s"', b"password_env = ", b"headers = {", b"topics = [", b"'''",
        b'"""', b"\r\n", b"\xef\xbb\xbf", b"#",
    ),
}

INTERESTING_BYTES = (0, 1, 0x7F, 0x80, 0xFF, ord("<"), ord(">"), ord("&"), ord('"'), ord("\n"),
                     ord("\\"), ord("%"), ord("["), ord("="))

Op = tuple[int, int, int, int]
N_OPS = 8


def mutate(data: bytes, ops: Sequence[Op], pool: Sequence[bytes], tokens: Sequence[bytes]) -> bytes:
    """Apply byte-level mutations: flips, deletions, token insertions, truncation, splicing."""
    buf = bytearray(data)
    for kind, a, b, c in ops:
        n = len(buf)
        pos = a % (n + 1)
        kind %= N_OPS
        if kind == 0 and n:  # flip one bit
            buf[pos % n] ^= 1 << (b % 8)
        elif kind == 1 and n:  # set a byte to an interesting value
            buf[pos % n] = INTERESTING_BYTES[b % len(INTERESTING_BYTES)]
        elif kind == 2:  # delete a range
            del buf[pos:pos + b % 64 + 1]
        elif kind == 3 and tokens:  # insert a token
            buf[pos:pos] = tokens[b % len(tokens)]
        elif kind == 4 and n:  # copy a range elsewhere
            chunk = bytes(buf[pos:pos + b % 64 + 1])
            at = c % (n + 1)
            buf[at:at] = chunk
        elif kind == 5:  # truncate
            del buf[pos:]
        elif kind == 6 and pool:  # splice: our head, another seed's tail
            other = pool[b % len(pool)]
            buf = buf[:pos] + other[c % (len(other) + 1):]
        elif kind == 7:  # insert two arbitrary bytes
            buf[pos:pos] = bytes([b % 256, c % 256])
    return bytes(buf)


def replay_files(target: str) -> list[Path]:
    folder = REGRESSIONS / target
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")) \
        if folder.is_dir() else []
