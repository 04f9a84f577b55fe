"""The sessions streaming in this process: started and ended against the store, the coaching rooms and
the feedback lane, and the totals of those that have ended, so figures cover the whole life of the process.

A socket streams at most one session at a time; a session streams on at most one socket of any
process (the others' last pulses say which they stream).
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

import msgspec

from ..baseline import RECENT_SWINGS, baseline_from
from ..thresholds import Thresholds
from .protocol.stream import ErrorCode, FrameLayout, Payload, StreamConfig
from .storage.base import SessionStore
from .storage.records import SessionRecord, SessionState
from .stream.connection import Connection, SessionRefused
from .stream.latency import LatencyHistogram
from .stream.session import StreamSession

if TYPE_CHECKING:
    from ..feedback.lane import FeedbackLane
    from .cluster.peers import Peers
    from .watchers.coaching import CoachingHub


class Totals:
    """Counters of sessions and sockets, summed: those that have ended, or a set of live ones."""

    __slots__ = (
        "frames_received", "frames_analysed", "frames_rejected", "kpis_calculated", "swings",
        "faults_detected", "frames_dropped", "bad_messages", "latency",
    )

    def __init__(self) -> None:
        self.frames_received = self.frames_analysed = self.frames_rejected = 0
        self.kpis_calculated = self.swings = self.faults_detected = 0
        self.frames_dropped = self.bad_messages = 0
        self.latency = LatencyHistogram()

    def add_session(self, s: StreamSession) -> None:
        self.frames_received += s.frames_received
        self.frames_analysed += s.frames_analysed
        self.frames_rejected += s.frames_rejected
        self.kpis_calculated += s.kpis_calculated
        self.swings += s.swings
        self.faults_detected += s.faults_detected
        self.latency.merge(s.latency)


class Sessions:
    """The ``SessionHost`` of every connection of this process."""

    def __init__(
        self, store: SessionStore, peers: Peers | None = None, feedback: FeedbackLane | None = None,
        coaching: CoachingHub | None = None,
    ) -> None:
        self.store = store
        self.peers = peers  # None: this process alone
        self.feedback = feedback  # None: sessions get no feedback (benchmarks of the frame path)
        self.coaching = coaching  # None: coaching_session_id is refused
        self.live: dict[str, Connection] = {}  # session id -> the socket streaming it
        self.started = 0
        self.ended = Totals()

    async def start(
        self, conn: Connection, config: StreamConfig | None, session_id: str | None, binary: bool
    ) -> StreamSession:
        """A new session, or one created over REST, streaming on ``conn``."""
        user_id = conn.user_id
        if session_id is not None:
            if config is not None:
                raise SessionRefused(
                    ErrorCode.INVALID_MESSAGE, "give either data.config or data.session_id, not both"
                )
            record = await self.store.get(session_id)
            if record is None or record.user_id != user_id:
                raise SessionRefused(ErrorCode.SESSION_NOT_FOUND, f"no session {session_id!r} of yours")
            if record.state is SessionState.ENDED:
                raise SessionRefused(ErrorCode.SESSION_ENDED, f"session {session_id!r} has ended")
            config = record.config
        else:
            config = config or StreamConfig()
            if config.user_id and config.user_id != user_id:
                raise SessionRefused(
                    ErrorCode.WRONG_USER, f"config.user_id {config.user_id!r} is not this socket's user {user_id!r}"
                )
            record = None
        coaching = await self._coaching_record(config.coaching_session_id, user_id)
        layout = config.frame_layout or (FrameLayout.BINARY if binary else FrameLayout.SEED)
        config = msgspec.structs.replace(config, user_id=user_id, frame_layout=layout)
        baseline, thresholds = await player_thresholds(self.store, user_id, config)
        now = time.time()
        if record is None:
            record = new_record(user_id, config, SessionState.ACTIVE, now)
            record.started_at = now
            is_new = True
        else:
            record = msgspec.structs.replace(record, config=config, state=SessionState.ACTIVE, started_at=now)
            is_new = False
        record.baseline = baseline
        # Checked and taken with no await in between, so two sockets cannot both attach it.
        if record.session_id in self.live:
            raise SessionRefused(ErrorCode.SESSION_BUSY, f"session {record.session_id!r} is streaming on another socket")
        elsewhere = None if self.peers is None else self.peers.live_elsewhere(record.session_id)
        if elsewhere is not None:
            raise SessionRefused(ErrorCode.SESSION_BUSY,
                                 f"session {record.session_id!r} is streaming on another server process ({elsewhere})")
        session = StreamSession(record, layout, feedback=self.feedback, store=self.store, thresholds=thresholds)
        self.live[record.session_id] = conn
        if coaching is not None and self.coaching is not None:
            session.tap = await self.coaching.tap(coaching, record.session_id, user_id, conn)
        if self.feedback is not None:
            self.feedback.open(record.session_id, conn)
        self.started += 1
        await (self.store.add(record) if is_new else self.store.save(record))
        return session

    async def _coaching_record(self, coaching_session_id: str | None, user_id: str) -> SessionRecord | None:
        """The coaching session a stream names, checked: it exists, it has not ended, the user is in it."""
        if coaching_session_id is None:
            return None
        record = await self.store.get(coaching_session_id)
        if self.coaching is None or record is None or not record.visible_to(user_id, False):
            raise SessionRefused(
                ErrorCode.COACHING_SESSION_NOT_FOUND,
                f"no coaching session {coaching_session_id!r} with {user_id!r} as its owner or a participant",
            )
        if record.state is SessionState.ENDED:
            raise SessionRefused(
                ErrorCode.COACHING_SESSION_NOT_FOUND, f"coaching session {coaching_session_id!r} has ended")
        return record

    async def end(self, session: StreamSession, reason: str) -> list[Payload]:
        """End a session already detached from its socket: its last messages, and its record saved."""
        messages, record = session.end(reason)
        if session.tap is not None and self.coaching is not None:
            self.coaching.session_ended(session.session_id)
        self.live.pop(session.session_id, None)
        if self.feedback is not None:
            # The client's own end_session keeps the socket: feedback already asked for still
            # arrives (after session_ended). Any other end means nobody wants it any more.
            self.feedback.close(session.session_id, cancel=reason != "client_ended")
        self.ended.add_session(session)
        if await self.store.get(session.session_id) is not None:  # deleted meanwhile: nothing to save
            await self.store.save(record)
        return messages

    def disconnect(self, conn: Connection) -> None:
        """The socket is gone: forget it in the lane (answers of ended sessions too) and the rooms."""
        if self.feedback is not None:
            self.feedback.disconnect(conn)
        if self.coaching is not None:
            self.coaching.disconnect(conn)

    def live_session(self, session_id: str) -> StreamSession | None:
        conn = self.live.get(session_id)
        return None if conn is None else conn.session

    def live_ids(self) -> list[str]:
        return list(self.live)


def new_record(user_id: str, config: StreamConfig, state: SessionState, now: float,
               participants: list[str] | None = None) -> SessionRecord:
    return SessionRecord(
        session_id=uuid.uuid4().hex,
        user_id=user_id,
        session_name=config.session_name,
        config=config,
        state=state,
        created_at=now,
        participants=list(participants or ()),
    )


async def player_thresholds(
    store: SessionStore, user_id: str, config: StreamConfig
) -> tuple[dict[str, float], Thresholds]:
    """The fault limits for this player and config: the baseline the config pins, or else the one
    from their recent stored swings with this club family ({} if too few), and the limits it gives."""
    baseline = config.baseline
    if baseline is None:
        history = await store.user_swings(user_id, None, RECENT_SWINGS, club=config.club_used)
        baseline = baseline_from(swing.summary for swing in history)
    return baseline, Thresholds.for_player(config.club_used, config.skill_level, baseline)
