"""Topic regexes meet text that strangers write: no pattern may let a headline stall a run."""

from __future__ import annotations

import re

import pytest
from conftest import Project
from helpers import run_cli

from feeds.stories.classify import UnsupportedRegex, regex_pattern

# Each takes exponential (or high polynomial) time in a backtracking engine on its input.
CATASTROPHIC = [
    (r"(a+)+$", "a" * 40 + "!", False),
    (r"^(a|a)*$", "a" * 40 + "!", False),
    (r"^(\w+\s?)*$", "word " * 30 + "!", False),
    (r"(.*a){20}b", "a" * 5000, False),
    (r"(x+x+)+y", "x" * 5000, False),
    (r"(x+x+)+y", "x" * 5000 + "y", True),
]


def _add_topic(project: Project, body: str) -> None:
    path = project.root / "config" / "feeds.toml"
    path.write_text(path.read_text(encoding="utf-8") + "\n[topics.slow]\n" + body + "\n", encoding="utf-8")


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("expression", "text", "found"), CATASTROPHIC)
def test_catastrophic_patterns_search_in_linear_time(expression: str, text: str, found: bool) -> None:
    assert bool(regex_pattern(expression).search(text)) is found


@pytest.mark.timeout(30)
def test_a_nested_quantifier_does_not_stall_a_run(project: Project) -> None:
    """The reported case: ``(a+)+$`` and a title of forty "a" and a "!" kept the run busy
    until it was killed."""
    _add_topic(project, 'title = "Slow"\nregex = ["(a+)+$", "(x+x+)+y"]')
    (project.root / "seeds" / "001_redos.txt").write_text(
        "Saturday, July 13, 2024\n\n" + "a" * 40 + "!\n\n" + "x" * 3000 + "\n", encoding="utf-8")
    code, _out, err = run_cli(project.root, "run")
    assert code == 0, err
    assert ("a" * 40 + "!") in (project.public / "all.atom").read_text(encoding="utf-8")


@pytest.mark.parametrize("expression", [r"(?<=GPT-)\d", r"(GPT)-\1", r"GPT\Z", r"(?x) GPT \d"])
def test_regex_that_re2_cannot_run_is_a_config_error(project: Project, expression: str) -> None:
    escaped = expression.replace("\\", "\\\\")
    _add_topic(project, f'title = "Slow"\nregex = ["{escaped}"]')
    line = (project.root / "config" / "feeds.toml").read_text(encoding="utf-8").splitlines().index(
        f'regex = ["{escaped}"]') + 1
    code, _out, err = run_cli(project.root, "check")
    assert code == 2
    assert re.search(rf"config/feeds.toml:{line}: topic 'slow': regular expression "
                     rf"{re.escape(repr(expression))}: RE2, which runs topic regexes in linear time, "
                     r"cannot run it \(.+\)", err), err
    assert "Traceback" not in err
    # `feeds run` validates the same way and publishes nothing with a broken rule.
    code, _out, err = run_cli(project.root, "run")
    assert code == 2 and "topic 'slow': regular expression" in err


def test_word_boundary_beside_a_non_ascii_letter_is_refused() -> None:
    """RE2's \\b is ASCII: r"\\bÖkonomie\\b" would silently never match "die Ökonomie"."""
    with pytest.raises(UnsupportedRegex, match="non-ASCII"):
        regex_pattern(r"\bÖkonomie\b")
    with pytest.raises(UnsupportedRegex):
        regex_pattern(r"caf\xe9\b".replace("\\xe9", "\u00e9"))
    assert regex_pattern(r"\\bÖ").search("\\bö")  # an escaped backslash, then a literal b
    assert regex_pattern(r"\bGPT-\d+\b").search("OpenAI ships gpt-5 today")


def test_case_rules_of_regexes_are_kept() -> None:
    assert regex_pattern(r"(?-i:AI)").search("AI wins") and not regex_pattern(r"(?-i:AI)").search("ai wins")
    assert regex_pattern(r"straße").search("STRASSE") is None  # simple case folding only, as in re
    assert regex_pattern(r"é").search("É")
