"""What every store is: the ``SessionStore`` protocol, and the heartbeat rule they share.

``memory.MemorySessionStore`` keeps everything in dicts (tests, benchmarks,
``DATABASE_URL=memory://``); ``sqlite.SQLiteSessionStore`` keeps it in a file,
its writes on one thread off the event loop; ``postgres.PostgresSessionStore``
in PostgreSQL, for several processes or machines sharing one database; both
are ``sql.SQLSessionStore``. ``url.open_store`` picks one from a URL.

Several server processes may share one database. Each has a ``server_id``
and beats (writes the time into its row of a ``servers`` table) every
``heartbeat_s``; an active session's row names the server streaming it. At
open and at every beat, a store ends as ``server_restart`` the active
sessions whose server has not beaten for ``server_timeout_s`` (or has no
row: it closed, or predates heartbeats), so a crash is cleaned up without
touching sessions another live process streams. Only the process streaming
a session writes it while it is active, so the store stamps its own id on
every active record it writes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

import msgspec

from .records import (
    RecordedFrame,
    SessionRecord,
    SessionState,
    StoredFeedback,
    StoredMessage,
    StoredPicture,
    StoredSwing,
)

logger = logging.getLogger("swingsync_fast.server")


END_REASON_ORPHANED = "server_restart"
END_REASON_EXPIRED = "expired"  # created over REST, never started, and left longer than the TTL


class SchemaTooNew(RuntimeError):
    """The database was written by a newer server; this one does not know its schema."""


class SessionStore(Protocol):
    server_id: str  # this process, as the ``servers`` table and active sessions name it

    async def open(self) -> None:
        """Ready for use; the heartbeat runs; sessions of servers that stopped beating are ended."""
        ...

    async def close(self) -> None:
        """Everything written so far is stored when this returns; the heartbeat row is gone."""
        ...

    async def add(self, record: SessionRecord) -> None: ...

    async def get(self, session_id: str) -> SessionRecord | None: ...

    async def save(self, record: SessionRecord) -> None: ...

    async def delete(self, session_id: str) -> bool: ...

    async def visible_to(self, user_id: str, is_admin: bool, limit: int) -> list[SessionRecord]: ...

    async def unstarted_count(self, user_id: str) -> int:
        """How many of ``user_id``'s sessions were created and have not started (state ``created``)."""
        ...

    async def expire_unstarted(self, created_before: float, now: float) -> int:
        """End as ``expired`` every un-started session created before ``created_before`` that has no
        coaching message since then (a coaching session in use stays); how many were ended."""
        ...

    async def add_message(self, message: StoredMessage) -> None: ...

    async def messages(self, session_id: str, limit: int) -> list[StoredMessage]:
        """The session's last ``limit`` messages, oldest first."""
        ...

    def add_swing(self, swing: StoredSwing) -> None:
        """Enqueue a swing summary (frame path: never waits). Stored within ``flush_interval_s``."""
        ...

    def add_frames(self, session_id: str, frames: list[RecordedFrame]) -> None:
        """Enqueue recorded frames of a session started with ``record_frames``, in order (frame path)."""
        ...

    def add_feedback(self, feedback: StoredFeedback) -> None:
        """Enqueue a finished feedback text (never waits)."""
        ...

    def checkpoint(self, record: SessionRecord) -> None:
        """Enqueue a live session's record with its figures so far (never waits); written only while
        the stored session is still active, so a crash keeps its stats and an end is never undone."""
        ...

    async def swings(self, session_id: str) -> list[StoredSwing]:
        """The session's swings in order."""
        ...

    async def feedback(self, session_id: str) -> list[StoredFeedback]:
        """The session's feedback texts, oldest first."""
        ...

    async def frames(self, session_id: str) -> list[RecordedFrame]:
        """The session's recorded frames in arrival order (empty if it was not recorded)."""
        ...

    async def put_picture(self, picture: StoredPicture) -> None:
        """Store a swing's picture, replacing the one of the same moment (awaited: not the frame path).
        KeyError when its session is not stored."""
        ...

    async def picture(self, session_id: str, swing_index: int, moment: str) -> StoredPicture | None: ...

    async def picture_moments(self, session_id: str) -> dict[int, list[str]]:
        """Swing index -> the moments it has a picture of, in ``pictures.MOMENTS`` order."""
        ...

    async def user_sessions(self, user_id: str, viewer: str | None, limit: int) -> list[SessionRecord]:
        """``user_id``'s own sessions, newest first; with ``viewer``, only those it participates in."""
        ...

    async def user_swings(
        self, user_id: str, viewer: str | None, limit: int, club: str | None = None
    ) -> list[StoredSwing]:
        """``user_id``'s last ``limit`` swings (of one club family, if given), newest first;
        with ``viewer``, only from sessions it participates in."""
        ...


class Liveness(msgspec.Struct, frozen=True):
    """How often a store beats, and how long a silent server is trusted to be alive."""

    heartbeat_s: float = 5.0
    server_timeout_s: float = 20.0


def new_server_id() -> str:
    """This process's id in a shared database: readable (host, pid) and unique (a random tail)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def ended_as_orphan(record: SessionRecord, last_swing_at: float | None) -> SessionRecord:
    """An active session whose server died: ended at its last stored swing (or its start)."""
    ended_at = last_swing_at or record.started_at or time.time()
    return msgspec.structs.replace(
        record, state=SessionState.ENDED, ended_at=ended_at, end_reason=END_REASON_ORPHANED)


def ended_as_expired(record: SessionRecord, now: float) -> SessionRecord:
    return msgspec.structs.replace(record, state=SessionState.ENDED, ended_at=now, end_reason=END_REASON_EXPIRED)


async def beat_forever(beat: Callable[[], Awaitable[int]], every_s: float) -> None:
    """Call ``beat`` (which returns the sessions it ended) every ``every_s`` until cancelled; a failed
    beat is logged and the next one tried on time (the database may be back by then)."""
    failing = False
    while True:
        await asyncio.sleep(every_s)
        try:
            ended = await beat()
        except Exception as exc:
            if not failing:
                logger.warning("database: heartbeat failed (%s); retrying every %g s", exc, every_s)
            failing = True
            continue
        if failing:
            logger.warning("database: heartbeat written again")
        failing = False
        log_orphans_ended(ended)


def log_orphans_ended(count: int) -> None:
    if count:
        logger.warning("database: %d session(s) were still active on a server that stopped beating; "
                       "marked ended (%s)", count, END_REASON_ORPHANED)
