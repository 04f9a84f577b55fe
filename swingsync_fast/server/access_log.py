"""The access log without credentials: ``token``, ``ticket`` and ``access_token`` query values redacted.

uvicorn logs every request line and every WebSocket URL with its query
string (``uvicorn.access`` for HTTP, ``uvicorn.error`` for WebSockets); a
browser's socket URL carries ``?token=``, which anyone reading the log could
replay for the token's life. ``install()`` puts a filter on those loggers
that rewrites the value in place before any handler formats the line.
"""

from __future__ import annotations

import logging
import re

SECRET_PARAMS = ("token", "ticket", "access_token")
REDACTED = "[redacted]"
# name=value in a query string; the value ends at the next parameter, a space, a quote or the end.
_SECRET = re.compile(r"([?&](?:" + "|".join(SECRET_PARAMS) + r")=)[^&\s\"']*", re.IGNORECASE)
UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    """``text`` with the value of every secret query parameter replaced by ``[redacted]``."""
    return _SECRET.sub(r"\1" + REDACTED, text)


class RedactQuery(logging.Filter):
    """Rewrites a record's message and string arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "=" in record.msg:
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) and "=" in a else a for a in record.args)
        return True


def install() -> None:
    """Filter uvicorn's loggers (idempotent): run before uvicorn serves, whoever configured the handlers."""
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactQuery) for f in logger.filters):
            logger.addFilter(RedactQuery())
