"""Rooms to publish to: who a message is for, each subscriber's rate, its outlet.

A room's message names its ``Audience``; each process offers it to its own
subscribers in that audience (``watchers.coaching.CoachingRoom``), whichever
process published it (``cluster.bus.Bus``). Messages are encoded once, before
publishing.
"""

from __future__ import annotations

from ..protocol.bus import Audience
from .outlet import Outlet

EVERYONE = Audience(everyone=True)


COACHES = Audience(coaches=True)


class Thinning:
    """At most ``fps`` samples a second of one clock; a sample within a tenth of the interval of
    being due is taken, so 30 FPS thinned to 5 is every sixth frame despite rounding."""

    __slots__ = ("interval", "_slack", "_due")

    def __init__(self, fps: float) -> None:
        self.interval = 1.0 / fps
        self._slack = self.interval / 10
        self._due = -float("inf")

    def take(self, at: float) -> bool:
        if at + self._slack < self._due:
            return False
        self._due = at + self.interval
        return True


class Subscriber:
    """One outlet in a room: who it is, and how thinly it wants sampled streams."""

    __slots__ = ("user_id", "role", "is_coach", "outlet", "fps", "_thinning")

    def __init__(self, user_id: str, role: str, is_coach: bool, outlet: Outlet, fps: float) -> None:
        self.user_id = user_id
        self.role = role
        self.is_coach = is_coach
        self.outlet = outlet
        self.fps = fps
        self._thinning: dict[str, Thinning] = {}  # per sampled stream

    def wants(self, sample: tuple[str, float] | None) -> bool:
        if sample is None:
            return True
        stream, at = sample
        thinning = self._thinning.get(stream)
        if thinning is None:
            thinning = self._thinning[stream] = Thinning(self.fps)
        return thinning.take(at)
