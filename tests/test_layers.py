"""The house's floors: every import in ``feeds/`` runs down, never up.

Each sub-package's ``__init__`` says what it may import; this test holds the code
to it. Imports inside functions (the lazy ones) count as much as those at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "feeds"

# Lowest first. A module may import its own floor and the floors below it.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("feeds", "feeds.types", "feeds.errors", "feeds.xmlchars", "feeds.redact", "feeds.reference",
     "feeds.logs"),
    ("feeds.stories",),
    ("feeds.parse",),
    ("feeds.sources",),
    ("feeds.config",),
    ("feeds.store",),
    ("feeds.publish",),
    ("feeds.run",),
    ("feeds.cli", "feeds.__main__"),
)


def floor_of(module: str) -> int:
    best, found = -1, -1
    for level, names in enumerate(FLOORS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, found = len(name), level
    assert found >= 0, f"{module} stands on no floor: add it to FLOORS"
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import of a feeds module in ``path``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "feeds"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "feeds":
            if node.module == "feeds":  # from feeds import x: x may be a sub-package or a module
                found += [(node.lineno, f"feeds.{a.name}") for a in node.names if a.name != "__version__"]
            else:
                found.append((node.lineno, node.module))
    return found


def test_every_import_runs_down() -> None:
    upward: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = module_name(path)
        for line, target in imports_of(path):
            if floor_of(target) > floor_of(here):
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {here} imports {target}")
    assert upward == []


def test_the_stages_are_sub_packages() -> None:
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert {"stories", "parse", "sources", "store", "publish", "run", "cli"} <= packages
    for name in packages:
        doc = ast.get_docstring(ast.parse((PACKAGE / name / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "import" in doc, f"feeds/{name}/__init__.py must say what it owns and may import"


def test_the_floor_check_sees_an_upward_import(tmp_path: Path) -> None:
    # The check itself: a store module that imports the command line is caught.
    assert floor_of("feeds.cli.commands") > floor_of("feeds.store.state")
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from feeds.cli.commands import cli\n", encoding="utf-8")
    assert imports_of(bad) == [(2, "feeds.cli.commands")]


def test_modules_imported_from_test_modules(tmp_path: Path) -> None:
    # A test module shares code through tests/helpers.py (fixtures: conftest.py), never by
    # importing another test module: that runs the other module's import-time work and
    # ties the two files together, so moving or deleting a test breaks unrelated ones.
    def test_modules_imported(path: Path) -> list[str]:
        found: list[str] = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            found += [f"{path.name}:{node.lineno}: imports {name}" for name in names
                      if any(part.startswith("test_") for part in name.split("."))]
        return found

    tests = Path(__file__).resolve().parent
    assert [hit for path in sorted(tests.rglob("*.py")) for hit in test_modules_imported(path)] == []
    bad = tmp_path / "test_bad.py"
    bad.write_text("import os\n\ndef test_x():\n    from test_run import run_cli\n", encoding="utf-8")
    assert test_modules_imported(bad) == ["test_bad.py:4: imports test_run"]
