"""Operators' view of topic rules: explain, preview, diff, lint."""

from __future__ import annotations

import re
import subprocess

from conftest import Project
from helpers import SEED_TITLE, run_cli

NEW_POLICY = """
[topics.internet-policy]
title = "Internet policy"
keywords = ["net neutrality"]
"""


def _feeds_toml(project: Project) -> str:
    return (project.root / "config" / "feeds.toml").read_text(encoding="utf-8")


def _write_feeds(project: Project, text: str) -> None:
    (project.root / "config" / "feeds.toml").write_text(text, encoding="utf-8")


def _replace_policy(text: str) -> str:
    start = text.index("[topics.internet-policy]")
    end = text.index("[topics.chips]")
    return text[:start] + NEW_POLICY.strip() + "\n\n" + text[end:]


def test_explain_says_why_and_gives_the_nearest_miss(project: Project) -> None:
    assert run_cli(project.root, "run")[0] == 0
    link = "https://feeds.test/articles/seeds/000-b68ede34d4090fc6.html"
    code, out, _ = run_cli(project.root, "explain", link)
    assert code == 0
    assert f": {SEED_TITLE}" in out
    # Each term with where it was found and what it added, against the threshold.
    assert re.search(r"\bin ai: score 2 of 1 needed: AI \(lead \+2\) \[rule 1 \(line \d+\)\]\n", out)
    assert re.search(r"\bin internet-policy: score 3 of 1 needed: restriction \(title \+3\), "
                     r"internet \(title, required\), tech \(title, required\) \[rule 1 \(line \d+\)\]\n", out)
    # Chips are named in the body only, which rules do not read.
    assert re.search(r"not in chips: rule 1 \(line \d+\): none of its keywords\n", out)


def test_preview_lists_what_a_topic_would_hold(project: Project) -> None:
    assert run_cli(project.root, "run")[0] == 0
    code, out, _ = run_cli(project.root, "topics", "preview", "ai")
    assert code == 0
    assert out.splitlines() == ["ai: 1 entry of 1", f"  {SEED_TITLE}"]
    assert run_cli(project.root, "topics", "preview", "nope")[0] == 2


def test_diff_against_a_file_then_the_change_goes_live(project: Project) -> None:
    assert run_cli(project.root, "run")[0] == 0
    before = project.root / "before.toml"
    before.write_text(_feeds_toml(project), encoding="utf-8")
    _write_feeds(project, _replace_policy(_feeds_toml(project)))
    code, out, _ = run_cli(project.root, "topics", "diff", "--against", str(before))
    assert code == 0
    assert out.startswith(f"from {before} to the working config (config/), over 1 stored entry:")
    assert "internet-policy: 0 would enter, 1 would leave" in out
    assert f"  - {SEED_TITLE}" in out
    assert "ai:" not in out
    # Nothing was published by the diff; the next run applies the change.
    assert SEED_TITLE in (project.public / "internet-policy.atom").read_text(encoding="utf-8")
    assert run_cli(project.root, "run")[0] == 0
    assert SEED_TITLE not in (project.public / "internet-policy.atom").read_text(encoding="utf-8")
    assert SEED_TITLE in (project.public / "ai.atom").read_text(encoding="utf-8")


def test_diff_against_a_git_revision(project: Project) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(project.root), *args], check=True, capture_output=True, timeout=30)

    git("init", "-q")
    git("-c", "user.email=t@t", "-c", "user.name=t", "add", "config")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "config")
    _write_feeds(project, _replace_policy(_feeds_toml(project)))
    assert run_cli(project.root, "run")[0] == 0
    code, out, _ = run_cli(project.root, "topics", "diff", "--against", "HEAD")
    assert code == 0
    assert out.startswith("from HEAD to the working config (config/)")
    assert "internet-policy: 0 would enter, 1 would leave" in out
    code, _out, err = run_cli(project.root, "topics", "diff", "--against", "no-such-rev")
    assert code == 2 and "neither a file, a folder nor a git revision" in err


def test_check_lints_rules_against_stored_entries(project: Project) -> None:
    assert run_cli(project.root, "run")[0] == 0
    text = _feeds_toml(project) + """
[topics.never]
keywords = ["zyzzyva"]

[topics.twin]
include = ["ai"]

[topics.emptied]
keywords = ["China"]
exclude = ["conference"]
"""
    _write_feeds(project, text)
    code, out, _ = run_cli(project.root, "check")
    assert code == 0
    assert "warning: config/feeds.toml: topic 'never' rule 1 (line" in out
    assert "matches none of the 1 stored entries" in out
    assert "topic 'emptied': its exclusions remove every entry its rules match (1)" in out
    assert "topics 'ai' and 'twin' hold exactly the same 1 stored entries" in out


def test_invalid_regex_names_the_position(project: Project) -> None:
    _write_feeds(project, _feeds_toml(project) + '\n[topics.bad]\nregex = ["GPT-(\\\\d+"]\n')
    code, _out, err = run_cli(project.root, "check")
    assert code == 2
    assert "topic 'bad': invalid regular expression 'GPT-(\\\\d+' at position 4: missing )" in err


def test_rule_that_matches_everything_is_refused(project: Project) -> None:
    _write_feeds(project, _feeds_toml(project) + '\n[topics.bad]\ntitle = "x"\n\n'
                                                 '[[topics.bad.rules]]\nexclude = ["x"]\n')
    code, _out, err = run_cli(project.root, "check")
    assert code == 2 and "topic 'bad' rule 1 has no keywords" in err


def test_topic_includes_are_checked(project: Project) -> None:
    extra = ('\n[topics.a1]\ninclude = ["b1"]\n\n[topics.b1]\ninclude = ["a1"]\n'
             '\n[topics.c1]\ninclude = ["nope"]\n')
    _write_feeds(project, _feeds_toml(project) + extra)
    code, _out, err = run_cli(project.root, "check")
    assert code == 2
    assert "topic 'a1' includes itself through its included topics" in err
    assert "topic 'c1' includes unknown topic 'nope'" in err


def test_topic_output_settings(project: Project) -> None:
    chips = '[topics.chips]\ntitle = "Chips"'
    _write_feeds(project, _feeds_toml(project).replace(chips, chips + "\nindex = false\nmax_entries = 1"))
    article = "---\ntitle: New chips arrive\ndate: 2026-01-02\n---\nChips.\n"
    (project.root / "seeds" / "b.md").write_text(article, encoding="utf-8")
    assert run_cli(project.root, "run")[0] == 0
    index = (project.public / "index.html").read_text(encoding="utf-8")
    assert 'id="chips"' not in index and 'id="ai"' in index
    assert (project.public / "chips.atom").read_text(encoding="utf-8").count("<entry>") == 1
