"""The steady state: the run users actually have, between two cold runs.

After the cold and all-304 rows, bench/run.py changes the corpus it serves (never the
cache: it serves a copy whose files are hard links, and a changed file is written
anew, which breaks the link) the way a day of news changes it:

- ``STEADY_SHARE`` (10 %) of the sources, chosen by the seed, gain ``STEADY_NEW`` (2)
  new entries each at the top of the feed (copies of the feed's newest item with a new
  guid, link and title, so each is a new story);
- retention removes the oldest 1 % of stories (``STEADY_RETIRED``). Every entry of the
  bench was first seen in the cold run, seconds ago, and retention goes by first seen,
  so the bench dates the first sighting of the 1 % with the oldest ``published`` back
  past ``retention_days`` in feeds' state database (outside the timed run; best effort,
  the schema being feeds' own). reader has no retention: it keeps every entry, and its
  update does only what the changed feeds ask.

Then it times ``feeds run --force`` (every source is fetched; nine in ten answer 304)
and reader's update of the same database (``update_feeds_iter(scheduled=False)``).
Bytes written come from the launcher (``write_bytes`` of the whole process tree, from
/proc); the bytes of the outputs that changed are the sizes of the files under
``public/`` that are new or were replaced (another inode or mtime).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

STEADY_SHARE = 0.10  # sources that gain entries
STEADY_NEW = 2  # entries each of them gains
STEADY_RETIRED = 0.01  # share of stored stories retention removes

_BLOCK = re.compile(rb"<(item|entry)[\s>].*?</\1>", re.S)
_ID = re.compile(rb"<(?:guid|id)[^>]*>([^<]+)</(?:guid|id)>")
_LINK = re.compile(rb"<link>([^<]+)</link>|<link[^>]*rel=\"alternate\"[^>]*href=\"([^\"]+)\"")
_TITLE = re.compile(rb"<title>")


def link_copy(src: Path, dst: Path) -> None:
    """``dst``: the corpus ``src`` as hard links (a copy that costs no bytes)."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, copy_function=os.link)


def _new_items(block: bytes, source: int, count: int) -> bytes:
    ident = _ID.search(block)
    link = _LINK.search(block)
    out: list[bytes] = []
    for k in range(count, 0, -1):
        item = block
        tag = f"-steady{k}".encode()
        for m in (ident, link):
            if m is None:
                continue
            value = m.group(1) or m.group(2)
            item = item.replace(value, value + tag)
        item = _TITLE.sub(f"<title>Steady state story {k} from source {source}: ".encode(), item, count=1)
        out.append(item + b"\n")
    return b"".join(out)


def mutate(served: Path, files: list[dict[str, Any]], seed: int) -> dict[str, int]:
    """10 % of the served feeds gain 2 entries at the top; each changed file is a new
    file (the hard link to the cache is broken, so the cache stays as generated)."""
    rng = random.Random(seed ^ 0x5EAD)
    chosen = sorted(rng.sample(range(len(files)), max(1, round(len(files) * STEADY_SHARE))))
    added = 0
    for i in chosen:
        path = served / files[i]["path"]
        body = path.read_bytes()
        first = _BLOCK.search(body)
        if first is None:
            continue
        new = _new_items(first.group(0), i, STEADY_NEW)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(body[:first.start()] + new + body[first.start():])
        os.replace(tmp, path)  # a new inode, mtime and size: nginx sends a new ETag
        added += STEADY_NEW
    return {"sources_changed": len(chosen), "entries_added": added}


def retire_oldest(root: Path, retention_days: int, now: datetime | None = None) -> int:
    """Date back the first sighting of the oldest 1 % of stored entries (by published)
    so that the next run's retention removes them. Returns how many were dated back."""
    db = root / "var" / "state.db"
    now = now or datetime.now(UTC)
    stamp = (now - timedelta(days=retention_days + 1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    con = sqlite3.connect(db, timeout=30)
    try:
        total = int(con.execute("SELECT count(*) FROM entries").fetchone()[0])
        n = round(total * STEADY_RETIRED)
        with con:
            con.execute("UPDATE entries SET first_seen = ? WHERE num IN"
                        " (SELECT num FROM entries ORDER BY published, num LIMIT ?)", (stamp, n))
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return n


@dataclass(frozen=True)
class FileState:
    size: int
    inode: int
    mtime_ns: int


def snapshot(folder: Path) -> dict[str, FileState]:
    out: dict[str, FileState] = {}
    for dirpath, _, names in os.walk(folder):
        for name in names:
            p = Path(dirpath) / name
            st = p.stat()
            out[str(p.relative_to(folder))] = FileState(st.st_size, st.st_ino, st.st_mtime_ns)
    return out


def changed_outputs(before: dict[str, FileState], after: dict[str, FileState]) -> dict[str, int]:
    """Files under public/ that are new or were replaced, and their bytes."""
    changed = [k for k, v in after.items() if before.get(k) != v]
    return {"files_changed": len(changed), "bytes_changed": sum(after[k].size for k in changed),
            "files_removed": len(before.keys() - after.keys()), "files_total": len(after)}
