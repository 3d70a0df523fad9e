"""What every command shares: the global options, echoing the outside world
safely, loading the config, and the one error policy (``report_error``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from feeds.config import load_config
from feeds.errors import ConfigErrors, FeedsError
from feeds.logs import scrub, use_url_policy
from feeds.redact import url_policy
from feeds.types import Config


@dataclass(frozen=True)
class Options:
    root: Path
    verbosity: int  # -1 quiet, 0 normal, 1 verbose
    log_format: str = "text"


def say(text: str, *, err: bool = False) -> None:
    """Echo a line that quotes the outside world (titles, server replies, URLs):
    credentials redacted, control characters shown as escapes."""
    click.echo(scrub(text), err=err)


def report_error(exc: FeedsError | OSError) -> int:
    """Print ``exc`` as ``error: …`` lines on standard error; return the exit code.

    The one place a command's failure reaches the user: commands raise, and the
    group (``feeds.cli.main``) calls this once. An error's text may quote a
    server, a feed or a file, so it goes out redacted and terminal-safe.
    """
    if isinstance(exc, ConfigErrors):
        for error in exc.errors:
            say(f"error: {error}", err=True)
        if exc.summary:
            click.echo(exc.summary, err=True)
        return exc.exit_code
    if isinstance(exc, FeedsError):
        say(f"error: {exc}", err=True)
        return exc.exit_code
    # An OSError no command expected: a full disk, a folder that cannot be written.
    what = exc.strerror or str(exc)
    say(f"error: {exc.filename}: {what}" if exc.filename else f"error: {what}", err=True)
    return FeedsError.exit_code


def load(root: Path) -> Config:
    """The project's config; raises ``ConfigErrors`` with every problem found."""
    config = load_config(root)
    use_url_policy(url_policy(config.settings))
    return config


def check_templates(config: Config, *, always: bool = False) -> None:
    """Raise ``ConfigErrors`` when a template does not render with sample data.
    ``always``: check the shipped templates too (``feeds check``); otherwise only a
    project that has ``config/templates/`` pays for the check."""
    from feeds.publish.templating import has_overrides

    if not always and not has_overrides(config.root):
        return
    from feeds.publish.templating import check_templates as problems_in

    errors = problems_in(config.root)
    if errors:
        raise ConfigErrors(errors, what="the templates")


def lock_path(config: Config) -> Path:
    return config.settings.state_path.with_name("feeds.run.lock")


def plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"
