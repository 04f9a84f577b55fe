"""Who is connected to this process: admission, idle reaping, draining, and the figures of it all.

The registry admits sockets (per-user and total caps, counting the user's
sockets on the other processes, not while draining; coaching and monitor
sockets count as "watchers" toward the same caps), reaps idle sockets and
drains everything on shutdown. What streams on the sockets is ``sessions``'.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from time import perf_counter_ns
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket

from .auth import Principal
from .protocol.figures import SessionStats, SystemStats, UserStats
from .protocol.stream import CloseCode, ErrorCode
from .responses import HTTPError
from .sessions import Sessions, Totals
from .settings import Settings
from .stream.connection import Connection
from .stream.latency import LatencyHistogram
from .stream.limits import UserBudget
from .watchers.outlet import BroadcastStats, Outlet

if TYPE_CHECKING:
    from .cluster.peers import Peers

logger = logging.getLogger("swingsync_fast.server")


class Refused(HTTPError):
    """A socket the registry will not take: the handshake is denied with this status."""


class Registry:
    def __init__(self, settings: Settings, sessions: Sessions, peers: Peers | None = None) -> None:
        self.settings = settings
        self.sessions = sessions
        self.peers = peers  # None: this process alone
        self.broadcast = BroadcastStats()
        self.connections: set[Connection] = set()
        self.watchers: set[Outlet] = set()
        self.by_user: defaultdict[str, set[Connection | Outlet]] = defaultdict(set)
        self.draining = False
        self.connections_refused = 0
        self.started_ns = perf_counter_ns()
        self._budgets: dict[str, UserBudget] = {}  # user id -> its main sockets' budget here
        self._gone = Totals()  # of the main sockets that have closed
        self._empty = asyncio.Event()
        self._empty.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- sockets

    def connect(self, principal: Principal, websocket: WebSocket) -> Connection:
        """A main socket's connection, admitted before its handshake completes, or raise Refused."""
        user_id = principal.user_id
        self._admit(user_id)
        budget = None
        rate = self.settings.user_frames_per_second
        if rate is not None:
            budget = self._budgets.get(user_id)
            if budget is None:
                budget = self._budgets[user_id] = UserBudget(rate)
        conn = Connection(principal, self.settings, self.sessions, websocket, perf_counter_ns(), budget)
        self.connections.add(conn)
        self.by_user[user_id].add(conn)
        return conn

    def add_watcher(self, websocket: WebSocket, user_id: str) -> Outlet:
        """The same for a coaching or monitor socket: its outlet, admitted."""
        self._admit(user_id)
        settings = self.settings
        outlet = Outlet(websocket, user_id, capacity=settings.outlet_queue, slow_after_s=settings.slow_consumer_s,
                        send_buffer_bytes=settings.outlet_send_buffer_bytes, stats=self.broadcast)
        self.watchers.add(outlet)
        self.by_user[user_id].add(outlet)
        return outlet

    def remove_watcher(self, outlet: Outlet) -> None:
        self.watchers.discard(outlet)
        self._release(outlet)

    def _admit(self, user_id: str) -> None:
        if self.draining:
            self.connections_refused += 1
            raise Refused(503, "shutting_down", "the server is shutting down; reconnect shortly")
        if len(self.connections) + len(self.watchers) >= self.settings.max_connections:
            self.connections_refused += 1
            raise Refused(503, "server_full", f"the server holds its maximum of {self.settings.max_connections} sockets")
        mine = len(self.by_user.get(user_id, ()))
        elsewhere = 0 if self.peers is None else self.peers.sockets_elsewhere(user_id)
        if mine + elsewhere >= self.settings.max_connections_per_user:
            self.connections_refused += 1
            where = f", {elsewhere} of them on other server processes" if elsewhere else ""
            raise Refused(
                429, "too_many_connections",
                f"user {user_id!r} already has {mine + elsewhere} sockets open (the limit){where}",
            )
        self._empty.clear()

    async def remove(self, conn: Connection) -> None:
        """The socket is gone: end its session quietly and forget it."""
        await conn.end_session("disconnected")
        self.sessions.disconnect(conn)  # also answers still on their way from ended sessions
        self._gone.frames_dropped += conn.frames_dropped
        self._gone.bad_messages += conn.bad_messages
        self.connections.discard(conn)
        self._release(conn)
        if not any(other in self.connections for other in self.by_user.get(conn.user_id, ())):
            self._budgets.pop(conn.user_id, None)

    def _release(self, conn: Connection | Outlet) -> None:
        mine = self.by_user.get(conn.user_id)
        if mine is not None:
            mine.discard(conn)
            if not mine:
                del self.by_user[conn.user_id]
        if not self.connections and not self.watchers:
            self._empty.set()

    # ---------------------------------------------------------------- what the cluster's clock asks

    def refill_budgets(self, period_s: float, others: dict[str, float]) -> dict[str, float]:
        """Start a period of every user's budget here, given the other processes' demand (messages a
        second by user); this process's own demand in the period that ended, of the users that had any."""
        demand = {}
        for user_id, budget in self._budgets.items():
            mine = budget.refill(period_s, others.get(user_id, 0.0))
            if mine:
                demand[user_id] = mine
        return demand

    def sockets_by_user(self) -> dict[str, int]:
        return {user_id: len(mine) for user_id, mine in self.by_user.items()}

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
        latency.merge(self.sessions.ended.latency)
        for conn in self.connections:
            if conn.session is not None:
                latency.merge(conn.session.latency)
        return latency

    def system_stats(self) -> SystemStats:
        ended, gone = self.sessions.ended, self._gone
        live = _live(self.connections)
        feedback = self.sessions.feedback
        return SystemStats(
            uptime_s=round((perf_counter_ns() - self.started_ns) / 1e9, 3),
            draining=self.draining,
            connections=len(self.connections),
            watchers=len(self.watchers),
            users_connected=len(self.by_user),
            sessions_active=len(self.sessions.live),
            sessions_started=self.sessions.started,
            frames_received=ended.frames_received + live.frames_received,
            frames_analysed=ended.frames_analysed + live.frames_analysed,
            frames_dropped=gone.frames_dropped + live.frames_dropped,
            frames_rejected=ended.frames_rejected + live.frames_rejected,
            bad_messages=gone.bad_messages + live.bad_messages,
            kpis_calculated=ended.kpis_calculated + live.kpis_calculated,
            swings=ended.swings + live.swings,
            faults_detected=ended.faults_detected + live.faults_detected,
            connections_refused=self.connections_refused,
            broadcast_dropped=self.broadcast.dropped,
            slow_consumers_closed=self.broadcast.slow_closed,
            latency=self.latency().summary(),
            feedback=feedback.stats() if feedback is not None else None,
        )

    def user_stats(self, user_id: str) -> UserStats:
        """The figures of the sessions streaming on ``user_id``'s sockets now."""
        mine = [c for c in self.by_user.get(user_id, ()) if type(c) is Connection]
        live = _live(mine)
        sessions: list[tuple[str, SessionStats]] = [
            (c.session.session_id, c.session.stats()) for c in mine if c.session is not None]
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


def _live(connections: Iterable[Connection]) -> Totals:
    """The counters of these open sockets and the sessions streaming on them."""
    live = Totals()
    for conn in connections:
        live.frames_dropped += conn.frames_dropped
        live.bad_messages += conn.bad_messages
        if conn.session is not None:
            live.add_session(conn.session)
    return live
