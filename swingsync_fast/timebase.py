"""The time base of a stream: real time, a slow-motion factor the client gives, or one found.

Phones film at 120 or 240 FPS and play the clip back at 30, so a file's media
time runs 4 or 8 times slower than the swing did. The analysis measures in
seconds (stillness at address, how long a backswing may take, fault windows),
so it needs real time: media time / slow-motion factor.

When the client does not know the factor (``slow_motion="auto"``) the same
frames go through one analyser per candidate factor until one of them
reaches impact (or ends a swing) after a downswing of a real golfer's time
(top to impact 0.2-0.4 s; GolfDB's median is 0.27 s). Real time wins whenever
its own reading is one a golfer makes, a slow beginner's 0.4-0.6 s too: read
at 2x that would be a tour pro's, and half of every duration. That factor is kept for
the rest of the stream. Until then the frames' results are real time's
(factor 1), with any swing it ends held back as implausible: a client sees the
first swing's phases from impact on at the factor found.
"""

from __future__ import annotations

import math

import numpy as np

from .analyzer import DEFAULT_MIN_VISIBILITY, FrameResult, LiveAnalyzer, SwingSummary, kpi_dict
from .config import SessionConfig
from .thresholds import Thresholds

# Real time, then the usual phone slow-motion rates over 30 FPS playback (60, 120, 240 FPS).
CANDIDATE_FACTORS = (1.0, 2.0, 4.0, 8.0)
# A real downswing: top to impact, seconds. Candidates 2x apart put at most one inside.
DOWNSWING_S = (0.2, 0.4)
TYPICAL_DOWNSWING_S = 0.27
# Real time is kept for any downswing up to this: slow motion needs a slower real-time reading
# (a 2x clip of a fast swing, rare on phones, reads as a slow real-time one).
REAL_TIME_DOWNSWING_S = (0.2, 0.6)
# At the end of a stream with no factor found, the best swing is taken if its downswing is
# within these: slower than any golfer's means the factor was never found.
LAST_RESORT_DOWNSWING_S = (0.1, 0.8)


def plausible(downswing_s: float, factor: float) -> bool:
    """A downswing (real seconds) a golfer makes, read at ``factor``."""
    low, high = REAL_TIME_DOWNSWING_S if factor == 1.0 else DOWNSWING_S
    return low <= downswing_s <= high


def new_analyzer(
    config: SessionConfig | None = None,
    *,
    thresholds: Thresholds | None = None,
    min_visibility: float = DEFAULT_MIN_VISIBILITY,
) -> LiveAnalyzer | SlowMotionSearch:
    """The analyser for ``config``: a :class:`LiveAnalyzer`, or a search when slow_motion is "auto"."""
    config = config or SessionConfig()
    if config.slow_motion == "auto":
        return SlowMotionSearch(config, thresholds=thresholds, min_visibility=min_visibility)
    return LiveAnalyzer(config, thresholds=thresholds, min_visibility=min_visibility)


class SlowMotionSearch:
    """A :class:`LiveAnalyzer` stand-in that finds the slow-motion factor from the first real swing.

    Same calls as LiveAnalyzer (``slot``, ``world_slot``, ``commit``, ``push``,
    ``close``, ``swings``, ``last_kpis``...). Costs one kernel step per
    candidate per frame until the factor is found, then one.
    """

    def __init__(
        self,
        config: SessionConfig,
        *,
        thresholds: Thresholds | None = None,
        min_visibility: float = DEFAULT_MIN_VISIBILITY,
        factors: tuple[float, ...] = CANDIDATE_FACTORS,
    ) -> None:
        self.config = config
        self._candidates = [
            LiveAnalyzer(config, thresholds=thresholds, min_visibility=min_visibility, slow_motion=f)
            for f in factors
        ]
        self._primary = self._candidates[0]  # what the client sees until the factor is found
        self.thresholds = self._primary.thresholds
        self.chosen: LiveAnalyzer | None = None
        self._tops: list[float | None] = [None] * len(factors)  # each candidate's last top, client clock

    @property
    def _current(self) -> LiveAnalyzer:
        return self.chosen or self._primary

    @property
    def slow_motion(self) -> float | None:
        """The factor found, None while searching."""
        return None if self.chosen is None else self.chosen.slow_motion

    @property
    def swings(self) -> list[SwingSummary]:
        return [] if self.chosen is None else self.chosen.swings

    @property
    def phase(self) -> str:
        return self._current.phase

    @property
    def swing_count(self) -> int:
        return len(self.swings)

    @property
    def last_kpis(self) -> np.ndarray:
        return self._current.last_kpis

    @property
    def last_keypoints(self) -> np.ndarray:
        return self._current.last_keypoints

    @property
    def camera_view(self) -> str | None:
        return self._current.camera_view

    def slot(self) -> np.ndarray:
        return self._current.slot()

    def world_slot(self) -> np.ndarray:
        return self._current.world_slot()

    def push(self, frame_index: int, timestamp: float, keypoints: np.ndarray,
             world_keypoints: np.ndarray | None = None) -> FrameResult:
        self._current.slot()[:] = keypoints
        if world_keypoints is not None:
            self._current.world_slot()[:] = world_keypoints
        return self.commit(frame_index, timestamp, world=world_keypoints is not None)

    def commit(self, frame_index: int, timestamp: float, *, with_kpis: bool = True,
               world: bool = False) -> FrameResult:
        if self.chosen is not None:
            return self.chosen.commit(frame_index, timestamp, with_kpis=with_kpis, world=world)
        primary = self._primary
        row, world_row = primary.slot(), primary.world_slot()
        for other in self._candidates[1:]:
            other.slot()[:] = row
            if world:
                other.world_slot()[:] = world_row
        # only the result a client sees builds its KPI dict; every kernel fills its KPI ring
        results = [c.commit(frame_index, timestamp, with_kpis=with_kpis and c is primary, world=world)
                   for c in self._candidates]
        found = []
        for n, (candidate, result) in enumerate(zip(self._candidates, results)):
            if result.swing is not None and plausible(result.swing.downswing_s, candidate.slow_motion):
                found.append((_rank(result.swing.downswing_s, candidate.slow_motion), n))
            event = result.event
            if event is None:
                continue
            if event.phase == "top_of_swing":
                self._tops[n] = event.timestamp
            elif event.phase == "impact" and self._tops[n] is not None:
                # decided at impact, so the rest of this swing is shown at its own time base
                downswing = (event.timestamp - self._tops[n]) / candidate.slow_motion
                if plausible(downswing, candidate.slow_motion):
                    found.append((_rank(downswing, candidate.slow_motion), n))
        if found:
            _, n = min(found)
            chosen, result = self._candidates[n], results[n]
            if with_kpis and result.kpis is None:
                result.kpis = kpi_dict(chosen.last_kpis.tolist())
            self._choose(chosen)
            return result
        result = results[0]
        result.swing = None  # a swing at a downswing no golfer has: the factor is not found yet
        return result

    def close(self) -> SwingSummary | None:
        """End of stream. Still searching: the candidate whose swings look most like a real one's wins,
        if any is near enough; its swings are then ``swings`` (the last one is returned)."""
        if self.chosen is not None:
            return self.chosen.close()
        last = [c.close() for c in self._candidates]
        low, high = LAST_RESORT_DOWNSWING_S
        found = [(min(_distance(s.downswing_s) for s in swings), i) for i, c in enumerate(self._candidates)
                 if (swings := [s for s in c.swings if low <= s.downswing_s <= high])]
        if not found:
            return None
        _, best = min(found)
        self._choose(self._candidates[best])
        return last[best]

    def _choose(self, analyzer: LiveAnalyzer) -> None:
        self.chosen = analyzer
        self._candidates = [analyzer]


def _rank(downswing_s: float, factor: float) -> tuple[bool, float]:
    """Real time first, then the factor whose downswing is nearest a typical one."""
    return factor != 1.0, _distance(downswing_s)


def _distance(downswing_s: float) -> float:
    """How far a downswing is from a typical one, as a ratio (log), so 2x too fast = 2x too slow."""
    return abs(math.log(max(downswing_s, 1e-3) / TYPICAL_DOWNSWING_S))
