"""Run every fuzz harness for a time budget: ``make fuzz`` (FUZZ_SECONDS per target, default 60).

    .venv/bin/python fuzz/run.py [--seconds N] [TARGET ...]

Installs atheris into the running interpreter's environment if it is missing
(``pip install atheris``: wheels for CPython 3.11 on x86-64 Linux, no compiler
needed). If it cannot be installed, says so loudly and fuzzes with the same
targets and mutators driven by ``random`` instead (no coverage guidance).

Per target: seeds from tests/data/ are written to var/fuzz/seeds/<target>/, the
growing corpus lives in var/fuzz/corpus/<target>/, the log in var/fuzz/logs/, and
crash, timeout and out-of-memory inputs go to tests/data/fuzz-regressions/<target>/,
which tests/test_fuzz.py replays. After a crash the harness is restarted for the
rest of the budget, stepping over the crash it found. A summary is printed and
written to var/fuzz/summary.json; the exit status is 1 if a new crash was found.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FUZZ = REPO / "fuzz"
WORK = REPO / "var" / "fuzz"
sys.path.insert(0, str(REPO / "tests"))

import fuzz_targets  # noqa: E402

MAX_LEN = {"parse": 16384, "articles": 16384, "canonical": 1024, "sanitize": 16384, "config": 32768}
MAX_RESTARTS = 8


def _loud(message: str) -> None:
    bar = "!" * 78
    print(f"\n{bar}\n{message}\n{bar}\n", file=sys.stderr, flush=True)


def ensure_atheris() -> bool:
    if importlib.util.find_spec("atheris") is not None:
        return True
    print("fuzz: atheris is not installed; installing it into this environment...", flush=True)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "atheris"], check=False)
    importlib.invalidate_caches()
    if done.returncode == 0 and importlib.util.find_spec("atheris") is not None:
        return True
    _loud("fuzz: ATHERIS COULD NOT BE INSTALLED (pip install atheris failed).\n"
          "Falling back to random mutation runs without coverage guidance.")
    return False


def _dict_entry(token: bytes) -> str:
    return '"' + "".join(chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\x{b:02x}"
                         for b in token) + '"'


def prepare(target: str) -> tuple[Path, Path, Path]:
    seeds = WORK / "seeds" / target
    corpus = WORK / "corpus" / target
    for folder in (seeds, corpus, WORK / "logs", fuzz_targets.REGRESSIONS / target):
        folder.mkdir(parents=True, exist_ok=True)
    for old in seeds.iterdir():
        old.unlink()
    for data in fuzz_targets.SEEDS[target]():
        (seeds / hashlib.sha1(data).hexdigest()).write_bytes(data)
    dictionary = WORK / f"{target}.dict"
    dictionary.write_text("\n".join(_dict_entry(t) for t in fuzz_targets.TOKENS[target]) + "\n")
    return seeds, corpus, dictionary


_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_STATUS = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
_EXECUTED = re.compile(r"stat::number_of_executed_units: (\d+)")


def run_atheris(target: str, seconds: int) -> dict[str, Any]:
    seeds, corpus, dictionary = prepare(target)
    artifacts = fuzz_targets.REGRESSIONS / target
    log_path = WORK / "logs" / f"{target}.log"
    before = {p.name for p in artifacts.iterdir()}
    deadline = time.monotonic() + seconds
    result: dict[str, Any] = {"target": target, "engine": "atheris", "executions": 0, "runs": 0,
                              "cov": 0, "ft": 0, "corpus": 0, "new_crash_signatures": []}
    with open(log_path, "w", encoding="utf-8") as log:
        while (left := int(deadline - time.monotonic())) >= 2 and result["runs"] <= MAX_RESTARTS:
            result["runs"] += 1
            cmd = [sys.executable, str(FUZZ / f"fuzz_{target}.py"), str(corpus), str(seeds),
                   f"-max_total_time={left}", "-timeout=10", "-rss_limit_mb=2048",
                   f"-max_len={MAX_LEN[target]}", f"-dict={dictionary}",
                   f"-artifact_prefix={artifacts}/", "-print_final_stats=1"]
            print(f"fuzz[{target}]: run {result['runs']}, {left} s left", flush=True)
            proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, errors="replace", check=False)
            log.write(proc.stdout)
            log.flush()
            executed = [int(n) for n in _EXECUTED.findall(proc.stdout)]
            status = _STATUS.findall(proc.stdout)
            if executed:
                result["executions"] += executed[-1]
            elif status:
                result["executions"] += int(status[-1][0])
            if status:
                _, cov, ft, corp = status[-1]
                result["cov"] = max(result["cov"], int(cov))
                result["ft"] = max(result["ft"], int(ft))
                result["corpus"] = max(result["corpus"], int(corp))
            result["new_crash_signatures"] += re.findall(r"NEW CRASH (\S+)", proc.stdout)
            if proc.returncode == 0:
                break
            if not re.search(r"NEW CRASH|ERROR: libFuzzer|ALARM|out-of-memory", proc.stdout):
                print(proc.stdout[-3000:], file=sys.stderr)
                result["error"] = f"harness exited with {proc.returncode}"
                break
    result["seconds"] = seconds
    result["crash_files"] = sorted({p.name for p in artifacts.iterdir()} - before)
    result["log"] = str(log_path.relative_to(REPO))
    return result


def run_random(target: str, seconds: int) -> dict[str, Any]:
    """The fallback: the same targets and mutators, driven by ``random``."""
    check = fuzz_targets.TARGETS[target]
    seeds = fuzz_targets.SEEDS[target]()
    tokens = fuzz_targets.TOKENS[target]
    artifacts = fuzz_targets.REGRESSIONS / target
    artifacts.mkdir(parents=True, exist_ok=True)
    rng = random.Random(os.environ.get("FUZZ_SEED", "feeds"))
    deadline = time.monotonic() + seconds
    executions, seen, crash_files = 0, set(), []
    while time.monotonic() < deadline:
        ops = [(rng.randrange(8), rng.randrange(1 << 20), rng.randrange(1 << 16), rng.randrange(1 << 20))
               for _ in range(rng.randint(1, 8))]
        data = fuzz_targets.mutate(rng.choice(seeds), ops, seeds, tokens)
        executions += 1
        try:
            with fuzz_targets.time_limit(10.0):
                check(data)
        except Exception as exc:
            sig = fuzz_targets.signature(target, exc)
            if sig in fuzz_targets.KNOWN_BUGS or sig in seen:
                continue
            seen.add(sig)
            name = f"crash-{hashlib.sha1(data).hexdigest()}"
            (artifacts / name).write_bytes(data)
            crash_files.append(name)
            print(f"fuzz[{target}]: NEW CRASH {sig} -> {name}", flush=True)
    return {"target": target, "engine": "random (no atheris)", "executions": executions,
            "seconds": seconds, "new_crash_signatures": sorted(seen), "crash_files": crash_files}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", choices=[[], *fuzz_targets.TARGETS], default=[])
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "60")))
    parser.add_argument("--no-atheris", action="store_true", help="use the random fallback")
    args = parser.parse_args()
    targets = args.targets or list(fuzz_targets.TARGETS)
    use_atheris = not args.no_atheris and ensure_atheris()
    results = []
    for target in targets:
        started = time.monotonic()
        result = run_atheris(target, args.seconds) if use_atheris else run_random(target, args.seconds)
        result["wall_seconds"] = round(time.monotonic() - started, 1)
        results.append(result)
        print(f"fuzz[{target}]: {json.dumps(result)}", flush=True)
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "summary.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{'target':<10} {'engine':<8} {'execs':>10} {'exec/s':>8} {'cov':>6} {'ft':>6} "
          f"{'corpus':>6} {'crashes':>7}")
    for r in results:
        rate = r["executions"] / max(r["wall_seconds"], 1)
        print(f"{r['target']:<10} {r['engine'][:8]:<8} {r['executions']:>10} {rate:>8.0f} "
              f"{r.get('cov', '-'):>6} {r.get('ft', '-'):>6} {r.get('corpus', '-'):>6} "
              f"{len(r['crash_files']):>7}")
    crashed = [f"{r['target']}/{f}" for r in results for f in r["crash_files"]]
    if crashed:
        print("\nnew crash inputs (replayed by tests/test_fuzz.py):")
        for name in crashed:
            print(f"  tests/data/fuzz-regressions/{name}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
