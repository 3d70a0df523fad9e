"""canonical_url, and the sanitiser against hostile HTML."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from html_safety import safety_problems
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from feeds.stories.normalize import TRACKING_PARAMS, canonical_url
from feeds.stories.sanitize import html_to_text, sanitize_html

CANONICAL_CASES: list[tuple[str, str | None, str | None]] = [
    # (url, base, canonical)
    # tracking parameters go, the others stay in their order
    ("https://example.com/a?utm_source=rss&utm_medium=feed&id=7&utm_campaign=x",
     None, "https://example.com/a?id=7"),
    ("https://example.com/a?z=1&fbclid=abc&a=2&gclid=def&m=3",
     None, "https://example.com/a?z=1&a=2&m=3"),
    ("https://example.com/a?UTM_Source=x&Ref=feed", None, "https://example.com/a?Ref=feed"),
    ("https://example.com/a?utm%5Fsource=x&q=1", None, "https://example.com/a?q=1"),
    ("https://example.com/a?mc_cid=1&mc_eid=2&_hsenc=3&msclkid=4",
     None, "https://example.com/a"),
    ("https://example.com/a?b=2&a=1&b=1", None, "https://example.com/a?b=2&a=1&b=1"),
    ("https://example.com/a?flag&x=", None, "https://example.com/a?flag&x="),
    ("https://example.com/a?a=1&&b=2&", None, "https://example.com/a?a=1&b=2"),
    # what a parameter means is kept: a literal plus is not a space
    ("https://example.com/s?q=c%2B%2B&r=a+b", None, "https://example.com/s?q=c%2B%2B&r=a+b"),
    ("https://example.com/s?q=a%26b%3Dc", None, "https://example.com/s?q=a%26b%3Dc"),
    ("https://example.com/s?q=%e9t%e9", None, "https://example.com/s?q=%E9t%E9"),
    ("https://example.com/s?q=caf\u00e9 cr\u00e8me", None,
     "https://example.com/s?q=caf%C3%A9%20cr%C3%A8me"),
    # host lower-cased, trailing dot dropped, default port dropped
    ("HTTPS://Example.COM/Path", None, "https://example.com/Path"),
    ("https://example.com./", None, "https://example.com/"),
    ("http://example.com:80/x", None, "http://example.com/x"),
    ("https://example.com:443/x", None, "https://example.com/x"),
    ("https://example.com:80/x", None, "https://example.com:80/x"),
    ("http://example.com:8080/x", None, "http://example.com:8080/x"),
    ("http://user:secret@example.com/x", None, "http://example.com/x"),
    ("http://[2001:DB8::1]:80/x", None, "http://[2001:db8::1]/x"),
    # fragment dropped
    ("https://example.com/post#comments", None, "https://example.com/post"),
    ("https://example.com/post?a=1#x?utm_source=y", None, "https://example.com/post?a=1"),
    # empty path is "/"
    ("https://example.com", None, "https://example.com/"),
    ("https://example.com?x=1", None, "https://example.com/?x=1"),
    # percent-encoding: unreserved decoded, hex upper-cased, reserved left escaped
    ("https://example.com/%7euser/%41b%2fc", None, "https://example.com/~user/Ab%2Fc"),
    ("https://example.com/caf\u00e9 au lait", None, "https://example.com/caf%C3%A9%20au%20lait"),
    ("https://example.com/caf%C3%A9", None, "https://example.com/caf%C3%A9"),
    ("https://example.com/caf%e9", None, "https://example.com/caf%E9"),
    ("https://example.com/100%", None, "https://example.com/100%25"),
    # surrounding white space
    ("  https://example.com/x \n", None, "https://example.com/x"),
    # relative, resolved against a base
    ("../other.html", "https://example.com/a/b/c.html", "https://example.com/a/other.html"),
    ("/root?utm_source=x", "https://Example.com/a/b", "https://example.com/root"),
    ("//cdn.example.net/x.png", "https://example.com/", "https://cdn.example.net/x.png"),
    ("?page=2", "https://example.com/list?page=1", "https://example.com/list?page=2"),
    ("https://other.example/x", "https://example.com/", "https://other.example/x"),
    ("post.html", None, None),
    # IDN hosts become punycode
    ("https://b\u00fccher.example/\u00fc", None, "https://xn--bcher-kva.example/%C3%BC"),
    ("https://M\u00dcNCHEN.example/", None, "https://xn--mnchen-3ya.example/"),
    ("https://\u4f8b\u3048.\u30c6\u30b9\u30c8/", None, "https://xn--r8jz45g.xn--zckzah/"),
    # not http(s), or no host
    ("mailto:someone@example.com", None, None),
    ("javascript:alert(1)", None, None),
    ("javascript:alert(1)", "https://example.com/", None),
    ("ftp://example.com/file", None, None),
    ("data:text/html,hi", None, None),
    ("tag:example.com,2024:post-1", None, None),
    ("urn:uuid:1234", None, None),
    ("http:///path", None, None),
    ("http://./", None, None),
    ("https://example.com:99999/", None, None),
    ("http://[::1/", None, None),
    ("", None, None),
    ("   ", None, None),
]


@pytest.mark.parametrize(("url", "base", "expected"), CANONICAL_CASES)
def test_canonical_url(url: str, base: str | None, expected: str | None) -> None:
    assert canonical_url(url, base) == expected
    if expected is not None:
        assert canonical_url(expected) == expected


def test_every_listed_tracking_parameter_goes() -> None:
    for name in sorted(TRACKING_PARAMS):
        url = f"https://example.com/p?keep=1&{name}=zzz"
        assert canonical_url(url) == "https://example.com/p?keep=1", name


# --- canonical_url is idempotent --------------------------------------------------

_schemes = st.sampled_from(["http", "https", "HTTP", "Https", "ftp", "", "javascript"])
_label = st.text(
    alphabet=st.sampled_from("abcxyzABZ019-_\u00fc\u00df\u00e9\u4f8b\u0441\u03c2%.\uff0e\u3002"),
    min_size=1, max_size=12)
_hosts = st.one_of(
    st.lists(_label, min_size=1, max_size=4).map(".".join),
    st.sampled_from(["[::1]", "[2001:DB8::A]", "127.0.0.1", "EXAMPLE.com.", "localhost"]),
)
_ports = st.one_of(st.none(), st.sampled_from([80, 443, 8080, 0, 65535]).map(str),
                   st.text(alphabet="0123456789", max_size=6))
_url_chars = st.sampled_from(
    [*"abcXYZ019-._~!$&'()*+,;=:@/?#[]% \"<>\\^`{|}",
     "%2F", "%2B", "%20", "%7e", "%41", "%E9", "%zz", "%C3%A9", "\u00e9", "\u2603",
     "\U0001f600", "\t", "\n", "\x00", "\ud800"])
_segments = st.lists(_url_chars, max_size=20).map("".join)
_param_names = st.one_of(st.sampled_from(sorted(TRACKING_PARAMS)),
                         st.sampled_from(["utm_source", "UTM_medium", "pk_campaign", "id", "q",
                                          "page", "a+b", "x%5Fy", ""]),
                         _segments)
_queries = st.lists(st.tuples(_param_names, st.one_of(st.none(), _segments)), max_size=5).map(
    lambda pairs: "&".join(k if v is None else f"{k}={v}" for k, v in pairs))


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(_schemes)
    userinfo = draw(st.sampled_from(["", "user@", "user:pw@", "@"]))
    host = draw(_hosts)
    port = draw(_ports)
    path = draw(_segments)
    query = draw(_queries)
    fragment = draw(st.one_of(st.none(), _segments))
    url = f"{scheme}://{userinfo}{host}"
    if port is not None:
        url += f":{port}"
    if path:
        url += "/" + path.lstrip("/")
    if query:
        url += "?" + query
    if fragment is not None:
        url += "#" + fragment
    return url


_bases = st.one_of(st.none(), st.sampled_from([
    "https://example.com/a/b/c.html", "http://Example.com:8080/dir/", "https://example.com",
    "https://example.com/?q=1#f", "mailto:x@example.com", "/relative/base", ""]))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(url=st.one_of(urls(), _segments, st.text(max_size=40)), base=_bases)
@example(url="https://example.com/?q=%2B", base=None)
@example(url="http://./", base=None)
@example(url="http://h.example/a%2fb?k%3Dv=1", base=None)
@example(url="https://example.com/caf%e9", base=None)
@example(url="http://0\u3002", base=None)
def test_canonical_url_is_idempotent(url: str, base: str | None) -> None:
    once = canonical_url(url, base)
    if once is None:
        return
    assert canonical_url(once) == once
    assert canonical_url(once, base) == once
    parts = urlsplit(once)
    assert parts.scheme in {"http", "https"}
    assert parts.hostname
    assert parts.fragment == ""
    assert once.isascii()
    assert " " not in once


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from([*sorted(TRACKING_PARAMS), "utm_source", "utm_term", "UTM_CONTENT"]),
       value=_segments, other=st.text(alphabet="abcdefgh", min_size=1, max_size=5))
def test_tracking_parameters_never_survive(key: str, value: str, other: str) -> None:
    value = value.replace("&", "").replace("#", "")
    result = canonical_url(f"https://example.com/p?{key}={value}&{other}=1")
    assert result == f"https://example.com/p?{other}=1"


# --- the sanitiser --------------------------------------------------------------

_EVIL_URLS = [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "\x01javascript:alert(1)",
    "java\tscript:alert(1)", "java\nscript:alert(1)", "java&#x09;script:alert(1)",
    "&#106;avascript:alert(1)", "&#x6A;avascript:alert(1)", "jav&#x61;script:alert(1)",
    "javascript&colon;alert(1)", "vbscript:msgbox(1)", "data:text/html,<script>alert(1)</script>",
    "data:image/svg+xml;base64,PHN2Zz4=", "livescript:x", "feed:javascript:alert(1)",
    "//evil.example/x", "relative/path", "/absolute/path", "?query", "#fragment", "",
    "https://ok.example/x", "mailto:a@example.com", "\u0000javascript:alert(1)",
]
_TAGS = ["a", "img", "script", "SCRIPT", "iframe", "svg", "math", "object", "embed", "style",
         "form", "input", "button", "video", "audio", "source", "track", "blockquote", "q",
         "div", "p", "span", "table", "td", "base", "link", "meta", "body", "details", "area"]
_ATTRS = ["href", "src", "cite", "poster", "longdesc", "srcset", "action", "formaction",
          "background", "data", "xlink:href", "style", "onclick", "onerror", "OnLoad",
          "onmouseover", "on", "title", "alt", "class", "id", "width"]


@st.composite
def hostile_html(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        tag = draw(st.sampled_from(_TAGS))
        attrs = []
        for _ in range(draw(st.integers(min_value=0, max_value=3))):
            name = draw(st.sampled_from(_ATTRS))
            value = draw(st.one_of(st.sampled_from(_EVIL_URLS), st.text(max_size=10)))
            quote = draw(st.sampled_from(['"', "'", ""]))
            if not quote:
                value = value.replace(" ", "").replace(">", "") or "x"
            elif quote in value:
                value = value.replace(quote, "")
            attrs.append(f"{name}={quote}{value}{quote}")
        inner = draw(st.one_of(st.just(""), st.text(max_size=10),
                               st.sampled_from(["alert(1)", "<script>alert(1)</script>",
                                                "<!-- <script>x</script> -->", "<![CDATA[x]]>",
                                                "</scr<script>ipt>"])))
        close = draw(st.booleans())
        parts.append(f"<{tag} {' '.join(attrs)}>{inner}" + (f"</{tag}>" if close else ""))
    return "".join(parts)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fragment=st.one_of(hostile_html(), st.text(max_size=80)),
       base=st.sampled_from([None, "https://safe.example/dir/page.html", "/relative/base",
                             "javascript:alert(1)", "http://Safe.Example:8080/"]))
@example(fragment='<a href="javascript:alert(1)">x</a>', base=None)
@example(fragment='<img src=x onerror=alert(1)>', base="https://safe.example/")
@example(fragment='<svg><a xlink:href="javascript:alert(1)">x</a></svg>', base=None)
@example(fragment='<video poster="javascript:alert(1)" src="v.mp4"></video>', base=None)
def test_sanitized_html_is_safe(fragment: str, base: str | None) -> None:
    cleaned = sanitize_html(fragment, base)
    assert list(safety_problems(cleaned)) == []
    # A second pass changes nothing a reader could notice.
    assert list(safety_problems(sanitize_html(cleaned, base))) == []


def test_sanitizer_keeps_ordinary_markup() -> None:
    html = ('<p class="x">Hello <a href="/people/ann" onclick="steal()">Ann</a>, '
            '<img src="pics/a.png" alt="A" width="10"> <em>hi</em></p>')
    cleaned = sanitize_html(html, "https://blog.example.com/2024/post.html")
    assert cleaned == (
        '<p>Hello <a href="https://blog.example.com/people/ann" rel="noopener noreferrer '
        'nofollow">Ann</a>, <img src="https://blog.example.com/2024/pics/a.png" alt="A" '
        'width="10"> <em>hi</em></p>')


def test_relative_urls_without_a_base_are_dropped() -> None:
    cleaned = sanitize_html('<a href="x.html">x</a><img src="/y.png">', None)
    assert "x.html" not in cleaned
    assert "y.png" not in cleaned
    assert ">x</a>" in cleaned


def test_html_to_text() -> None:
    assert html_to_text("<p>One</p><p>Two &amp; <b>three</b></p><script>x()</script>") == \
        "One Two & three"
    assert html_to_text("a<br>b<br/>c") == "a b c"


def _joined(base: str | None, value: str) -> str | None:
    """What a URL in HTML must become: urljoin, then kept only if it has a scheme;
    what sanitising did before its fast paths, except that a base that cannot be
    parsed ("https://[::1") now counts as none, where urljoin raised on it even for
    an absolute URL."""
    from urllib.parse import urljoin

    value = value.strip()
    try:
        if base:
            urlsplit(base)
    except ValueError:
        base = None
    try:
        if base:
            value = urljoin(base, value)
        return value if urlsplit(value).scheme else None
    except ValueError:  # nh3 dropped the attribute when the filter raised
        return None


url_text = st.text(alphabet=st.sampled_from(list("htpsHTPS:/?#;[]@.%-_=&+ \t\nab09é\x00\x7f")), max_size=30)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(url_text, st.builds(lambda s, rest: s + rest, st.sampled_from(
           ["https://", "http://", "HTTPS://", "https:///", "https://a.test", "http://[::1]",
            "https://a.test/p;x", "https://a.test/?", "https://a.test/#", "https://a.test/?#f",
            "/", "//", "/a/", "/./", "/a/../", "/img/1.jpg", " /x"]), url_text)),
       st.sampled_from([None, "", "https://example.com/a/b?q#f", "http://ex.test/", "ftp://f.test/x",
                        "https://[::1]/x", "HTTP://User@Ex.Test:8080/a//b/../c?q", "https:/no-host/x",
                        "mailto:a@b.test", "https://a.test", "https://a.test#f", "http://h.test:0/",
                        "https://[::1", "feed.xml"]))
@example("https://a.test/x?", "https://b.test/")
@example("https://a.test/x#", "https://b.test/")
@example("HTTPS://a.test/x", "https://b.test/")
@example("https://a.test/x;p", "https://b.test/")
@example("/a//b", "https://b.test/")
@example("/a/./b", "https://b.test/")
@example("/a/..", "https://b.test/")
@example("/a?", "https://b.test/")
@example("/a#", "https://b.test/")
@example("/a;p", "https://b.test/")
@example("/a b", "https://b.test/")
def test_urls_taken_as_they_are_are_what_urljoin_gives(value: str, base: str | None) -> None:
    """The fast paths, for plain absolute URLs and for paths from the root, give
    exactly what urljoin did."""
    from feeds.stories.sanitize import resolve_url

    assert resolve_url(base, value) == _joined(base, value)


def test_each_fragment_resolves_against_its_own_base_in_any_thread() -> None:
    """One sanitiser serves every call; the base URL is per call and per thread."""
    from concurrent.futures import ThreadPoolExecutor

    def clean(n: int) -> tuple[int, str]:
        return n, sanitize_html(f'<p><a href="story/{n}">x</a><img src="/i/{n}.png"></p>' * 50,
                                f"https://s{n}.test/feed/")

    with ThreadPoolExecutor(max_workers=4) as pool:
        for n, html_ in pool.map(clean, range(200)):
            assert f'href="https://s{n}.test/feed/story/{n}"' in html_
            assert f'src="https://s{n}.test/i/{n}.png"' in html_
            assert html_.count(f"s{n}.test") == 100
    assert 'href' not in sanitize_html('<a href="story/1">x</a>', None)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("az09-._~!$&'()*+,;=:@/?%2fAé [] \x7f")), max_size=30))
def test_plain_paths_skip_the_escape_loop_and_change_nothing(text: str) -> None:
    from feeds.stories import normalize

    fast = [normalize._normalize_escapes(text, chars)
            for chars in (normalize._PATH_CHARS, normalize._QUERY_CHARS)]
    saved = dict(normalize._PLAIN)
    normalize._PLAIN.clear()
    try:
        slow = [normalize._normalize_escapes(text, chars)
                for chars in (normalize._PATH_CHARS, normalize._QUERY_CHARS)]
    finally:
        normalize._PLAIN.update(saved)
    assert fast == slow
