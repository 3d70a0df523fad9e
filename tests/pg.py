"""PostgreSQL for the tests: the server FEEDS_TEST_DATABASE_URL names, else a
throwaway cluster of our own, else a skip that says why.

The throwaway cluster is made with the installed binaries (PATH, then
/usr/lib/postgresql/<newest>/bin) in a temporary folder: initdb, then pg_ctl with a
free port, no TCP listener, and the unix socket in that folder. initdb refuses to
run as root, so as root the cluster belongs to the ``postgres`` user (Debian's
package makes it) or else ``nobody``, through runuser. One cluster per test
process, started when a test first needs it and stopped at exit.

Each test gets a schema of its own (``fresh_schema``), named in its URL
(``options=-csearch_path=...``), so tests share one server without seeing each
other; the store keys its advisory locks by schema too.

FEEDS_REQUIRE_POSTGRES=1 turns the skip into a failure (CI sets it).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

URL_ENV = "FEEDS_TEST_DATABASE_URL"
REQUIRE_ENV = "FEEDS_REQUIRE_POSTGRES"
_STARTUP_SECONDS = 60


def binaries() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else Debian's newest."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                     key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)
    for folder in reversed(folders):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _owner() -> str | None:
    """Who runs the cluster when we are root (initdb refuses root)."""
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    return None


class Cluster:
    """A throwaway PostgreSQL cluster in a temporary folder."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="feeds-pg-"))
        self.port = _free_port()
        self.user = _owner() if os.geteuid() == 0 else None
        if os.geteuid() == 0 and self.user is None:
            raise RuntimeError("running as root with no 'postgres' or 'nobody' user for initdb")
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self.data = self.dir / "data"
        self._run("initdb", "-D", str(self.data), "-U", "feeds", "--auth=trust", "-N",
                  "-E", "UTF8", "--locale=C")
        options = (f"-c listen_addresses='' -c unix_socket_directories='{self.dir}' -p {self.port}"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"),
                  "-w", "-t", str(_STARTUP_SECONDS), "start")
        atexit.register(self.stop)
        self.url = f"postgresql://feeds@/postgres?host={quote(str(self.dir), safe='')}&port={self.port}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=_STARTUP_SECONDS + 30,
                              cwd=self.dir, check=False)
        if done.returncode != 0:
            log = self.dir / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()} {tail}")

    def stop(self) -> None:
        if self.data.exists():
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-t", "30", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


_server: list[tuple[str | None, str]] = []  # (url, why not), found once in this process


def server() -> tuple[str | None, str]:
    """The test server's URL, or None and why there is none."""
    if not _server:
        _server.append(_find_server())
    return _server[0]


def _find_server() -> tuple[str | None, str]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, "psycopg is not installed (pip install -e '.[test]')"
    if os.environ.get(URL_ENV):
        return os.environ[URL_ENV], ""
    bin_dir = binaries()
    if bin_dir is None:
        return None, (f"no PostgreSQL: set {URL_ENV}, or install PostgreSQL's server binaries "
                      "(apt-get install postgresql)")
    try:
        return Cluster(bin_dir).url, ""
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return None, f"cannot start a throwaway PostgreSQL cluster: {exc}"


def with_schema(url: str, schema: str) -> str:
    """``url`` with ``schema`` first on the search path."""
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-csearch_path={schema}', safe='')}"


def required_server() -> str:
    """The test server's URL; without one the test is skipped, or fails under
    FEEDS_REQUIRE_POSTGRES=1."""
    url, why = server()
    if url is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"PostgreSQL is required ({REQUIRE_ENV}=1): {why}")
        pytest.skip(f"PostgreSQL tests skipped: {why}")
    return url


def fresh_schema() -> tuple[str, str, str]:
    """A new, empty schema: (the server's URL, the schema's name, a URL using it).
    Skips (or, with FEEDS_REQUIRE_POSTGRES=1, fails) without a server."""
    import psycopg

    url = required_server()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return url, schema, with_schema(url, schema)


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with contextlib.suppress(psycopg.Error), psycopg.connect(url, autocommit=True,
                                                             connect_timeout=10) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
