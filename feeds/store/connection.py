"""The connection to the state database and its transaction machinery.

``Connection`` opens (and creates or migrates) the database, and owns transactions,
batches of them, and the lsh rows written when a transaction ends. ``sealed`` makes
a store class keep its promise that its public methods raise ``StateError`` for any
problem of the database, never an ``sqlite3`` error.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self, TypeVar

from feeds.errors import StateError
from feeds.store.schema import migrate, refuse_foreign

# Primary result codes (an error carries an extended one: the low byte is its primary)
# that mean the file cannot be written now, rather than that it is damaged.
_CANNOT_WRITE = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR,
                           sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM})
_LOCKED = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


class Connection:
    """One connection to the state database, with its transactions.

    ``db`` is an ``sqlite3.Connection``, or for PostgreSQL (``store.postgres``) a
    wrapper with the same few methods that speaks SQLite's dialect; ``errors`` are
    the driver's exceptions that ``sealed`` and the transactions turn into
    ``StateError`` through ``failure``."""

    errors: tuple[type[Exception], ...] = (sqlite3.Error,)
    dialect = "sqlite"
    db: Any

    def __init__(self, path: Path, *, shared: bool = False) -> None:
        """``shared``: the connection may be used from another thread (one at a time),
        as the daemon's worker thread does."""
        self.path = path
        self.name = str(path)  # what errors call the database
        self._batch_started: float | None = None
        self._batch_seconds = 1.0
        self._large_cache = False
        self._in_transaction = False
        # lsh changes of the transaction in progress, made when it ends (_flush_lsh)
        self._lsh_later: list[tuple[str, list[tuple[int, int, int, int]]]] = []
        db: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, isolation_level=None, timeout=30,
                                 check_same_thread=not shared)
            refuse_foreign(db, path)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            migrate(db, path)
        except StateError:
            if db is not None:
                db.close()
            raise
        except sqlite3.Error as exc:
            if db is not None:
                db.close()
            raise StateError(
                f"{path}: cannot open the state database ({exc}); "
                "move it aside to start afresh, or restore it from a backup"
            ) from None
        except OSError as exc:
            raise StateError(f"{path}: cannot create the state database ({exc})") from None
        self.db = db

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing. A database that cannot be written (disk full, read-only,
        damaged) is a StateError naming the file, not a traceback. Inside ``batch()``
        this is a savepoint: it undoes itself on error, and commits with the batch;
        if its lsh rows cannot be written after it (``_lsh``), the batch is undone."""
        batched = self._batch_started is not None
        try:
            self.db.execute("SAVEPOINT tx" if batched else "BEGIN IMMEDIATE")
            self._in_transaction = True
            try:
                yield
            except BaseException:
                self._lsh_later = []
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK TO tx" if batched else "ROLLBACK")
                    if batched:
                        self.db.execute("RELEASE tx")
                raise
            finally:
                self._in_transaction = False
            if batched:
                self.db.execute("RELEASE tx")
            try:
                self._flush_lsh()
                if not batched:
                    self.db.execute("COMMIT")
            except BaseException:
                # The source is stored without (some of) its lsh rows: that cannot be
                # committed. Outside a batch the transaction is undone; inside one, the
                # whole batch is (it lost what a crash would) and a new one begins.
                self._lsh_later = []
                with contextlib.suppress(*self.errors):
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
                    if batched:
                        self.db.execute("BEGIN IMMEDIATE")
                        self._batch_started = time.monotonic()
                raise
        except self.errors as exc:
            self._lsh_later = []
            with contextlib.suppress(*self.errors):  # in_transaction raises when closed
                if self.db.in_transaction and not batched:
                    self.db.execute("ROLLBACK")
            raise self.failure(exc, "transaction") from None

    def _lsh(self, statement: str, rows: list[tuple[int, int, int, int]]) -> None:
        """Insert or delete lsh rows when the transaction in progress ends: inside a
        batch, after its savepoint is released, because whatever a savepoint changes
        on a page the batch already changed is first copied aside, and lsh rows go
        into random places of a large tree (docs/design.md). The rows are derived
        from the entry (``rows.entry_bands``), so they need no undoing of their own: a
        source rolled back never makes them, and a failure writing them undoes the
        batch (``transaction``). Candidates never need them earlier: they are
        another source's."""
        if self._in_transaction:
            self._lsh_later.append((statement, rows))
        else:
            self.db.executemany(statement, rows)

    def _flush_lsh(self) -> None:
        later, self._lsh_later = self._lsh_later, []
        for statement, rows in later:
            self.db.executemany(statement, rows)

    @contextmanager
    def batch(self, seconds: float = 1.0) -> Iterator[None]:
        """Transactions inside commit together, at the latest ``seconds`` after the
        batch (or its last commit) began; see ``commit_if_due``. An exception
        inside rolls back everything uncommitted and propagates; an SQLite error
        becomes ``StateError``. A crash loses at most the uncommitted part: those
        sources' entries and validators together, so they are simply fetched again."""
        if self._batch_started is not None:  # already in one
            yield
            return
        self._batch_seconds = seconds
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self._batch_started = time.monotonic()
            try:
                yield
            except BaseException:
                self._batch_started = None
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
            self._batch_started = None
            self.db.execute("COMMIT")
        except self.errors as exc:
            self._batch_started = None
            with contextlib.suppress(*self.errors):  # in_transaction raises when closed
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
            raise self.failure(exc, "batch") from None

    def commit_if_due(self) -> None:
        """Inside ``batch()``: commit what is done if the batch is old enough."""
        started = self._batch_started
        if started is None or time.monotonic() - started < self._batch_seconds:
            return
        self.db.execute("COMMIT")
        self.db.execute("BEGIN IMMEDIATE")
        self._batch_started = time.monotonic()

    def failure(self, exc: Exception, operation: str | None = None) -> StateError:
        """What to tell the operator about an SQLite error on this database, met in
        ``operation`` (a method of the store)."""
        during = f" (in {operation})" if operation else ""
        code = getattr(exc, "sqlite_errorcode", None)
        primary = None if code is None else code & 0xFF
        if primary in _LOCKED:
            return StateError(f"{self.path}: the state database is locked by another process{during}: "
                              f"{exc}; try again when it is done")
        if primary in _CANNOT_WRITE:
            return StateError(f"{self.path}: cannot write the state database{during}: {exc}")
        if isinstance(exc, sqlite3.ProgrammingError | sqlite3.InterfaceError):
            return StateError(f"{self.path}: the state database cannot be used{during}: {exc}")
        return StateError(f"{self.path}: the state database is damaged{during} ({exc}); "
                          "restore it from a backup or move it aside to start afresh")


_C = TypeVar("_C", bound=type[Connection])


def sealed(cls: _C) -> _C:
    """Make every public method of ``cls`` (its own and inherited) turn a driver's
    error (``cls.errors``: sqlite3's, or psycopg's) into the ``StateError`` of
    ``Connection.failure``, naming the method: the one place where the store's
    promise is kept, so that no caller imports a driver."""
    for name in dir(cls):
        if name.startswith("_") or name == "failure":
            continue
        method = inspect.getattr_static(cls, name)
        if inspect.isfunction(method):
            setattr(cls, name, _guarded(method))
    return cls


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def guarded(self: Connection, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except self.errors as exc:
            raise self.failure(exc, method.__name__) from None
    return guarded


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
