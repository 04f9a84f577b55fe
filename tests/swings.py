"""Simulated driver sessions the server and feedback tests share."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from swingsync_fast.simulator import SimulatedStream, random_swing_spec, simulate

# The usual mix: one clean swing and two with injected faults.
FAULTED_THEN_CLEAN = ({"SWAY", "CASTING"}, {"EARLY_EXTENSION"}, ())
CLEAN_THEN_FAULTED = ((), {"SWAY", "CASTING"}, {"EARLY_EXTENSION"})


def driver_swings(
    seed: int, faults: Iterable[Iterable[str]], *, noise_m: float = 0.004, drop_rate: float = 0.0
) -> SimulatedStream:
    """One driver swing per entry of ``faults`` (the fault ids injected into it), at 30 FPS."""
    rng = np.random.default_rng(seed)
    specs = [random_swing_spec(rng, club="driver", faults=frozenset(f)) for f in faults]
    return simulate(specs, club="driver", fps=30.0, noise_m=noise_m, drop_rate=drop_rate, seed=seed)
