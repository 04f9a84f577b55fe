"""The store a ``DATABASE_URL`` names, and the URL fit for a log."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from .base import Liveness, SessionStore
from .memory import MemorySessionStore


def redacted(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def open_store(
    url: str, *, ended_kept: int = 10_000, flush_interval_s: float = 0.25, liveness: Liveness = Liveness(),
    queue_limit: int = 10_000,
) -> SessionStore:
    """The store ``DATABASE_URL`` names: ``sqlite:///relative.db``, ``sqlite:////absolute.db``,
    ``postgresql://user@host:port/db`` (or ``postgres://``) or ``memory://``."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme == "memory":
        return MemorySessionStore(ended_kept)
    if sep and scheme == "sqlite" and rest.startswith("/") and len(rest) > 1:
        from .sqlite import SQLiteSessionStore

        return SQLiteSessionStore(rest[1:], flush_interval_s=flush_interval_s, liveness=liveness)
    if sep and scheme in ("postgresql", "postgres") and rest:
        from .postgres import PostgresSessionStore

        return PostgresSessionStore(url, flush_interval_s=flush_interval_s, liveness=liveness,
                                    queue_limit=queue_limit)
    raise ValueError(
        f"DATABASE_URL {url!r} is not sqlite:///PATH (e.g. sqlite:///./swingsync.db), "
        "postgresql://USER@HOST:PORT/DB or memory://"
    )
