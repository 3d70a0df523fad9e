"""The atheris side of the fuzz targets in tests/fuzz_targets.py.

Each ``fuzz_<target>.py`` calls ``main("<target>")``. The harness imports feeds and
its libraries, instruments all loaded code for coverage (the package is an editable
install, which atheris' import hook cannot see, hence ``instrument_all``), and hands
each input to the target. An exception that is a known, reported bug (see KNOWN_BUGS)
or that an existing regression file already shows is stepped over and counted, so
one bug does not end the run; anything else is a crash and libFuzzer writes the input
to ``-artifact_prefix`` (the runner points it at tests/data/fuzz-regressions/<target>/).
"""

from __future__ import annotations

import sys
import types
from collections import Counter
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import fuzz_targets

# Modules whose Python code is instrumented for coverage: ours, the libraries the
# targets drive, and the parts of the standard library they lean on. (atheris'
# instrument_all takes ~45 s here and gives less; its import hook misses the
# editable install.)
_INSTRUMENTED = ("feeds", "feedparser", "feedparser_sgmllib", "markdown_it", "yaml", "tomllib",
                 "urllib", "html", "email", "json", "ipaddress", "encodings.idna", "stringprep",
                 "zoneinfo", "xml", "fuzz_targets", "html_safety")


def _instrument_selected() -> int:
    done: set[int] = set()

    def one(fn: object) -> None:
        if isinstance(fn, staticmethod | classmethod):
            fn = fn.__func__
        if isinstance(fn, property):
            for f in (fn.fget, fn.fset):
                one(f)
        elif isinstance(fn, types.FunctionType) and id(fn) not in done:
            done.add(id(fn))
            atheris.instrument_func(fn)

    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(_INSTRUMENTED):
            continue
        if name not in _INSTRUMENTED and not name.startswith(tuple(p + "." for p in _INSTRUMENTED)):
            continue
        for obj in list(vars(module).values()):
            if getattr(obj, "__module__", None) != name:
                continue
            if isinstance(obj, type):
                for attr in list(vars(obj).values()):
                    one(attr)
            else:
                one(obj)
    return len(done)


def _known_signatures(target: str) -> set[str]:
    """Signatures of the crashes the regression files still show."""
    check = fuzz_targets.TARGETS[target]
    found: set[str] = set()
    for path in fuzz_targets.replay_files(target):
        try:
            check(path.read_bytes())
        except Exception as exc:
            found.add(fuzz_targets.signature(target, exc))
    return found


def main(target: str) -> None:
    check = fuzz_targets.TARGETS[target]
    known = _known_signatures(target) | {
        s for s in fuzz_targets.KNOWN_BUGS if s.startswith(target + ":")}
    # Warm up on the seeds first, so that modules loaded lazily get instrumented too.
    for seed in fuzz_targets.SEEDS[target]():
        try:
            check(seed)
        except Exception as exc:
            sig = fuzz_targets.signature(target, exc)
            print(f"fuzz[{target}]: a SEED crashes: {sig}", flush=True)
            known.add(sig)
    print(f"fuzz[{target}]: stepping over {len(known)} known crash signature(s)", flush=True)
    for sig in sorted(known):
        print(f"  known: {sig}", flush=True)
    stepped_over: Counter[str] = Counter()

    def one_input(data: bytes) -> None:
        try:
            check(data)
        except Exception as exc:
            sig = fuzz_targets.signature(target, exc)
            if sig not in known:
                print(f"fuzz[{target}]: NEW CRASH {sig}", flush=True)
                raise
            stepped_over[sig] += 1
            n = stepped_over[sig]
            if n & (n - 1) == 0:  # 1, 2, 4, 8...: libFuzzer exits without Python's atexit
                print(f"fuzz[{target}]: stepped over known {sig} ({n} times so far)", flush=True)

    print(f"fuzz[{target}]: instrumented {_instrument_selected()} functions", flush=True)
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
