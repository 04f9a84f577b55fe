"""The monitor socket's one message, ``performance_metrics``: system or user figures every interval."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from .figures import LaneStats
from .stream import ServerMessage


class SessionFigures(Struct):
    session_id: str
    frames_received: int
    frames_processed: int
    kpis_calculated: int
    faults_detected: int
    swings: int
    average_latency_ms: float | None
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    p99_latency_ms: float | None


class ProcessSummary(Struct):
    """One server process in a system-scope message."""

    process_id: str
    pid: int
    host: str
    uptime_s: float
    frames_received: int
    frames_processed: int
    frames_rate_limited: int
    swings: int
    average_latency_ms: float | None
    p99_latency_ms: float | None
    active_connections: int
    active_sessions: int
    watchers: int
    bus_state: str  # local (no Redis), connecting, connected, disconnected


class PerformanceMetricsData(Struct, kw_only=True):
    scope: Literal["system", "user"]
    user_id: str | None  # whose sessions; None for every process
    timestamp: float  # epoch seconds
    interval_s: float
    frames_received: int
    frames_processed: int  # analysed
    frames_per_second: float  # analysed per second since the previous message
    frames_rate_limited: int  # messages dropped over the rate limit
    frames_rejected: int  # bad numbers, out of order
    kpis_calculated: int
    faults_detected: int
    swings: int
    average_latency_ms: float | None
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    p99_latency_ms: float | None
    max_latency_ms: float | None
    active_connections: int  # main sockets
    active_sessions: int
    sessions: list[SessionFigures] | None = None  # user scope: each live session
    watchers: int | None = None  # system scope: coaching and monitor sockets
    broadcast_dropped: int | None = None  # system scope
    slow_consumers_closed: int | None = None  # system scope
    feedback: LaneStats | None = None  # system scope: this process's lane
    processes: list[ProcessSummary] | None = None  # system scope: each server process, this one first


class PerformanceMetrics(ServerMessage, tag="performance_metrics"):
    data: PerformanceMetricsData
