"""Message limits: a token bucket per connection with flood detection, a budget per user, bad-message runs.

The per-connection limits take the receive time in ``perf_counter_ns`` units
from the caller, so the hot path reads the clock once per message. The
per-user budget is refilled off the hot path (``cluster.cluster.Cluster``) with this
process's share of the user's rate across every server process.
"""

from __future__ import annotations

import enum

NS = 1_000_000_000
WARN_EVERY_NS = NS  # at most one rate_limited warning per second
# Users' budgets are refilled, and processes exchange their users' demand, this often.
USER_PERIOD_S = 0.2
# A user's budget on a process holds at most this many seconds of its share (its burst).
USER_BURST_S = 0.5


class Admission(enum.Enum):
    ADMITTED = "admitted"
    DROPPED = "dropped"  # over the rate; already warned this second
    DROPPED_WARN = "dropped_warn"  # over the rate; tell the client once
    DROPPED_USER_WARN = "dropped_user_warn"  # over the user's rate across processes; tell the client once
    FLOOD = "flood"  # sustained excess: close the connection


_ADMITTED = Admission.ADMITTED


class FloodGuard:
    """Flags a flood: ``windows`` consecutive windows each with at least ``threshold`` drops."""

    __slots__ = ("threshold", "windows", "_window_ns", "_origin_ns", "_index", "_drops", "_streak")

    def __init__(self, threshold: int, window_s: float, windows: int, now_ns: int) -> None:
        self.threshold = max(1, threshold)
        self.windows = windows
        self._window_ns = int(window_s * NS)
        self._origin_ns = now_ns
        self._index = -1
        self._drops = 0
        self._streak = 0  # flooded windows in a row, the current one included once it floods

    def dropped(self, now_ns: int) -> bool:
        """Count one dropped message; True when the flood is sustained."""
        index = (now_ns - self._origin_ns) // self._window_ns
        if index != self._index:
            # The streak survives only an adjacent window that flooded too.
            if index != self._index + 1 or self._drops < self.threshold:
                self._streak = 0
            self._index = index
            self._drops = 0
        self._drops += 1
        if self._drops == self.threshold:
            self._streak += 1
        return self._streak >= self.windows


class RateLimiter:
    """A token bucket (``rate`` a second, up to ``burst``), the flood guard, the once-a-second warning.

    The bucket is kept as GCRA's theoretical arrival time, one integer: a
    message is admitted if it is no earlier than ``burst - 1`` intervals
    before that time, which is exactly a bucket of ``burst`` tokens refilled
    at ``rate``, for a couple of integer operations a message.
    """

    __slots__ = ("flood", "dropped", "user", "_tat_ns", "_interval_ns", "_tolerance_ns", "_warned_ns")

    def __init__(
        self, rate: float, burst: int, flood_window_s: float, flood_windows: int, now_ns: int,
        user: UserBudget | None = None,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self._interval_ns = max(1, round(NS / rate))
        self._tolerance_ns = (burst - 1) * self._interval_ns
        self._tat_ns = now_ns  # a full bucket
        self.flood = FloodGuard(round(rate * flood_window_s), flood_window_s, flood_windows, now_ns)
        self.dropped = 0
        self.user = user  # the user's budget on this process, shared by their connections here
        self._warned_ns = now_ns - WARN_EVERY_NS

    def admit(self, now_ns: int) -> Admission:
        """One message arrives: take a token (and one of the user's), or say what to do with it."""
        tat = self._tat_ns
        if tat < now_ns:
            tat = now_ns
        over_user = False
        if tat - now_ns <= self._tolerance_ns:
            user = self.user
            if user is None or user.take():
                self._tat_ns = tat + self._interval_ns
                return _ADMITTED
            over_user = True
        self.dropped += 1
        if self.flood.dropped(now_ns):
            return Admission.FLOOD
        if now_ns - self._warned_ns >= WARN_EVERY_NS:
            self._warned_ns = now_ns
            return Admission.DROPPED_USER_WARN if over_user else Admission.DROPPED_WARN
        return Admission.DROPPED


class UserBudget:
    """One user's messages on this process against this process's share of the user's rate, refilled
    every period (``refill``) from every process's demand; unused tokens carry over up to
    ``USER_BURST_S`` worth of the share."""

    __slots__ = ("rate", "demand", "tokens")

    def __init__(self, rate: float) -> None:
        self.rate = rate  # the user's limit, messages a second, over every process
        self.demand = 0  # messages that asked this period
        self.tokens = rate * USER_BURST_S  # alone until told otherwise

    def take(self) -> bool:
        self.demand += 1
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def refill(self, period_s: float, others: float) -> float:
        """Start a period, given the other processes' demand for this user (messages a second);
        returns this process's own demand in the period that ended."""
        mine = self.demand / period_s
        total = mine + others
        # Under the limit everyone may use what the others leave; over it, shares follow demand.
        share = max(0.0, self.rate - others if total <= self.rate else self.rate * mine / total)
        self.tokens = min(self.tokens + share * period_s, max(share * USER_BURST_S, 1.0))
        self.demand = 0
        return mine


class BadMessageRun:
    """Bad messages in a row; a good one resets the run."""

    __slots__ = ("limit", "run", "total")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.run = 0
        self.total = 0

    def bad(self) -> bool:
        """Count one bad message; True when the run reached the limit."""
        self.run += 1
        self.total += 1
        return self.run >= self.limit

    def good(self) -> None:
        self.run = 0
