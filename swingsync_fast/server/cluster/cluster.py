"""What server processes tell each other on a clock: their users' demand, their live sessions, their figures.

Every ``USER_PERIOD_S`` each process publishes a ``Pulse`` on the bus's
``pulse`` channel: for each user with a main socket here, the messages a
second those sockets asked for in the period that ended; the sessions
streaming here; each user's sockets here (the per-user socket cap holds
across processes). From the others' pulses it refills each user's budget with
this process's share of the user's rate (``stream.limits.UserBudget.refill``): the
frame path only ever counts against a local number. Every ``FIGURES_S`` it
publishes its ``ProcessFigures`` on ``figures``; the monitor socket and
``/metrics`` show each process and the total. Whatever is not heard for
``peers.EXPIRY_S`` is forgotten (a process that died, or Redis down).

Without Redis the bus is this process alone: budgets are refilled from local
demand only, and the figures are this process's.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time

import msgspec

from ..protocol.bus import ProcessFigures, Pulse
from ..protocol.figures import SystemStats
from ..registry import Registry
from ..stream.latency import LatencyHistogram
from ..stream.limits import USER_PERIOD_S
from .bus import Bus
from .peers import FIGURES, PULSE, Peers

FIGURES_S = 1.0
_ENCODER = msgspec.msgpack.Encoder()


class Cluster:
    """This process's side of the clock (see the module's note); ``peers`` hears the others'."""

    def __init__(self, bus: Bus, peers: Peers, registry: Registry) -> None:
        self.bus = bus
        self.peers = peers
        self.registry = registry
        self.host = socket.gethostname()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.peers.start()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="swingsync-cluster")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def figures(self) -> ProcessFigures:
        """This process's figures now."""
        return ProcessFigures(
            process_id=self.bus.process_id, pid=os.getpid(), host=self.host, at=time.time(),
            stats=self.registry.system_stats(), latency=self.registry.latency().counts_of(), bus=self.bus.stats(),
        )

    def processes(self) -> list[ProcessFigures]:
        """This process's figures now, then every other process's last ones."""
        return [self.figures(), *self.peers.figures()]

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
        demand = self.registry.refill_budgets(USER_PERIOD_S, self.peers.demand())
        if self.bus.url is not None:
            pulse = Pulse(self.bus.process_id, demand, self.registry.sessions.live_ids(),
                          self.registry.sockets_by_user())
            self.bus.publish(PULSE, _ENCODER.encode(pulse))


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
