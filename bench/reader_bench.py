"""The peer: `reader` (https://pypi.org/project/reader/) updating the corpus feeds.

Runs inside bench/.venv-reader (reader + sgmllib3k), started by bench/run.py:

    reader_bench.py --db DB --urls URLS.txt --phase cold   # add every feed, then update them all
    reader_bench.py --db DB --phase warm                   # update them all again (all 304)

``update_feeds_iter(scheduled=False)`` is what ``update_feeds()`` runs (its docs:
"roughly equivalent to ``for _ in reader.update_feeds_iter(...): pass``"); the
iterator also tells which feeds were updated, not modified, or failed.
``scheduled=False``: reader >= 3.x skips feeds that are not yet due by default,
and the second run must fetch every feed as feeds does. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import reader as reader_pkg
from reader import make_reader


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--urls", type=Path)
    ap.add_argument("--phase", choices=("cold", "warm"), required=True)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()

    started = time.perf_counter()
    r = make_reader(args.db)
    try:
        if args.phase == "cold":
            assert args.urls is not None
            for url in args.urls.read_text(encoding="utf-8").split():
                r.add_feed(url, exist_ok=True)
        t0 = time.perf_counter()
        updated = not_modified = failed = new = modified = 0
        errors: list[str] = []
        for result in r.update_feeds_iter(scheduled=False, workers=args.workers):
            if result.error is not None:
                failed += 1
                if len(errors) < 5:
                    errors.append(f"{result.url}: {result.error}")
            elif result.not_modified:
                not_modified += 1
            else:
                updated += 1
                uf = result.updated_feed
                if uf is not None:
                    new += uf.new
                    modified += uf.modified
        update_seconds = time.perf_counter() - t0
        counts = r.get_entry_counts()
        print(json.dumps({
            "reader_version": reader_pkg.__version__,
            "update_seconds": update_seconds,
            "total_seconds": time.perf_counter() - started,
            "feeds_updated": updated,
            "feeds_not_modified": not_modified,
            "feeds_failed": failed,
            "entries_new": new,
            "entries_modified": modified,
            "entries_stored": counts.total,
            "errors": errors,
        }))
    finally:
        r.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
