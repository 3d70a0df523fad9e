"""Run one command and write its wall time and resource usage as JSON to a file.

    python -I -S bench/launch.py REPORT.json COMMAND [ARGS...]

bench/run.py starts every measured command through this small process instead
of forking it from the driver itself: on Linux a child's ``ru_maxrss`` can never
be lower than the RSS of the process it was forked from (the old address space's
high-water mark is carried through ``exec``), so a child forked from a 60 MiB
driver reports at least 60 MiB. Forked from this ~10 MiB launcher, it reports
its own peak. Exits with the command's exit code (128 + N if killed by signal N).
"""

import json
import os
import sys
import time


def main() -> int:
    report, argv = sys.argv[1], sys.argv[2:]
    t0 = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    with open(report, "w", encoding="utf-8") as fh:
        json.dump({"wall_s": wall, "returncode": code, "maxrss_kib": usage.ru_maxrss,
                   "cpu_s": usage.ru_utime + usage.ru_stime}, fh)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    raise SystemExit(main())
