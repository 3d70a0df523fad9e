"""Hostile files in a local articles folder: each test is a full `feeds run` in a
temporary project, and checks that nothing is written outside the outputs, the
config is untouched, the run succeeds, the other articles publish, and the
warnings name the file."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from conftest import SEED, Project

from feeds.cli.commands import cli

SEED_TITLE = ("China remains optimistic despite US tech restrictions as it advances to next "
              "phase of internet evolution")
SEED_PAGE = "000-b68ede34d4090fc6.html"


def run(project: Project) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--root", str(project.root), "run"], catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def snapshot(top: Path, project: Project) -> dict[str, bytes]:
    """Every file under ``top`` but the outputs and the state, by path."""
    skip = (project.public, project.root / "var")
    out: dict[str, bytes] = {}
    for folder, _dirs, names in os.walk(top):
        if any(Path(folder).is_relative_to(s) for s in skip):
            continue
        for name in names:
            path = Path(folder) / name
            out[path.relative_to(top).as_posix()] = b"" if path.is_symlink() else path.read_bytes()
    return out


def entries(project: Project) -> list[feedparser.FeedParserDict]:
    feed = feedparser.parse((project.public / "all.atom").read_bytes())
    assert not feed.bozo, feed.bozo_exception
    return list(feed.entries)


def pages(project: Project) -> dict[str, str]:
    folder = project.public / "articles" / "seeds"
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}


def md(title: str, link: str) -> str:
    return f"---\ntitle: {title}\ndate: 2026-11-01\nlink: {link}\n---\n\nBody of {title}.\n"


# --- 1: a link must not choose where a page is written ----------------------------------

HOSTILE_LINKS = {
    "escape.md": md("Escape into config", "https://feeds.test/articles/../../config/sources.toml"),
    "pth.md": md("Startup hook", "https://feeds.test/articles/../../../evil.pth"),
    "dots.md": md("Escaped dots", "https://feeds.test/articles/%2e%2e/index.html"),
    "other.md": md("Another page of ours", "https://feeds.test/articles/seeds/" + SEED_PAGE),
    "canonical.html": '<html><head><title>Canonical escape</title>'
                      '<link rel="canonical" href="https://feeds.test/articles/../../config/feeds.toml">'
                      '</head><body><article><h1>Canonical escape</h1><p>Text.</p></article></body></html>',
    "og.html": '<html><head><meta property="og:title" content="OG escape">'
               '<meta property="og:url" content="https://feeds.test/articles/%2E%2E/%2E%2E/x.toml">'
               '</head><body><p>Text.</p></body></html>',
}


def test_article_links_cannot_choose_where_pages_are_written(tmp_path: Path, project: Project) -> None:
    for name, text in HOSTILE_LINKS.items():
        (project.root / "seeds" / name).write_text(text, encoding="utf-8")
    before = snapshot(tmp_path, project)
    for _ in range(2):  # a second run must not trip over what the first left
        code, out = run(project)
        assert code == 0, out
        assert snapshot(tmp_path, project) == before
    for name in HOSTILE_LINKS:
        assert f"warning seeds: {name}: its link" in out
    got = {e.title: e.link for e in entries(project)}
    assert SEED_TITLE in got
    written = pages(project)
    # Each article has its own page, at an address made from its file name.
    for title, stem in [("Escape into config", "escape"), ("Startup hook", "pth"),
                        ("Escaped dots", "dots"), ("Another page of ours", "other"),
                        ("Canonical escape", "canonical"), ("OG escape", "og")]:
        assert got[title] == f"https://feeds.test/articles/seeds/{stem}.html"
        assert f"<h1>{title}</h1>" in written[f"{stem}.html"]
    assert SEED_TITLE in written[SEED_PAGE]
    assert sorted(p.name for p in project.public.rglob("*") if p.is_file()
                  and p.parent == project.public / "articles" / "seeds") == sorted(written)


def test_links_stored_by_an_older_version_never_become_paths(tmp_path: Path, project: Project) -> None:
    """A state DB from before the fix holds links taken from front matter; the file
    they came from is gone, so the entry stays published with that link."""
    (project.root / "seeds" / "legacy.md").write_text(md("Legacy", "https://example.org/x"),
                                                      encoding="utf-8")
    assert run(project)[0] == 0
    db = sqlite3.connect(project.root / "var" / "state.db")
    with db:
        rows = db.execute("SELECT id, data FROM entries").fetchall()
        for eid, data in rows:
            entry = json.loads(data)
            if entry["item_key"] == "file:legacy.md":
                entry["link"] = "https://feeds.test/articles/../../config/sources.toml"
                db.execute("UPDATE entries SET data = ? WHERE id = ?", (json.dumps(entry), eid))
        assert any(json.loads(d)["item_key"] == "file:legacy.md" for _, d in rows)
    db.close()
    (project.root / "seeds" / "legacy.md").unlink()
    before = snapshot(tmp_path, project)
    code, out = run(project)
    assert code == 0, out
    assert snapshot(tmp_path, project) == before
    assert "Legacy" in [e.title for e in entries(project)]
    assert list(pages(project)) == [SEED_PAGE]


# --- 5: YAML aliases and nesting ---------------------------------------------------------


def _alias_bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + f"\ntags: *a{levels - 1}\n"


FRONT_MATTER = {
    # Five levels: 100,000 leaves, small enough to show the old behaviour without
    # hurting the machine; nine took a run past 2.8 GB.
    "bomb.md": f"---\ntitle: Alias bomb\n{_alias_bomb(5)}---\n\nBody.\n",
    "anchor.md": "---\ntitle: &t Anchored title\nsummary: *t\n---\n\nBody.\n",
    "deep-yaml.md": "---\ntitle: Deep YAML\ntags: " + "[" * 3000 + "]" * 3000 + "\n---\n\nBody.\n",
    "deep-toml.md": '+++\ntitle = "Deep TOML"\ntags = ' + "[" * 3000 + "]" * 3000 + "\n+++\n\nBody.\n",
    "huge.md": "---\ntitle: Huge front matter\nsummary: " + "y" * 70_000 + "\n---\n\nBody.\n",
}


FRONT_MATTER_WARNINGS = {
    "bomb.md": "front matter is not valid YAML: anchors and aliases (& and *) are not allowed",
    "anchor.md": "front matter is not valid YAML: anchors and aliases",
    "deep-yaml.md": "front matter is not valid YAML: nested more than",
    "deep-toml.md": "front matter is not valid TOML: nested too deeply",
    "huge.md": "front matter is longer than 65,536 characters",
}


@pytest.mark.parametrize("name", sorted(FRONT_MATTER))
def test_front_matter_without_aliases_and_bounded(tmp_path: Path, project: Project, name: str) -> None:
    (project.root / "seeds" / name).write_text(FRONT_MATTER[name], encoding="utf-8")
    (project.root / "seeds" / "fine.md").write_text(md("A fine article", "https://example.org/fine"),
                                                    encoding="utf-8")
    before = snapshot(tmp_path, project)
    started = time.monotonic()
    code, out = run(project)
    assert code == 0, out
    assert time.monotonic() - started < 30  # a bound, not a timing: nine levels took minutes
    assert snapshot(tmp_path, project) == before
    warning = next((x for x in out.splitlines() if f"warning seeds: {name}:" in x), "")
    assert FRONT_MATTER_WARNINGS[name] in warning, out
    titles = sorted(e.title for e in entries(project))
    assert titles == sorted([SEED_TITLE, "A fine article"])


# --- 6: symbolic links -------------------------------------------------------------------


def test_symlinks_in_the_folder_are_not_followed(tmp_path: Path, project: Project) -> None:
    secret = project.root / ".env.secret"
    secret.write_text("Secret headline\n\nSECRET-TOKEN-1234 lives here.\n", encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "story.txt").write_text("Outside headline\n\nOUTSIDE-TEXT-5678.\n", encoding="utf-8")
    seeds = project.root / "seeds"
    (seeds / "passwd.txt").symlink_to("/etc/passwd")
    (seeds / "secret.txt").symlink_to("../.env.secret")
    (seeds / "dangling.txt").symlink_to("../nowhere.txt")
    (seeds / "elsewhere").symlink_to(outside, target_is_directory=True)
    (seeds / "sub").mkdir()
    (seeds / "sub" / "inner.txt").symlink_to("../" + SEED.name)  # inside the folder: still a link
    (seeds / "sub" / "real.txt").write_text("2026-11-01\n\nA real article\n\nIt is here.\n",
                                            encoding="utf-8")
    before = snapshot(tmp_path, project)
    code, out = run(project)
    assert code == 0, out
    assert snapshot(tmp_path, project) == before
    for name in ("passwd.txt", "secret.txt", "dangling.txt", "sub/inner.txt"):
        assert f"warning seeds: {name}: skipped, a symbolic link" in out
    assert "warning seeds: elsewhere/: skipped, a symbolic link" in out
    assert sorted(e.title for e in entries(project)) == sorted([SEED_TITLE, "A real article"])
    for path in project.public.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            assert b"SECRET-TOKEN" not in text and b"OUTSIDE-TEXT" not in text
            assert b"root:x:0" not in text


# --- 11: page names ----------------------------------------------------------------------

COLLIDING = {
    "a b.txt": "Spaced name",
    "A-B.txt": "Capital name",
    "x.md": "Markdown twin",
    "x.html": "HTML twin",
    "日本のAI.txt": "Japanese name",
    "中国のAI.txt": "Chinese name",
    "ai.txt": "Plain AI",
    "Москва.txt": "Cyrillic name",
    "sub/story.txt": "Sub story",
    "sub-story.txt": "Hyphen story",
}


def _write_colliding(seeds: Path) -> None:
    for name, title in COLLIDING.items():
        path = seeds / name
        path.parent.mkdir(exist_ok=True)
        if name.endswith(".md"):
            path.write_text(f"---\ntitle: {title}\ndate: 2026-11-01\n---\n\nBody.\n", encoding="utf-8")
        elif name.endswith(".html"):
            path.write_text(f"<html><head><title>{title}</title></head><body><p>Body.</p></body></html>",
                            encoding="utf-8")
        else:
            path.write_text(f"2026-11-01\n\n{title}\n\nBody of the story.\n", encoding="utf-8")


def test_every_file_gets_its_own_page_and_keeps_it(tmp_path: Path, project: Project) -> None:
    _write_colliding(project.root / "seeds")
    code, out = run(project)
    assert code == 0, out
    links = {e.title: e.link for e in entries(project)}
    assert set(links) == {*COLLIDING.values(), SEED_TITLE}
    assert len(set(links.values())) == len(links)
    written = pages(project)
    assert len(written) == len(links)
    prefix = "https://feeds.test/articles/seeds/"
    for title, link in links.items():
        assert link.startswith(prefix)
        assert f"<h1>{title}</h1>" in written[link.removeprefix(prefix)]
    # Names that collide with nothing keep the address they always had.
    assert links[SEED_TITLE] == prefix + SEED_PAGE
    assert links["Plain AI"] == prefix + "ai.html"
    # Other scripts are transliterated, not dropped.
    assert "ribennoai" in links["Japanese name"] and "moskva" in links["Cyrillic name"]
    # Adding a file does not move the others, and a second run gives the same names.
    (project.root / "seeds" / "later.txt").write_text("2026-11-02\n\nLater story\n\nText.\n",
                                                      encoding="utf-8")
    assert run(project)[0] == 0
    again = {e.title: e.link for e in entries(project)}
    assert {t: again[t] for t in links} == links
    assert again["Later story"] == prefix + "later.html"


# --- issue 16: files that are not text ---------------------------------------------------

NOT_TEXT = {
    "photo.png": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "PNG image"),
    "scan.jpg": (b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"x" * 500, "JPEG image"),
    "anim.gif": (b"GIF89a" + b"\x01\x00\x01\x00" + b"y" * 300, "GIF image"),
    "story.pdf": (b"%PDF-1.7\nHeadline in a PDF\n\nbody\n", "PDF document"),
    "bundle.zip": (b"PK\x03\x04" + b"z" * 300, "ZIP archive"),
    "nul.txt": (b"2026-11-01\n\nNUL headline\n\nbody\x00\x00body\n", "NUL bytes"),
    "utf16-no-bom.txt": ("Sixteen headline\n\nbody\n".encode("utf-16-le"), "NUL bytes"),
    "empty.txt": (b"", "empty"),
    "blank.md": (b"\xef\xbb\xbf  \r\n\t\n", "empty"),
    "undecodable.txt": (b"Bad bytes headline \x81\x8d\x8f\x90\x9d\n\nbody\n", "not text"),
    "liar.html": (b'<html><head><meta charset="utf-8"><title>Liar \xff\xfe</title></head>'
                  b"<body><p>x</p></body></html>", "not valid UTF-8"),
    "controls.txt": (bytes(range(1, 9)) * 40 + b"\nControl headline\n", "control characters"),
}


def test_files_that_are_not_text_are_skipped(tmp_path: Path, project: Project) -> None:
    seeds = project.root / "seeds"
    for name, (body, _) in NOT_TEXT.items():
        (seeds / name).write_bytes(body)
    (seeds / "big.txt").write_bytes(b"Big headline\n\n" + b"word " * (1_100_000))
    # Text in a declared charset other than UTF-8 is text.
    (seeds / "greek.html").write_bytes(
        '<html><head><meta charset="iso-8859-7"><title>Καλημέρα κόσμε</title></head>'
        "<body><p>Κείμενο.</p></body></html>".encode("iso-8859-7"))
    (seeds / "utf16.txt").write_bytes("2026-11-01\n\nSixteen with a mark\n\nbody\n".encode("utf-16"))
    before = snapshot(tmp_path, project)
    code, out = run(project)
    assert code == 0, out
    assert snapshot(tmp_path, project) == before
    for name, (_, why) in NOT_TEXT.items():
        line = next((x for x in out.splitlines() if f"warning seeds: {name}: skipped" in x), "")
        assert why in line, (name, out)
    assert "warning seeds: big.txt: skipped, larger than" in out
    titles = sorted(e.title for e in entries(project))
    assert titles == sorted([SEED_TITLE, "Καλημέρα κόσμε", "Sixteen with a mark"])


def test_a_fifo_in_the_folder_does_not_hang_the_run(project: Project) -> None:
    os.mkfifo(project.root / "seeds" / "fifo.txt")
    code, out = run(project)
    assert code == 0, out
    assert "warning seeds: fifo.txt: skipped, not a regular file" in out
    assert [e.title for e in entries(project)] == [SEED_TITLE]


# --- huge Markdown: its cost is bounded -------------------------------------------------


@pytest.mark.timeout(60)
def test_huge_markdown_is_published_as_text_with_a_warning(project: Project) -> None:
    # 4 MB of "*a" took markdown-it about 50 s, on every run, since local files are
    # read again each time.
    body = "Opening words about AI.\n\n" + "*a" * 2_000_000
    (project.root / "seeds" / "huge.md").write_text(
        f"---\ntitle: Huge Markdown article\ndate: 2026-11-01\n---\n\n{body}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--root", str(project.root), "-v", "run"], catch_exceptions=False)
    out = result.stdout + result.stderr
    assert result.exit_code == 0, out
    assert "huge.md: Markdown over 262,144 characters; published as plain text" in out
    by_title = {e.title: e for e in entries(project)}
    assert SEED_TITLE in by_title
    huge = by_title["Huge Markdown article"]
    text = huge.content[0].value if huge.get("content") else huge.summary
    assert "Opening words about AI." in text and "<em>" not in text
