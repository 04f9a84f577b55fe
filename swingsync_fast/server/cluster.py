"""What server processes tell each other on a clock: their users' demand, their live sessions, their figures.

Every ``USER_PERIOD_S`` each process publishes a ``Pulse`` on the bus's
``pulse`` channel: for each user with a main socket here, the messages a
second those sockets asked for in the period that ended; the sessions
streaming here; each user's sockets here (the per-user socket cap holds
across processes). From the others' pulses it refills each user's budget with
this process's share of the user's rate (``limits.UserBudget.refill``): the
frame path only ever counts against a local number. Every ``FIGURES_S`` it
publishes its ``ProcessFigures`` on ``figures``; the monitor socket and
``/metrics`` show each process and the total. Whatever is not heard for
``EXPIRY_S`` is forgotten (a process that died, or Redis down).

Without Redis the bus is this process alone: budgets are refilled from local
demand only, and the figures are this process's.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Iterable

import msgspec

from .bus import Bus, BusStats
from .latency import HistogramCounts, LatencyHistogram
from .limits import USER_PERIOD_S
from .registry import Registry, SystemStats

PULSE = "pulse"
FIGURES = "figures"
FIGURES_S = 1.0
EXPIRY_S = 3.0


class Pulse(msgspec.Struct, array_like=True, frozen=True):
    process_id: str
    demand: dict[str, float]  # user id -> messages a second asked on that process's main sockets
    live: list[str]  # session ids streaming on that process
    sockets: dict[str, int]  # user id -> sockets (main, coaching, monitor) open on that process


class ProcessFigures(msgspec.Struct, frozen=True):
    process_id: str
    pid: int
    host: str
    at: float  # epoch seconds
    stats: SystemStats
    latency: HistogramCounts
    bus: BusStats


_PULSE = msgspec.msgpack.Decoder(Pulse)
_FIGURES = msgspec.msgpack.Decoder(ProcessFigures)
_ENCODER = msgspec.msgpack.Encoder()


class Cluster:
    """This process's view of the others (see the module's note)."""

    def __init__(self, bus: Bus, registry: Registry) -> None:
        self.bus = bus
        self.registry = registry
        self.host = socket.gethostname()
        self._pulses: dict[str, tuple[Pulse, float]] = {}  # process id -> its last pulse, heard at (monotonic)
        self._figures: dict[str, tuple[ProcessFigures, float]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.bus.subscribe(PULSE, self._heard_pulse)
        await self.bus.subscribe(FIGURES, self._heard_figures)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="swingsync-cluster")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    # ---------------------------------------------------------------- what others said

    def _heard_pulse(self, body: bytes) -> None:
        pulse = _PULSE.decode(body)
        if pulse.process_id != self.bus.process_id:
            self._pulses[pulse.process_id] = (pulse, time.monotonic())

    def _heard_figures(self, body: bytes) -> None:
        figures = _FIGURES.decode(body)
        if figures.process_id != self.bus.process_id:
            self._figures[figures.process_id] = (figures, time.monotonic())

    def _fresh(self, heard: dict[str, tuple[object, float]]) -> Iterable[object]:
        now = time.monotonic()
        for process_id, (value, at) in list(heard.items()):
            if now - at > EXPIRY_S:
                del heard[process_id]
            else:
                yield value

    def peers(self) -> set[str]:
        """The other processes heard from lately."""
        return {pulse.process_id for pulse in self._fresh(self._pulses)}  # type: ignore[attr-defined]

    def live_elsewhere(self, session_id: str) -> str | None:
        """The process streaming ``session_id``, if another one does (as of its last pulse)."""
        for pulse in self._fresh(self._pulses):  # type: ignore[assignment]
            if session_id in pulse.live:  # type: ignore[attr-defined]
                return pulse.process_id  # type: ignore[attr-defined, no-any-return]
        return None

    def sockets_elsewhere(self, user_id: str) -> int:
        """The user's sockets open on the other processes (as of their last pulses)."""
        return sum(pulse.sockets.get(user_id, 0) for pulse in self._fresh(self._pulses))  # type: ignore[attr-defined]

    def figures(self) -> ProcessFigures:
        """This process's figures now."""
        return ProcessFigures(
            process_id=self.bus.process_id, pid=os.getpid(), host=self.host, at=time.time(),
            stats=self.registry.system_stats(), latency=self.registry.latency().counts_of(), bus=self.bus.stats(),
        )

    def processes(self) -> list[ProcessFigures]:
        """This process's figures now, then every other process's last ones."""
        return [self.figures(), *self._fresh(self._figures)]  # type: ignore[list-item]

    # ---------------------------------------------------------------- the clock

    async def _run(self) -> None:
        pulses_per_figures = max(1, round(FIGURES_S / USER_PERIOD_S))
        tick = 0
        while True:
            await asyncio.sleep(USER_PERIOD_S)
            self._pulse()
            tick += 1
            if tick % pulses_per_figures == 0:
                self.bus.publish(FIGURES, _ENCODER.encode(self.figures()))

    def _pulse(self) -> None:
        """Refill every user's budget with this process's share, and tell the others our demand."""
        others: dict[str, float] = {}
        for pulse in self._fresh(self._pulses):
            for user_id, rate in pulse.demand.items():  # type: ignore[attr-defined]
                others[user_id] = others.get(user_id, 0.0) + rate
        demand = {}
        for user_id, budget in self.registry.budgets.items():
            mine = budget.refill(USER_PERIOD_S, others.get(user_id, 0.0))
            if mine:
                demand[user_id] = mine
        if self.bus.url is not None:
            sockets = {user_id: len(mine) for user_id, mine in self.registry.by_user.items()}
            self.bus.publish(PULSE, _ENCODER.encode(Pulse(self.bus.process_id, demand, list(self.registry.live),
                                                          sockets)))


def total(processes: list[ProcessFigures]) -> tuple[SystemStats, LatencyHistogram]:
    """The sum of every process's counters and gauges (uptime: the longest), and their merged latency."""
    latency = LatencyHistogram()
    for figures in processes:
        latency.merge(figures.latency)
    stats = [f.stats for f in processes]
    summed = {
        name: sum(getattr(s, name) for s in stats)
        for name in SystemStats.__struct_fields__
        if name not in ("uptime_s", "draining", "latency", "feedback")
    }
    first = stats[0]
    return SystemStats(
        uptime_s=max(s.uptime_s for s in stats), draining=any(s.draining for s in stats),
        latency=latency.summary(), feedback=first.feedback, **summed,
    ), latency
