"""Session records and history: what a session was configured as, how it went, its swings.

``SessionStore`` is the interface the server talks to. ``MemorySessionStore``
keeps everything in dicts (tests, benchmarks, ``DATABASE_URL=memory://``);
``sqlite_store.SQLiteSessionStore`` keeps it in a file, its writes on one
thread off the event loop. ``open_store(url)`` picks one from a URL.

Records change when a session is created, started and ended; a coaching
session's messages are appended as they are sent. Three writes come from
the frame path and so are plain calls that only enqueue: a swing summary
when a swing ends (``add_swing``), recorded frames (``add_frames``) and a
finished feedback text (``add_feedback``).
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Protocol

import msgspec

from ..analyzer import SwingSummary
from .latency import LatencySummary
from .protocol import StreamConfig


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


class SessionStore(Protocol):
    async def open(self) -> None:
        """Ready for use; sessions a crashed server left active are ended as ``server_restart``."""
        ...

    async def close(self) -> None:
        """Everything written so far is stored when this returns."""
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


def open_store(url: str, *, ended_kept: int = 10_000, flush_interval_s: float = 0.25) -> SessionStore:
    """The store ``DATABASE_URL`` names: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or ``memory://``."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme == "memory":
        return MemorySessionStore(ended_kept)
    if sep and scheme == "sqlite" and rest.startswith("/") and len(rest) > 1:
        from .sqlite_store import SQLiteSessionStore

        return SQLiteSessionStore(rest[1:], flush_interval_s=flush_interval_s)
    raise ValueError(
        f"DATABASE_URL {url!r} is not sqlite:///PATH (e.g. sqlite:///./swingsync.db) or memory://"
    )
