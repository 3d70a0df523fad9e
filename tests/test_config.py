"""Config validation: every problem is one line with file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project
from helpers import errors_of

from feeds.config import load_config, locate_keys
from feeds.errors import ConfigErrors

MINIMAL = """\
[site]
title = "T"
base_url = "https://x.test/"

[topics.ai]
keywords = ["AI"]
"""


def test_valid_config_loads_with_defaults(project: Project) -> None:
    (project.root / "config" / "feeds.toml").write_text(MINIMAL, encoding="utf-8")
    config = load_config(project.root)
    s = config.settings
    assert s.base_url == "https://x.test/"
    assert s.output_dir == project.root.resolve() / "public"
    assert s.state_path == project.root.resolve() / "var" / "state.db"
    assert (s.max_entries, s.retention_days, s.language, s.author) == (50, 90, "en", "T")
    assert s.fetch.concurrency == 8
    assert config.sources[0].path == (project.root / "seeds").resolve()


def test_base_url_gets_a_trailing_slash(project: Project) -> None:
    (project.root / "config" / "feeds.toml").write_text(
        MINIMAL.replace("https://x.test/", "https://x.test/feeds"), encoding="utf-8")
    assert load_config(project.root).settings.base_url == "https://x.test/feeds/"


@pytest.mark.parametrize(("feeds", "expected"), [
    (MINIMAL + "\n[fetch]\nconcurency = 3\n",
     "config/feeds.toml:9: unknown key 'concurency' in [fetch] (did you mean 'concurrency'?)"),
    (MINIMAL.replace('title = "T"', "title = 3"),
     "config/feeds.toml:2: site 'title' must be a string, not an integer"),
    (MINIMAL.replace('base_url = "https://x.test/"', 'base_url = "ftp://x.test/"'),
     "config/feeds.toml:3: site 'base_url' 'ftp://x.test/' is not an http(s) URL"),
    (MINIMAL + "\n[fetch]\nconcurrency = 0\n",
     "config/feeds.toml:9: fetch 'concurrency' must be greater than 0, not 0"),
    (MINIMAL + "\n[fetch]\nread_timeout = \"soon\"\n",
     "config/feeds.toml:9: fetch 'read_timeout' must be a number, not a string"),
    (MINIMAL.replace('base_url = "https://x.test/"\n', ""),
     "config/feeds.toml:1: site has no base_url (the public address of the output folder)"),
    (MINIMAL + "\n[topics.all]\nkeywords = [\"x\"]\n",
     "config/feeds.toml:8: topic id 'all' is reserved for the feed of all entries or the index"),
    (MINIMAL.replace('keywords = ["AI"]', 'keywords = ["AI", 3]'),
     "config/feeds.toml:6: topic 'ai' 'keywords' must be a list of non-empty strings, found 3"),
    (MINIMAL.replace('keywords = ["AI"]', 'keyword = ["AI"]'),
     "config/feeds.toml:6: unknown key 'keyword' in topic 'ai' (did you mean 'keywords'?)"),
    ("[site\ntitle = 1\n",
     "config/feeds.toml:1: not valid TOML: Expected ']' at the end of a table declaration, column 6"),
])
def test_feeds_toml_errors(project: Project, feeds: str, expected: str) -> None:
    assert expected in errors_of(project, feeds=feeds)


SOURCES = """\
[[sources]]
id = "seeds"
path = "seeds"

[[sources]]
id = "ars"
title = "Ars"
url = "https://ars.test/feed"
topics = ["ai"]
"""


@pytest.mark.parametrize(("sources", "expected"), [
    (SOURCES.replace('url = "https://ars.test/feed"\n', ""),
     "config/sources.toml:5: source 'ars' has no url or path (give one)"),
    (SOURCES + '\n[[sources]]\nid = "ars"\nurl = "https://b.test/"\n',
     "config/sources.toml:12: source id 'ars' is used twice (first at line 6)"),
    (SOURCES.replace("https://ars.test/feed", "htp:/ars"),
     "config/sources.toml:8: source 'ars' 'url' 'htp:/ars' is not an http(s) URL"),
    (SOURCES.replace('topics = ["ai"]', 'topics = ["ia"]'),
     "config/sources.toml:9: source 'ars': unknown topic 'ia' (known: ai, chips, internet-policy)"),
    (SOURCES.replace('path = "seeds"', 'path = "nowhere"'),
     "config/sources.toml:3: source 'seeds': path 'nowhere' is not a readable folder"),
    (SOURCES.replace('title = "Ars"', 'titel = "Ars"'),
     "config/sources.toml:7: unknown key 'titel' in source 'ars' (did you mean 'title'?)"),
    (SOURCES.replace('id = "ars"', 'id = "Ars Technica"'),
     "config/sources.toml:6: source 'Ars Technica': id must be lower-case letters, digits, '-' or '_'"),
    (SOURCES.replace('id = "ars"\n', ""), "config/sources.toml:5: source number 2 has no id"),
    (SOURCES + "enabled = \"yes\"\n",
     "config/sources.toml:10: source 'ars' 'enabled' must be true or false, not a string"),
])
def test_sources_toml_errors(project: Project, sources: str, expected: str) -> None:
    assert expected in errors_of(project, sources=sources)


def test_all_problems_are_reported_at_once(project: Project) -> None:
    bad_sources = SOURCES.replace('topics = ["ai"]', 'topics = ["ia"]') + '\n[[sources]]\nid = "x"\n'
    errors = errors_of(project, feeds=MINIMAL + "\n[fetch]\nfoo = 1\n", sources=bad_sources)
    assert len(errors) == 3


def test_missing_config_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors) as info:
        load_config(tmp_path)
    assert "config/feeds.toml: not found" in str(info.value)
    assert "--root" in str(info.value)


def test_check_command_exit_codes(project: Project) -> None:
    from helpers import run_cli

    assert run_cli(project.root, "check")[0] == 0
    (project.root / "config" / "sources.toml").write_text('[[sources]]\nid = "x"\n', encoding="utf-8")
    code, _out, err = run_cli(project.root, "check")
    assert code == 2
    assert "config/sources.toml:1: source 'x' has no url or path (give one)" in err
    assert "1 problem in the config" in err


def test_locate_keys_handles_arrays_and_multiline_lists() -> None:
    text = '[site]\ntitle = "x"\nlist = [\n  "a = b",\n  "c",\n]\nafter = 1\n\n[[s]]\nid = 1\n[[s]]\nid = 2\n'
    lines = locate_keys(text)
    assert lines[("site", "title")] == 2
    assert lines[("site", "after")] == 7
    assert ("site", '"a') not in lines
    assert lines[("s", 0, "id")] == 10
    assert lines[("s", 1, "id")] == 12


def test_state_url_from_the_config_and_feeds_state_url_over_it(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEEDS_STATE_URL", raising=False)
    assert load_config(project.root).settings.state_url is None  # SQLite by default
    feeds = MINIMAL.replace("[site]\n", '[site]\nstate_url = "postgresql://feeds@db.example/feeds"\n')
    (project.root / "config" / "feeds.toml").write_text(feeds, encoding="utf-8")
    assert load_config(project.root).settings.state_url == "postgresql://feeds@db.example/feeds"
    monkeypatch.setenv("FEEDS_STATE_URL", "postgresql://other@127.0.0.1/x")
    assert load_config(project.root).settings.state_url == "postgresql://other@127.0.0.1/x"


def test_a_state_url_that_is_not_postgres_is_refused(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEEDS_STATE_URL", raising=False)
    feeds = MINIMAL.replace("[site]\n", '[site]\nstate_url = "mysql://db/x"\n')
    assert any("state_url" in e and "PostgreSQL URL" in e for e in errors_of(project, feeds=feeds))
    monkeypatch.setenv("FEEDS_STATE_URL", "var/other.db")
    errors = errors_of(project, feeds=MINIMAL)
    assert any("FEEDS_STATE_URL must be a PostgreSQL URL" in e for e in errors)
