"""Errors a user can meet. Each str() is one sentence that says what and where.

FeedsError
├── ConfigError(path, key, line)   bad config; ``feeds check`` prints all of them
├── SourceError(source_id)         one source failed; recorded, never aborts the run
│   ├── FetchError                 transport error, HTTP >= 400, too large, too slow
│   └── ParseError                 not a feed, unreadable article
├── StateError                     database problems, schema newer than the code
├── EmitError(topic)               feedgen refused, or a write failed
└── LockedError                    another run holds the lock
"""

from __future__ import annotations

from typing import Any


class FeedsError(Exception):
    """Base of every error this program reports to a user."""


class ConfigError(FeedsError):
    def __init__(self, path: str, message: str, *, line: int | None = None, key: str = "") -> None:
        self.path = path
        self.line = line
        self.key = key
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


class ConfigErrors(FeedsError):
    """Every problem found in a config, so an operator can fix them in one go."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


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
    pass
