"""Who is connected and which sessions are live, in this process.

The registry admits sockets (per-user and total caps, not while draining;
coaching and monitor sockets count as "watchers" toward the same caps),
starts and ends sessions against the ``SessionStore``, reaps idle sockets,
drains everything on shutdown, and keeps the totals of sessions that have
ended so system stats cover the whole life of the process.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from time import perf_counter_ns
from typing import TYPE_CHECKING

import msgspec

from ..baseline import RECENT_SWINGS, baseline_from
from ..feedback.stats import LaneStats
from ..thresholds import Thresholds
from .broadcast import BroadcastStats, Outlet
from .codec import Payload
from .latency import LatencyHistogram, LatencySummary
from .limits import UserBudget
from .protocol import CloseCode, ErrorCode, FrameLayout, StreamConfig
from .responses import HTTPError
from .session import StreamSession
from .settings import Settings
from .store import SessionRecord, SessionState, SessionStats, SessionStore

if TYPE_CHECKING:
    from starlette.websockets import WebSocket

    from ..feedback.lane import FeedbackLane
    from .cluster import Cluster
    from .coaching import CoachingHub
    from .connection import Connection

logger = logging.getLogger("swingsync_fast.server")


class Refused(HTTPError):
    """A socket the registry will not take: the handshake is denied with this status."""


class SessionRefused(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SystemStats(msgspec.Struct, frozen=True):
    uptime_s: float
    draining: bool
    connections: int  # main sockets
    watchers: int  # coaching and monitor sockets
    users_connected: int
    sessions_active: int
    sessions_started: int
    frames_received: int
    frames_analysed: int
    frames_dropped: int  # over the rate limit
    frames_rejected: int
    bad_messages: int
    kpis_calculated: int
    swings: int
    faults_detected: int
    connections_refused: int
    broadcast_dropped: int  # messages a coaching or monitor socket's full queue refused
    slow_consumers_closed: int  # coaching or monitor sockets closed with 1013
    latency: LatencySummary
    feedback: LaneStats | None = None  # None: no feedback lane in this process


class _Totals:
    """Counters of connections and sessions that are gone."""

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


class UserStats(msgspec.Struct, frozen=True):
    """One user's live sessions and sockets."""

    connections: int
    sessions_active: int
    frames_received: int
    frames_analysed: int
    frames_dropped: int
    frames_rejected: int
    kpis_calculated: int
    swings: int
    faults_detected: int
    latency: LatencySummary
    sessions: list[tuple[str, SessionStats]]


class Registry:
    def __init__(
        self, settings: Settings, store: SessionStore, feedback: FeedbackLane | None = None,
        coaching: CoachingHub | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.feedback = feedback  # None: sessions get no feedback (benchmarks of the frame path)
        self.coaching = coaching  # None: coaching_session_id is refused
        self.cluster: Cluster | None = None  # the other server processes, once the runtime has started
        self.broadcast = BroadcastStats()
        self.connections: set[Connection] = set()
        self.watchers: set[Outlet] = set()
        self.by_user: defaultdict[str, set[Connection | Outlet]] = defaultdict(set)
        self.live: dict[str, Connection] = {}  # session id -> the socket streaming it
        self.budgets: dict[str, UserBudget] = {}  # user id -> its main sockets' budget (cluster.Cluster refills)
        self.draining = False
        self.sessions_started = 0
        self.connections_refused = 0
        self.started_ns = perf_counter_ns()
        self._totals = _Totals()
        self._empty = asyncio.Event()
        self._empty.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- connections

    def add(self, conn: Connection) -> None:
        """Reserve a place for a socket before its handshake completes, or raise Refused."""
        self._admit(conn)
        self.connections.add(conn)
        rate = self.settings.user_frames_per_second
        if rate is not None:
            budget = self.budgets.get(conn.user_id)
            if budget is None:
                budget = self.budgets[conn.user_id] = UserBudget(rate)
            conn.limiter.user = budget

    def add_watcher(self, websocket: WebSocket, user_id: str) -> Outlet:
        """The same for a coaching or monitor socket: its outlet, admitted."""
        settings = self.settings
        outlet = Outlet(websocket, user_id, capacity=settings.outlet_queue, slow_after_s=settings.slow_consumer_s,
                        stats=self.broadcast)
        self._admit(outlet)
        self.watchers.add(outlet)
        return outlet

    def remove_watcher(self, outlet: Outlet) -> None:
        self.watchers.discard(outlet)
        self._release(outlet)

    def _admit(self, conn: Connection | Outlet) -> None:
        if self.draining:
            self.connections_refused += 1
            raise Refused(503, "shutting_down", "the server is shutting down; reconnect shortly")
        if len(self.connections) + len(self.watchers) >= self.settings.max_connections:
            self.connections_refused += 1
            raise Refused(503, "server_full", f"the server holds its maximum of {self.settings.max_connections} sockets")
        mine = self.by_user[conn.user_id]
        elsewhere = 0 if self.cluster is None else self.cluster.sockets_elsewhere(conn.user_id)
        if len(mine) + elsewhere >= self.settings.max_connections_per_user:
            self.connections_refused += 1
            where = f", {elsewhere} of them on other server processes" if elsewhere else ""
            raise Refused(
                429, "too_many_connections",
                f"user {conn.user_id!r} already has {len(mine) + elsewhere} sockets open (the limit){where}",
            )
        mine.add(conn)
        self._empty.clear()

    async def remove(self, conn: Connection) -> None:
        """The socket is gone: end its session quietly and forget it."""
        session = conn.detach_session()
        if session is not None:
            await self.end_session(session, "disconnected")
        if self.feedback is not None:
            self.feedback.disconnect(conn)  # also answers still on their way from ended sessions
        if self.coaching is not None:
            self.coaching.disconnect(conn)
        self._totals.frames_dropped += conn.limiter.dropped
        self._totals.bad_messages += conn.bad.total
        self.connections.discard(conn)
        self._release(conn)
        if not any(other in self.connections for other in self.by_user.get(conn.user_id, ())):
            self.budgets.pop(conn.user_id, None)

    def _release(self, conn: Connection | Outlet) -> None:
        mine = self.by_user.get(conn.user_id)
        if mine is not None:
            mine.discard(conn)
            if not mine:
                del self.by_user[conn.user_id]
        if not self.connections and not self.watchers:
            self._empty.set()

    # ---------------------------------------------------------------- sessions

    async def start_session(
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
        elsewhere = None if self.cluster is None else self.cluster.live_elsewhere(record.session_id)
        if elsewhere is not None:
            raise SessionRefused(ErrorCode.SESSION_BUSY,
                                 f"session {record.session_id!r} is streaming on another server process ({elsewhere})")
        session = StreamSession(record, layout, feedback=self.feedback, store=self.store, thresholds=thresholds)
        self.live[record.session_id] = conn
        if coaching is not None and self.coaching is not None:
            session.tap = await self.coaching.tap(coaching, record.session_id, user_id, conn)
        if self.feedback is not None:
            self.feedback.open(record.session_id, conn)
        self.sessions_started += 1
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

    async def end_session(self, session: StreamSession, reason: str) -> list[Payload]:
        """End a session already detached from its socket: its last messages, and its record saved."""
        messages, record = session.end(reason)
        if session.tap is not None and self.coaching is not None:
            self.coaching.session_ended(session.tap)
        self.live.pop(session.session_id, None)
        if self.feedback is not None:
            # The client's own end_session keeps the socket: feedback already asked for still
            # arrives (after session_ended). Any other end means nobody wants it any more.
            self.feedback.close(session.session_id, cancel=reason != "client_ended")
        self._totals.add_session(session)
        if await self.store.get(session.session_id) is not None:  # deleted meanwhile: nothing to save
            await self.store.save(record)
        return messages

    def live_session(self, session_id: str) -> StreamSession | None:
        conn = self.live.get(session_id)
        return None if conn is None else conn.session

    # ---------------------------------------------------------------- idle, shutdown

    def start(self) -> None:
        self._reaper = asyncio.get_running_loop().create_task(self._reap_idle(), name="swingsync-idle-reaper")

    async def _reap_idle(self) -> None:
        """Close idle main sockets, and coaching or monitor sockets that lag (see Outlet.lagging)."""
        idle_ns = int(self.settings.idle_timeout_s * 1e9)
        period = min(1.0, self.settings.idle_timeout_s / 4, self.settings.slow_consumer_s / 4)
        while True:
            await asyncio.sleep(period)
            now = perf_counter_ns()
            for outlet in list(self.watchers):
                outlet.lagging(now)
            for conn in list(self.connections):
                if conn.is_open and now - conn.last_seen_ns > idle_ns:
                    self._spawn(
                        conn.shutdown(
                            CloseCode.IDLE_TIMEOUT, "idle timeout", end_reason="idle_timeout",
                            error=(ErrorCode.IDLE_TIMEOUT, f"no message for {self.settings.idle_timeout_s:g} s"),
                        )
                    )

    def _spawn(self, coro: object) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Refuse new sockets, send every live session its last messages, close all with 1001."""
        if self.draining:
            return
        self.draining = True
        if self.connections or self.watchers:
            logger.info("draining %d socket(s)", len(self.connections) + len(self.watchers))
        await asyncio.gather(
            *(c.shutdown(CloseCode.GOING_AWAY, "server shutting down", end_reason="server_shutdown")
              for c in list(self.connections)),
            *(w.shutdown(CloseCode.GOING_AWAY, "server shutting down") for w in list(self.watchers)),
            return_exceptions=True,
        )
        try:
            await asyncio.wait_for(self._empty.wait(), self.settings.shutdown_grace_s)
        except asyncio.TimeoutError:
            logger.warning("%d socket(s) still open after the shutdown grace period",
                           len(self.connections) + len(self.watchers))

    async def stop(self) -> None:
        await self.drain()
        if self._reaper is not None:
            self._reaper.cancel()
        for task in list(self._tasks):
            task.cancel()

    # ---------------------------------------------------------------- figures

    def latency(self) -> LatencyHistogram:
        """Every analysed frame's latency since the process started, ended sessions included."""
        latency = LatencyHistogram()
        latency.merge(self._totals.latency)
        for conn in self.connections:
            if conn.session is not None:
                latency.merge(conn.session.latency)
        return latency

    def system_stats(self) -> SystemStats:
        totals = self._totals
        live = _Totals()
        for conn in self.connections:
            live.frames_dropped += conn.limiter.dropped
            live.bad_messages += conn.bad.total
            if conn.session is not None:
                live.add_session(conn.session)
        return SystemStats(
            uptime_s=round((perf_counter_ns() - self.started_ns) / 1e9, 3),
            draining=self.draining,
            connections=len(self.connections),
            watchers=len(self.watchers),
            users_connected=len(self.by_user),
            sessions_active=len(self.live),
            sessions_started=self.sessions_started,
            frames_received=totals.frames_received + live.frames_received,
            frames_analysed=totals.frames_analysed + live.frames_analysed,
            frames_dropped=totals.frames_dropped + live.frames_dropped,
            frames_rejected=totals.frames_rejected + live.frames_rejected,
            bad_messages=totals.bad_messages + live.bad_messages,
            kpis_calculated=totals.kpis_calculated + live.kpis_calculated,
            swings=totals.swings + live.swings,
            faults_detected=totals.faults_detected + live.faults_detected,
            connections_refused=self.connections_refused,
            broadcast_dropped=self.broadcast.dropped,
            slow_consumers_closed=self.broadcast.slow_closed,
            latency=self.latency().summary(),
            feedback=self.feedback.stats() if self.feedback is not None else None,
        )

    def user_stats(self, user_id: str) -> UserStats:
        """The figures of the sessions streaming on ``user_id``'s sockets now."""
        live = _Totals()
        sessions: list[tuple[str, SessionStats]] = []
        mine = [c for c in self.by_user.get(user_id, ()) if c in self.connections]
        for conn in mine:
            live.frames_dropped += conn.limiter.dropped  # type: ignore[union-attr]
            session = conn.session  # type: ignore[union-attr]
            if session is not None:
                live.add_session(session)
                sessions.append((session.session_id, session.stats()))
        return UserStats(
            connections=len(mine),
            sessions_active=len(sessions),
            frames_received=live.frames_received,
            frames_analysed=live.frames_analysed,
            frames_dropped=live.frames_dropped,
            frames_rejected=live.frames_rejected,
            kpis_calculated=live.kpis_calculated,
            swings=live.swings,
            faults_detected=live.faults_detected,
            latency=live.latency.summary(),
            sessions=sessions,
        )


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
