"""Coaching rooms: who is in a coaching session, what its coaches see, what was said.

A coaching session is a session record created over REST by a coach; its
owner and ``participants`` (and admins) may join its socket. A student's
streaming session that names it in ``coaching_session_id`` gets a ``Tap``:
on the frame path the tap costs one attribute check while no coach watches,
and only a list append when one does (the message is built and published on
the next turn of the loop). Swing summaries and feedback pieces are mirrored
too, tagged with the student's ``user_id``.

A room spans every server process with a member or a student's stream in it:
each process subscribes to the room's channel on the ``Bus``
(``room:<session_id>``) and publishes there what its members post and its
students' taps produce; every process (this one included, at once) offers a
message to its own members in the message's ``Audience``. Each process also
announces its part of the room (members, streams) as a ``Roster`` on every
change and every ``ROSTER_INTERVAL_S``; a roster not heard for
``ROSTER_EXPIRY_S`` is dropped, so a dead process's members leave. Presence
events come from comparing who is online before and after a change.

Tips, drills and frame updates are stored through ``SessionStore.add_message``
and published under one lock per room, so a member who joins gets the history
and then the live messages, none twice and none missing (on this process; a
message posted on another process in the instant between this join's history
read and its subscription may be missed).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

import msgspec
import numpy as np

from ...analyzer import FrameResult, LiveAnalyzer, SwingSummary
from ...catalog import KPI_NAMES
from ...feedback.lane import FeedbackSink
from ..auth import Principal, Role
from ..cluster.bus import Bus
from ..protocol.bus import Audience, Closed, Fanout, FanoutKind, RoomEvent, Roster, RosterMember
from ..protocol.coaching import (
    BusStatus,
    BusStatusData,
    CoachingFrameUpdate,
    CoachingFrameUpdateData,
    CoachingTip,
    DrillSuggestion,
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
from ..protocol.figures import BusState
from ..protocol.stream import CloseCode, FeedbackMessage, Payload
from ..storage.base import SessionStore
from ..storage.records import SessionRecord, StoredMessage
from ..stream.codec import encode_json
from .rooms import COACHES, EVERYONE, Subscriber, Thinning

logger = logging.getLogger("swingsync_fast.server")

# Tips and drills a room keeps for the feedback prompt (the latest few matter).
TIPS_KEPT = 5
KEYPOINT_DECIMALS = 4
# Each process re-announces its part of every room this often; a part not heard for
# ROSTER_EXPIRY_S (its process died, or Redis is down) no longer counts.
ROSTER_INTERVAL_S = 1.0
ROSTER_EXPIRY_S = 3.5
# A room new on this process waits at most this long for the other processes' parts, so the
# first joiner's session_state shows members on every process.
ROSTER_WAIT_S = 0.5

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


def channel(session_id: str) -> str:
    return f"room:{session_id}"


# --------------------------------------------------------------------------- what rooms say on the bus


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(RoomEvent)


class Tap:
    """A student's streaming session as its coaching room sees it (see the module's note)."""

    __slots__ = ("room", "session_id", "user_id", "conn", "watching", "thinning", "streaming",
                 "_pending", "_scheduled", "_loop")

    def __init__(self, room: CoachingRoom, session_id: str, user_id: str, conn: FeedbackSink) -> None:
        self.room = room
        self.session_id = session_id
        self.user_id = user_id
        self.conn = conn  # the student's socket: its feedback is mirrored until it closes
        self.watching = False  # a coach is in the room, on any process
        self.thinning = Thinning(room.mirror_fps())  # at the fastest rate a coach in the room asked for
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
                swing = StudentSwingSummary(
                    **msgspec.structs.asdict(item), user_id=self.user_id, session_id=self.session_id
                )
                room.publish("swing", encode_json(StudentSwingSummaryMessage(swing)), COACHES)
            elif self.watching:
                result, keypoints, kpis = item
                room.publish("result", encode_json(self._result(result, keypoints, kpis)), COACHES,
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
    """This process's part of a coaching session, and what it knows of the other processes' parts."""

    def __init__(self, hub: CoachingHub, record: SessionRecord) -> None:
        self.hub = hub
        self.session_id = record.session_id
        self.channel = channel(record.session_id)
        self.record = record
        self.members: list[Subscriber] = []
        self.taps: list[Tap] = []
        self.remote: dict[str, tuple[Roster, float]] = {}  # process id -> its part, heard at (monotonic)
        self.answered: set[str] = set()  # processes heard from since the room opened here
        self.latest_swing: StudentSwingSummary | None = None
        self.frame: CoachingFrameUpdateData | None = None
        self.tips: deque[tuple[str | None, str]] = deque(maxlen=TIPS_KEPT)  # (target, text)
        self.lock = asyncio.Lock()  # store-then-publish vs history-then-subscribe
        self.loaded = False

    @property
    def empty(self) -> bool:
        return not self.members and not self.taps

    # ---------------------------------------------------------------- out and in

    def publish(self, kind: FanoutKind, payload: str, audience: Audience,
                sample: tuple[str, float] | None = None) -> None:
        self.hub.bus.publish(self.channel, _ENCODER.encode(Fanout(kind, payload, audience, sample)))

    def receive(self, body: bytes) -> None:
        """The bus handler of the room's channel (this process's own messages included)."""
        try:
            event = _DECODER.decode(body)
        except msgspec.DecodeError:
            logger.warning("coaching room %s: an unreadable message on the bus; ignored", self.session_id)
            return
        if type(event) is Fanout:
            self._deliver(event)
        elif event.process_id == self.hub.bus.process_id:
            return  # our own roster or close, already applied
        elif type(event) is Roster:
            self.heard(event)
        else:
            self.hub.closed_elsewhere(self)

    def _deliver(self, fanout: Fanout) -> None:
        if fanout.kind == "swing":
            self.latest_swing = msgspec.json.decode(fanout.payload, type=StudentSwingSummaryMessage).data
        elif fanout.kind == "posted":
            self.remember(msgspec.json.decode(fanout.payload, type=Posted))
        audience, sample = fanout.audience, fanout.sample
        for member in self.members:
            if audience.includes(member.user_id, member.is_coach) and member.wants(sample):
                member.outlet.offer(fanout.payload)

    def offer_all(self, payload: Payload) -> None:
        for member in self.members:
            member.outlet.offer(payload)

    # ---------------------------------------------------------------- who is here, on any process

    def roster(self, ask: bool = False) -> Roster:
        return Roster(
            self.hub.bus.process_id,
            [RosterMember(m.user_id, m.role, m.is_coach, m.fps) for m in self.members],
            [StreamingStudent(t.user_id, t.session_id) for t in self.taps if t.streaming],
            ask,
        )

    def announce(self, ask: bool = False) -> None:
        if self.hub.bus.url is not None:
            self.hub.bus.publish(self.channel, _ENCODER.encode(self.roster(ask)))

    def heard(self, roster: Roster) -> None:
        self.answered.add(roster.process_id)
        before = self.online()
        if roster.members or roster.streams:
            self.remote[roster.process_id] = (roster, time.monotonic())
        else:
            self.remote.pop(roster.process_id, None)
        self.changed(before)
        if roster.ask:
            self.announce()

    def expire(self, now: float) -> None:
        stale = [p for p, (_, at) in self.remote.items() if now - at > ROSTER_EXPIRY_S]
        if stale:
            before = self.online()
            for process_id in stale:
                del self.remote[process_id]
            self.changed(before)

    def online(self) -> dict[str, str]:
        """Every user with a coaching socket in the room, on any process: their role."""
        roles = {m.user_id: m.role for m in self.members}
        for roster, _ in self.remote.values():
            for m in roster.members:
                roles.setdefault(m.user_id, m.role)
        return roles

    def streams(self) -> list[StreamingStudent]:
        mine = [StreamingStudent(t.user_id, t.session_id) for t in self.taps if t.streaming]
        seen = {s.session_id for s in mine}
        for roster, _ in self.remote.values():
            mine += [s for s in roster.streams if s.session_id not in seen]
        return mine

    def mirror_fps(self) -> float:
        fps = [m.fps for m in self.members if m.is_coach]
        fps += [m.fps for roster, _ in self.remote.values() for m in roster.members if m.is_coach]
        return max(fps, default=1.0)

    def changed(self, before: dict[str, str]) -> None:
        """After members came or went anywhere: presence to this process's members, taps' rates."""
        after = self.online()
        now = time.time()
        for user_id, role in after.items():
            if user_id not in before:
                joined = encode_json(ParticipantJoined(PresenceData(user_id, role, now)))
                for member in self.members:
                    if member.user_id != user_id:
                        member.outlet.offer(joined)
        for user_id, role in before.items():
            if user_id not in after:
                self.offer_all(encode_json(ParticipantLeft(PresenceData(user_id, role, now))))
        watching = any(m.is_coach for m in self.members) or any(
            m.is_coach for roster, _ in self.remote.values() for m in roster.members)
        fps = self.mirror_fps()
        for tap in self.taps:
            tap.watching = watching
            if tap.thinning.interval != 1.0 / fps:
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

    def __init__(self, store: SessionStore, bus: Bus, *, history: int,
                 peers: Callable[[], set[str]] = set) -> None:
        self.store = store
        self.bus = bus
        self.history = history
        self.rooms: dict[str, CoachingRoom] = {}
        self._taps: dict[str, Tap] = {}  # streaming session id -> its tap
        self._tasks: set[asyncio.Task[None]] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self.peers = peers  # the other live processes (cluster.peers.Peers.peers)
        bus.on_state(self._bus_state)

    async def start(self) -> None:
        if self.bus.url is not None:
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat(), name="swingsync-rosters")

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        for task in list(self._tasks):
            task.cancel()

    async def _room(self, record: SessionRecord) -> CoachingRoom:
        room = self.rooms.get(record.session_id)
        if room is None:
            room = self.rooms[record.session_id] = CoachingRoom(self, record)
            await self.bus.subscribe(room.channel, room.receive)
            room.announce(ask=True)
            await self._answers(room)
        async with room.lock:
            if not room.loaded:  # the tips said before this process saw the room
                room.loaded = True
                for stored in await self.store.messages(record.session_id, self.history):
                    room.remember(msgspec.json.decode(stored.body, type=Posted))
        return room

    async def _answers(self, room: CoachingRoom) -> None:
        if self.bus.state is not BusState.CONNECTED:
            return
        deadline = time.monotonic() + ROSTER_WAIT_S
        while not self.peers() <= room.answered and time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    def _drop_if_empty(self, room: CoachingRoom) -> None:
        if room.empty and self.rooms.get(room.session_id) is room:
            del self.rooms[room.session_id]
            self._forget(room)

    def _forget(self, room: CoachingRoom) -> None:
        self._spawn(self.bus.unsubscribe(room.channel, room.receive))

    def _spawn(self, coro: object) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- students' streams

    async def tap(self, coaching: SessionRecord, session_id: str, user_id: str, conn: FeedbackSink) -> Tap:
        """Mirror the streaming session ``session_id`` of ``user_id`` into the coaching session."""
        room = await self._room(coaching)
        tap = Tap(room, session_id, user_id, conn)
        room.taps.append(tap)
        self._taps[session_id] = tap
        room.changed(room.online())  # the new tap learns who watches
        room.announce()
        return tap

    def session_ended(self, session_id: str) -> None:
        """The stream ended; its feedback may still come (mirrored until its socket closes)."""
        tap = self._taps.get(session_id)
        if tap is None:
            return
        tap.streaming = False
        tap.room.announce()

    def disconnect(self, conn: FeedbackSink) -> None:
        for session_id, tap in list(self._taps.items()):
            if tap.conn is conn:
                del self._taps[session_id]
                tap.streaming = False
                tap.room.taps.remove(tap)
                tap.room.announce()
                self._drop_if_empty(tap.room)

    # FeedbackMirror
    def feedback(self, session_id: str, message: FeedbackMessage) -> None:
        tap = self._taps.get(session_id)
        if tap is not None and tap.watching:
            data = StudentFeedbackData(**msgspec.structs.asdict(message.data), user_id=tap.user_id)
            tap.room.publish("feedback", encode_json(StudentFeedbackMessage(data)), COACHES)

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
            before = room.online()
            room.members.append(subscriber)
            shown = [m for m in stored if self._visible(m, subscriber)]
            subscriber.outlet.offer(encode_json(SessionStateMessage(self._snapshot(room, subscriber, len(shown)))))
            for message in shown:
                subscriber.outlet.offer(bytes(message.body).decode())
            if self.bus.state is BusState.DISCONNECTED:
                subscriber.outlet.offer(self._bus_status(False))
        room.changed(before)
        room.announce()
        return room

    def leave(self, room: CoachingRoom, subscriber: Subscriber) -> None:
        if subscriber not in room.members:
            return
        before = room.online()
        room.members.remove(subscriber)
        room.changed(before)
        room.announce()
        self._drop_if_empty(room)

    async def post(self, room: CoachingRoom, message: Posted) -> None:
        """A member's tip, drill or frame update (checked, sender filled in): stored, then published."""
        payload = encode_json(message)
        async with room.lock:
            await self.store.add_message(StoredMessage(
                session_id=room.session_id, sender=message.data.from_user or "", type=_TAGS[type(message)],
                sent_at=message.data.sent_at or time.time(), body=msgspec.Raw(payload.encode()),
            ))
            room.publish("posted", payload, audience_of(message))

    def close_room(self, session_id: str) -> list[Subscriber]:
        """The coaching session was deleted here: this process's members, to be closed by the caller;
        the other processes close theirs."""
        room = self.rooms.pop(session_id, None)
        if room is None:
            self.bus.publish(channel(session_id), _ENCODER.encode(Closed(self.bus.process_id)))
            return []
        self.bus.publish(room.channel, _ENCODER.encode(Closed(self.bus.process_id)))
        self._close(room)
        return list(room.members)

    def closed_elsewhere(self, room: CoachingRoom) -> None:
        if self.rooms.get(room.session_id) is room:
            del self.rooms[room.session_id]
        self._close(room)
        for member in room.members:
            self._spawn(member.outlet.close(CloseCode.NORMAL, "the coaching session was deleted"))

    def _close(self, room: CoachingRoom) -> None:
        for tap in room.taps:
            tap.watching = False
        self._forget(room)

    # ---------------------------------------------------------------- the bus

    def _bus_state(self, state: BusState) -> None:
        if state is BusState.DISCONNECTED:
            status = self._bus_status(False)
        elif state is BusState.CONNECTED and self.bus.disconnects:
            status = self._bus_status(True)
            for room in self.rooms.values():
                room.announce(ask=True)  # the others may have dropped our part meanwhile
        else:
            return
        for room in self.rooms.values():
            room.offer_all(status)

    def _bus_status(self, connected: bool) -> str:
        detail = ("members on other server processes are reachable again" if connected else
                  "the link between server processes is down: members and students on other processes are "
                  "out of reach until it is back; this process's own are not affected")
        return encode_json(BusStatus(BusStatusData(connected, time.time(), detail)))

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(ROSTER_INTERVAL_S)
            now = time.monotonic()
            for room in list(self.rooms.values()):
                room.expire(now)
                room.announce()

    # ---------------------------------------------------------------- snapshots

    @staticmethod
    def _visible(stored: StoredMessage, subscriber: Subscriber) -> bool:
        if subscriber.is_coach or stored.sender == subscriber.user_id:
            return True
        target = msgspec.json.decode(stored.body, type=_Target).data.target_user
        return target is None or target == subscriber.user_id

    def _snapshot(self, room: CoachingRoom, subscriber: Subscriber, history: int) -> SessionStateData:
        record = room.record
        roles = room.online()
        people = [record.user_id, *(p for p in record.participants if p != record.user_id)]
        people += [u for u in roles if u not in people]  # admins who joined
        return SessionStateData(
            session_id=room.session_id,
            user_id=subscriber.user_id,
            role=subscriber.role,
            owner=record.user_id,
            participants=[Participant(u, roles.get(u), u in roles) for u in people],
            streaming=room.streams(),
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
