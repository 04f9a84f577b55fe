"""The monitor socket, ``/api/v1/stream/ws/monitor/{user_id}``: ``performance_metrics`` on a clock.

An admin sees every server process since it started: the totals, and each
process in ``processes`` (this one's live counters, the others' last
published figures, see ``cluster.Cluster``). Anyone else sees the sessions
streaming on their own sockets of this process now (``Registry.user_stats``).
Figures are read when a message is due; nothing is added to the frame path.
"""

from __future__ import annotations

import asyncio
import time

import msgspec
from starlette.websockets import WebSocket

from ..auth import Principal
from ..cluster.cluster import total
from ..protocol.bus import ProcessFigures
from ..protocol.figures import LatencySummary, SystemStats, UserStats
from ..protocol.monitor import PerformanceMetrics, PerformanceMetricsData, ProcessSummary, SessionFigures
from ..protocol.stream import ErrorCode, ErrorData, ErrorMessage, Pong, PongData, TypeOnly
from ..responses import HTTPError, deny, query_number
from ..runtime import Runtime
from ..stream.codec import encode_json
from ..stream.guard import TOO_DEEP

PATH = "/api/v1/stream/ws/monitor/{user_id}"
MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 60.0


def _ms(us: float | None) -> float | None:
    return None if us is None else round(us / 1000, 3)


def _latency(summary: LatencySummary) -> dict[str, float | None]:
    return {
        "average_latency_ms": _ms(summary.mean_us),
        "p50_latency_ms": _ms(summary.p50_us),
        "p95_latency_ms": _ms(summary.p95_us),
        "p99_latency_ms": _ms(summary.p99_us),
    }


class Figures:
    """Builds one viewer's performance_metrics; remembers the last count for the rate."""

    def __init__(self, runtime: Runtime, principal: Principal, interval_s: float) -> None:
        self.registry = runtime.registry
        self.cluster = runtime.cluster
        self.principal = principal
        self.interval_s = interval_s
        self._last: tuple[float, int] | None = None

    def _rate(self, analysed: int) -> float:
        now = time.monotonic()
        last, self._last = self._last, (now, analysed)
        if last is None or now <= last[0]:
            return 0.0
        return round(max(0, analysed - last[1]) / (now - last[0]), 1)

    def _counts(self, stats: SystemStats | UserStats) -> dict[str, object]:
        """The fields both scopes fill alike, from the system's or the user's figures."""
        return {
            "timestamp": time.time(), "interval_s": self.interval_s,
            "frames_received": stats.frames_received, "frames_processed": stats.frames_analysed,
            "frames_per_second": self._rate(stats.frames_analysed), "frames_rate_limited": stats.frames_dropped,
            "frames_rejected": stats.frames_rejected, "kpis_calculated": stats.kpis_calculated,
            "faults_detected": stats.faults_detected, "swings": stats.swings,
            "max_latency_ms": _ms(stats.latency.max_us), "active_connections": stats.connections,
            "active_sessions": stats.sessions_active, **_latency(stats.latency),
        }

    def message(self) -> PerformanceMetrics:
        if self.principal.is_admin:
            processes = self.cluster.processes()
            s, _ = total(processes)
            data = PerformanceMetricsData(
                scope="system", user_id=None, **self._counts(s), watchers=s.watchers,
                broadcast_dropped=s.broadcast_dropped, slow_consumers_closed=s.slow_consumers_closed,
                feedback=s.feedback, processes=[_summary(p) for p in processes],
            )
        else:
            u = self.registry.user_stats(self.principal.user_id)
            data = PerformanceMetricsData(
                scope="user", user_id=self.principal.user_id, **self._counts(u),
                sessions=[
                    SessionFigures(session_id, st.frames_received, st.frames_analysed, st.kpis_calculated,
                                   st.faults_detected, st.swings, **_latency(st.latency))
                    for session_id, st in u.sessions
                ],
            )
        return PerformanceMetrics(data)


def _summary(p: ProcessFigures) -> ProcessSummary:
    s = p.stats
    return ProcessSummary(
        process_id=p.process_id, pid=p.pid, host=p.host, uptime_s=s.uptime_s, frames_received=s.frames_received,
        frames_processed=s.frames_analysed, frames_rate_limited=s.frames_dropped, swings=s.swings,
        average_latency_ms=_ms(s.latency.mean_us), p99_latency_ms=_ms(s.latency.p99_us),
        active_connections=s.connections, active_sessions=s.sessions_active, watchers=s.watchers,
        bus_state=p.bus.state.value,
    )


async def monitor_socket(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    settings = runtime.settings
    try:
        principal = runtime.auth.authenticate(websocket, path_user=websocket.path_params["user_id"], ticket_ok=True)
        interval = query_number(websocket, "interval", settings.monitor_interval_s, MIN_INTERVAL_S, MAX_INTERVAL_S)
        outlet = runtime.registry.add_watcher(websocket, principal.user_id)
    except HTTPError as exc:
        await deny(websocket, exc.status, exc.code, exc.message)
        return
    figures = Figures(runtime, principal, interval)

    async def tick() -> None:
        while outlet.is_open:
            outlet.offer(encode_json(figures.message()))
            await asyncio.sleep(interval)

    async def handle(data: str | bytes) -> None:
        # Only ping is read here; anything else gets an error and is otherwise ignored.
        try:
            kind = msgspec.json.decode(data, type=TypeOnly).type
        except (msgspec.ValidationError, msgspec.DecodeError):
            kind = None
        except RecursionError:
            outlet.offer(encode_json(ErrorMessage(ErrorData(ErrorCode.MALFORMED_MESSAGE, TOO_DEEP))))
            return
        if kind == "ping":
            outlet.offer(encode_json(Pong(PongData(time.time()))))
        else:
            outlet.offer(encode_json(ErrorMessage(ErrorData(
                ErrorCode.UNKNOWN_TYPE, "the monitor socket only reads ping; it sends performance_metrics"))))

    ticker = asyncio.get_running_loop().create_task(tick())
    try:
        await outlet.run(handle)
    finally:
        ticker.cancel()
        runtime.registry.remove_watcher(outlet)
