"""The command line's one error policy: every FeedsError (and a stray OSError)
becomes one redacted, terminal-safe ``error: …`` line and its class's exit code;
the state names are one set each, shared by the CLI and the status outputs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import pytest
from conftest import Project
from helpers import run_cli

from feeds import errors
from feeds.config import load_config
from feeds.publish.status import PAGE_STATES
from feeds.store.state import Store
from feeds.types import SourceHealth


@pytest.mark.parametrize(("name", "args", "code"), [
    ("ConfigError", ("config/feeds.toml", "bad"), 2),
    ("ConfigErrors", ([errors.ConfigError("config/feeds.toml", "bad")],), 2),
    ("UsageError", ("unknown topic",), 2),
    ("LockedError", ("another run holds the lock",), 3),
    ("StateError", ("damaged",), 1),
    ("EmitError", ("ai", "feedgen refused"), 1),
    ("FetchError", ("src", "HTTP 500"), 1),
    ("FeedsError", ("anything else",), 1),
])
def test_each_error_class_carries_its_exit_code(name: str, args: tuple[object, ...], code: int) -> None:
    error = getattr(errors, name)(*args)
    assert error.exit_code == code


def test_an_os_error_in_a_command_is_one_clear_line_not_a_traceback(project: Project) -> None:
    (project.root / "a-file").write_text("not a folder", encoding="utf-8")
    target = project.root / "a-file" / "subscriptions.opml"
    code, out, err = run_cli(project.root, "sources", "export", "-o", str(target))
    assert code == 1
    assert err.startswith("error: ") and "a-file" in err and len(err.splitlines()) == 1, err
    assert "Traceback" not in out + err


def test_a_stranger_s_control_characters_in_an_error_are_shown_escaped(project: Project) -> None:
    # A topic name pasted from somewhere, carrying a terminal title escape.
    code, _out, err = run_cli(project.root, "topics", "preview", "ai\x1b]0;owned\x07")
    assert code == 2
    assert "\x1b" not in err and "\x07" not in err
    assert "error: unknown topic 'ai\\x1b]0;owned\\x07'" in err


def test_status_hides_a_header_secret_that_a_server_echoed(project: Project) -> None:
    (project.root / "config" / "sources.toml").write_text(
        '[[sources]]\nid = "private"\nurl = "https://feeds.example/feed.xml"\n'
        '[sources.headers]\nX-Api-Token = "tok-5f2a9c7e"\n', encoding="utf-8")
    config = load_config(project.root)
    config.settings.state_path.parent.mkdir(parents=True, exist_ok=True)
    with Store(config.settings.state_path) as store, store.transaction():
        store.save_health(SourceHealth(
            "private", state="failing", failures=1, last_attempt=datetime(2026, 1, 2, tzinfo=UTC),
            last_error="HTTP 401: token tok-5f2a9c7e is not valid"))
    code, out, _err = run_cli(project.root, "status", "--json")
    assert code == 0
    (row,) = json.loads(out)["sources"]
    assert row["state"] == "failing" and "HTTP 401" in row["note"]
    assert "tok-5f2a9c7e" not in out


def test_each_family_of_states_is_one_set() -> None:
    from feeds.cli.status import _STATE_ORDER
    from feeds.types import HealthState, PageState, SourceState

    assert PAGE_STATES and set(PAGE_STATES) == set(get_args(PageState))
    assert set(_STATE_ORDER) == set(get_args(SourceState))
    # Every stored state is also one that `feeds status` can show and sort.
    assert set(get_args(HealthState)) <= set(get_args(SourceState))


def test_the_console_script_and_python_m_reach_the_same_group() -> None:
    import tomllib

    from feeds.cli import commands, main

    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["feeds"] == "feeds.cli.main:main"
    assert commands.cli is main.cli and commands.main is main.main
