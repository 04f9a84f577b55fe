"""The figures every layer reports, as sent: latency summaries, a session's, a user's, the system's.

The same names in every layer: ``frames_analysed`` here is what ``performance_metrics`` (the
seed's name) calls ``frames_processed``.
"""

from __future__ import annotations

import enum

import msgspec


class LatencySummary(msgspec.Struct, frozen=True):
    count: int
    mean_us: float | None
    p50_us: float | None
    p95_us: float | None
    p99_us: float | None
    max_us: float | None


class HistogramCounts(msgspec.Struct, array_like=True, frozen=True):
    """A latency histogram as sent to other processes (``Histogram.counts_of``; ``merge`` takes it)."""

    counts: list[int]
    count: int
    total: int  # nanoseconds
    maximum: int


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


class BusStats(msgspec.Struct, frozen=True):
    state: BusState
    process_id: str
    published: int  # written to Redis
    received: int  # from other processes
    dropped_queue_full: int
    dropped_disconnected: int
    disconnects: int
    channels: int


class BusState(str, enum.Enum):
    LOCAL = "local"  # no Redis configured: this process only
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"  # Redis unreachable; retrying


class BreakerState(str, enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerStats(msgspec.Struct, frozen=True):
    state: BreakerState
    consecutive_failures: int
    times_opened: int


class DurationSummary(msgspec.Struct, frozen=True):
    count: int
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None


class LaneStats(msgspec.Struct, frozen=True):
    provider: str  # "gemini" when a model is configured, else "offline"
    model: str | None
    workers: int
    queued: int  # sessions with a request waiting now
    in_flight: int  # requests being answered now
    requested: int  # accepted into the lane (automatic triggers and request_feedback)
    coalesced: int  # queued requests replaced by a newer swing of the same session
    completed: int  # answers delivered to the end (done: true sent)
    from_model: int  # ... of which the model's text
    from_offline: int  # ... of which OfflineCoach's
    fallbacks: int  # the model was wanted but OfflineCoach answered (error, timeout, circuit open)
    timeouts: int  # first-piece or total timeouts
    model_errors: int  # model calls that failed other than by timing out
    retries: int
    rate_limited: int  # over the session's model rate: answered offline
    rejected: int  # the queue was full
    cancelled: int  # session ended or socket closed before the answer was out
    breaker: BreakerStats
    time_to_first_piece: dict[str, DurationSummary]  # by source, from the trigger to the first piece sent
