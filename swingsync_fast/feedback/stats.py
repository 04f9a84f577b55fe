"""The lane's figures: counters, and time to first piece in a fixed-bucket histogram."""

from __future__ import annotations

from bisect import bisect_left

import msgspec

from .breaker import BreakerStats

# Upper bounds in milliseconds; feedback is human-scale, from instant (offline) to many seconds.
BOUNDS_MS: tuple[float, ...] = (
    1, 2, 5, 10, 25, 50, 100, 250, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 7_500,
    10_000, 15_000, 20_000, 30_000, 60_000,
)


class DurationSummary(msgspec.Struct, frozen=True):
    count: int
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None


class DurationHistogram:
    __slots__ = ("counts", "count", "total_ms", "max_ms")

    def __init__(self) -> None:
        self.counts = [0] * (len(BOUNDS_MS) + 1)
        self.count = 0
        self.total_ms = 0.0
        self.max_ms = 0.0

    def record(self, ms: float) -> None:
        self.counts[bisect_left(BOUNDS_MS, ms)] += 1
        self.count += 1
        self.total_ms += ms
        self.max_ms = max(self.max_ms, ms)

    def quantile_ms(self, q: float) -> float | None:
        if self.count == 0:
            return None
        rank = q * self.count
        seen = 0
        for i, n in enumerate(self.counts):
            if n and seen + n >= rank:
                low = BOUNDS_MS[i - 1] if i else 0.0
                high = BOUNDS_MS[i] if i < len(BOUNDS_MS) else self.max_ms
                return round(min(low + (high - low) * max(rank - seen, 0.0) / n, self.max_ms), 1)
            seen += n
        return round(self.max_ms, 1)  # pragma: no cover - rank never exceeds count

    def summary(self) -> DurationSummary:
        if self.count == 0:
            return DurationSummary(0, None, None, None, None)
        return DurationSummary(
            self.count, round(self.total_ms / self.count, 1), self.quantile_ms(0.5), self.quantile_ms(0.95),
            round(self.max_ms, 1),
        )


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
