"""The ``feeds`` command group: global options, logging set-up, the error policy,
``feeds init`` and ``feeds serve``, the examples in each command's help, and
``main()``.

Exit codes: 0 ran and published; 1 published nothing, a failed source under
``--strict``, or an internal error; 2 usage or config error; 3 another run
holds the lock. A command that fails raises; ``FeedsGroup`` reports the error
once and exits with the error class's ``exit_code`` (``feeds.errors``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from feeds import __version__
from feeds.cli.common import Options, load, report_error
from feeds.cli.run import daemon, run
from feeds.cli.sources import sources
from feeds.cli.state import state
from feeds.cli.status import status
from feeds.cli.topics import check, explain, topics
from feeds.cli.worker import worker
from feeds.errors import FeedsError, UsageError
from feeds.logs import setup_logging


class FeedsGroup(click.Group):
    """A group whose commands report a ``FeedsError`` (or a stray ``OSError``) as
    ``error: …`` on standard error and exit with its code, never with a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise  # the reader went away (`| head`): click exits quietly
        except (FeedsError, OSError) as exc:
            ctx.exit(report_error(exc))


@click.group(cls=FeedsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feeds")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True,
              help="Project folder holding config/ (and by default seeds/, public/, var/).")
@click.option("-v", "--verbose", is_flag=True, help="Say what happened to every source.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing unless something went wrong (for cron).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: one JSON object a line on standard error, for log collectors.")
@click.pass_context
def cli(ctx: click.Context, root: Path, verbose: bool, quiet: bool, log_format: str) -> None:
    """Aggregate RSS/Atom feeds and local articles into topic feeds."""
    verbosity = -1 if quiet else (1 if verbose else 0)
    if log_format == "json":
        level = logging.ERROR if quiet else (logging.DEBUG if verbose else logging.INFO)
    else:
        level = logging.DEBUG if verbose else (logging.ERROR if quiet else logging.WARNING)
    setup_logging(level, log_format)
    ctx.obj = Options(root=root, verbosity=verbosity, log_format=log_format)

@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--max-connections", type=click.IntRange(1, 10_000), default=64, show_default=True,
              help="Requests answered at once (one thread each); more wait their turn.")
@click.pass_obj
def serve_command(opts: Options, host: str, port: int, max_connections: int) -> None:
    """Serve the output folder over HTTP, for previews and small sites."""
    from feeds.cli.serve import Limits, serve

    config = load(opts.root)
    try:
        serve(config.settings.output_dir, host, port,
              on_ready=lambda url: click.echo(f"serving {config.settings.output_dir} at {url}"),
              limits=Limits(max_connections=max_connections))
    except NotADirectoryError as exc:
        raise FeedsError(f"{config.settings.output_dir} does not exist yet: run 'feeds run' first") from exc
    except OSError as exc:
        raise FeedsError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc

@click.command("init")
@click.argument("directory", metavar="[DIR]", required=False,
                type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def init_command(opts: Options, directory: Path | None) -> None:
    """Start a new project in DIR (default: --root): a commented config/ with two
    example sources and topics, and an empty seeds/ folder for local articles.

    An existing config is never overwritten.
    """
    from feeds.cli.scaffold import create_project, existing_config, next_steps

    root = directory if directory is not None else opts.root
    found = existing_config(root)
    if found:
        raise UsageError(f"{', '.join(str(p) for p in found)} already "
                         f"{'exists' if len(found) == 1 else 'exist'}; feeds init never overwrites a "
                         "config (edit it, or choose another folder)")
    try:
        made = create_project(root)
    except FileExistsError as exc:
        raise UsageError(f"{exc.filename} already exists; nothing more was written") from exc
    except OSError as exc:
        raise FeedsError(f"cannot create the project in {root}: "
                         f"{exc.filename or ''}: {exc.strerror or exc}") from exc
    for path in made:
        click.echo(f"created {path}{'/' if path.is_dir() else ''}")
    click.echo(next_steps(root, given=root != Path(".")), nl=False)


for _command in (run, daemon, check, status, explain, topics, sources, state, serve_command,
                 init_command, worker):
    cli.add_command(_command)


# One or two examples at the end of each command's --help. Kept here rather than in
# the decorators so that every command is listed in one place (tests/test_cli_ops.py
# checks that none is missing).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": ("feeds init mysite && cd mysite && feeds check && feeds run",
         "feeds --root /srv/feeds -q run --strict    # from cron"),
    "run": ("feeds run                    # fetch what is due, publish",
            "feeds -q run --strict        # cron: quiet unless a source is broken"),
    "check": ("feeds check", "feeds check --reference > keys.md"),
    "status": ("feeds status --sort failures",
               "feeds status --format tsv | cut -f1,3,11    # id, state, note"),
    "daemon": ("feeds daemon --tick 1m --metrics-port 9108",),
    "worker": ("feeds worker --processes 2    # database from $FEEDS_STATE_URL",
               "feeds worker --queues publish --database postgresql://feeds@db/feeds"),
    "explain": ("feeds explain https://example.com/2026/some-story",),
    "serve": ("feeds serve --port 8000    # then open http://127.0.0.1:8000/",),
    "init": ("feeds init mysite", "feeds --root /srv/feeds init"),
    "state": ("feeds state copy --to postgresql://feeds@db.example/feeds",),
    "state copy": ("feeds state copy --to postgresql://feeds@db.example/feeds",
                   "feeds state copy --to sqlite:///srv/feeds/var/backup.db --force"),
    "topics": ("feeds topics preview ai", "feeds topics diff --against HEAD~1"),
    "topics preview": ("feeds topics preview", "feeds topics preview ai --limit 30"),
    "topics diff": ("feeds topics diff --against HEAD", "feeds topics diff --against ../draft.toml"),
    "topics label": ("feeds topics label https://example.com/2026/some-story ai --in",
                     "feeds topics label urn:uuid:... telecom --out"),
    "topics score": ("feeds topics score",
                     "feeds topics score --labels tests/data/topics/entries.tsv --split test",
                     "feeds topics score --rules ../draft.toml"),
    "sources": ("feeds sources add https://example.com/blog/",
                "feeds sources import subscriptions.opml --dry-run"),
    "sources export": ("feeds sources export -o subscriptions.opml",),
    "sources import": ("feeds sources import subscriptions.opml --dry-run",
                       "feeds sources import subscriptions.opml"),
    "sources add": ("feeds sources add https://example.com/blog/ --topic ai",
                    "feeds sources add https://example.com/feed.xml --title 'Example' --dry-run"),
}


def _epilog(lines: tuple[str, ...]) -> str:
    # "\b" keeps click from re-wrapping the lines into one paragraph.
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {prefix.strip(): group}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{prefix}{name} "))
        else:
            found[f"{prefix}{name}"] = command
    return found


for _name, _command in _commands(cli).items():
    if _name in EXAMPLES:
        _command.epilog = _epilog(EXAMPLES[_name])


def main() -> None:
    cli(prog_name="feeds")
