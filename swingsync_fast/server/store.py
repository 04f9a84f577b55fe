"""Session records and history: what a session was configured as, how it went, its swings.

``SessionStore`` is the interface the server talks to. ``MemorySessionStore``
keeps everything in dicts (tests, benchmarks, ``DATABASE_URL=memory://``);
``sqlite_store.SQLiteSessionStore`` keeps it in a file, its writes on one
thread off the event loop; ``pg_store.PostgresSessionStore`` in PostgreSQL,
for several processes or machines sharing one database. ``open_store(url)``
picks one from a URL.

Records change when a session is created, started and ended; a coaching
session's messages are appended as they are sent. Three writes come from
the frame path and so are plain calls that only enqueue: a swing summary
when a swing ends (``add_swing``), recorded frames (``add_frames``) and a
finished feedback text (``add_feedback``).

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
import enum
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import msgspec

from ..analyzer import SwingSummary
from .latency import LatencySummary
from .protocol import StreamConfig

logger = logging.getLogger("swingsync_fast.server")
END_REASON_ORPHANED = "server_restart"


class SessionState(str, enum.Enum):
    CREATED = "created"  # over REST, no socket yet
    ACTIVE = "active"  # streaming on a socket
    ENDED = "ended"


class SessionStats(msgspec.Struct, frozen=True):
    frames_received: int
    frames_analysed: int
    frames_skipped: int  # not analysed because of analysis_frequency
    frames_rejected: int  # bad numbers, out of order
    frames_degraded: int  # analysed without KPIs because the session was over its latency target
    kpis_calculated: int
    swings: int
    faults_detected: int  # faults in swing summaries
    duration_s: float
    latency: LatencySummary


class SessionRecord(msgspec.Struct, kw_only=True):
    session_id: str
    user_id: str
    session_name: str
    config: StreamConfig
    state: SessionState
    created_at: float  # epoch seconds
    started_at: float | None = None
    ended_at: float | None = None
    end_reason: str | None = None
    participants: list[str] = msgspec.field(default_factory=list)
    stats: SessionStats | None = None  # final figures, once ended
    # The fault thresholds' personal baseline while it streamed ({} = population limits).
    baseline: dict[str, float] | None = None

    def visible_to(self, user_id: str, is_admin: bool) -> bool:
        return is_admin or user_id == self.user_id or user_id in self.participants


class StoredMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One message of a coaching session (a tip, a drill, a frame update), kept to replay it."""

    session_id: str
    sender: str  # the user id that sent it
    type: str  # the wire message type, e.g. "coaching_tip"
    sent_at: float  # epoch seconds
    body: msgspec.Raw  # the whole wire message as JSON, replayed as it was sent


class StoredSwing(msgspec.Struct, frozen=True, kw_only=True):
    """A swing summary as the player received it, with what history queries need."""

    session_id: str
    user_id: str
    club: str  # the club family it was hit with (driver | wood | iron | wedge)
    ended_at: float  # epoch seconds, when the server saw the swing end
    summary: SwingSummary


class StoredFeedback(msgspec.Struct, frozen=True, kw_only=True):
    """One finished feedback answer: every piece's text, joined."""

    session_id: str
    swing_index: int
    feedback_id: str
    source: str  # of the last piece: "gemini", or "offline" (also after a model failure)
    text: str
    created_at: float


class RecordedFrame(msgspec.Struct, frozen=True, array_like=True):
    """A frame as the session analysed it: (33, 4) float32 little-endian, MediaPipe order."""

    frame_index: int
    timestamp: float
    keypoints: bytes


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

    async def swings(self, session_id: str) -> list[StoredSwing]:
        """The session's swings in order."""
        ...

    async def feedback(self, session_id: str) -> list[StoredFeedback]:
        """The session's feedback texts, oldest first."""
        ...

    async def frames(self, session_id: str) -> list[RecordedFrame]:
        """The session's recorded frames in arrival order (empty if it was not recorded)."""
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


class MemorySessionStore:
    """Records in a dict; past ``ended_kept`` ended sessions, the oldest ended ones go.

    Each session keeps its last ``messages_kept`` messages.
    """

    def __init__(self, ended_kept: int = 10_000, messages_kept: int = 200) -> None:
        self.server_id = new_server_id()
        self._records: dict[str, SessionRecord] = {}
        self._messages: dict[str, deque[StoredMessage]] = {}
        self._messages_kept = messages_kept
        self._ended: dict[str, None] = {}  # insertion-ordered set of ended ids
        self._ended_kept = ended_kept
        self._swings: dict[str, list[StoredSwing]] = {}
        self._feedback: dict[str, list[StoredFeedback]] = {}
        self._frames: dict[str, list[RecordedFrame]] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def add(self, record: SessionRecord) -> None:
        if record.session_id in self._records:
            raise KeyError(f"session {record.session_id} already exists")
        self._records[record.session_id] = record
        self._track(record)

    async def get(self, session_id: str) -> SessionRecord | None:
        return self._records.get(session_id)

    async def save(self, record: SessionRecord) -> None:
        if record.session_id not in self._records:
            raise KeyError(f"session {record.session_id} does not exist")
        self._records[record.session_id] = record
        self._track(record)

    async def delete(self, session_id: str) -> bool:
        self._ended.pop(session_id, None)
        self._forget(session_id)
        return self._records.pop(session_id, None) is not None

    def _forget(self, session_id: str) -> None:
        for kept in (self._messages, self._swings, self._feedback, self._frames):
            kept.pop(session_id, None)

    async def visible_to(self, user_id: str, is_admin: bool, limit: int) -> list[SessionRecord]:
        found = [r for r in self._records.values() if r.visible_to(user_id, is_admin)]
        found.sort(key=lambda r: r.created_at, reverse=True)
        return found[:limit]

    async def add_message(self, message: StoredMessage) -> None:
        if message.session_id not in self._records:
            raise KeyError(f"session {message.session_id} does not exist")
        kept = self._messages.get(message.session_id)
        if kept is None:
            kept = self._messages[message.session_id] = deque(maxlen=self._messages_kept)
        kept.append(message)

    async def messages(self, session_id: str, limit: int) -> list[StoredMessage]:
        kept = self._messages.get(session_id, ())
        return list(kept)[-limit:] if limit > 0 else []

    def add_swing(self, swing: StoredSwing) -> None:
        if swing.session_id in self._records:
            self._swings.setdefault(swing.session_id, []).append(swing)

    def add_frames(self, session_id: str, frames: list[RecordedFrame]) -> None:
        if session_id in self._records:
            self._frames.setdefault(session_id, []).extend(frames)

    def add_feedback(self, feedback: StoredFeedback) -> None:
        if feedback.session_id in self._records:
            self._feedback.setdefault(feedback.session_id, []).append(feedback)

    async def swings(self, session_id: str) -> list[StoredSwing]:
        return list(self._swings.get(session_id, ()))

    async def feedback(self, session_id: str) -> list[StoredFeedback]:
        return list(self._feedback.get(session_id, ()))

    async def frames(self, session_id: str) -> list[RecordedFrame]:
        return list(self._frames.get(session_id, ()))

    def _of_user(self, user_id: str, viewer: str | None) -> list[SessionRecord]:
        return [r for r in self._records.values()
                if r.user_id == user_id and (viewer is None or viewer in r.participants)]

    async def user_sessions(self, user_id: str, viewer: str | None, limit: int) -> list[SessionRecord]:
        found = sorted(self._of_user(user_id, viewer), key=lambda r: r.created_at, reverse=True)
        return found[:limit]

    async def user_swings(
        self, user_id: str, viewer: str | None, limit: int, club: str | None = None
    ) -> list[StoredSwing]:
        found = [s for r in self._of_user(user_id, viewer) for s in self._swings.get(r.session_id, ())
                 if club is None or s.club == club]
        found.sort(key=lambda s: s.ended_at, reverse=True)
        return found[:limit]

    def _track(self, record: SessionRecord) -> None:
        if record.state is SessionState.ENDED and record.session_id not in self._ended:
            self._ended[record.session_id] = None
            while len(self._ended) > self._ended_kept:
                oldest = next(iter(self._ended))
                del self._ended[oldest]
                self._records.pop(oldest, None)
                self._forget(oldest)

    def __len__(self) -> int:
        return len(self._records)


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
        from .sqlite_store import SQLiteSessionStore

        return SQLiteSessionStore(rest[1:], flush_interval_s=flush_interval_s, liveness=liveness)
    if sep and scheme in ("postgresql", "postgres") and rest:
        from .pg_store import PostgresSessionStore

        return PostgresSessionStore(url, flush_interval_s=flush_interval_s, liveness=liveness,
                                    queue_limit=queue_limit)
    raise ValueError(
        f"DATABASE_URL {url!r} is not sqlite:///PATH (e.g. sqlite:///./swingsync.db), "
        "postgresql://USER@HOST:PORT/DB or memory://"
    )
