"""The benchmark driver behind ``make bench`` and ``make bench-quick`` (see bench/README.md).

On one generated corpus served by nginx on 127.0.0.1 it runs, side by side:

- ``feeds run`` cold (fresh project dir) and again with every source answering 304
  (``feeds run --force`` when that option exists);
- the peer ``reader`` (``update_feeds`` cold on a fresh database, then all 304),
  from its own venv ``bench/.venv-reader``;
- the steady state (bench/steady.py): both again after 10 % of the sources gained two
  entries and retention removed the oldest 1 % of stories;
- floors: feedparser with feeds' options and with its defaults, lxml, plain httpx fetching;

each ``--repeat`` times, and prints medians of wall time, entries/s and peak RSS,
the feeds/reader ratios and whether the issue's targets are met. The same goes
to ``bench/results/latest.json``.

Every child process runs in its own session, is bounded by ``--timeout`` and is
killed with its whole process tree if it overruns or the driver is interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from generate import DEFAULT_ENTRIES, DEFAULT_SEED, DEFAULT_SOURCES, PROFILES, load_or_generate
from serve import StaticServer, start_server
from steady import FileState, changed_outputs, link_copy, mutate, retire_oldest, snapshot

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
RESULTS = BENCH / "results"
READER_VENV = BENCH / ".venv-reader"
CORPUS_CACHE = BENCH / ".corpus"
QUICK_SOURCES = 200

# The (#19) targets; the harness only reports whether they are met.
TARGET_STEADY_SPEEDUP = 5.0  # reader steady / feeds steady >= this
TARGET_STEADY_WRITES = 2.0  # feeds steady bytes written / bytes of changed outputs <= this
TARGET_COLD_SPEEDUP = 3.0  # reader cold / feeds cold >= this
TARGET_304_RATIO = 0.5  # feeds all-304 / reader all-304 <= this
TARGET_PEAK_MIB = 130.0  # feeds peak (tree PSS) at 1,000 sources <= this
TARGET_PEAK_GROWTH = 1.10  # feeds peak at 1,000 / at 200 sources <= this

RETENTION_DAYS = 90

SAMPLE_INTERVAL = 0.05  # seconds between samples of a process tree's memory

FEEDS_TOML = """\
[site]
title = "Bench Wire"
description = "feeds benchmark corpus"
base_url = "https://bench.example/"
author = "Bench Desk"
max_entries = 50
retention_days = {retention_days}

[fetch]
concurrency = {concurrency}
# Every corpus feed is on the one loopback server, where a deployment's sources are
# on hundreds of hosts: the per-host limit (default 2) would otherwise be the
# whole run's concurrency.
per_host = {concurrency}
connect_timeout = 10
read_timeout = 30
total_timeout = 60
max_bytes = 10485760
max_redirects = 5
user_agent = "feeds-bench/1"

[topics.ai]
title = "AI"
description = "Artificial intelligence"
keywords = ["AI", "artificial intelligence", "machine learning", "language model", "LLM", "OpenAI"]

[topics.internet-policy]
title = "Internet policy"
keywords = ["regulator", "net neutrality", "Digital Markets Act", "FCC", "antitrust"]
require = ["internet", "online", "broadband", "platform", "digital"]

[topics.chips]
title = "Chips"
keywords = ["chip", "semiconductor", "TSMC", "wafer", "foundry"]
exclude = ["chocolate chip"]

[topics.security]
title = "Security"
keywords = ["ransomware", "vulnerability", "breach", "encryption"]

[topics.privacy]
title = "Privacy"
keywords = ["privacy", "surveillance", "tracking", "consent"]
"""

DEFAULT_TOPICS = ("ai", "internet-policy", "chips", "security", "privacy")


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --- measuring one child process ----------------------------------------------------------


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        with contextlib.suppress(OSError, ValueError):
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
            out.extend(int(x) for x in text.split())
    return out


def _tree(pid: int) -> list[int]:
    seen: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(_children(p))
    return seen


def _memory_kib(pid: int) -> int:
    """Proportional set size (shared pages split between the processes that map them), else RSS."""
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            with open(path, encoding="ascii", errors="replace") as fh:
                for line in fh:
                    if line.startswith(key):
                        return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return 0


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float | None:
    """User + system CPU time of ``pid`` so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, ValueError, IndexError):
        return None


def _session_members(sid: int) -> list[int]:
    members: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[3]) == sid:
                members.append(int(name))
        except (OSError, ValueError, IndexError):
            continue
    return members


def kill_tree(pid: int) -> None:
    """SIGKILL the process group and session that ``pid`` leads (children left behind too)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    for member in _session_members(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(member, signal.SIGKILL)


def _role(pid: int) -> tuple[int, str]:
    """The parent of ``pid`` and what its command line says it is."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError, IndexError):
        return 0, "?"
    if "resource_tracker" in cmd:
        return ppid, "resource tracker"
    if "forkserver" in cmd:
        return ppid, "forkserver"
    return ppid, "process"


def _roles(launcher: int, each: dict[int, int]) -> dict[str, int]:
    """PSS by role: the command's main process, the forkserver, each worker (numbered
    by pid order), the resource tracker."""
    roles = {p: _role(p) for p in each}
    out: dict[str, int] = {}
    workers = 0
    for p in sorted(each):
        ppid, role = roles[p]
        if ppid == launcher:
            name = "main"
        elif roles.get(ppid, (0, ""))[1] == "forkserver" and role == "forkserver":
            workers += 1
            name = f"worker {workers}"
        else:
            name = role
        out[name] = out.get(name, 0) + each[p]
    return out


class TreeSampler(threading.Thread):
    """Samples the summed PSS of a process and its descendants every ``interval`` seconds,
    and the CPU time of each: a process that the command does not reap itself (feeds'
    worker processes are children of multiprocessing's forkserver) is missing from the
    command's rusage."""

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL, include_root: bool = True) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.include_root = include_root
        self.interval = interval
        self.peak_kib = 0
        self.at_peak: dict[str, int] = {}  # each process's PSS (by role) when the tree peaked
        self.max_procs = 0
        self.cpu: dict[int, float] = {}  # each process's CPU time when last seen
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            pids = _tree(self.pid)
            if not self.include_root:
                pids = [p for p in pids if p != self.pid]
            each = {p: _memory_kib(p) for p in pids}
            total = sum(each.values())
            if total > self.peak_kib:
                self.peak_kib = total
                self.at_peak = _roles(self.pid, each)
            for p in pids:
                cpu = _cpu_s(p)
                if cpu is not None:
                    self.cpu[p] = max(cpu, self.cpu.get(p, 0.0))
            self.max_procs = max(self.max_procs, len(pids))
            self._halt.wait(self.interval)

    def halt(self) -> None:
        self._halt.set()
        self.join(timeout=5)


@dataclass
class Sample:
    wall_s: float
    returncode: int
    maxrss_kib: int  # ru_maxrss of the command: its largest single process (Linux: KiB)
    tree_pss_peak_kib: int  # sampled peak of the whole process tree's summed PSS
    processes: int
    cpu_s: float  # user + system time of the whole process tree (see measure())
    timed_out: bool
    stdout: str = ""
    stderr_tail: str = ""
    write_bytes: int = 0  # bytes the whole tree caused to be written to storage (launch.py)
    pss_at_peak_kib: dict[str, int] = field(default_factory=dict)  # each process's share at the peak
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def peak_rss_kib(self) -> int:
        return max(self.maxrss_kib, self.tree_pss_peak_kib)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("stdout")
        d["peak_rss_kib"] = self.peak_rss_kib
        return d


def measure(argv: list[str], *, timeout: float, env: dict[str, str], cwd: Path | None = None) -> Sample:
    """Run ``argv`` to completion (or ``timeout``), measuring wall time, peak memory and CPU.

    The command is started by bench/launch.py (see there why), in a session of its own;
    the launcher reports the command's wall time and rusage, the sampler its tree's PSS.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryDirectory(prefix="feeds-bench-m-") as tmp:
        report = Path(tmp) / "report.json"
        timed_out = threading.Event()
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-I", "-S", str(BENCH / "launch.py"), str(report), *argv],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd,
                                start_new_session=True)
        sampler = TreeSampler(proc.pid, include_root=False)
        sampler.start()

        def overrun() -> None:
            timed_out.set()
            kill_tree(proc.pid)

        timer = threading.Timer(timeout, overrun)
        timer.daemon = True
        timer.start()
        reaped = False
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            reaped = True
        finally:
            timer.cancel()
            sampler.halt()
            if not reaped:  # interrupted: take the whole tree down before going on
                kill_tree(proc.pid)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(proc.pid, 0)
                proc.returncode = -9
        proc.returncode = os.waitstatus_to_exitcode(status)
        kill_tree(proc.pid)  # anything it left running in its session
        launched: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            launched = json.loads(report.read_text(encoding="utf-8"))
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", errors="replace")
        stderr = err.read().decode("utf-8", errors="replace")
    return Sample(
        wall_s=float(launched.get("wall_s", wall)),
        returncode=int(launched.get("returncode", proc.returncode)),
        maxrss_kib=int(launched.get("maxrss_kib", 0)),
        tree_pss_peak_kib=sampler.peak_kib,
        processes=sampler.max_procs,
        # The command's rusage counts it and the children it reaped; the sampled sum
        # counts every process seen in its tree (each up to its last sample).
        cpu_s=max(float(launched.get("cpu_s", usage.ru_utime + usage.ru_stime)), sum(sampler.cpu.values())),
        write_bytes=int(launched.get("write_bytes", 0)),
        pss_at_peak_kib=sampler.at_peak,
        timed_out=timed_out.is_set(),
        stdout=stdout,
        stderr_tail=stderr[-3000:],
    )


def child_env() -> dict[str, str]:
    """The environment for children: no proxies, so every request stays on 127.0.0.1."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                value = json.loads(line)
                if isinstance(value, dict):
                    return value
    return {}


# --- the contenders -----------------------------------------------------------------------


def ensure_reader_venv(timeout: float) -> Path | None:
    """bench/.venv-reader/bin/python with reader and sgmllib3k, created on demand."""
    python = READER_VENV / "bin" / "python"
    check = [str(python), "-c", "import reader, sgmllib"]
    if python.exists() and subprocess.run(check, check=False, capture_output=True,
                                          timeout=60).returncode == 0:
        return python
    log(f"creating {READER_VENV.relative_to(PROJECT)} (pip install reader sgmllib3k) ...")
    try:
        subprocess.run(["python3", "-m", "venv", "--clear", str(READER_VENV)], check=True, timeout=timeout,
                       capture_output=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "reader", "sgmllib3k"], check=True, timeout=timeout, capture_output=True)
        if subprocess.run(check, check=False, capture_output=True, timeout=60).returncode == 0:
            return python
    except (subprocess.SubprocessError, OSError) as exc:
        log(f"could not set up reader's venv: {exc}")
    return None


def tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60)
    except (subprocess.SubprocessError, OSError):
        return "?"
    return (out.stdout.strip() or out.stderr.strip() or "?").splitlines()[-1]


def feeds_has_force(feeds_bin: Path, env: dict[str, str]) -> bool:
    out = subprocess.run([str(feeds_bin), "run", "--help"], check=False, capture_output=True, text=True,
                         timeout=60, env=env)
    return "--force" in out.stdout


def write_feeds_project(root: Path, urls: list[str], concurrency: int) -> None:
    (root / "config").mkdir(parents=True)
    (root / "config" / "feeds.toml").write_text(FEEDS_TOML.format(
        concurrency=concurrency, retention_days=RETENTION_DAYS), encoding="utf-8")
    lines: list[str] = []
    for i, url in enumerate(urls):
        lines += ["[[sources]]", f'id = "s{i:05d}"', f'title = "Source {i}"', f'url = "{url}"']
        if i % 5 == 0:
            lines.append(f'topics = ["{DEFAULT_TOPICS[(i // 5) % len(DEFAULT_TOPICS)]}"]')
        lines.append("")
    (root / "config" / "sources.toml").write_text("\n".join(lines), encoding="utf-8")


def feeds_state(root: Path) -> dict[str, Any]:
    """Best effort (the schema is feeds' own): source statuses and stored entries."""
    db = root / "var" / "state.db"
    if not db.exists():
        return {}
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            columns = {str(r[1]) for r in con.execute("PRAGMA table_info(sources)")}
            column = next((c for c in ("http_status", "last_status", "state") if c in columns), None)
            statuses: dict[str, int] = {}
            if column is not None:
                prefix = "HTTP " if column == "http_status" else ""
                statuses = {f"{prefix}{k}": int(v) for k, v in con.execute(
                    f"SELECT coalesce({column}, '?'), count(*) FROM sources GROUP BY 1")}
            entries = int(con.execute("SELECT count(*) FROM entries").fetchone()[0])
            # new entries, near-duplicate candidates they met, pairs judged (this run's)
            cost = con.execute("SELECT value FROM meta WHERE key = 'dedupe_cost'").fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:
        return {"state_error": str(exc)}
    out: dict[str, Any] = {"statuses": statuses, "entries_stored": entries}
    if cost is not None:
        new, met, judged = (int(x) for x in str(cost[0]).split())
        if new:
            out.update({"candidates_per_entry": met / new, "judged_per_entry": judged / new})
    return out


# --- rows and the report ------------------------------------------------------------------


@dataclass
class Row:
    key: str
    label: str
    what: str
    samples: list[Sample] = field(default_factory=list)
    internal_wall: bool = False  # floors: time the work itself, not start-up

    def good(self) -> list[Sample]:
        return [s for s in self.samples if s.ok]

    def wall(self, s: Sample) -> float:
        if self.internal_wall and "seconds" in s.detail:
            return float(s.detail["seconds"])
        return s.wall_s

    def median_wall(self) -> float | None:
        good = self.good()
        return statistics.median(self.wall(s) for s in good) if good else None

    def median_peak_mib(self) -> float | None:
        good = self.good()
        return statistics.median(s.peak_rss_kib for s in good) / 1024 if good else None

    def median_cpu(self) -> float | None:
        good = self.good()
        return statistics.median(s.cpu_s for s in good) if good else None

    def median_detail(self, key: str) -> float | None:
        values = [float(s.detail[key]) for s in self.good() if key in s.detail]
        return statistics.median(values) if values else None


def check_text(row: Row) -> str:
    if not row.samples:
        return "not run"
    bad = [s for s in row.samples if not s.ok]
    last = (row.good() or row.samples)[-1]
    d = last.detail
    parts: list[str] = []
    if bad:
        b = bad[-1]
        why = "timeout" if b.timed_out else f"rc {b.returncode}"
        parts.append(f"{len(bad)}/{len(row.samples)} FAILED ({why})")
    if "statuses" in d:
        parts.append(", ".join(f"{v} {k}" for k, v in sorted(d["statuses"].items())))
        parts.append(f"{d.get('entries_stored', '?')} entries stored")
    elif "feeds_updated" in d:
        parts.append(f"{d['feeds_updated']} updated, {d['feeds_not_modified']} not modified, "
                     f"{d['feeds_failed']} failed; {d['entries_stored']} entries stored")
    elif "state_error" in d:
        parts.append(f"state not readable: {d['state_error']}")
    elif "entries" in d:
        fetched = f", {d['ok']} ok / {d['failed']} failed" if "ok" in d else ""
        parts.append(f"{d['entries']} entries{fetched}")
    if "bytes_changed" in d:
        wrote = statistics.median(s.write_bytes for s in (row.good() or row.samples))
        parts.append(f"wrote {wrote / 2**20:,.1f} MiB for {d['bytes_changed'] / 2**20:,.1f} MiB in "
                     f"{d['files_changed']} changed outputs ({d['files_removed']} removed)")
    return "; ".join(parts)


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt(x: float | None, spec: str = ".2f") -> str:
    return "n/a" if x is None else format(x, spec)


def summarise(rows: dict[str, Row], total_entries: int, n_sources: int) -> dict[str, Any]:
    out_rows: list[dict[str, Any]] = []
    for row in rows.values():
        wall = row.median_wall()
        walls = [row.wall(s) for s in row.good()]
        out_rows.append({
            "key": row.key, "label": row.label, "what": row.what,
            "runs": len(row.samples), "ok_runs": len(row.good()),
            "wall_s": wall, "wall_min_s": min(walls) if walls else None,
            "wall_max_s": max(walls) if walls else None,
            "entries_per_s": total_entries / wall if wall else None,
            "sources_per_s": n_sources / wall if wall else None,
            "peak_rss_mib": row.median_peak_mib(), "cpu_s": row.median_cpu(),
            "candidates_per_entry": row.median_detail("candidates_per_entry"),
            "judged_per_entry": row.median_detail("judged_per_entry"),
            "check": check_text(row),
            "samples": [s.as_json() for s in row.samples],
        })

    def peak(*keys: str) -> float | None:
        values = [rows[k].median_peak_mib() if k in rows else None for k in keys]
        return None if any(v is None for v in values) else max(v for v in values if v is not None)

    def wall(key: str) -> float | None:
        return rows[key].median_wall() if key in rows else None

    cold_speedup = ratio(wall("reader_cold"), wall("feeds_cold"))
    steady_speedup = ratio(wall("reader_steady"), wall("feeds_steady"))
    warm_ratio = ratio(wall("feeds_304"), wall("reader_304"))
    rss_ratio = ratio(peak("feeds_cold", "feeds_304"), peak("reader_cold", "reader_304"))
    steady = rows.get("feeds_steady")
    steady_good = steady.good() if steady is not None else []
    written = statistics.median(s.write_bytes for s in steady_good) if steady_good else None
    changed = (statistics.median(s.detail.get("bytes_changed", 0) for s in steady_good)
               if steady_good else None)
    write_ratio = ratio(written, changed)
    feeds_peak = peak("feeds_cold", "feeds_304", "feeds_steady")
    pair = memory_pair(n_sources, feeds_peak)
    ratios = {
        "cold_time_feeds_over_reader": ratio(wall("feeds_cold"), wall("reader_cold")),
        "cold_speedup_reader_over_feeds": cold_speedup,
        "steady_speedup_reader_over_feeds": steady_speedup,
        "steady_bytes_written_over_changed": write_ratio,
        "304_time_feeds_over_reader": warm_ratio,
        "peak_rss_feeds_over_reader": rss_ratio,
        "cold_rss_feeds_over_reader": ratio(peak("feeds_cold"), peak("reader_cold")),
        "304_rss_feeds_over_reader": ratio(peak("feeds_304"), peak("reader_304")),
        "peak_feeds_over_200_sources": pair["growth"],
    }

    def met(value: float | None, ok: Callable[[float], bool]) -> bool | None:
        return None if value is None else ok(value)

    def mib(b: float | None) -> float | None:
        return None if b is None else b / 2**20

    at_1000 = feeds_peak if n_sources == 1000 else None
    targets = [
        {"target": f"steady run >= {TARGET_STEADY_SPEEDUP:g}x faster than reader", "what": "steady wall s",
         "feeds": wall("feeds_steady"), "reader": wall("reader_steady"), "measured": steady_speedup,
         "shown": f"reader/feeds = {fmt(steady_speedup)}x",
         "met": met(steady_speedup, lambda v: v >= TARGET_STEADY_SPEEDUP)},
        {"target": f"steady bytes written <= {TARGET_STEADY_WRITES:g}x changed outputs",
         "what": "steady MiB written / changed", "feeds": mib(written), "reader": mib(changed),
         "measured": write_ratio, "shown": f"written/changed = {fmt(write_ratio)}",
         "met": met(write_ratio, lambda v: v <= TARGET_STEADY_WRITES)},
        {"target": f"cold run >= {TARGET_COLD_SPEEDUP:g}x faster than reader", "what": "cold wall s",
         "feeds": wall("feeds_cold"), "reader": wall("reader_cold"), "measured": cold_speedup,
         "shown": f"reader/feeds = {fmt(cold_speedup)}x",
         "met": met(cold_speedup, lambda v: v >= TARGET_COLD_SPEEDUP)},
        {"target": f"all-304 run <= {TARGET_304_RATIO:g}x reader's time", "what": "all-304 wall s",
         "feeds": wall("feeds_304"), "reader": wall("reader_304"), "measured": warm_ratio,
         "shown": f"feeds/reader = {fmt(warm_ratio)}",
         "met": met(warm_ratio, lambda v: v <= TARGET_304_RATIO)},
        {"target": f"peak at 1,000 sources <= {TARGET_PEAK_MIB:g} MiB", "what": "peak MiB (tree PSS)",
         "feeds": feeds_peak, "reader": None, "measured": at_1000,
         "shown": f"{fmt(feeds_peak, ',.1f')} MiB at {n_sources:,} sources",
         "met": met(at_1000, lambda v: v <= TARGET_PEAK_MIB)},
        {"target": f"peak at 1,000 <= {TARGET_PEAK_GROWTH:g}x peak at 200", "what": "peak MiB, 1,000/200",
         "feeds": feeds_peak if n_sources == 1000 else None, "reader": pair["peak_200"],
         "measured": pair["growth"], "shown": pair["shown"],
         "met": met(pair["growth"], lambda v: v <= TARGET_PEAK_GROWTH)},
    ]
    return {"rows": out_rows, "ratios": ratios, "targets": targets, "memory_pair": pair}


def memory_pair(n_sources: int, feeds_peak: float | None) -> dict[str, Any]:
    """The peak at 200 sources beside this run's at 1,000. The 200-source peak is read
    from the newest quick result in bench/results/ (``make bench-quick`` writes one), so
    ``make bench-quick && make bench`` gives both; a run at another size leaves it n/a."""
    out: dict[str, Any] = {"peak_200": None, "from": None, "growth": None, "shown": "n/a"}
    if n_sources != 1000 or feeds_peak is None:
        out["shown"] = "needs a 1,000-source run and a quick (200) result"
        return out
    for path in sorted(RESULTS.glob("*-quick.json"), reverse=True):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            data = json.loads(path.read_text(encoding="utf-8"))
            if int(data["corpus"]["sources"]) != QUICK_SOURCES:
                continue
            peaks = [r["peak_rss_mib"] for r in data["rows"]
                     if r["key"] in ("feeds_cold", "feeds_304", "feeds_steady") and r["peak_rss_mib"]]
            if peaks:
                out.update(peak_200=max(peaks), **{"from": path.name})
                out["growth"] = feeds_peak / max(peaks)
                out["shown"] = f"{feeds_peak:,.1f} / {max(peaks):,.1f} = {out['growth']:.2f} ({path.name})"
                return out
    out["shown"] = "no quick (200-source) result in bench/results/"
    return out


Table_ = tuple[list[str], list[list[str]], set[int]]  # columns, rows, right-aligned column indexes


def tables(summary: dict[str, Any]) -> list[tuple[str, Table_]]:
    runs = [
        [r["label"], fmt(r["wall_s"]), f"{fmt(r['wall_min_s'])}-{fmt(r['wall_max_s'])}",
         fmt(r["entries_per_s"], ",.0f"), fmt(r["peak_rss_mib"], ",.1f"), fmt(r["cpu_s"]),
         fmt(r.get("candidates_per_entry")), fmt(r.get("judged_per_entry")), r["check"]]
        for r in summary["rows"]
    ]
    targets = [
        [t["what"], fmt(t["feeds"]), fmt(t["reader"]), t["shown"], t["target"],
         {True: "MET", False: "not met", None: "n/a"}[t["met"]]]
        for t in summary["targets"]
    ]
    shares = []
    for r in summary["rows"]:
        good = [x for x in r["samples"] if x["returncode"] == 0 and not x["timed_out"]]
        if r["key"].startswith("feeds_") and good:
            last = max(good, key=lambda x: x["tree_pss_peak_kib"])
            split = ", ".join(f"{k} {v / 1024:,.1f}" for k, v in last["pss_at_peak_kib"].items())
            shares.append([r["label"], fmt(last["tree_pss_peak_kib"] / 1024, ",.1f"), split])
    return [
        ("", (["run", "wall s", "min-max", "entries/s", "peak RSS MiB", "CPU s", "candidates/entry",
               "judge calls/entry", "check"], runs, {1, 2, 3, 4, 5, 6, 7})),
        ("feeds' peak by process (PSS MiB at the tree's peak, the run with the highest)",
         (["run", "tree", "main, forkserver, workers"], shares, {1})),
        ("feeds vs reader (medians) and the issue's targets",
         (["", "feeds", "reader", "ratio", "target", ""], targets, {1, 2})),
    ]


def render(summary: dict[str, Any], header: str) -> str:
    parts = tables(summary)
    try:
        from rich import box
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        return header + "\n\n" + "\n".join(_plain(title, t) for title, t in parts)
    console = Console(width=220, record=True, file=io.StringIO())
    console.print(header)
    for title, (cols, rows, right) in parts:
        t = Table(title=title or None, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for i, c in enumerate(cols):
            t.add_column(c, justify="right" if i in right else "left", no_wrap=True)
        for r in rows:
            t.add_row(*r)
        console.print(t)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


def _plain(title: str, table: Table_) -> str:
    cols, rows, right = table
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if i in right else v.ljust(w)
                         for i, (v, w) in enumerate(zip(values, widths, strict=True))).rstrip()

    out = [title] if title else []
    out += [line(cols), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out) + "\n"


# --- the run ------------------------------------------------------------------------------


@contextlib.contextmanager
def terminate_cleanly() -> Iterator[None]:
    """SIGTERM/SIGHUP become KeyboardInterrupt, so every ``finally`` (server, children) runs."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def git_describe() -> str:
    try:
        head = subprocess.run(["git", "-C", str(PROJECT), "rev-parse", "--short", "HEAD"],
                              check=False, capture_output=True, text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(PROJECT), "status", "--porcelain", "--", "feeds"],
                               check=False, capture_output=True, text=True, timeout=30).stdout.strip()
    except (subprocess.SubprocessError, OSError):
        return "?"
    return head + ("+dirty(feeds/)" if dirty else "")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="feeds vs reader on a generated corpus served by nginx.")
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_SOURCES} sources, 1 repeat")
    ap.add_argument("--sources", type=int, help=f"feeds in the corpus (default {DEFAULT_SOURCES}, "
                                                f"--quick {QUICK_SOURCES})")
    ap.add_argument("--entries", type=int, default=DEFAULT_ENTRIES, help="entries per feed")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--profile", choices=PROFILES, default="default",
                    help="corpus text: default (random words) or templated (news templates, "
                         "bench/templated.py)")
    ap.add_argument("--repeat", type=int, help="runs of each row (default 3, --quick 1); medians reported")
    ap.add_argument("--concurrency", type=int, default=8, help="feeds' [fetch] concurrency")
    ap.add_argument("--reader-workers", type=int, default=1,
                    help="reader's update_feeds(workers=...) (default 1, reader's own default)")
    ap.add_argument("--timeout", type=float, help="seconds allowed to each child (default 900, --quick 300)")
    ap.add_argument("--server", choices=("auto", "nginx", "python"), default="auto",
                    help="auto: nginx, or Python only if nginx cannot be had")
    ap.add_argument("--no-reader", action="store_true", help="skip reader (no ratios)")
    ap.add_argument("--no-floors", action="store_true", help="skip the floor rows")
    ap.add_argument("--corpus-dir", type=Path, help=f"where the corpus is cached (default {CORPUS_CACHE})")
    ap.add_argument("--json", type=Path, default=RESULTS / "latest.json", help="where the JSON goes")
    ap.add_argument("--feeds-bin", type=Path, default=PROJECT / ".venv" / "bin" / "feeds")
    args = ap.parse_args(argv)
    args.sources = args.sources or (QUICK_SOURCES if args.quick else DEFAULT_SOURCES)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.timeout = args.timeout or (300.0 if args.quick else 900.0)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    env = child_env()
    feeds_bin: Path = args.feeds_bin
    feeds_python = feeds_bin.parent / "python"
    if not feeds_bin.exists():
        log(f"{feeds_bin} is missing: run `make venv` first")
        return 2

    tag = "" if args.profile == "default" else f"-{args.profile}"
    corpus_dir = args.corpus_dir or CORPUS_CACHE / f"n{args.sources}-m{args.entries}-s{args.seed}{tag}"
    t0 = time.perf_counter()
    manifest = load_or_generate(corpus_dir, args.sources, args.entries, args.seed, args.profile)
    files: list[dict[str, Any]] = manifest["files"]
    total_entries = int(manifest["total_entries"])
    mib = int(manifest["total_bytes"]) / 2**20
    log(f"corpus {corpus_dir}: {args.sources} feeds, {total_entries:,} entries, {mib:,.0f} MiB "
        f"({time.perf_counter() - t0:.1f} s)")
    for f in files:  # into the page cache, so the first run does not pay for the disk
        (corpus_dir / f["path"]).read_bytes()

    has_force = feeds_has_force(feeds_bin, env)
    feeds_argv_304 = ["-q", "run", *(["--force"] if has_force else [])]
    log("feeds run --force: " + ("present, used for the all-304 run" if has_force
                                 else "absent; the second plain `feeds run` gets 304s"))
    reader_python = None if args.no_reader else ensure_reader_venv(args.timeout)
    if reader_python is None and not args.no_reader:
        log("!!! reader is not available: its rows and the ratios are skipped")

    rows: dict[str, Row] = {}

    def row(key: str, label: str, what: str, internal: bool = False) -> Row:
        rows[key] = Row(key, label, what, internal_wall=internal)
        return rows[key]

    feeds_cold = row("feeds_cold", "feeds run (cold)", "fresh project dir: fetch, parse, store, publish")
    feeds_304 = row("feeds_304", "feeds run" + (" --force" if has_force else "") + " (all 304)",
                    "same project dir again: every source answers 304")
    if reader_python is not None:
        reader_cold = row("reader_cold", "reader update_feeds (cold)", "fresh database: add feeds, update")
        reader_304 = row("reader_304", "reader update_feeds (all 304)", "same database again")
    feeds_steady = row("feeds_steady", "feeds run --force (steady)",
                       "after 10% of sources gained 2 entries and retention took the oldest 1%")
    if reader_python is not None:
        reader_steady = row("reader_steady", "reader update_feeds (steady)",
                            "the same change (reader keeps every entry: no retention)")
    floors: list[tuple[Row, list[str]]] = []
    if not args.no_floors:
        floor_py = str(BENCH / "floor.py")
        floors = [
            (row("floor_fp", "floor: feedparser, feeds' options",
                 "parse only; sanitize_html/resolve_relative_uris off", True),
             [str(feeds_python), floor_py, "parse", str(corpus_dir)]),
            (row("floor_fp_defaults", "floor: feedparser defaults", "parse only, as reader calls it", True),
             [str(feeds_python), floor_py, "parse-defaults", str(corpus_dir)]),
            (row("floor_lxml", "floor: lxml parse", "etree.fromstring + count items", True),
             [str(feeds_python), floor_py, "lxml", str(corpus_dir)]),
        ]

    server: StaticServer | None = None
    server_version = None
    interrupted = False
    work = Path(tempfile.mkdtemp(prefix="feeds-bench-"))
    with terminate_cleanly():
        try:
            # A copy of hard links: the steady-state rows change it, never the cache.
            served = work / "served"
            link_copy(corpus_dir, served)
            server = start_server(served, args.server)
            server_version = server.version()
            log(f"{server.kind} ({server_version}) serving the corpus at {server.base_url}")
            urls = [server.base_url + f["path"] for f in files]
            (work / "urls.txt").write_text("\n".join(urls) + "\n", encoding="utf-8")
            if not args.no_floors:
                floors.append((row("floor_fetch", f"floor: httpx GET all (c={args.concurrency})",
                                   "fetch every feed, read bodies, no parsing", True),
                               [str(feeds_python), str(BENCH / "floor.py"), "fetch", str(corpus_dir),
                                "--base", server.base_url, "--concurrency", str(args.concurrency)]))

            def run(r: Row, argv: list[str], rep: int, after: Callable[[Sample], None] | None = None) -> None:
                s = measure(argv, timeout=args.timeout, env=env)
                s.detail = last_json(s.stdout)
                if after is not None:
                    after(s)
                r.samples.append(s)
                state = "ok" if s.ok else ("TIMEOUT" if s.timed_out else f"FAILED rc={s.returncode}")
                log(f"[{rep + 1}/{args.repeat}] {r.label}: {r.wall(s):.2f} s, "
                    f"peak {s.peak_rss_kib / 1024:,.0f} MiB, {state}; {check_text(Row('', '', '', [s]))}")
                if not s.ok and s.stderr_tail.strip():
                    log("stderr: " + s.stderr_tail.strip()[-1500:])

            for rep in range(args.repeat):
                proj = work / f"feeds-{rep}"
                write_feeds_project(proj, urls, args.concurrency)
                base = [str(feeds_bin), "--root", str(proj)]

                def state_of(s: Sample, proj: Path = proj) -> None:
                    s.detail.update(feeds_state(proj))

                run(feeds_cold, [*base, "-q", "run"], rep, state_of)
                run(feeds_304, [*base, *feeds_argv_304], rep, state_of)
                if reader_python is not None:
                    db = work / f"reader-{rep}.sqlite"
                    rb = [str(reader_python), str(BENCH / "reader_bench.py"), "--db", str(db),
                          "--workers", str(args.reader_workers)]
                    run(reader_cold, [*rb, "--phase", "cold", "--urls", str(work / "urls.txt")], rep)
                    run(reader_304, [*rb, "--phase", "warm"], rep)
                for r, argv_ in floors:
                    run(r, argv_, rep)
                # The steady state: the same change served to both, then each updates.
                change = mutate(served, files, args.seed + rep)
                retired = retire_oldest(proj, RETENTION_DAYS)
                before = snapshot(proj / "public")

                def steady_of(s: Sample, proj: Path = proj, change: dict[str, int] = change,
                              retired: int = retired, before: dict[str, FileState] = before) -> None:
                    s.detail.update(feeds_state(proj))
                    s.detail.update(change, retired_by_bench=retired,
                                    **changed_outputs(before, snapshot(proj / "public")))

                run(feeds_steady, [*base, *feeds_argv_304], rep, steady_of)
                if reader_python is not None:
                    run(reader_steady, [*rb, "--phase", "warm"], rep,
                        lambda s, change=change: s.detail.update(change))
                link_copy(corpus_dir, served)  # pristine again for the next round
                shutil.rmtree(proj, ignore_errors=True)
        except KeyboardInterrupt:
            log("interrupted: stopping the server and cleaning up; reporting the runs done so far")
            interrupted = True
        finally:
            if server is not None:
                server.stop()
            shutil.rmtree(work, ignore_errors=True)

    if not any(r.samples for r in rows.values()):
        return 130 if interrupted else 1
    summary = summarise(rows, total_entries, args.sources)
    corpus_info = {k: v for k, v in manifest.items() if k != "files"}
    reader_version = next((s.detail.get("reader_version") for r in rows.values() for s in r.samples
                           if "reader_version" in s.detail), None)
    fp_version = next((s.detail.get("feedparser_version") for r in rows.values() for s in r.samples
                       if "feedparser_version" in s.detail), None)
    result: dict[str, Any] = {
        "schema": 1,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "interrupted": interrupted,
        "repeat": args.repeat,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "versions": {"feeds": tool_version([str(feeds_bin), "--version"]).split()[-1],
                     "feeds_git": git_describe(), "reader": reader_version, "feedparser": fp_version},
        "server": {"kind": server.kind if server else None, "version": server_version if server else None},
        "config": {"concurrency": args.concurrency, "per_host": args.concurrency,
                   "reader_workers": args.reader_workers,
                   "feeds_force_flag": has_force, "timeout_s": args.timeout},
        "corpus": {"dir": str(corpus_dir), **corpus_info},
        **summary,
    }
    header = (f"feeds vs reader: {args.sources} feeds x {args.entries} entries = {total_entries:,} entries "
              f"({args.profile} profile), "
              f"{mib:,.0f} MiB, served by {result['server']['kind']} "
              f"on 127.0.0.1; median of {args.repeat}{' (INTERRUPTED)' if interrupted else ''}; "
              f"{os.cpu_count()} CPUs; "
              f"feeds {result['versions']['feeds']} ({result['versions']['feeds_git']}), "
              f"reader {reader_version}")
    text = render(summary, header)
    print(text)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(result, indent=1) + "\n"
    args.json.write_text(payload, encoding="utf-8")
    if args.json == RESULTS / "latest.json":
        stamp = started.strftime("%Y%m%dT%H%M%SZ") + ("-quick" if args.quick else "")
        (RESULTS / f"{stamp}.json").write_text(payload, encoding="utf-8")
    log(f"JSON written to {args.json}")
    if interrupted:
        return 130
    failed = [r["label"] for r in summary["rows"] if r["ok_runs"] < r["runs"]]
    if failed:
        log("some runs failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
