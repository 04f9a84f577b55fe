"""The other server processes, as their last pulses and figures tell of them (see ``cluster``).

Listens only: what this process says on the clock is ``cluster.Cluster``'s.
Whatever is not heard for ``EXPIRY_S`` is forgotten (a process that died, or
Redis down). Without Redis there are no others: every answer is "none".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TypeVar

import msgspec

from ..protocol.bus import ProcessFigures, Pulse
from .bus import Bus

PULSE = "pulse"
FIGURES = "figures"
EXPIRY_S = 3.0

_PULSE = msgspec.msgpack.Decoder(Pulse)
_FIGURES = msgspec.msgpack.Decoder(ProcessFigures)
T = TypeVar("T")


class Peers:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._pulses: dict[str, tuple[Pulse, float]] = {}  # process id -> its last pulse, heard at (monotonic)
        self._figures: dict[str, tuple[ProcessFigures, float]] = {}

    async def start(self) -> None:
        await self.bus.subscribe(PULSE, self._heard_pulse)
        await self.bus.subscribe(FIGURES, self._heard_figures)

    def _heard_pulse(self, body: bytes) -> None:
        pulse = _PULSE.decode(body)
        if pulse.process_id != self.bus.process_id:
            self._pulses[pulse.process_id] = (pulse, time.monotonic())

    def _heard_figures(self, body: bytes) -> None:
        figures = _FIGURES.decode(body)
        if figures.process_id != self.bus.process_id:
            self._figures[figures.process_id] = (figures, time.monotonic())

    def _fresh(self, heard: dict[str, tuple[T, float]]) -> Iterator[T]:
        now = time.monotonic()
        for process_id, (value, at) in list(heard.items()):
            if now - at > EXPIRY_S:
                del heard[process_id]
            else:
                yield value

    def peers(self) -> set[str]:
        """The other processes heard from lately."""
        return {pulse.process_id for pulse in self._fresh(self._pulses)}

    def live_elsewhere(self, session_id: str) -> str | None:
        """The process streaming ``session_id``, if another one does (as of its last pulse)."""
        for pulse in self._fresh(self._pulses):
            if session_id in pulse.live:
                return pulse.process_id
        return None

    def sockets_elsewhere(self, user_id: str) -> int:
        """The user's sockets open on the other processes (as of their last pulses)."""
        return sum(pulse.sockets.get(user_id, 0) for pulse in self._fresh(self._pulses))

    def demand(self) -> dict[str, float]:
        """Each user's messages a second on the other processes, summed."""
        others: dict[str, float] = {}
        for pulse in self._fresh(self._pulses):
            for user_id, rate in pulse.demand.items():
                others[user_id] = others.get(user_id, 0.0) + rate
        return others

    def figures(self) -> list[ProcessFigures]:
        """Every other process's last figures."""
        return list(self._fresh(self._figures))
