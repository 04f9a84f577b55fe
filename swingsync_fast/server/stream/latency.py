"""Fixed-bucket histograms: per-frame latency here, and the feedback lane's time to first piece.

Fixed bounds make recording one bisect and one increment, let histograms of
many sessions be added together for system stats, and map one to one onto
a Prometheus histogram.
"""

from __future__ import annotations

from bisect import bisect_left

from ..protocol.figures import HistogramCounts, LatencySummary

# Upper bounds of the frame latency buckets, in microseconds; one more bucket holds the rest.
BOUNDS_US: tuple[float, ...] = (
    5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100, 125, 150, 175, 200, 250, 300,
    400, 500, 600, 800, 1_000, 1_250, 1_500, 2_000, 2_500, 3_000, 4_000, 5_000, 7_500,
    10_000, 15_000, 20_000, 30_000, 50_000, 75_000, 100_000, 250_000, 500_000, 1_000_000,
)


class Histogram:
    """Counts of values in buckets with fixed upper ``bounds``; quantiles are interpolated inside a bucket.

    Values are recorded in units ``scale`` times smaller than the bounds and the figures read out
    (a frame's nanoseconds against microsecond bounds), so the hot path records what it measured.
    """

    __slots__ = ("bounds", "scale", "counts", "count", "total", "maximum", "_edges")

    def __init__(self, bounds: tuple[float, ...], scale: int = 1) -> None:
        self.bounds = bounds
        self.scale = scale
        self._edges = bounds if scale == 1 else tuple(int(b * scale) for b in bounds)
        self.counts = [0] * (len(bounds) + 1)
        self.count = 0
        self.total: float = 0
        self.maximum: float = 0

    def record(self, value: float) -> None:
        self.counts[bisect_left(self._edges, value)] += 1
        self.count += 1
        self.total += value
        if value > self.maximum:
            self.maximum = value

    def merge(self, other: Histogram | HistogramCounts) -> None:
        """Add another histogram of the same bounds (or one as sent between processes)."""
        for i, n in enumerate(other.counts):
            self.counts[i] += n
        self.count += other.count
        self.total += other.total
        self.maximum = max(self.maximum, other.maximum)

    def counts_of(self) -> HistogramCounts:
        return HistogramCounts(list(self.counts), self.count, self.total, self.maximum)

    def mean(self) -> float | None:
        return None if self.count == 0 else round(self.total / self.count / self.scale, 1)

    def largest(self) -> float | None:
        return None if self.count == 0 else round(self.maximum / self.scale, 1)

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0..1) in the bounds' unit, or None before the first value."""
        if not 0.0 <= q <= 1.0:
            raise ValueError("quantile must be between 0 and 1")
        if self.count == 0:
            return None
        bounds = self.bounds
        rank = q * self.count
        seen = 0
        largest = self.maximum / self.scale
        for i, n in enumerate(self.counts):
            if n and seen + n >= rank:
                low = bounds[i - 1] if i else 0.0
                high = bounds[i] if i < len(bounds) else largest
                value = low + (high - low) * max(rank - seen, 0.0) / n
                return round(min(value, largest), 1)
            seen += n
        return round(largest, 1)  # pragma: no cover - rank never exceeds count


class LatencyHistogram(Histogram):
    """Receive-to-send times of frames, recorded in nanoseconds, read in microseconds."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(BOUNDS_US, scale=1000)

    def summary(self) -> LatencySummary:
        return LatencySummary(
            count=self.count, mean_us=self.mean(), p50_us=self.quantile(0.50), p95_us=self.quantile(0.95),
            p99_us=self.quantile(0.99), max_us=self.largest(),
        )
