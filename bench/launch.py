"""Run one command and write its wall time and resource usage as JSON to a file.

    python -I -S bench/launch.py REPORT.json COMMAND [ARGS...]

bench/run.py starts every measured command through this small process instead
of forking it from the driver itself: on Linux a child's ``ru_maxrss`` can never
be lower than the RSS of the process it was forked from (the old address space's
high-water mark is carried through ``exec``), so a child forked from a 60 MiB
driver reports at least 60 MiB. Forked from this ~10 MiB launcher, it reports
its own peak. Exits with the command's exit code (128 + N if killed by signal N).

It is also the command's subreaper (``PR_SET_CHILD_SUBREAPER``): processes the
command leaves behind (multiprocessing's forkserver, which outlives feeds' main
process by a moment) are reaped here, for at most ``REAP_S`` seconds, so that the
kernel adds their I/O to this process's. ``write_bytes`` is then the bytes the whole
tree caused to be written to storage (``/proc/self/io``, reaped children included).
"""

import contextlib
import ctypes
import json
import os
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
REAP_S = 10.0


def _io() -> dict[str, int]:
    try:
        with open("/proc/self/io", encoding="ascii") as fh:
            return {k: int(v) for k, v in (line.split(": ") for line in fh if ": " in line)}
    except (OSError, ValueError):
        return {}


def _reap_rest(deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.02)


def main() -> int:
    report, argv = sys.argv[1], sys.argv[2:]
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    before = _io()
    t0 = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    _reap_rest(time.monotonic() + REAP_S)
    after = _io()
    with open(report, "w", encoding="utf-8") as fh:
        json.dump({"wall_s": wall, "returncode": code, "maxrss_kib": usage.ru_maxrss,
                   "cpu_s": usage.ru_utime + usage.ru_stime,
                   "write_bytes": after.get("write_bytes", 0) - before.get("write_bytes", 0),
                   "cancelled_write_bytes": (after.get("cancelled_write_bytes", 0)
                                             - before.get("cancelled_write_bytes", 0))}, fh)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    raise SystemExit(main())
