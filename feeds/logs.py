"""Logging set-up: readable lines by default, one JSON object a line for machines.

Every line passes through the site's URL policy (``feeds.redact``): a source URL's
credentials never reach a log. Text lines show control characters as escapes, so
a feed title or a server's reason phrase cannot drive the terminal or forge a
line; JSON lines escape them too and stay valid JSON.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from feeds.redact import UrlPolicy, terminal_safe

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
# json.dumps(ensure_ascii=False) leaves these raw; as \u escapes they are still JSON.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

# Process-wide, like the logging set-up itself: the config, once loaded, says
# which query parameters are secret (``use_url_policy``); until then the built-in
# names apply.
_current = [UrlPolicy()]


def use_url_policy(policy: UrlPolicy) -> None:
    _current[0] = policy


def url_policy() -> UrlPolicy:
    return _current[0]


def scrub(text: str, *, multiline: bool = False) -> str:
    """``text`` as it may reach a terminal or a log: URLs redacted, controls escaped."""
    return terminal_safe(url_policy().text(text), multiline=multiline)


def _scrub_value(value: Any) -> Any:
    return url_policy().text(value) if isinstance(value, str) else value


class TextFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        return scrub(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return scrub(super().formatException(ei), multiline=True)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(),
            "message": url_policy().text(record.getMessage()),
        }
        # Fields passed with extra={...} become keys of their own.
        data.update({k: _scrub_value(v) for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            data["exception"] = url_policy().text(self.formatException(record.exc_info))
        line = json.dumps(data, default=str, ensure_ascii=False)
        return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


def setup_logging(level: int, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Third-party chatter (httpx logs every request at INFO) stays out of our logs.
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # "skipped: maximum number of running instances reached" is how the daemon means
    # to work (a round still running absorbs the next tick), not news.
    logging.getLogger("apscheduler.scheduler").setLevel(max(level, logging.ERROR))
