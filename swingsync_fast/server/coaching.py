"""Coaching rooms: who is in a coaching session, what its coaches see, what was said.

A coaching session is a session record created over REST by a coach; its
owner and ``participants`` (and admins) may join its socket. A student's
streaming session that names it in ``coaching_session_id`` gets a ``Tap``:
on the frame path the tap costs one attribute check while no coach watches,
and only a list append when one does (the message is built and published on
the next turn of the loop). Swing summaries and feedback pieces are mirrored
too, tagged with the student's ``user_id``.

Tips, drills and frame updates are stored through ``SessionStore.add_message``
and published under one lock per room, so a member who joins gets the history
and then the live messages, none twice and none missing.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence

import msgspec
import numpy as np

from ..analyzer import FrameResult, LiveAnalyzer, SwingSummary
from ..catalog import KPI_NAMES
from .auth import Principal, Role
from .broadcast import COACHES, EVERYONE, Audience, Bus, Subscriber, Thinning
from .codec import encode_json
from .protocol import (
    CoachingFrameUpdate,
    CoachingFrameUpdateData,
    CoachingTip,
    DrillSuggestion,
    FeedbackMessage,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    PresenceData,
    SessionStateData,
    SessionStateMessage,
    StreamingStudent,
    StudentAnalysisResult,
    StudentAnalysisResultMessage,
    StudentFeedbackData,
    StudentFeedbackMessage,
    StudentSwingSummary,
    StudentSwingSummaryMessage,
)
from .store import SessionRecord, SessionStore, StoredMessage

# Tips and drills a room keeps for the feedback prompt (the latest few matter).
TIPS_KEPT = 5
KEYPOINT_DECIMALS = 4

Posted = CoachingTip | DrillSuggestion | CoachingFrameUpdate


def is_coach(role: Role) -> bool:
    return role is Role.COACH or role is Role.ADMIN


def may_join(record: SessionRecord, principal: Principal) -> bool:
    return record.visible_to(principal.user_id, principal.is_admin)


def audience_of(message: Posted) -> Audience:
    """A message to one user goes to them, its sender and the coaches; otherwise to everyone."""
    data = message.data
    target = getattr(data, "target_user", None)
    if target is None:
        return EVERYONE
    return Audience(coaches=True, users=frozenset({target, data.from_user or ""}))


class Tap:
    """A student's streaming session as its coaching room sees it (see the module's note)."""

    __slots__ = ("room", "session_id", "user_id", "conn", "watching", "thinning", "streaming",
                 "_pending", "_scheduled", "_loop")

    def __init__(self, room: CoachingRoom, session_id: str, user_id: str, conn: object) -> None:
        self.room = room
        self.session_id = session_id
        self.user_id = user_id
        self.conn = conn  # the student's socket: its feedback is mirrored until it closes
        self.watching = False  # a coach is in the room
        self.thinning = Thinning(room.mirror_fps())  # at the fastest rate a coach here asked for
        self.streaming = True
        self._pending: list[tuple[FrameResult, np.ndarray, np.ndarray] | SwingSummary] = []
        self._scheduled = False
        self._loop = asyncio.get_running_loop()

    # Called by StreamSession on the frame path: they only append and return.
    def frame(self, result: FrameResult, analyzer: LiveAnalyzer) -> None:
        if self.thinning.take(result.timestamp):  # the ring rows are views: copy them now
            self._enqueue((result, analyzer.last_keypoints.copy(), analyzer.last_kpis.copy()))

    def swing_ended(self, summary: SwingSummary) -> None:
        self._enqueue(summary)  # kept as the room's latest swing even while no coach watches

    def _enqueue(self, item: tuple[FrameResult, np.ndarray, np.ndarray] | SwingSummary) -> None:
        self._pending.append(item)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._publish)

    def _publish(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        room = self.room
        for item in pending:
            if isinstance(item, SwingSummary):
                swing = room.latest_swing = StudentSwingSummary(
                    **msgspec.structs.asdict(item), user_id=self.user_id, session_id=self.session_id
                )
                if self.watching:
                    room.publish(encode_json(StudentSwingSummaryMessage(swing)), COACHES)
            elif self.watching:
                result, keypoints, kpis = item
                room.publish(encode_json(self._result(result, keypoints, kpis)), COACHES,
                             (self.session_id, result.timestamp))

    def _result(self, result: FrameResult, keypoints: np.ndarray, kpis: np.ndarray) -> StudentAnalysisResultMessage:
        return StudentAnalysisResultMessage(StudentAnalysisResult(
            user_id=self.user_id,
            session_id=self.session_id,
            frame_index=result.frame_index,
            timestamp=result.timestamp,
            swing_phase=result.swing_phase,
            p_position=result.p_position,
            usable=result.usable,
            kpis={name: (round(v, 3) if v == v else None) for name, v in zip(KPI_NAMES, kpis.tolist())},
            detected_faults=result.faults,
            keypoints=np.round(keypoints.astype(np.float64), KEYPOINT_DECIMALS).tolist(),
        ))


class CoachingRoom:
    def __init__(self, hub: CoachingHub, record: SessionRecord) -> None:
        self.hub = hub
        self.session_id = record.session_id
        self.record = record
        self.members: list[Subscriber] = []
        self.taps: list[Tap] = []
        self.latest_swing: StudentSwingSummary | None = None
        self.frame: CoachingFrameUpdateData | None = None
        self.tips: deque[tuple[str | None, str]] = deque(maxlen=TIPS_KEPT)  # (target, text)
        self.lock = asyncio.Lock()  # store-then-publish vs history-then-subscribe
        self.loaded = False

    @property
    def empty(self) -> bool:
        return not self.members and not self.taps

    def publish(self, payload: str, audience: Audience, sample: tuple[str, float] | None = None) -> None:
        self.hub.bus.publish(self.session_id, payload, audience, sample)

    def online(self, user_id: str) -> bool:
        return any(m.user_id == user_id for m in self.members)

    def mirror_fps(self) -> float:
        return max((m.fps for m in self.members if m.is_coach), default=1.0)

    def coaches_changed(self) -> None:
        watching = any(m.is_coach for m in self.members)
        fps = self.mirror_fps()
        for tap in self.taps:
            tap.watching = watching
            tap.thinning = Thinning(fps)

    def remember(self, message: Posted) -> None:
        """What the feedback prompt and the next joiner's snapshot need of a posted message."""
        data = message.data
        if isinstance(message, CoachingTip):
            self.tips.append((message.data.target_user, message.data.tip))
        elif isinstance(message, DrillSuggestion):
            drill = message.data
            text = f"Drill: {drill.drill_name}" + (f" - {drill.description}" if drill.description else "")
            self.tips.append((drill.target_user, text))
        else:
            self.frame = data  # type: ignore[assignment]


class CoachingHub:
    """Every coaching room of this process; also the feedback lane's ``FeedbackMirror`` and ``CoachTips``."""

    def __init__(self, store: SessionStore, bus: Bus, *, history: int) -> None:
        self.store = store
        self.bus = bus
        self.history = history
        self.rooms: dict[str, CoachingRoom] = {}
        self._taps: dict[str, Tap] = {}  # streaming session id -> its tap

    async def _room(self, record: SessionRecord) -> CoachingRoom:
        room = self.rooms.get(record.session_id)
        if room is None:
            room = self.rooms[record.session_id] = CoachingRoom(self, record)
        async with room.lock:
            if not room.loaded:  # the tips said before this process saw the room
                room.loaded = True
                for stored in await self.store.messages(record.session_id, self.history):
                    room.remember(msgspec.json.decode(stored.body, type=Posted))
        return room

    def _drop_if_empty(self, room: CoachingRoom) -> None:
        if room.empty and self.rooms.get(room.session_id) is room:
            del self.rooms[room.session_id]

    # ---------------------------------------------------------------- students' streams

    async def tap(self, coaching: SessionRecord, session_id: str, user_id: str, conn: object) -> Tap:
        """Mirror the streaming session ``session_id`` of ``user_id`` into the coaching session."""
        room = await self._room(coaching)
        tap = Tap(room, session_id, user_id, conn)
        tap.watching = any(m.is_coach for m in room.members)
        room.taps.append(tap)
        self._taps[session_id] = tap
        return tap

    def session_ended(self, tap: Tap) -> None:
        """The stream ended; its feedback may still come (mirrored until its socket closes)."""
        tap.streaming = False

    def disconnect(self, conn: object) -> None:
        for session_id, tap in list(self._taps.items()):
            if tap.conn is conn:
                del self._taps[session_id]
                tap.streaming = False
                tap.room.taps.remove(tap)
                self._drop_if_empty(tap.room)

    # FeedbackMirror
    def feedback(self, session_id: str, message: FeedbackMessage) -> None:
        tap = self._taps.get(session_id)
        if tap is not None and tap.watching:
            data = StudentFeedbackData(**msgspec.structs.asdict(message.data), user_id=tap.user_id)
            tap.room.publish(encode_json(StudentFeedbackMessage(data)), COACHES)

    # CoachTips
    def tips(self, session_id: str) -> Sequence[str]:
        tap = self._taps.get(session_id)
        if tap is None:
            return ()
        return [text for target, text in tap.room.tips if target is None or target == tap.user_id]

    # ---------------------------------------------------------------- members

    async def join(self, record: SessionRecord, principal: Principal, subscriber: Subscriber) -> CoachingRoom:
        """Snapshot and history into the member's queue, then live messages; others hear it joined."""
        room = await self._room(record)
        async with room.lock:
            stored = await self.store.messages(record.session_id, self.history)
            first = not room.online(principal.user_id)
            room.members.append(subscriber)
            self.bus.subscribe(room.session_id, subscriber)
            shown = [m for m in stored if self._visible(m, subscriber)]
            subscriber.outlet.offer(encode_json(SessionStateMessage(self._snapshot(room, subscriber, len(shown)))))
            for message in shown:
                subscriber.outlet.offer(bytes(message.body).decode())
        if subscriber.is_coach:
            room.coaches_changed()
        if first:
            presence = encode_json(ParticipantJoined(PresenceData(principal.user_id, subscriber.role, time.time())))
            for member in room.members:
                if member.user_id != principal.user_id:
                    member.outlet.offer(presence)
        return room

    def leave(self, room: CoachingRoom, subscriber: Subscriber) -> None:
        if subscriber not in room.members:
            return
        room.members.remove(subscriber)
        self.bus.unsubscribe(room.session_id, subscriber)
        if subscriber.is_coach:
            room.coaches_changed()
        if not room.online(subscriber.user_id):
            room.publish(encode_json(ParticipantLeft(PresenceData(subscriber.user_id, subscriber.role, time.time()))),
                         EVERYONE)
        self._drop_if_empty(room)

    async def post(self, room: CoachingRoom, message: Posted) -> None:
        """A member's tip, drill or frame update (checked, sender filled in): stored, then published."""
        payload = encode_json(message)
        async with room.lock:
            await self.store.add_message(StoredMessage(
                session_id=room.session_id, sender=message.data.from_user or "", type=_TAGS[type(message)],
                sent_at=message.data.sent_at or time.time(), body=msgspec.Raw(payload.encode()),
            ))
            room.remember(message)
            room.publish(payload, audience_of(message))

    def close_room(self, session_id: str) -> list[Subscriber]:
        """The coaching session was deleted: its members, to be closed by the caller."""
        room = self.rooms.pop(session_id, None)
        if room is None:
            return []
        for tap in room.taps:
            tap.watching = False
        return list(room.members)

    @staticmethod
    def _visible(stored: StoredMessage, subscriber: Subscriber) -> bool:
        if subscriber.is_coach or stored.sender == subscriber.user_id:
            return True
        target = msgspec.json.decode(stored.body, type=_Target).data.target_user
        return target is None or target == subscriber.user_id

    def _snapshot(self, room: CoachingRoom, subscriber: Subscriber, history: int) -> SessionStateData:
        record = room.record
        roles = {m.user_id: m.role for m in room.members}
        people = [record.user_id, *(p for p in record.participants if p != record.user_id)]
        people += [u for u in roles if u not in people]  # admins who joined
        return SessionStateData(
            session_id=room.session_id,
            user_id=subscriber.user_id,
            role=subscriber.role,
            owner=record.user_id,
            participants=[Participant(u, roles.get(u), u in roles) for u in people],
            streaming=[StreamingStudent(t.user_id, t.session_id) for t in room.taps if t.streaming],
            latest_swing=room.latest_swing,
            frame=room.frame,
            mirror_fps=subscriber.fps,
            history=history,
        )


_TAGS: dict[type, str] = {CoachingTip: "coaching_tip", DrillSuggestion: "drill_suggestion",
                          CoachingFrameUpdate: "coaching_frame_update"}


class _TargetData(msgspec.Struct):
    target_user: str | None = None


class _Target(msgspec.Struct):
    data: _TargetData
