"""Session records: what a session was configured as, where it is in its life, how it went.

``SessionStore`` is the interface the server talks to; ``MemorySessionStore``
is the only one so far. A SQLite store (a later issue) implements the same
async methods, doing its writes off the event loop. Nothing here is touched
per frame: records change when a session is created, started and ended, and
a coaching session's messages are appended as they are sent.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Protocol

import msgspec

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

    def visible_to(self, user_id: str, is_admin: bool) -> bool:
        return is_admin or user_id == self.user_id or user_id in self.participants


class StoredMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One message of a coaching session (a tip, a drill, a frame update), kept to replay it."""

    session_id: str
    sender: str  # the user id that sent it
    type: str  # the wire message type, e.g. "coaching_tip"
    sent_at: float  # epoch seconds
    body: msgspec.Raw  # the whole wire message as JSON, replayed as it was sent


class SessionStore(Protocol):
    async def add(self, record: SessionRecord) -> None: ...

    async def get(self, session_id: str) -> SessionRecord | None: ...

    async def save(self, record: SessionRecord) -> None: ...

    async def delete(self, session_id: str) -> bool: ...

    async def visible_to(self, user_id: str, is_admin: bool, limit: int) -> list[SessionRecord]: ...

    async def add_message(self, message: StoredMessage) -> None: ...

    async def messages(self, session_id: str, limit: int) -> list[StoredMessage]:
        """The session's last ``limit`` messages, oldest first."""
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
        self._messages.pop(session_id, None)
        return self._records.pop(session_id, None) is not None

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

    def _track(self, record: SessionRecord) -> None:
        if record.state is SessionState.ENDED and record.session_id not in self._ended:
            self._ended[record.session_id] = None
            while len(self._ended) > self._ended_kept:
                oldest = next(iter(self._ended))
                del self._ended[oldest]
                self._records.pop(oldest, None)
                self._messages.pop(oldest, None)

    def __len__(self) -> int:
        return len(self._records)
