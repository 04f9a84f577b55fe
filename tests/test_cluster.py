"""Shares of a user's rate, totals over processes, and the settings that switch scale-out on."""

from __future__ import annotations

import pytest

from swingsync_fast.server.cluster.cluster import total
from swingsync_fast.server.protocol.bus import ProcessFigures
from swingsync_fast.server.cluster.bus import Bus
from swingsync_fast.server.stream.latency import LatencyHistogram
from swingsync_fast.server.stream.limits import USER_BURST_S, USER_PERIOD_S, Admission, RateLimiter, UserBudget
from swingsync_fast.server.protocol.figures import SystemStats
from swingsync_fast.server.settings import Settings


def _period(budget: UserBudget, asked: int, others: float) -> int:
    """One exchange period: ``asked`` messages, then the refill; how many were admitted."""
    admitted = sum(budget.take() for _ in range(asked))
    budget.refill(USER_PERIOD_S, others)
    return admitted


def test_a_user_alone_gets_the_whole_rate_and_a_burst():
    budget = UserBudget(40.0)
    assert _period(budget, 100, 0.0) == 40 * USER_BURST_S  # the burst, then nothing until the refill
    admitted = [_period(budget, 100, 0.0) for _ in range(10)]
    assert admitted == [8] * 10  # 40 a second, in 0.2 s periods


def test_two_processes_over_the_limit_share_it_by_demand():
    a, b = UserBudget(40.0), UserBudget(40.0)
    demand_a = demand_b = 0.0
    got_a = got_b = 0
    for _ in range(50):  # 10 s: a asks 30/s, b asks 10/s; 40/s for the user in all
        got_a += sum(a.take() for _ in range(6))
        got_b += sum(b.take() for _ in range(2))
        demand_a, demand_b = a.refill(USER_PERIOD_S, demand_b), b.refill(USER_PERIOD_S, demand_a)
    assert got_a + got_b <= 40 * 10 + 2 * 40 * USER_BURST_S
    assert got_b == 2 * 50  # under its share (10 of 40 asked), nothing refused
    # Both over: shares follow demand (60 asked, 40 allowed: 2/3 each).
    c, d = UserBudget(40.0), UserBudget(40.0)
    demand_c = demand_d = 0.0
    got = {"c": 0, "d": 0}
    for _ in range(50):
        got["c"] += sum(c.take() for _ in range(6))
        got["d"] += sum(d.take() for _ in range(6))
        demand_c, demand_d = c.refill(USER_PERIOD_S, demand_d), d.refill(USER_PERIOD_S, demand_c)
    assert abs(got["c"] - got["d"]) <= 4
    assert 40 * 10 - 10 <= got["c"] + got["d"] <= 40 * 10 + 2 * 40 * USER_BURST_S


def test_the_connection_limiter_names_the_user_limit():
    budget = UserBudget(1.0)  # half a token: nothing until refilled
    limiter = RateLimiter(1000.0, 1000, 1.0, 3, 0, user=budget)
    assert limiter.admit(1) is Admission.DROPPED_USER_WARN
    assert limiter.admit(2) is Admission.DROPPED and limiter.dropped == 2


def _figures(process: str, frames: int, latencies_ns: list[int]) -> ProcessFigures:
    histogram = LatencyHistogram()
    for ns in latencies_ns:
        histogram.record(ns)
    zero = {name: 0 for name in SystemStats.__struct_fields__
            if name not in ("uptime_s", "draining", "latency", "feedback")}
    stats = SystemStats(**{**zero, "frames_analysed": frames, "connections": 1}, uptime_s=float(frames),
                        draining=False, latency=histogram.summary())
    return ProcessFigures(process, 1, "h", 0.0, stats, histogram.counts_of(), Bus(None).stats())


def test_totals_add_up_and_merge_latency():
    summed, latency = total([_figures("a", 10, [50_000] * 99 + [9_000_000]), _figures("b", 5, [60_000] * 100)])
    assert (summed.frames_analysed, summed.connections, summed.uptime_s) == (15, 2, 10.0)
    assert latency.count == 200 and summed.latency.max_us == 9000.0


def test_redis_url_and_the_user_limit_come_from_the_environment():
    settings = Settings.from_env({"REDIS_URL": "redis://h:6379/2", "SWINGSYNC_USER_FRAMES_PER_SECOND": "45"})
    assert (settings.redis_url, settings.user_frames_per_second) == ("redis://h:6379/2", 45.0)
    assert Settings.from_env({}).redis_url is None and Settings.from_env({}).user_frames_per_second is None
    with pytest.raises(ValueError, match="user_frames_per_second"):
        Settings(user_frames_per_second=0.0)
