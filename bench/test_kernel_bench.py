"""Per-frame budgets of the analysis: Cython step, LiveAnalyzer.push, and the numpy reference.

Run with ``make bench``. Budgets (medians) are asserted here, never in tests/.
"""

from __future__ import annotations

import itertools

import msgspec
import numpy as np
import pytest

from swingsync_fast import LiveAnalyzer, SessionConfig
from swingsync_fast.simulator import random_swing_spec, simulate

STEP_BUDGET_S = 2e-6  # issue 14: the camera model and world landmarks within 2 us
PUSH_BUDGET_S = 8e-6


@pytest.fixture(scope="module")
def stream():
    rng = np.random.default_rng(3)
    specs = [random_swing_spec(rng, club="driver") for _ in range(3)]
    return simulate(specs, club="driver", fps=30.0, noise_m=0.004, seed=3)


@pytest.fixture(scope="module", params=["3d", "phone"])
def source(request, stream):
    """3-D swings, or a phone filmed down the line: image landmarks with MediaPipe's errors and
    its world landmarks beside them (camera-aware image KPIs, the world turns)."""
    if request.param == "3d":
        return stream, SessionConfig()
    rng = np.random.default_rng(3)
    specs = [random_swing_spec(rng, club="driver") for _ in range(3)]
    phone = simulate(specs, club="driver", coordinate_system="mediapipe_image", camera_view="down_the_line",
                     seed=3)
    return phone, SessionConfig(coordinate_system="mediapipe_image", image_aspect=phone.image_aspect)


def _frames(stream):
    """An endless, time-ordered replay of the stream (the pose loops, time keeps going)."""
    n = len(stream.timestamps)
    span = float(stream.timestamps[-1] - stream.timestamps[0]) + 1.0
    for k in itertools.count():
        i = k % n
        yield k, float(stream.timestamps[i]) + (k // n) * span, stream.keypoints[i]


def test_cython_step(benchmark, source):
    """The kernel alone: keypoints already in the ring (as the server decodes them there)."""
    stream, config = source
    world = stream.world_keypoints is not None
    analyzer = LiveAnalyzer(config, capacity=len(stream.keypoints))
    analyzer.ring[:] = stream.keypoints
    if world:
        analyzer.world_ring[:] = stream.world_keypoints
    kernel = analyzer._kernel
    frames = _frames(stream)
    n = len(stream.keypoints)

    def step():
        k, t, _ = next(frames)
        kernel.step(k % n, k, t, world)

    benchmark.pedantic(step, rounds=20000, iterations=1, warmup_rounds=500)
    assert benchmark.stats.stats.median <= STEP_BUDGET_S


def test_live_analyzer_push(benchmark, source):
    stream, config = source
    analyzer = LiveAnalyzer(config)
    frames = _frames(stream)
    world = itertools.cycle(stream.world_keypoints) if stream.world_keypoints is not None else itertools.repeat(None)

    def push():
        k, t, keypoints = next(frames)
        analyzer.push(k, t, keypoints, next(world))

    benchmark.pedantic(push, rounds=20000, iterations=1, warmup_rounds=500)
    assert benchmark.stats.stats.median <= PUSH_BUDGET_S


def test_numpy_reference_step(benchmark, stream):
    """For scale only: the same maths in numpy, no budget."""
    from swingsync_fast.kernels.reference import ReferenceKernel

    analyzer = LiveAnalyzer(SessionConfig(), capacity=len(stream.keypoints))
    analyzer.ring[:] = stream.keypoints
    limits, spans = analyzer.thresholds.arrays()
    reference = ReferenceKernel(
        analyzer.ring, analyzer.kpi_ring, 0, 1.0, True, 0.5, limits, spans,
        analyzer.thresholds.tempo_low, analyzer.thresholds.tempo_high,
    )
    frames = _frames(stream)
    n = len(stream.keypoints)

    def step():
        k, t, _ = next(frames)
        reference.step(k % n, k, t)

    benchmark.pedantic(step, rounds=2000, iterations=1, warmup_rounds=50)


SEARCH_PUSH_BUDGET_S = 4 * PUSH_BUDGET_S  # slow_motion "auto": one analyser per candidate factor


def test_slow_motion_search_push(benchmark, source):
    """slow_motion "auto" before its first swing: every frame goes through all four candidates
    (the golfer holds the address, so the search never ends)."""
    from swingsync_fast.timebase import CANDIDATE_FACTORS, SlowMotionSearch

    stream, config = source
    search = SlowMotionSearch(msgspec.structs.replace(config, slow_motion="auto"))
    address = stream.keypoints[0]
    world = stream.world_keypoints[0] if stream.world_keypoints is not None else None
    times = itertools.count()

    def push():
        k = next(times)
        search.push(k, k / 30.0, address, world)

    benchmark.pedantic(push, rounds=20000, iterations=1, warmup_rounds=500)
    assert search.slow_motion is None and len(CANDIDATE_FACTORS) == 4
    assert benchmark.stats.stats.median <= SEARCH_PUSH_BUDGET_S
