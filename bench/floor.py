"""Floors: how fast the corpus can be parsed or fetched at all, without feeds around it.

Runs in the project's venv, started by bench/run.py; prints one JSON line.

    floor.py parse   CORPUS   # feedparser with feeds' options (no sanitiser, no URI resolver)
    floor.py parse-defaults CORPUS   # feedparser with its defaults (what reader pays)
    floor.py lxml    CORPUS   # lxml.etree.fromstring + counting items: a lower bound for XML
    floor.py fetch   CORPUS --base URL --concurrency C   # httpx GET of every feed, bodies read

Only the work itself is timed (``seconds``), not interpreter start-up or imports.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import time
import warnings
from pathlib import Path
from typing import Any

CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "rdf": "application/rdf+xml; charset=utf-8",
}


def _files(corpus: Path) -> list[dict[str, Any]]:
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    files: list[dict[str, Any]] = manifest["files"]
    return files


def parse(corpus: Path, defaults: bool) -> dict[str, Any]:
    import feedparser

    warnings.simplefilter("ignore")
    kwargs: dict[str, Any] = {} if defaults else {"sanitize_html": False, "resolve_relative_uris": False}
    seconds = 0.0
    entries = bozo = 0
    for f in _files(corpus):
        body = (corpus / f["path"]).read_bytes()
        headers = {"content-type": CONTENT_TYPES[f["format"]],
                   "content-location": f"https://bench.example/{f['path']}"}
        t0 = time.perf_counter()
        d = feedparser.parse(io.BytesIO(body), response_headers=headers, **kwargs)
        seconds += time.perf_counter() - t0
        entries += len(d.entries)
        bozo += bool(d.bozo)
    return {"seconds": seconds, "entries": entries, "bozo_feeds": bozo,
            "feedparser_version": feedparser.__version__}


def lxml_floor(corpus: Path) -> dict[str, Any]:
    from lxml import etree

    seconds = 0.0
    entries = 0
    item_tags = {"item", "entry"}
    for f in _files(corpus):
        body = (corpus / f["path"]).read_bytes()
        t0 = time.perf_counter()
        root = etree.fromstring(body)
        entries += sum(1 for el in root.iter() if isinstance(el.tag, str)
                       and etree.QName(el).localname in item_tags)
        seconds += time.perf_counter() - t0
    return {"seconds": seconds, "entries": entries}


async def _fetch_all(urls: list[str], concurrency: int) -> tuple[int, int, int]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    sem = asyncio.Semaphore(concurrency)
    ok = failed = nbytes = 0
    async with httpx.AsyncClient(limits=limits, timeout=30.0, trust_env=False) as client:

        async def one(url: str) -> None:
            nonlocal ok, failed, nbytes
            async with sem:
                try:
                    r = await client.get(url)
                    nbytes += len(r.content)
                    ok += r.status_code == 200
                    failed += r.status_code != 200
                except httpx.HTTPError:
                    failed += 1

        await asyncio.gather(*(one(u) for u in urls))
    return ok, failed, nbytes


def fetch(corpus: Path, base: str, concurrency: int) -> dict[str, Any]:
    files = _files(corpus)
    urls = [base + f["path"] for f in files]
    t0 = time.perf_counter()
    ok, failed, nbytes = asyncio.run(_fetch_all(urls, concurrency))
    return {"seconds": time.perf_counter() - t0, "entries": sum(int(f["entries"]) for f in files),
            "ok": ok, "failed": failed, "bytes": nbytes}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("parse", "parse-defaults", "lxml", "fetch"))
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--base", default="")
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    if args.mode == "parse":
        out = parse(args.corpus, defaults=False)
    elif args.mode == "parse-defaults":
        out = parse(args.corpus, defaults=True)
    elif args.mode == "lxml":
        out = lxml_floor(args.corpus)
    else:
        out = fetch(args.corpus, args.base, args.concurrency)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
