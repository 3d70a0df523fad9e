"""Errors a user can meet. Each str() is one sentence that says what and where.

Each class carries the exit code of a command that stops on it (``exit_code``);
the command line reports any ``FeedsError`` in one place and exits with it.

FeedsError                         exit 1: anything else that stops a command
├── ConfigError(path, key, line)   exit 2: bad config; ``feeds check`` prints all of them
├── ConfigErrors(errors)           exit 2: every ConfigError found at once
├── UsageError                     exit 2: a command asks for what the config has not
├── SourceError(source_id)         exit 1: one source failed; recorded, never aborts a run
│   ├── FetchError                 transport error, HTTP >= 400, too large, too slow
│   └── ParseError                 not a feed, unreadable article
├── StateError                     exit 1: database problems, schema newer than the code
├── EmitError(topic)               exit 1: feedgen refused, or a write failed
└── LockedError                    exit 3: another run holds the lock
"""

from __future__ import annotations

from typing import Any, ClassVar

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_LOCKED = 0, 1, 2, 3


class FeedsError(Exception):
    """Base of every error this program reports to a user."""

    exit_code: ClassVar[int] = EXIT_FAILED


class ConfigError(FeedsError):
    exit_code = EXIT_CONFIG

    def __init__(self, path: str, message: str, *, line: int | None = None, key: str = "") -> None:
        self.path = path
        self.line = line
        self.key = key
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


class ConfigErrors(FeedsError):
    """Every problem found in a config, so an operator can fix them in one go.

    ``what`` names what was checked ("the config", "the templates") for the
    closing count line; None: no count line.
    """

    exit_code = EXIT_CONFIG

    def __init__(self, errors: list[ConfigError], *, what: str | None = "the config") -> None:
        self.errors = errors
        self.what = what
        super().__init__("\n".join(str(e) for e in errors))

    @property
    def summary(self) -> str | None:
        """The count line after the errors: "2 problems in the config; nothing was done"."""
        if self.what is None:
            return None
        n = len(self.errors)
        return f"{n} problem{'s' if n != 1 else ''} in {self.what}; nothing was done"


class UsageError(FeedsError):
    """A command line that asks for what the config does not have (an unknown source
    or topic, an id already taken), or for a file that cannot be used."""

    exit_code = EXIT_CONFIG


class SourceError(FeedsError):
    def __init__(self, source_id: str, message: str) -> None:
        self.source_id = source_id
        self.message = message
        super().__init__(f"{source_id}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Parse errors come back from worker processes: pickle what __init__ takes,
        # not the formatted message that Exception would.
        return (type(self), (self.source_id, self.message), dict(self.__dict__))


class FetchError(SourceError):
    def __init__(self, source_id: str, message: str, *, status: int | None = None,
                 retry_after: float | None = None, unreachable: bool = False) -> None:
        super().__init__(source_id, message)
        self.status = status
        self.retry_after = retry_after  # seconds, from a 429 or 503
        # No server answered (DNS, refused, unreachable, connect time-out): when every
        # remote source fails so, the machine itself is likely offline.
        self.unreachable = unreachable

    @property
    def gone(self) -> bool:
        return self.status == 410


class ParseError(SourceError):
    pass


class StateError(FeedsError):
    pass


class EmitError(FeedsError):
    def __init__(self, topic: str, message: str) -> None:
        self.topic = topic
        super().__init__(f"{topic}: {message}")


class LockedError(FeedsError):
    exit_code = EXIT_LOCKED
