"""``feeds status``: each source's health from the state database, as a table on
a terminal, aligned columns or TSV in a pipe, or JSON. The rows come from
``feeds.publish.status`` (as status.json and the status page do); their text
layout from ``statustext``."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click

from feeds.cli.common import Options, load, plural
from feeds.cli.statustext import Zone
from feeds.logs import scrub
from feeds.logs import url_policy as current_url_policy
from feeds.publish.status import status_rows
from feeds.store.factory import open_store, state_exists
from feeds.store.protocol import StoreProtocol
from feeds.stories.sourceinfo import with_feed_titles
from feeds.types import Config, SourceState

# Broken and quiet sources first.
_STATE_ORDER: dict[SourceState, int] = {
    "gone": 0, "failing": 1, "stale": 2, "new": 3, "ok": 4, "disabled": 5}
_SORT_KEYS = ("state", "id", "last-success", "failures", "entries", "next-due")


def rows_from(store: StoreProtocol | None, config: Config) -> list[dict[str, object]]:
    """The status rows; without a store (no run yet), every source as new."""
    if store is None:
        return status_rows(config, {}, {}, {}, current_url_policy())
    return status_rows(with_feed_titles(config, store.feed_infos()), store.all_health(),
                       store.entry_counts(), store.remap_count(), current_url_policy())


def _sort(rows: list[dict[str, object]], key: str) -> list[dict[str, object]]:
    if key == "id":
        return sorted(rows, key=lambda r: str(r["id"]))
    if key == "failures":
        return sorted(rows, key=lambda r: (-int(str(r["failures"])), str(r["id"])))
    if key == "entries":
        return sorted(rows, key=lambda r: (-int(str(r["entries"])), str(r["id"])))
    if key in ("last-success", "next-due"):
        field = key.replace("-", "_")
        return sorted(rows, key=lambda r: (str(r[field] or ""), str(r["id"])))
    rank = {str(state): n for state, n in _STATE_ORDER.items()}
    return sorted(rows, key=lambda r: (rank.get(str(r["state"]), 9), str(r["id"])))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts (same as --format json).")
@click.option("--format", "fmt", type=click.Choice(["table", "plain", "tsv", "json"]), default=None,
              help="table: boxed, coloured (default on a terminal); plain: aligned columns, no "
                   "box drawing (default when piped); tsv: tab-separated with a header row; json.")
@click.option("--local", is_flag=True,
              help="Show times in the local zone (TZ), named, instead of UTC.")
@click.option("--width", type=click.IntRange(min=20), default=None,
              help="Fit lines to this many columns (default: the terminal's width; "
                   "piped, whole lines).")
@click.option("--sort", type=click.Choice(_SORT_KEYS), default="state", show_default=True,
              help="Order of the rows; by state puts broken and stale sources first.")
@click.pass_obj
def status(opts: Options, as_json: bool, fmt: str | None, local: bool, width: int | None,
           sort: str) -> None:
    """Show each source's health from the state database.

    Each source keeps one line: as the width shrinks, columns drop (the HTTP
    code first, then entries, failures, last success and next due) and the
    note is cut with an ellipsis; ids are never split.
    """
    from feeds.cli.statustext import zone_label

    config = load(opts.root)
    if state_exists(config.settings):
        with open_store(config.settings) as store:
            rows = rows_from(store, config)
            total = store.count_entries()
    else:
        rows, total = rows_from(None, config), 0
    rows = _sort(rows, sort)
    tty = sys.stdout.isatty()
    fmt = "json" if as_json else (fmt or ("table" if tty else "plain"))
    if fmt == "json":
        click.echo(json.dumps({"entries": total, "sources": rows}, indent=2))
        return
    zone = Zone(local=local)
    if fmt == "tsv":
        from feeds.cli.statustext import render_tsv

        # Tabs and newlines are escaped by render_tsv; other controls are shown as escapes.
        clean = [{k: scrub(v, multiline=True) if isinstance(v, str) else v for k, v in r.items()}
                 for r in rows]
        click.echo(render_tsv(clean, zone), nl=False)
        return
    clean = [{k: scrub(v) if isinstance(v, str) else v for k, v in r.items()} for r in rows]
    label, each_zone = zone_label(clean, zone, datetime.now(UTC))
    title = scrub(f"{config.settings.title}: {plural(total, 'entry', 'entries')} held; {label}")
    _print_status(title, clean, zone, each_zone, fmt, width or _terminal_width(tty))


UNLIMITED_WIDTH = 100_000


def _terminal_width(tty: bool) -> int:
    import shutil

    # Piped, lines stay whole for grep and files: an inherited $COLUMNS (shells,
    # test runners and CI set it) says nothing of where the output goes.
    if not tty:
        return UNLIMITED_WIDTH
    return max(20, shutil.get_terminal_size((80, 24)).columns)


def _print_status(title: str, rows: list[dict[str, object]], zone: Zone, each_zone: bool,
                  fmt: str, width: int) -> None:
    from feeds.cli.statustext import cells, clip, layout, render_plain

    table_cells = [cells(r, zone, each_zone) for r in rows]
    if fmt == "plain":
        click.echo(render_plain(title, table_cells, width), nl=False)
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    cols = layout(table_cells, width, sep=3)  # box.SIMPLE_HEAD without edges: " │ " apart
    table = Table(title=Text(clip(title, width)), box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, title_justify="left")
    for col, w in cols:
        table.add_column(col.header, width=w, min_width=w, max_width=w, no_wrap=True,
                         overflow="ellipsis", justify="right" if col.right else "left")
    styles = {"gone": "red", "failing": "red", "stale": "yellow", "disabled": "dim"}
    for r, c in zip(rows, table_cells, strict=True):
        # Text, not str: rich would read "[...]" as markup.
        table.add_row(*(Text(c[col.key]) for col, _w in cols), style=styles.get(str(r["state"])))
    Console(width=width, highlight=False, soft_wrap=False).print(table)

