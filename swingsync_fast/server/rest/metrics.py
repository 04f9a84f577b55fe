"""``GET /metrics``: the live counters of every server process in Prometheus' text format.

A prometheus-client collector reads this process's registry, feedback lane,
broadcast and bus counters when Prometheus scrapes, and the figures the other
processes last published (``cluster.Cluster``): every sample carries a
``process`` label, so any worker answers for all of them and
``sum without (process)`` gives the total. The frame path never calls
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

from ..cluster.cluster import Cluster
from ..protocol.bus import ProcessFigures
from ..protocol.figures import BreakerState, BusState, LaneStats
from ..stream.latency import BOUNDS_US

_BREAKER = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class ServerCollector:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration: the names are fixed below

    def collect(self) -> Iterator[Metric]:
        processes = self.cluster.processes()
        counters = {
            "frames_received": "Frames received on main sockets",
            "frames_analysed": "Frames analysed",
            "frames_dropped": ("frames_rate_limited", "Messages dropped over a connection's or a user's rate limit"),
            "frames_rejected": "Frames refused: bad numbers, out of order",
            "bad_messages": "Messages answered with an error",
            "kpis_calculated": "Frames whose KPIs were sent",
            "swings": "Swings summarised",
            "faults_detected": "Faults in swing summaries",
            "sessions_started": "Streaming sessions started",
            "connections_refused": "Sockets refused at the handshake by a cap or a drain",
            "broadcast_dropped": "Messages a coaching or monitor socket's full queue refused",
            "slow_consumers_closed": "Coaching or monitor sockets closed with 1013 for being too slow",
        }
        gauges = {
            "connections": "Main sockets open",
            "watchers": "Coaching and monitor sockets open",
            "sessions_active": "Sessions streaming now",
            "users_connected": "Users with a socket open",
            "uptime_s": ("uptime_seconds", "Seconds since the server process started"),
            "draining": "1 while the server process shuts down",
        }
        for kinds, family in ((counters, CounterMetricFamily), (gauges, GaugeMetricFamily)):
            for field, named in kinds.items():
                name, doc = named if isinstance(named, tuple) else (field, named)
                metric = family(f"swingsync_{name}", doc, labels=["process"])
                for p in processes:
                    metric.add_metric([p.process_id], float(getattr(p.stats, field)))
                yield metric
        yield self._latency(processes)
        yield from self._bus(processes)
        own = processes[0]
        if own.stats.feedback is not None:
            yield from self._feedback(own.process_id, own.stats.feedback)

    @staticmethod
    def _latency(processes: list[ProcessFigures]) -> HistogramMetricFamily:
        metric = HistogramMetricFamily(
            "swingsync_frame_latency_seconds", "Receive-to-send time of analysed frames", labels=["process"])
        for p in processes:
            histogram = p.latency
            buckets, seen = [], 0
            for bound_us, count in zip(BOUNDS_US, histogram.counts):
                seen += count
                buckets.append((repr(bound_us / 1e6), seen))
            buckets.append(("+Inf", histogram.count))
            metric.add_metric([p.process_id], buckets, histogram.total / 1e9)
        return metric

    @staticmethod
    def _bus(processes: list[ProcessFigures]) -> Iterator[Metric]:
        shown = [p for p in processes if p.bus.state is not BusState.LOCAL]
        if not shown:
            return  # one process, no Redis: no bus to report
        connected = GaugeMetricFamily("swingsync_bus_connected", "1 while the process reaches Redis",
                                      labels=["process"])
        counters = {
            "published": CounterMetricFamily("swingsync_bus_published", "Messages written to Redis",
                                             labels=["process"]),
            "received": CounterMetricFamily("swingsync_bus_received", "Messages from other processes",
                                            labels=["process"]),
            "disconnects": CounterMetricFamily("swingsync_bus_disconnects", "Times Redis became unreachable",
                                               labels=["process"]),
        }
        dropped = CounterMetricFamily("swingsync_bus_dropped", "Messages not sent to other processes",
                                      labels=["process", "reason"])
        for p in shown:
            connected.add_metric([p.process_id], float(p.bus.state is BusState.CONNECTED))
            for field, metric in counters.items():
                metric.add_metric([p.process_id], float(getattr(p.bus, field)))
            dropped.add_metric([p.process_id, "queue_full"], float(p.bus.dropped_queue_full))
            dropped.add_metric([p.process_id, "disconnected"], float(p.bus.dropped_disconnected))
        yield connected
        yield from counters.values()
        yield dropped

    @staticmethod
    def _feedback(process: str, f: LaneStats) -> Iterator[Metric]:
        for name in ("requested", "coalesced", "completed", "from_model", "from_offline", "fallbacks", "timeouts",
                     "model_errors", "retries", "rate_limited", "rejected", "cancelled"):
            metric = CounterMetricFamily(f"swingsync_feedback_{name}", f"Feedback lane: {name.replace('_', ' ')}",
                                         labels=["process"])
            metric.add_metric([process], getattr(f, name))
            yield metric
        gauges = (("queued", "Sessions with a feedback request waiting", f.queued),
                  ("in_flight", "Feedback answers being written", f.in_flight),
                  ("breaker_state", "Model circuit: 0 closed, 1 half open, 2 open", _BREAKER[f.breaker.state]))
        for name, doc, value in gauges:
            metric = GaugeMetricFamily(f"swingsync_feedback_{name}", doc, labels=["process"])
            metric.add_metric([process], value)
            yield metric


def collector_registry(cluster: Cluster) -> CollectorRegistry:
    collectors = CollectorRegistry(auto_describe=False)
    collectors.register(ServerCollector(cluster))
    return collectors


async def metrics(request: Request) -> Response:
    collectors: CollectorRegistry = request.app.state.runtime.metrics
    return Response(generate_latest(collectors), media_type=CONTENT_TYPE_LATEST)
