"""`make bench-scale`: what feeds worker costs the database (issue #18).

Measured here, on PostgreSQL (FEEDS_BENCH_DATABASE_URL, default the server on
127.0.0.1:5432 as postgres; a throwaway database is created and dropped):
- a dispatch tick (`claims.claim`, budget 1,000) with 10,000 and 100,000 due sources;
- syncing the source list (a config change) at those sizes;
- the rows the scheduling table writes per source fetched (a claim and a release);
- procrastinate's own cost per job: deferring and running empty jobs on one worker.

Not yet measured: fetch-and-store throughput of 1 and 2 worker processes against the
bench corpus, which needs the PostgreSQL store (branch h-pg); `--throughput` says so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import procrastinate
import psycopg

from feeds.store import claims

URL = os.environ.get("FEEDS_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _db(url: str, name: str) -> str:
    return url.rpartition("/")[0] + "/" + name


def tick_cost(url: str, n: int, repeat: int) -> dict[str, float]:
    now = datetime.now(UTC)
    with claims.connect(url) as conn:
        claims.create_tables(conn)
        rows = [(f"s{i}", f"host{i % 5000}", now - timedelta(seconds=random.random() * 900))
                for i in range(n)]
        t = time.perf_counter()
        claims.sync_sources(conn, rows, now, timedelta(0), random.Random(0), f"fp{n}")
        sync = time.perf_counter() - t
        conn.execute("VACUUM ANALYZE feeds_claims")
        ticks, releases = [], []
        for r in range(repeat):
            token = uuid.uuid4().hex
            t = time.perf_counter()
            got = claims.claim(conn, now, budget=1000, lease=timedelta(minutes=10), token=token)
            ticks.append(time.perf_counter() - t)
            claims.batches(got, 25)
            t = time.perf_counter()
            # released as due again (so every tick finds as many due)
            claims.release(conn, token, [(c.source_id, now - timedelta(seconds=r)) for c in got])
            releases.append((time.perf_counter() - t) / max(1, len(got)))
        conn.execute("TRUNCATE feeds_claims, feeds_claims_meta")
    return {"sync_s": sync, "tick_ms": statistics.median(ticks) * 1000,
            "release_ms_per_source": statistics.median(releases) * 1000}


def job_rate(url: str, jobs: int) -> float:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="noop")
    async def noop() -> None:
        return None

    async def main() -> float:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            t = time.perf_counter()
            for _ in range(jobs):
                await noop.defer_async()
            await app.run_worker_async(wait=False, concurrency=4, delete_jobs="successful",
                                       install_signal_handlers=False)
            return jobs / (time.perf_counter() - t)

    return asyncio.run(main())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--throughput", action="store_true")
    args = ap.parse_args()
    if args.throughput:
        print("throughput of worker processes needs the PostgreSQL store (h-pg): not measured yet")
        return 2
    name = "feeds_bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = _db(URL, name)
            for n in (int(s) for s in args.sizes.split(",")):
                r = tick_cost(url, n, args.repeat)
                print(f"{n:>7} due sources: dispatch tick (claim 1,000) {r['tick_ms']:.1f} ms median; "
                      f"release {r['release_ms_per_source']:.3f} ms/source; sync {r['sync_s']:.2f} s")
            print("scheduling rows written per source fetched: 2 (claim UPDATE, release UPDATE)")
            rate = job_rate(url, args.jobs)
            print(f"procrastinate: {args.jobs} empty jobs deferred and run on 1 worker: {rate:.0f} jobs/s")
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
