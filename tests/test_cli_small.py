"""Small things users noticed (issue #20): feed titles for untitled sources, htmlUrl
in OPML, status.json's content type, `topics diff` read as a review, `sources add`
naming its source and the feeds a page offers, the licence metadata and the
browser-test switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import feedparser
import listparser
from conftest import DATA, REPO, FeedServer, Project
from helpers import run_cli

from feeds.cli.servefiles import content_type
from feeds.store.state import Store
from feeds.stories.sourceinfo import FeedInfo, clean_home_page, clean_title, decode, encode

CORPUS = DATA / "corpus"


def _serve_corpus(server: FeedServer, path: str, name: str, **kwargs: object) -> str:
    return server.add(path, (CORPUS / name).read_bytes(), **kwargs)


def _opml_outlines(data: bytes) -> dict[str, dict[str, str]]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(data)
    return {o.attrib["xmlUrl"]: dict(o.attrib) for o in root.iter("outline") if "xmlUrl" in o.attrib}


# --- a source without a title takes its feed's ---------------------------------


def test_untitled_source_is_shown_under_its_feeds_title(project: Project, server: FeedServer) -> None:
    df = _serve_corpus(server, "/df.rss", "netnewswire--DaringFireball.rss")
    pg = _serve_corpus(server, "/pg.xml", "feedjira--PaulGraham.xml")
    rsc = _serve_corpus(server, "/rsc.atom", "netnewswire--russcox.atom",
                        content_type="application/atom+xml")
    project.write_sources([
        {"id": "seeds", "title": "Local articles", "path": "seeds"},
        {"id": "df", "url": df},
        {"id": "pg", "title": "Essays (config title)", "url": pg},
        {"id": "rsc", "url": rsc},
    ])
    project.write_feeds(max_entries=100)
    code, out, err = run_cli(project.root, "run")
    assert code == 0, err + out

    everything = feedparser.parse((project.public / "all.atom").read_bytes())
    shown = {e.link: e.source.get("title") for e in everything.entries if "source" in e}
    df_titles = {t for link, t in shown.items() if "daringfireball" in link}
    assert df_titles == {"Daring Fireball"}
    assert {t for link, t in shown.items() if "swtch.com" in link} == {"research!rsc"}
    assert {t for link, t in shown.items() if "paulgraham" in link} == {"Essays (config title)"}
    index = (project.public / "index.html").read_text(encoding="utf-8")
    assert "<span class=\"meta\">research!rsc · " in index and "<span class=\"meta\">rsc · " not in index
    json_feed = json.loads((project.public / "all.json").read_text(encoding="utf-8"))
    assert {i["_source"]["title"] for i in json_feed["items"]
            if "daringfireball" in i.get("url", "")} == {"Daring Fireball"}

    # OPML, published and exported: the feed's title and its site (htmlUrl); the
    # Atom feed whose "link" is a tag: URI gets no htmlUrl rather than a bad one.
    for data in ((project.public / "sources.opml").read_bytes(),
                 run_cli(project.root, "sources", "export")[1].encode()):
        outlines = _opml_outlines(data)
        assert outlines[df]["text"] == "Daring Fireball"
        assert outlines[df]["htmlUrl"] == "http://daringfireball.net/"
        assert outlines[pg]["text"] == "Essays (config title)"
        assert outlines[pg]["htmlUrl"] == "http://paulgraham.infogami.com/blog"
        assert outlines[rsc]["text"] == "research!rsc" and "htmlUrl" not in outlines[rsc]
        assert listparser.parse(data).feeds

    code, out, _ = run_cli(project.root, "status", "--json")
    titles = {r["id"]: r["title"] for r in json.loads(out)["sources"]}
    assert titles == {"seeds": "Local articles", "df": "Daring Fireball",
                      "pg": "Essays (config title)", "rsc": "research!rsc"}

    # The health feed names it so too, in the entry's title and its text.
    server.add("/df.rss", b"gone", status=410)
    assert run_cli(project.root, "run", "--force")[0] == 0
    health = feedparser.parse((project.public / "health.atom").read_bytes())
    gone = [e for e in health.entries if e.title.endswith(": gone")]
    assert [e.title for e in gone] == ["Daring Fireball: gone"]
    assert "Daring Fireball is gone (HTTP 410)" in gone[0].summary


HOSTILE_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">&lt;b&gt;Evil&lt;/b&gt; &#x202E;news&#x1B;[31m\u0007 {pad}{script}</title>
  <link rel="alternate" href="javascript:alert(1)"/>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2024-01-01T00:00:00Z</updated>
  <author><name>x</name></author>
  <entry><title>One</title><link href="https://evil.test/1"/><id>urn:uuid:1</id>
    <updated>2024-01-01T00:00:00Z</updated></entry>
</feed>"""


def test_a_feeds_title_is_cleaned_before_anything_shows_it(project: Project, server: FeedServer) -> None:
    url = server.add("/evil.atom", HOSTILE_ATOM.format(pad="word " * 100,
                                                       script="&lt;script&gt;alert(1)&lt;/script&gt;"),
                     content_type="application/atom+xml")
    project.write_sources([{"id": "evil", "url": url}])
    code, _out, err = run_cli(project.root, "run")
    assert code == 0, err
    with Store(project.root / "var" / "state.db") as store:
        info = store.feed_infos()["evil"]
    assert info.home_page is None  # javascript: is no site
    title = info.title or ""
    assert title.startswith("Evil news[31m") and title.endswith("…")
    assert len(title) <= 121
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c == "\u202e" for c in title)
    assert "<" not in title
    outlines = _opml_outlines((project.public / "sources.opml").read_bytes())
    assert outlines[url]["text"] == title and "htmlUrl" not in outlines[url]
    assert "&lt;script" not in (project.public / "index.html").read_text(encoding="utf-8")
    code, out, _ = run_cli(project.root, "status", "--json")
    assert json.loads(out)["sources"][0]["title"] == title


def test_feed_info_read_back_from_the_database_is_cleaned_again() -> None:
    # Written by hand, or by another version: nothing unclean comes back out.
    tampered = json.dumps({"title": "A\u202e\x1b]0;pwned\x07 <i>B</i>\n" + "x" * 500,
                           "home_page": "javascript:alert(1)"})
    info = decode(tampered)
    assert info.title == "A ]0;pwned B…"  # the run of x is one word past the cap
    assert len(info.title) <= 121 and info.home_page is None
    assert decode("not json") == FeedInfo() == decode("[1, 2]")
    assert decode(json.dumps({"title": 7, "home_page": ["x"]})) == FeedInfo()
    good = FeedInfo("Daring Fireball", "http://daringfireball.net/")
    assert decode(encode(good)) == good
    assert decode(encode(FeedInfo(None, "https://x.test/a b"))).home_page is None
    assert clean_title("   \n\t ") is None and clean_title(None) is None
    assert clean_home_page("/blog", "https://example.org/feed.xml") == "https://example.org/blog"
    assert clean_home_page("tag:research.swtch.com,2012:research.swtch.com") is None


# --- topics diff reads as a review of the working config ------------------------


def test_topics_diff_against_a_revision_reviews_an_added_exclude(project: Project) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(project.root), "-c", "user.email=t@t", "-c", "user.name=t",
                        *args], check=True, capture_output=True, timeout=30)

    assert run_cli(project.root, "run")[0] == 0
    git("init", "-q")
    git("add", "config")
    git("commit", "-q", "-m", "config")
    feeds_toml = project.root / "config" / "feeds.toml"
    text = feeds_toml.read_text(encoding="utf-8")
    marker = 'keywords = ["AI", "artificial intelligence", "language model", "LLM", "OpenAI"]\n'
    assert marker in text
    feeds_toml.write_text(text.replace(marker, marker + 'exclude = ["China"]\n'), encoding="utf-8")
    code, out, err = run_cli(project.root, "topics", "diff", "--against", "HEAD")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "from HEAD to the working config (config/), over 1 stored entry:"
    assert lines[1] == "ai: 0 would enter, 1 would leave"
    assert lines[2].startswith("  - China remains optimistic")
    # Against itself, nothing moves.
    git("commit", "-q", "-am", "exclude")
    code, out, _ = run_cli(project.root, "topics", "diff", "--against", "HEAD")
    assert out.splitlines()[1:] == ["  no entry would change topic"]


# --- sources add: its own id in errors, and the feeds a page offers --------------


def test_sources_add_names_the_new_sources_id_in_its_errors(project: Project, server: FeedServer) -> None:
    sources_before = (project.root / "config" / "sources.toml").read_text(encoding="utf-8")
    code, _out, err = run_cli(project.root, "sources", "add", server.url("/status/404"))
    assert code == 1
    assert err.startswith(f"error: new source '127-0-0-1' ({server.url('/status/404')}): HTTP 404")
    assert "new:" not in err and "nothing was added" in err
    code, _out, err = run_cli(project.root, "sources", "add", server.url("/status/404"),
                              "--title", "My Blog")
    assert code == 1 and err.startswith("error: new source 'my-blog' (")
    code, _out, err = run_cli(project.root, "sources", "add", server.url("/status/404"), "--id", "mine")
    assert code == 1 and err.startswith("error: new source 'mine' (")
    # An id already taken, or not an id, is refused before anything is fetched.
    hits = len(server.hits)
    code, _out, err = run_cli(project.root, "sources", "add", server.url("/x"), "--id", "seeds")
    assert code == 2 and "'seeds' is already the id of a source" in err
    code, _out, err = run_cli(project.root, "sources", "add", server.url("/x"), "--id", "Not An Id")
    assert code == 2 and "not a valid source id" in err
    assert len(server.hits) == hits
    assert (project.root / "config" / "sources.toml").read_text(encoding="utf-8") == sources_before


def test_sources_add_says_which_advertised_feed_it_chose(project: Project, server: FeedServer) -> None:
    df = _serve_corpus(server, "/df.rss", "netnewswire--DaringFireball.rss")
    _serve_corpus(server, "/rsc.atom", "netnewswire--russcox.atom", content_type="application/atom+xml")
    server.add("/blog", '<html><head>'
                        '<link rel="alternate" type="application/rss+xml" href="/status/500">'
                        '<link rel="alternate" type="application/rss+xml" title="Posts" href="/df.rss">'
                        '<link rel="alternate" type="application/atom+xml" href="/rsc.atom">'
                        "</head><body>blog</body></html>", content_type="text/html")
    code, out, err = run_cli(project.root, "sources", "add", server.url("/blog"), "--id", "df")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"found the feed {df} on {server.url('/blog')}"
    assert lines[1] == f"the page advertises 3 feeds; chose {df}, the first that works. The others:"
    assert lines[2].startswith(f"  {server.url('/status/500')} (failed: HTTP 500")
    assert lines[3] == f"  {server.url('/rsc.atom')}"
    assert lines[4] == "to add another instead: feeds sources add URL"
    assert lines[5] == f"added df: Daring Fireball <{df}>"
    added = tomllib.loads((project.root / "config" / "sources.toml").read_text(encoding="utf-8"))
    assert added["sources"][-1] == {"id": "df", "title": "Daring Fireball", "url": df}
    # A feed given directly lists nothing else.
    code, out, _ = run_cli(project.root, "sources", "add", server.url("/rsc.atom"), "--dry-run")
    assert code == 0 and out.splitlines() == [
        f"added research-rsc: research!rsc <{server.url('/rsc.atom')}>",
        "1 added, 0 duplicate, 0 invalid (dry run: nothing written)"]


# --- status.json is JSON, not a JSON Feed ------------------------------------------


def test_status_json_is_served_as_application_json(project: Project) -> None:
    import threading

    import httpx

    from feeds.cli.serve import make_server

    assert run_cli(project.root, "run")[0] == 0
    assert content_type(Path("status.json")) == "application/json; charset=utf-8"
    assert content_type(Path("all.json")) == "application/feed+json; charset=utf-8"
    server = make_server(project.public, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with httpx.Client(base_url=base, timeout=5) as client:
            status = client.get("/status.json")
            assert status.headers["content-type"] == "application/json; charset=utf-8"
            assert "sources" in status.json()
            assert client.get("/all.json").headers["content-type"] == "application/feed+json; charset=utf-8"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _readme_nginx_block() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("```nginx\n") + len("```nginx\n")
    return text[start:text.index("```", start)]


def test_readme_nginx_example_serves_status_json_as_json(project: Project, tmp_path: Path) -> None:
    import shutil
    import socket
    import time

    import httpx
    import pytest

    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    block = _readme_nginx_block()
    assert "location = /status.json" in block and "default_type application/json" in block
    if nginx is None:
        pytest.skip("nginx is not installed: the README's example was only read, not run")
    assert run_cli(project.root, "run")[0] == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    server = (block.replace("listen 80;", f"listen 127.0.0.1:{port};")
              .replace("root /srv/feeds/public;", f"root {project.public};"))
    assert f"127.0.0.1:{port}" in server and str(project.public) in server
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the pytest tmp dir
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n"
        "events { worker_connections 64; }\n"
        f"http {{\naccess_log off;\nclient_body_temp_path {prefix}/cb;\nproxy_temp_path {prefix}/p;\n"
        f"fastcgi_temp_path {prefix}/f;\nuwsgi_temp_path {prefix}/u;\nscgi_temp_path {prefix}/s;\n"
        f"default_type application/octet-stream;\n{server}\n}}\n", encoding="utf-8")
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(prefix)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            status = client.get("/status.json")
            assert status.status_code == 200
            assert status.headers["content-type"] == "application/json; charset=utf-8"
            feed = client.get("/all.json")
            assert feed.headers["content-type"] == "application/feed+json; charset=utf-8"
            assert client.get("/all.atom").headers["content-type"] == "application/atom+xml; charset=utf-8"
    finally:
        proc.terminate()
        proc.wait(10)


# --- licence metadata, and the browser tests' switch --------------------------------


def test_pyproject_license_is_an_spdx_expression() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    assert not any(c.startswith("License ::") for c in project["project"].get("classifiers", []))
    # PEP 639 license expressions need setuptools 77 or later to build.
    (requirement,) = [r for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    assert requirement.replace(" ", "") == "setuptools>=77"


def _fake_bin(tmp_path: Path, *, uid: str = "0", chromium: bool = False) -> tuple[Path, Path]:
    """A PATH with bash, a fake `id` and a fake `apt-get` that only records its arguments."""
    import shutil

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    calls = tmp_path / "apt-calls"
    bash = shutil.which("bash")
    assert bash is not None
    (bin_dir / "bash").symlink_to(bash)
    scripts = {"id": f'#!{bash}\necho {uid}\n',
               "apt-get": f'#!{bash}\necho "$*" >> {calls}\nexit 0\n'}
    if chromium:
        scripts["chromium"] = f"#!{bash}\nexit 0\n"
    for name, text in scripts.items():
        (bin_dir / name).write_text(text, encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    return bin_dir, calls


def _ensure_browser(bin_dir: Path, **env: str) -> str:
    done = subprocess.run([str(bin_dir / "bash"), str(REPO / "scripts" / "ensure-browser")],
                          env={"PATH": str(bin_dir), **env}, capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_test_says_before_it_installs_chromium(tmp_path: Path) -> None:
    bin_dir, calls = _fake_bin(tmp_path)
    out = _ensure_browser(bin_dir)
    assert out.splitlines()[0].startswith(
        "make test: chromium is not installed; installing Debian's chromium for the browser tests "
        "(set FEEDS_SKIP_BROWSER=1 to skip them)")
    assert "install -y -qq chromium" in calls.read_text(encoding="utf-8")


def test_feeds_skip_browser_installs_nothing_except_under_ci(tmp_path: Path) -> None:
    bin_dir, calls = _fake_bin(tmp_path)
    out = _ensure_browser(bin_dir, FEEDS_SKIP_BROWSER="1")
    assert out == "make test: FEEDS_SKIP_BROWSER=1: the browser tests will be skipped\n"
    assert not calls.exists()
    out = _ensure_browser(bin_dir, FEEDS_SKIP_BROWSER="1", CI="true")
    assert out.startswith("make test: FEEDS_SKIP_BROWSER is ignored under CI")
    assert "installing Debian's chromium" in out and calls.exists()


def test_ensure_browser_is_quiet_with_chromium_and_says_why_it_cannot_install(tmp_path: Path) -> None:
    with_it, calls = _fake_bin(tmp_path / "a", chromium=True)
    assert _ensure_browser(with_it) == ""
    not_root, calls = _fake_bin(tmp_path / "b", uid="1000")
    out = _ensure_browser(not_root)
    assert "cannot be installed here" in out and "the browser tests will skip" in out
    assert not calls.exists()


def test_feeds_skip_browser_skips_the_browser_tests_with_a_reason() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_XDIST_WORKER")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "-rs",
         str(REPO / "tests" / "test_browser.py")],
        env={**env, "FEEDS_SKIP_BROWSER": "1"}, capture_output=True, text=True, timeout=120,
        cwd=REPO, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FEEDS_SKIP_BROWSER is set: browser tests skipped" in done.stdout
    assert " passed" not in done.stdout and " failed" not in done.stdout

    from helpers import skip_asked

    assert skip_asked({"FEEDS_SKIP_BROWSER": "1"})
    assert not skip_asked({"FEEDS_SKIP_BROWSER": "1", "CI": "true"})  # CI runs them
    assert not skip_asked({"FEEDS_SKIP_BROWSER": "0"}) and not skip_asked({})
