"""``feeds state copy``: the state from SQLite to PostgreSQL, or back, checked."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from feeds.cli.common import Options, load, lock_path, say
from feeds.errors import UsageError
from feeds.run.lock import run_lock
from feeds.store.copying import copy_state
from feeds.store.factory import is_postgres, open_location, parse_location, state_location
from feeds.store.factory import run_lock as state_run_lock


@click.group()
def state() -> None:
    """Copy the state between SQLite and PostgreSQL."""


@state.command("copy")
@click.option("--to", "to", required=True, metavar="LOCATION",
              help="Where to copy the state: postgresql://user@host/db, sqlite:///path or a file path.")
@click.option("--from", "from_", metavar="LOCATION",
              help="The state to copy (default: the configured one, state_url or state_path).")
@click.option("--force", is_flag=True, help="Replace whatever the target holds.")
@click.pass_obj
def state_copy(opts: Options, to: str, from_: str | None, force: bool) -> None:
    """Copy every source, entry, story, validator and count of a state into
    another, then check that both hold the same rows. The target must be empty
    unless --force. No run may use either state meanwhile: the configured state's
    run lock is held, and a PostgreSQL side's own."""
    config = load(opts.root)
    source = parse_location(from_, opts.root) if from_ else state_location(config.settings)
    target = parse_location(to, opts.root)
    if isinstance(source, Path) and not source.exists():
        raise UsageError(f"{source}: no such state database")
    with contextlib.ExitStack() as locks:
        locks.enter_context(run_lock(lock_path(config)))
        locks.enter_context(state_run_lock(config.settings))
        for side in (source, target):
            if is_postgres(side) and side != config.settings.state_url:
                from feeds.store.postgres import run_lock as pg_run_lock

                assert isinstance(side, str)
                locks.enter_context(pg_run_lock(side))
        with open_location(source) as src, open_location(target) as dst:
            copied = copy_state(src, dst, force=force)
            say(f"copied {src.name} to {dst.name}: {copied.describe()}")
