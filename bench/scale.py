"""`make bench-scale`: what feeds worker costs the database (issue #18).

Measured here, on PostgreSQL (FEEDS_BENCH_DATABASE_URL, default the server on
127.0.0.1:5432 as postgres; a throwaway database is created and dropped):
- a dispatch tick (`claims.claim`, budget 1,000) with 10,000 and 100,000 due sources;
- syncing the source list (a config change) at those sizes;
- the rows the scheduling table writes per source fetched (a claim and a release);
- procrastinate's own cost per job: deferring and running empty jobs on one worker;
- with `--throughput` (also `--quick`): fetch-and-store throughput of 1 and 2 `feeds
  worker` processes (`--queues fetch`: publishing is not in it) on the bench corpus
  (bench/generate.py), served by nginx (bench/serve.py) on HOSTS loopback addresses
  (feeds worker runs one batch per host at a time, as a deployment's sources are
  on many hosts), with the state on PostgreSQL (a schema of the throwaway database,
  the queue beside it): sources and entries a second from the workers' start until
  every source is stored and released, and the rows written per source (inserted,
  updated and deleted tuples from pg_stat_user_tables: state, scheduling table and
  procrastinate's tables), all read after the workers have stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import procrastinate
import psycopg

from feeds.store import claims

BENCH = Path(__file__).resolve().parent
HOSTS = tuple(f"127.0.0.{i}" for i in range(1, 9))
WORKERS = (1, 2)
DONE_TIMEOUT = 600.0  # seconds a throughput round may take before it is abandoned

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


def _with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}', safe='')}"


def _write_rows(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, int]:
    """Tuples inserted, updated and deleted so far, by schema (public: the queue)."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return {str(schema): int(n) for schema, n in conn.execute(
        "SELECT schemaname, sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables"
        " GROUP BY schemaname")}


def throughput(admin_url: str, workers: int, n_sources: int, concurrency: int) -> dict[str, float]:
    """One round, in a database of its own: ``workers`` `feeds worker` processes from
    an empty state and queue to every source of the corpus stored."""
    name = "feeds_bench_tp_" + uuid.uuid4().hex[:8]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            return _throughput(_db(admin_url, name), workers, n_sources, concurrency)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _throughput(url: str, workers: int, n_sources: int, concurrency: int) -> dict[str, float]:
    sys.path.insert(0, str(BENCH))
    from generate import DEFAULT_ENTRIES, DEFAULT_SEED, load_or_generate
    from run import CORPUS_CACHE, write_feeds_project
    from serve import start_server

    corpus = CORPUS_CACHE / f"n{n_sources}-m{DEFAULT_ENTRIES}-s{DEFAULT_SEED}"
    files = load_or_generate(corpus, n_sources, DEFAULT_ENTRIES, DEFAULT_SEED)["files"]
    schema = f"state{workers}"
    server = start_server(corpus, "nginx", HOSTS)
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="feeds-bench-scale-") as tmp, \
            psycopg.connect(url, autocommit=True) as conn:
        try:
            root = Path(tmp)
            urls = [f"http://{HOSTS[i % len(HOSTS)]}:{server.port}/{f['path']}"
                    for i, f in enumerate(files)]
            write_feeds_project(root, urls, concurrency)
            conn.execute(f'CREATE SCHEMA "{schema}"')
            before = _write_rows(conn)
            env = {**os.environ, "FEEDS_STATE_URL": _with_schema(url, schema)}
            t0 = time.perf_counter()
            for i in range(workers):
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "feeds", "--root", str(root), "worker", "--database", url,
                     "--queues", "fetch", "--dispatch-every", "1", "--spread", "1s",
                     "--concurrency", str(concurrency)],
                    stdout=(root / f"worker{i}.log").open("wb"), stderr=subprocess.STDOUT, env=env))
            deadline = time.monotonic() + DONE_TIMEOUT
            while True:
                try:  # a failed batch keeps its sources leased (--lease): nothing more comes
                    failed = conn.execute("SELECT count(*) FROM procrastinate_jobs"
                                          " WHERE status = 'failed'").fetchone()
                except psycopg.errors.UndefinedTable:
                    failed = None
                if (time.monotonic() > deadline or any(p.poll() is not None for p in procs)
                        or (failed and failed[0])):
                    logs = "".join((root / f"worker{i}.log").read_text(errors="replace")[-2000:]
                                   for i in range(workers))
                    raise RuntimeError(f"{workers} worker(s) did not store the corpus:\n{logs}")
                try:
                    stored = conn.execute(f'SELECT count(*) FROM "{schema}".sources'
                                          " WHERE last_success IS NOT NULL").fetchone()
                    busy = conn.execute("SELECT count(*) FROM feeds_claims WHERE token IS NOT NULL"
                                        ).fetchone()
                except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):
                    stored = busy = None
                if stored and busy and stored[0] >= len(files) and busy[0] == 0:
                    break
                time.sleep(0.2)
            seconds = time.perf_counter() - t0
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
            server.stop()
        time.sleep(1.5)  # the stopped workers' table statistics reach the server
        after = _write_rows(conn)
        entries = conn.execute(f'SELECT count(*) FROM "{schema}".entries').fetchone()
        rows = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    n_entries = int(entries[0]) if entries else 0
    return {"seconds": seconds, "sources": len(files), "entries": n_entries,
            "state_rows": rows.get(schema, 0), "queue_rows": rows.get("public", 0)}


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    # SIGTERM (a timeout) unwinds like Ctrl-C: workers, nginx and databases are cleaned up
    signal.signal(signal.SIGTERM, _interrupted)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--throughput", action="store_true",
                    help="also 1 and 2 feeds worker processes on the bench corpus")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes: 10,000 due sources, 500 jobs, 200 corpus sources")
    ap.add_argument("--corpus-sources", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8, help="each worker's fetch concurrency")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.repeat, args.jobs, args.corpus_sources = "10000", 3, 500, 200
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
            for n in WORKERS if args.throughput else ():
                r = throughput(URL, n, args.corpus_sources, args.concurrency)
                print(f"{n} worker process(es), {r['sources']:.0f} sources on {len(HOSTS)} hosts, state on "
                      f"PostgreSQL: {r['seconds']:.1f} s from start to all stored; "
                      f"{r['sources'] / r['seconds']:.1f} sources/s, {r['entries'] / r['seconds']:.0f} "
                      f"entries/s ({r['entries']:.0f} entries); rows written per source: "
                      f"state {r['state_rows'] / r['sources']:.1f} "
                      f"({r['state_rows'] / max(1, r['entries']):.1f} an entry), queue and scheduling "
                      f"{r['queue_rows'] / r['sources']:.1f}", flush=True)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
