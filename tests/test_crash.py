"""Crash safety: `feeds run` killed with SIGKILL at random moments, again and again.

Loopback sources whose feeds change every round (new items appear, old ones
slide out, some vanish for a round) and a local folder that grows are fetched
by `python -m feeds run --force` in a subprocess, which is killed after a
random delay: before it fetches, while a (deliberately slow) response is in
flight, while it parses and commits source after source, while it renders,
while it replaces files, after it has written everything. After every kill:

- every file in the output folder is complete and valid (Atom against RFC 4287,
  RSS and JSON Feed parse, HTML and OPML complete) and no feed lists an id twice;
- the state database opens and passes ``PRAGMA integrity_check``;

and every run that is let finish exits 0, publishes every id that any earlier
run ever made visible (nothing lost), each once, exactly the entries the state
database holds, and leaves no temp file behind.

The normal suite kills 10 times; ``CRASH_KILLS=100 make crash-test`` is the
full mode. ``CRASH_SEED`` replays a sequence (the seed is in every failure).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from conftest import FeedServer, Project
from helpers import output_ids

KILLS = int(os.environ.get("CRASH_KILLS", "10"))
SEED = int(os.environ.get("CRASH_SEED") or random.SystemRandom().randrange(1 << 32))

HTTP_SOURCES = ("alpha", "beta", "gamma", "delta")
SOURCES = ("seeds", *HTTP_SOURCES)
# Server-side delays (seconds) drawn per source and round: they widen the fetch window.
DELAYS = (0.0, 0.0, 0.05, 0.1, 0.2, 0.3)
# Each topic rule of the test config is met by one of these (the last one: no topic).
TOPIC_PHRASES = ("AI", "chip", "internet regulator", "")
SYLLABLES = ("ka", "lo", "mi", "ne", "tu", "ra", "si", "vo", "pe", "du", "gri", "fen", "zor", "bal",
             "quin", "sta", "mu", "ter", "ox", "yel")
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = 15  # items in a feed
FEED_FILES = ("all", "ai", "chips", "internet-policy")

RUN_TIMEOUT = 60.0  # one run, killed or not, must be over by then


def _words(rng: random.Random, n: int) -> str:
    return " ".join("".join(rng.choice(SYLLABLES) for _ in range(3)) for _ in range(n))


def item_xml(source: str, k: int) -> str:
    """Item ``k`` of ``source``: always the same text, distinct from every other item."""
    rng = random.Random(f"{source}:{k}")
    title = f"{_words(rng, 5).capitalize()} {TOPIC_PHRASES[k % len(TOPIC_PHRASES)]} {source} {k}"
    summary = (f"&lt;p&gt;{_words(rng, 30)} &lt;a href=\"/notes/{k}\"&gt;{_words(rng, 2)}&lt;/a&gt; "
               f"&lt;b&gt;{_words(rng, 10)}&lt;/b&gt;&lt;/p&gt;&lt;p&gt;{_words(rng, 40)}&lt;/p&gt;")
    published = format_datetime(BASE_TIME + timedelta(hours=k))
    return (f"<item><title>{title}</title><link>https://{source}.example/{k}?utm_source=x</link>"
            f"<guid isPermaLink=\"false\">{source}-{k}</guid><pubDate>{published}</pubDate>"
            f"<description>{summary}</description></item>")


def feed_xml(source: str, rnd: int) -> str:
    """The feed as round ``rnd`` serves it: one new item a round, the oldest slide
    out, and one in seven is missing this round (it comes back next round)."""
    newest = WINDOW + rnd
    keep = [k for k in range(max(0, newest - WINDOW + 1), newest + 1) if (k + rnd) % 7 != 0]
    items = "".join(item_xml(source, k) for k in reversed(keep))
    return (f"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>"
            f"<title>{source.capitalize()} News</title><link>https://{source}.example/</link>"
            f"<description>Round {rnd}</description>{items}</channel></rss>")


def article_md(rnd: int, edit: int = 0) -> str:
    rng = random.Random(f"seed:{rnd}")
    date = (BASE_TIME + timedelta(hours=rnd)).isoformat()
    return (f"---\ntitle: \"{_words(rng, 5).capitalize()} {TOPIC_PHRASES[rnd % 4]} note {rnd}\"\n"
            f"date: {date}\n---\n\n{_words(rng, 60)}\n\nEdit {edit}.\n")


def temp_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob(".*") if p.is_file()) if folder.is_dir() else []


@contextmanager
def inspect(db_path: Path) -> Iterator[sqlite3.Connection | None]:
    """A connection to a copy of the state database (with its WAL), or None if there is none.

    The original is left exactly as the killed run left it (a hot WAL included), so
    the next run, not this check, is the one that recovers it.
    """
    if not db_path.exists():
        yield None
        return
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / db_path.name
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError):
                shutil.copyfile(f"{db_path}{suffix}", f"{copy}{suffix}")
        db = sqlite3.connect(copy)
        try:
            yield db
        finally:
            db.close()


def integrity(db_path: Path) -> None:
    with inspect(db_path) as db:
        if db is not None:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def db_rows(db_path: Path) -> dict[str, str | None]:
    """Each source's last attempt, as the state database holds it: changes when a
    run commits that source."""
    with inspect(db_path) as db:
        if db is None:
            return {}
        try:
            return dict(db.execute("SELECT id, last_attempt FROM sources"))
        except sqlite3.OperationalError:  # created, no schema yet
            return {}


def db_entry_ids(db_path: Path) -> set[str]:
    with inspect(db_path) as db:
        assert db is not None
        return {r[0] for r in db.execute("SELECT id FROM entries")}


def descendants(pid: int) -> set[int]:
    """The processes started by ``pid`` and by them (parse workers and the like)."""
    children: dict[int, list[int]] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat_file.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    left = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            left.add(pid)
    return left


def stamps(public: Path) -> dict[str, int]:
    """The names and mtimes in the output folder (temp files included): they change
    when a run starts replacing files."""
    try:
        with os.scandir(public) as entries:
            return {e.name: e.stat().st_mtime_ns for e in entries}
    except OSError:
        return {}


def snapshot(public: Path) -> dict[str, bytes]:
    if not public.is_dir():
        return {}
    return {p.relative_to(public).as_posix(): p.read_bytes() for p in public.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


@dataclass
class Harness:
    project: Project
    server: FeedServer
    rng: random.Random
    log: Path
    rnd: int = 0
    # How long the stretches of a run take, in seconds; measured as runs complete.
    to_first_request: float = 0.6
    after_fetch: float = 0.5
    max_delay: float = 0.0
    ever: dict[str, set[str]] = field(default_factory=dict)  # ids any run made visible, per feed
    phases: Counter[str] = field(default_factory=Counter)
    checked: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # files found valid
    kills: int = 0
    completed: int = 0
    temps_left: int = 0  # temp files found right after a kill
    temps_swept: int = 0
    hot_wal: int = 0  # kills that left a WAL with frames for the next run to recover

    @property
    def db(self) -> Path:
        return self.project.root / "var" / "state.db"

    def context(self) -> str:
        tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
        return f"(CRASH_SEED={SEED}, round {self.rnd}, phases {dict(self.phases)})\n{tail}"

    def advance(self) -> None:
        """Round ``rnd``: new feed contents and delays, a new local article every other
        round, an edited one every fifth."""
        self.rnd += 1
        delays = [self.rng.choice(DELAYS) for _ in HTTP_SOURCES]
        self.max_delay = max(delays)
        for source, delay in zip(HTTP_SOURCES, delays, strict=True):
            self.server.add(f"/{source}.rss", feed_xml(source, self.rnd), delay=delay)
        seeds = self.project.root / "seeds"
        if self.rnd % 2 == 1:
            (seeds / f"r{self.rnd:04d}.md").write_text(article_md(self.rnd), encoding="utf-8")
        if self.rnd % 5 == 0:
            (seeds / "r0001.md").write_text(article_md(1, edit=self.rnd), encoding="utf-8")

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("wb") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "feeds", "--root", str(self.project.root), "run", "--force"],
                stdout=out, stderr=subprocess.STDOUT)

    def check_outputs(self) -> dict[str, list[str]]:
        try:
            ids = output_ids(self.project.public, self.checked)
            integrity(self.db)
        except AssertionError as exc:
            raise AssertionError(f"{exc} {self.context()}") from exc
        for name, listed in ids.items():
            self.ever.setdefault(name, set()).update(listed)
        return ids

    def answered(self, hits_before: int) -> bool:
        """Every source of this run has had its answer."""
        return len(self.server.hits) - hits_before >= len(HTTP_SOURCES) and self.server.inflight == 0

    def kill_run(self) -> None:
        self.advance()
        public = self.project.public
        before_db, before_out = db_rows(self.db), snapshot(public)
        hits_before = len(self.server.hits)
        proc = self.start()

        def wait(predicate: Callable[[], bool]) -> None:
            deadline = time.monotonic() + RUN_TIMEOUT
            while not predicate() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.001)

        try:
            # Aim at each stretch of a run in turn: start-up (imports, config, database),
            # the fetch, the file replacement, and anywhere after the last answer (parse,
            # commit, render, write, exit).
            aim = self.rng.random()
            if aim < 0.12:
                time.sleep(self.rng.uniform(0.05, self.to_first_request))
            elif aim < 0.35:
                wait(lambda: len(self.server.hits) > hits_before)
                time.sleep(self.rng.uniform(0, self.max_delay + 0.01))
            elif aim < 0.55:
                # Aim at the file replacement: the first temp file or replaced file seen.
                mtimes = stamps(public)
                wait(lambda: stamps(public) != mtimes)
                time.sleep(self.rng.uniform(0, 0.03))
            else:
                wait(lambda: self.answered(hits_before))
                time.sleep(self.rng.uniform(0, self.after_fetch * 1.1))
            inflight = self.server.inflight
            fetched = len(self.server.hits) - hits_before
            workers = descendants(proc.pid)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            code = proc.wait(timeout=RUN_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        # Processes the run started must not outlive it (they would hold memory, or locks).
        deadline = time.monotonic() + 10
        while alive(workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        stray = alive(workers)
        for pid in stray:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert not stray, f"processes of a killed run lived on: {sorted(stray)} {self.context()}"
        if code == 0:
            self.phases["finished before the kill"] += 1
            self.after_complete()
            return
        assert code == -signal.SIGKILL, f"run failed by itself with {code} {self.context()}"
        self.kills += 1
        committed = {s for s, at in db_rows(self.db).items() if before_db.get(s) != at}
        after_out = snapshot(public)
        temps = temp_files(public)
        self.temps_left += len(temps)
        wal = self.db.with_name(self.db.name + "-wal")
        self.hot_wal += wal.exists() and wal.stat().st_size > 0
        changed = {k for k, v in after_out.items() if before_out.get(k) != v} - {"status.json"}
        if fetched == 0:
            phase = "startup (before any request)"
        elif not committed:
            phase = "fetch (response in flight)" if inflight else "parse (before the first commit)"
        elif len(committed) < len(SOURCES):
            phase = "parse/commit (some sources committed)"
        elif after_out.get("status.json") != before_out.get("status.json"):
            phase = "after publishing (status.json written)"
        elif temps:
            phase = "file replacement (temp file left)"
        elif changed:
            phase = "file replacement (some files replaced)"
        else:
            phase = "purge/render (all committed, no file replaced)"
        self.phases[phase] += 1
        self.check_outputs()

    def complete_run(self) -> None:
        """A run let finish; it also measures how long the stretches of a run take."""
        self.advance()
        temps = len(temp_files(self.project.public))
        hits_before = len(self.server.hits)
        proc = self.start()
        started = time.monotonic()
        first = answered = None
        try:
            deadline = started + RUN_TIMEOUT
            while proc.poll() is None and time.monotonic() < deadline:
                now = time.monotonic()
                if first is None and len(self.server.hits) > hits_before:
                    first = now
                if answered is None and self.answered(hits_before):
                    answered = now
                time.sleep(0.001)
            code = proc.wait(timeout=1)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        ended = time.monotonic()
        assert code == 0, f"a run after a crash failed with {code} {self.context()}"
        if first is not None and answered is not None:
            self.to_first_request = first - started
            self.after_fetch = ended - answered
        self.temps_swept += temps
        self.after_complete()

    def after_complete(self) -> None:
        self.completed += 1
        text = self.log.read_text(errors="replace")
        assert "0 failed" in text and "Traceback" not in text, self.context()
        previous = {name: set(ids) for name, ids in self.ever.items()}
        ids = self.check_outputs()
        for name in (f"{topic}.{ext}" for topic in FEED_FILES for ext in ("atom", "rss", "json")):
            lost = previous.get(name, set()) - set(ids[name])
            assert not lost, f"{name} lost {len(lost)} published entries {self.context()}"
        assert set(ids["all.json"]) == db_entry_ids(self.db), self.context()
        left = temp_files(self.project.public)
        assert not left, f"temp files left after a complete run: {left} {self.context()}"


@pytest.fixture
def harness(project: Project, server: FeedServer, tmp_path: Path) -> Iterator[Harness]:
    project.write_feeds(max_entries=5000, read_timeout=5, total_timeout=10)
    sources: list[dict[str, object]] = [{"id": "seeds", "title": "Local articles", "path": "seeds"}]
    for s in HTTP_SOURCES:
        source: dict[str, object] = {"id": s, "title": f"{s.capitalize()} News",
                                     "url": server.url(f"/{s}.rss")}
        if s == "delta":
            source["topics"] = ["chips"]
        sources.append(source)
    project.write_sources(sources)
    yield Harness(project, server, random.Random(SEED), tmp_path / "run.log")


@pytest.mark.slow
@pytest.mark.timeout(90 + KILLS * 10)
def test_sigkill_at_random_moments_never_corrupts_or_loses_anything(harness: Harness) -> None:
    runs = 0
    while harness.kills < KILLS and runs < KILLS * 3 + 10:
        runs += 1
        # The first run is killed in a fresh project, the second is let finish (and times
        # the stretches of a run); then now and then a run finishes, and otherwise kills
        # follow kills (a crash while recovering from a crash).
        if runs == 2 or (runs > 2 and harness.rng.random() < 0.2):
            harness.complete_run()
        else:
            harness.kill_run()
    harness.complete_run()
    assert harness.kills >= KILLS, harness.context()
    summary = {
        "seed": SEED, "runs": runs + 1, "kills": harness.kills, "completed": harness.completed,
        "rounds": harness.rnd, "entries": len(harness.ever["all.json"]),
        "temp_files_left_by_kills": harness.temps_left, "temp_files_swept": harness.temps_swept,
        "kills_leaving_a_hot_wal": harness.hot_wal,
        "phases": dict(harness.phases.most_common()),
    }
    print("\ncrash harness:", json.dumps(summary, indent=2))
