"""The lane's time to first piece, in a fixed-bucket histogram (the frame latency's, in milliseconds)."""

from __future__ import annotations

from ..server.protocol.figures import DurationSummary
from ..server.stream.latency import Histogram

# Upper bounds in milliseconds; feedback is human-scale, from instant (offline) to many seconds.
BOUNDS_MS: tuple[float, ...] = (
    1, 2, 5, 10, 25, 50, 100, 250, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 7_500,
    10_000, 15_000, 20_000, 30_000, 60_000,
)


class DurationHistogram(Histogram):
    """Durations recorded and read in milliseconds."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(BOUNDS_MS)

    def summary(self) -> DurationSummary:
        return DurationSummary(self.count, self.mean(), self.quantile(0.5), self.quantile(0.95), self.largest())
