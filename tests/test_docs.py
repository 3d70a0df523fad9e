"""The operations guide documents every config key and every command, as they are."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import click

from feeds.cli.commands import cli
from feeds.config import parse_duration
from feeds.reference import REFERENCE, reference_markdown
from feeds.types import FetchSettings, Settings

REPO = Path(__file__).parent.parent
DOC = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")


def test_config_reference_in_the_docs_is_the_generated_one() -> None:
    assert reference_markdown() in DOC, "regenerate it with: feeds check --reference"


def test_documented_defaults_are_the_real_ones() -> None:
    fetch = FetchSettings()
    site = Settings(title="t", base_url="https://x.test/")
    for heading, docs in REFERENCE.items():
        obj = fetch if heading.startswith("[fetch]") else site if heading.startswith("[site]") else None
        if obj is None:
            continue
        for d in docs:
            if d.default in ("required", "none", "the title"):
                continue
            real = getattr(obj, d.name)
            if isinstance(real, timedelta):
                assert parse_duration(d.default.strip('"')) == real, d.name
            elif isinstance(real, Path):
                assert Path(d.default.strip('"')) == real, d.name
            elif isinstance(real, str):
                assert d.default.strip('"') == real, d.name
            elif isinstance(real, bool):
                assert d.default == str(real).lower(), d.name
            elif isinstance(real, tuple):
                assert d.default == "[" + ", ".join(f'"{x}"' for x in real) + "]", d.name
            else:
                assert float(d.default) == real, d.name


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            out += _commands(command, path)
        else:
            out.append((path, command))
    return out


def test_every_command_and_option_is_documented() -> None:
    sections = dict(re.findall(r"### `(feeds [a-z ]+)`\n(.*?)(?=\n### |\Z)", DOC, flags=re.S))
    commands = _commands(cli, "feeds")
    assert {path for path, _c in commands} == set(sections)
    for path, command in commands:
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                names = [o for o in param.opts if o.startswith("--")] or param.opts
                assert any(f"`{n}" in sections[path] for n in names), f"{path}: {names}"
    for param in cli.params:
        if isinstance(param, click.Option):
            assert any(f"`{o}" in DOC for o in param.opts), param.opts


def test_every_test_the_threat_model_names_exists() -> None:
    """docs/security.md points at tests by name; a renamed or removed test must not
    leave the threat model pointing at nothing."""
    text = (REPO / "docs" / "security.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\b(test_[a-z0-9_]+)\b", text))
    defined: set[str] = set()
    for path in (REPO / "tests").rglob("test_*.py"):
        source = path.read_text(encoding="utf-8")
        defined.update(re.findall(r"^(?:async )?def (test_[a-z0-9_]+)", source, re.M))
    files = {p.stem for p in (REPO / "tests").rglob("test_*.py")}
    assert sorted(named - defined - files) == []


def test_every_module_is_in_the_design() -> None:
    """docs/design.md's module table names every module of the package by its path."""
    text = (REPO / "docs" / "design.md").read_text(encoding="utf-8")
    package = REPO / "feeds"
    modules = sorted(p.relative_to(package).as_posix() for p in package.rglob("*.py")
                     if p.name not in ("__init__.py", "__main__.py"))
    assert [m for m in modules if f"| `{m}` |" not in text] == []
