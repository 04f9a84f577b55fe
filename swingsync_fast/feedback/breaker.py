"""A circuit breaker for the model: after a run of failures, stop calling it for a while.

CLOSED: calls go through; ``failures`` failed jobs in a row trip it OPEN.
OPEN: no calls (the lane answers from OfflineCoach) until ``cooldown_s`` has passed.
HALF_OPEN: one probe call goes through; its success closes the breaker, its
failure opens it again for another cooldown.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..server.protocol.figures import BreakerState, BreakerStats


class CircuitBreaker:
    def __init__(self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if failures < 1 or not cooldown_s > 0:
            raise ValueError("a breaker needs failures >= 1 and a positive cooldown")
        self.failures = failures
        self.cooldown_s = cooldown_s
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.times_opened = 0
        self._clock = clock
        self._opened_at = 0.0

    def allow(self) -> bool:
        """May a call go to the model now? In HALF_OPEN only the one probe may."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN and self._clock() - self._opened_at >= self.cooldown_s:
            self.state = BreakerState.HALF_OPEN
            return True  # this caller is the probe
        return False

    def success(self) -> None:
        self.consecutive_failures = 0
        self.state = BreakerState.CLOSED

    def failure(self) -> None:
        self.consecutive_failures += 1
        if self.state is BreakerState.HALF_OPEN or (
            self.state is BreakerState.CLOSED and self.consecutive_failures >= self.failures
        ):
            self.state = BreakerState.OPEN
            self._opened_at = self._clock()
            self.times_opened += 1

    def abandon(self) -> None:
        """The probe was cancelled before it told anything: the next call probes instead."""
        if self.state is BreakerState.HALF_OPEN:
            self.state = BreakerState.OPEN
            self._opened_at = self._clock() - self.cooldown_s

    def stats(self) -> BreakerStats:
        return BreakerStats(self.state, self.consecutive_failures, self.times_opened)
