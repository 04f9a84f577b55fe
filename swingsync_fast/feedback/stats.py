"""The lane's figures: counters, and time to first piece in a fixed-bucket histogram."""

from __future__ import annotations

from bisect import bisect_left

from ..server.protocol.figures import DurationSummary

# Upper bounds in milliseconds; feedback is human-scale, from instant (offline) to many seconds.
BOUNDS_MS: tuple[float, ...] = (
    1, 2, 5, 10, 25, 50, 100, 250, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 7_500,
    10_000, 15_000, 20_000, 30_000, 60_000,
)


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

