"""The ``feeds`` command, as older entry points name it: see ``feeds.cli.main``."""

from feeds.cli.main import cli, main

__all__ = ["cli", "main"]
