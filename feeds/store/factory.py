"""Where the state is, and the one way to open it.

Every command, the run, the daemon and the workers open the state through
``open_store(settings)`` (or ``open_location`` for a place named on the command
line): SQLite at ``state_path`` by default, PostgreSQL when ``state_url`` (or
``FEEDS_STATE_URL``, applied by ``feeds.config``) names a database. A location is a
``postgresql://`` URL, a ``sqlite:///path`` URL, or a file path. psycopg is imported
only when a PostgreSQL state is opened: the SQLite default never needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from feeds.errors import StateError
from feeds.store.protocol import StoreProtocol
from feeds.store.state import Store
from feeds.types import Settings

_PG_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(_PG_SCHEMES)


def state_location(settings: Settings) -> str | Path:
    """The configured state: its PostgreSQL URL, else its SQLite file."""
    return settings.state_url or settings.state_path


def parse_location(text: str, root: Path | None = None) -> str | Path:
    """A location given on the command line: a PostgreSQL URL stays a URL;
    ``sqlite:///path`` and a plain path are a file (relative to ``root``)."""
    if is_postgres(text):
        return text
    if text.startswith("sqlite:///"):
        return Path(text[len("sqlite://"):])
    if "://" in text:
        raise StateError(f"{text.split('://', maxsplit=1)[0]}://...: not a state location; give a "
                         "postgresql:// URL, a sqlite:/// URL or a file path")
    path = Path(text)
    return path if root is None or path.is_absolute() else root / path


def open_location(location: str | Path, *, shared: bool = False) -> StoreProtocol:
    """Open (creating or migrating) the state at ``location``."""
    if is_postgres(location):
        assert isinstance(location, str)
        try:
            from feeds.store.postgres import PgStore
        except ImportError:
            raise StateError("the state is on PostgreSQL, and psycopg is not installed: "
                             "pip install 'feeds[postgres]'") from None
        return PgStore(location, shared=shared)
    return Store(Path(location), shared=shared)


def open_store(settings: Settings, *, shared: bool = False) -> StoreProtocol:
    """Open the configured state. ``shared``: usable from another thread, one at a time."""
    return open_location(state_location(settings), shared=shared)


def state_exists(settings: Settings) -> bool:
    """Whether there is a state to read without making one: a SQLite file is made
    by opening it; a PostgreSQL database is always there to ask."""
    return settings.state_url is not None or settings.state_path.exists()


def run_lock(settings: Settings) -> AbstractContextManager[None]:
    """The lock that keeps two runs on one state apart, across processes and, on
    PostgreSQL, across machines: an advisory lock of the database. A SQLite
    state's lock is the file lock beside it (``feeds.run.lock``), taken by the caller."""
    if settings.state_url is None:
        return _nothing()
    try:
        from feeds.store.postgres import run_lock as pg_run_lock
    except ImportError:
        raise StateError("the state is on PostgreSQL, and psycopg is not installed: "
                         "pip install 'feeds[postgres]'") from None
    return pg_run_lock(settings.state_url)


@contextmanager
def _nothing() -> Iterator[None]:
    yield
