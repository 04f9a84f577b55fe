"""``GET /metrics``: the process's live counters in Prometheus' text format.

A prometheus-client collector reads the registry, the feedback lane and the
broadcast counters when Prometheus scrapes; the frame path never calls
prometheus-client. Each app has its own ``CollectorRegistry``, so several
servers in one process (tests) do not collide. Unauthenticated, like
``/health``; ``SWINGSYNC_METRICS_ENABLED=0`` removes the route (404).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from starlette.requests import Request
from starlette.responses import Response

from ..feedback.breaker import BreakerState
from ..feedback.stats import LaneStats
from .latency import BOUNDS_US
from .registry import Registry

_BREAKER = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class ServerCollector:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration: the names are fixed below

    def collect(self) -> Iterator[Metric]:
        s = self.registry.system_stats()
        counters = {
            "frames_received": ("Frames received on main sockets", s.frames_received),
            "frames_analysed": ("Frames analysed", s.frames_analysed),
            "frames_rate_limited": ("Messages dropped over a connection's rate limit", s.frames_dropped),
            "frames_rejected": ("Frames refused: bad numbers, out of order", s.frames_rejected),
            "bad_messages": ("Messages answered with an error", s.bad_messages),
            "kpis_calculated": ("Frames whose KPIs were sent", s.kpis_calculated),
            "swings": ("Swings summarised", s.swings),
            "faults_detected": ("Faults in swing summaries", s.faults_detected),
            "sessions_started": ("Streaming sessions started", s.sessions_started),
            "connections_refused": ("Sockets refused at the handshake by a cap or a drain", s.connections_refused),
            "broadcast_dropped": ("Messages a coaching or monitor socket's full queue refused", s.broadcast_dropped),
            "slow_consumers_closed": ("Coaching or monitor sockets closed with 1013 for being too slow",
                                      s.slow_consumers_closed),
        }
        for name, (doc, value) in counters.items():
            yield CounterMetricFamily(f"swingsync_{name}", doc, value=value)
        gauges = {
            "connections": ("Main sockets open", s.connections),
            "watchers": ("Coaching and monitor sockets open", s.watchers),
            "sessions_active": ("Sessions streaming now", s.sessions_active),
            "users_connected": ("Users with a socket open", s.users_connected),
            "uptime_seconds": ("Seconds since the server started", s.uptime_s),
            "draining": ("1 while the server shuts down", int(s.draining)),
        }
        for name, (doc, value) in gauges.items():
            yield GaugeMetricFamily(f"swingsync_{name}", doc, value=value)
        yield self._latency()
        if s.feedback is not None:
            yield from self._feedback(s.feedback)

    def _latency(self) -> HistogramMetricFamily:
        histogram = self.registry.latency()
        buckets, seen = [], 0
        for bound_us, count in zip(BOUNDS_US, histogram.counts):
            seen += count
            buckets.append((repr(bound_us / 1e6), seen))
        buckets.append(("+Inf", histogram.count))
        return HistogramMetricFamily(
            "swingsync_frame_latency_seconds", "Receive-to-send time of analysed frames",
            buckets=buckets, sum_value=histogram.total_ns / 1e9,
        )

    @staticmethod
    def _feedback(f: LaneStats) -> Iterator[Metric]:
        for name in ("requested", "coalesced", "completed", "from_model", "from_offline", "fallbacks", "timeouts",
                     "model_errors", "retries", "rate_limited", "rejected", "cancelled"):
            yield CounterMetricFamily(f"swingsync_feedback_{name}", f"Feedback lane: {name.replace('_', ' ')}",
                                      value=getattr(f, name))
        yield GaugeMetricFamily("swingsync_feedback_queued", "Sessions with a feedback request waiting", value=f.queued)
        yield GaugeMetricFamily("swingsync_feedback_in_flight", "Feedback answers being written", value=f.in_flight)
        yield GaugeMetricFamily("swingsync_feedback_breaker_state", "Model circuit: 0 closed, 1 half open, 2 open",
                                value=_BREAKER[f.breaker.state])


def collector_registry(registry: Registry) -> CollectorRegistry:
    collectors = CollectorRegistry(auto_describe=False)
    collectors.register(ServerCollector(registry))
    return collectors


async def metrics(request: Request) -> Response:
    collectors: CollectorRegistry = request.app.state.runtime.metrics
    return Response(generate_latest(collectors), media_type=CONTENT_TYPE_LATEST)
