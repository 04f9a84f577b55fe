"""The session store in dicts: tests, benchmarks, ``DATABASE_URL=memory://``."""

from __future__ import annotations

from collections import deque

from .base import ended_as_expired, new_server_id
from ...pictures import MOMENTS
from .records import (
    RecordedFrame,
    SessionRecord,
    SessionState,
    StoredFeedback,
    StoredMessage,
    StoredPicture,
    StoredSwing,
)


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
        self._pictures: dict[str, dict[tuple[int, str], StoredPicture]] = {}

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
        for kept in (self._messages, self._swings, self._feedback, self._frames, self._pictures):
            kept.pop(session_id, None)

    async def visible_to(self, user_id: str, is_admin: bool, limit: int) -> list[SessionRecord]:
        found = [r for r in self._records.values() if r.visible_to(user_id, is_admin)]
        found.sort(key=lambda r: r.created_at, reverse=True)
        return found[:limit]

    async def unstarted_count(self, user_id: str) -> int:
        return sum(1 for r in self._records.values() if r.user_id == user_id and r.state is SessionState.CREATED)

    async def expire_unstarted(self, created_before: float, now: float) -> int:
        stale = [r for r in self._records.values() if r.state is SessionState.CREATED and r.created_at < created_before
                 and not any(m.sent_at >= created_before for m in self._messages.get(r.session_id, ()))]
        for record in stale:
            await self.save(ended_as_expired(record, now))
        return len(stale)

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

    def checkpoint(self, record: SessionRecord) -> None:
        kept = self._records.get(record.session_id)
        if kept is not None and kept.state is SessionState.ACTIVE:
            self._records[record.session_id] = record

    def add_feedback(self, feedback: StoredFeedback) -> None:
        if feedback.session_id in self._records:
            self._feedback.setdefault(feedback.session_id, []).append(feedback)

    async def swings(self, session_id: str) -> list[StoredSwing]:
        return list(self._swings.get(session_id, ()))

    async def feedback(self, session_id: str) -> list[StoredFeedback]:
        return list(self._feedback.get(session_id, ()))

    async def frames(self, session_id: str) -> list[RecordedFrame]:
        return list(self._frames.get(session_id, ()))

    async def put_picture(self, picture: StoredPicture) -> None:
        if picture.session_id not in self._records:
            raise KeyError(f"session {picture.session_id} does not exist")
        self._pictures.setdefault(picture.session_id, {})[(picture.swing_index, picture.moment)] = picture

    async def picture(self, session_id: str, swing_index: int, moment: str) -> StoredPicture | None:
        return self._pictures.get(session_id, {}).get((swing_index, moment))

    async def picture_moments(self, session_id: str) -> dict[int, list[str]]:
        by_swing: dict[int, list[str]] = {}
        for swing_index, moment in self._pictures.get(session_id, {}):
            by_swing.setdefault(swing_index, []).append(moment)
        return {n: sorted(moments, key=MOMENTS.index) for n, moments in sorted(by_swing.items())}

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
