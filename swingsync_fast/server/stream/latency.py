"""Per-frame latency in a fixed-bucket histogram.

Fixed bounds make recording one bisect and one increment, let histograms of
many sessions be added together for system stats, and map one to one onto
a Prometheus histogram later.
"""

from __future__ import annotations

from bisect import bisect_left

from ..protocol.figures import HistogramCounts, LatencySummary

# Upper bounds of the buckets, in microseconds; one more bucket holds the rest.
BOUNDS_US: tuple[float, ...] = (
    5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100, 125, 150, 175, 200, 250, 300,
    400, 500, 600, 800, 1_000, 1_250, 1_500, 2_000, 2_500, 3_000, 4_000, 5_000, 7_500,
    10_000, 15_000, 20_000, 30_000, 50_000, 75_000, 100_000, 250_000, 500_000, 1_000_000,
)
_BOUNDS_NS: tuple[int, ...] = tuple(int(b * 1000) for b in BOUNDS_US)


class LatencyHistogram:
    """Counts of receive-to-send times; quantiles are interpolated inside a bucket."""

    __slots__ = ("counts", "count", "total_ns", "max_ns")

    def __init__(self) -> None:
        self.counts = [0] * (len(_BOUNDS_NS) + 1)
        self.count = 0
        self.total_ns = 0
        self.max_ns = 0

    def record(self, elapsed_ns: int) -> None:
        self.counts[bisect_left(_BOUNDS_NS, elapsed_ns)] += 1
        self.count += 1
        self.total_ns += elapsed_ns
        if elapsed_ns > self.max_ns:
            self.max_ns = elapsed_ns

    def merge(self, other: LatencyHistogram | HistogramCounts) -> None:
        for i, n in enumerate(other.counts):
            self.counts[i] += n
        self.count += other.count
        self.total_ns += other.total_ns
        self.max_ns = max(self.max_ns, other.max_ns)

    def counts_of(self) -> HistogramCounts:
        return HistogramCounts(list(self.counts), self.count, self.total_ns, self.max_ns)

    def quantile_us(self, q: float) -> float | None:
        """The q-quantile (0..1), or None before the first frame."""
        if not 0.0 <= q <= 1.0:
            raise ValueError("quantile must be between 0 and 1")
        if self.count == 0:
            return None
        rank = q * self.count
        seen = 0
        max_us = self.max_ns / 1000
        for i, n in enumerate(self.counts):
            if n and seen + n >= rank:
                low = BOUNDS_US[i - 1] if i else 0.0
                high = BOUNDS_US[i] if i < len(BOUNDS_US) else max_us
                value = low + (high - low) * max(rank - seen, 0.0) / n
                return round(min(value, max_us), 1)
            seen += n
        return round(max_us, 1)  # pragma: no cover - rank never exceeds count

    def summary(self) -> LatencySummary:
        if self.count == 0:
            return LatencySummary(0, None, None, None, None, None)
        return LatencySummary(
            count=self.count,
            mean_us=round(self.total_ns / self.count / 1000, 1),
            p50_us=self.quantile_us(0.50),
            p95_us=self.quantile_us(0.95),
            p99_us=self.quantile_us(0.99),
            max_us=round(self.max_ns / 1000, 1),
        )
