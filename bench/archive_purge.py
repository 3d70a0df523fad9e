"""What a retention purge rewrites in the archive: a cold run of the bench corpus,
then a purge of the oldest ~1% of entries and a run that publishes it.

    .venv/bin/python bench/archive_purge.py [--sources 100] [--python PY]

``--python``: the interpreter whose ``feeds`` is measured (default this one), so
that two versions can be compared on the same corpus. A cold run stores every
entry with one first-seen time; to stand in for a store built over months, the
script then sets each entry's first-seen time to its publication time (and
publishes that), and purges the entries first seen before the 1% quantile. It
prints the archive files and bytes that publication wrote, and its wall time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from generate import DEFAULT_ENTRIES, DEFAULT_SEED, load_or_generate
from run import CORPUS_CACHE, child_env, write_feeds_project
from serve import start_server

PURGE = """
import sys
from feeds.store.codec import _dt
from feeds.store.state import Store
with Store(__import__("pathlib").Path(sys.argv[1])) as store:
    print(store.purge(_dt(sys.argv[2])))
"""


def archive_files(public: Path) -> dict[str, tuple[int, int, int]]:
    """Each archive file's size, inode and modification time: a file publishing
    rewrote is a new inode (it is renamed into place)."""
    out: dict[str, tuple[int, int, int]] = {}
    for p in (public / "archive").rglob("*"):
        if p.is_file():
            st = p.stat()
            out[p.relative_to(public).as_posix()] = (st.st_size, st.st_ino, st.st_mtime_ns)
    return out


def feeds(python: str, root: Path, *args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([python, "-m", "feeds", "--root", str(root), "-q", *args], check=True,
                   env=child_env(), timeout=1800, cwd=root.parent)
    return time.perf_counter() - t0


def measure(python: str, urls: list[str], root: Path, share: float) -> dict[str, Any]:
    write_feeds_project(root, urls, 8)
    toml = root / "config" / "feeds.toml"  # the corpus is older than the retention period
    toml.write_text(toml.read_text(encoding="utf-8").replace("retention_days = 90", "retention_days = 36500"),
                    encoding="utf-8")
    cold = feeds(python, root, "run")
    db_path = root / "var" / "state.db"
    db = sqlite3.connect(db_path, isolation_level=None)
    try:  # a store built over time: first seen when published
        db.execute("UPDATE entries SET first_seen = min(first_seen, published)")
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
        stamps = [r[0] for r in db.execute("SELECT first_seen FROM entries ORDER BY first_seen")]
    finally:
        db.close()
    settle = feeds(python, root, "run")
    cutoff = stamps[int(len(stamps) * share)]
    before = archive_files(root / "public")
    purged = subprocess.run([python, "-c", PURGE, str(db_path), cutoff], check=True, capture_output=True,
                            text=True, env=child_env(), timeout=600, cwd=root.parent).stdout.strip()
    wall = feeds(python, root, "run")
    after = archive_files(root / "public")
    changed = {k for k in after if before.get(k) != after[k]}
    removed = set(before) - set(after)
    return {"entries": len(stamps), "purged": int(purged), "cold_s": round(cold, 2),
            "settle_s": round(settle, 2), "publish_after_purge_s": round(wall, 2),
            "archive_files_before": len(before), "archive_files_after": len(after),
            "archive_files_written": len(changed), "archive_files_removed": len(removed),
            "archive_bytes_written": sum(after[k][0] for k in changed),
            "archive_bytes_total": sum(v[0] for v in after.values())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sources", type=int, default=100)
    ap.add_argument("--entries", type=int, default=DEFAULT_ENTRIES)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--share", type=float, default=0.01, help="share of entries purged (oldest)")
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args(argv)
    corpus = CORPUS_CACHE / f"n{args.sources}-m{args.entries}-s{args.seed}"
    manifest = load_or_generate(corpus, args.sources, args.entries, args.seed)
    server = start_server(corpus, "auto")
    tmp = Path(tempfile.mkdtemp(prefix="feeds-archive-purge-"))
    try:
        urls = [server.base_url + f["path"] for f in manifest["files"]]
        print(json.dumps(measure(args.python, urls, tmp / "site", args.share)))
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
