"""Fault limits by club and skill level, optionally adapted to a player's own history.

Limits are in each rule's metric (see ``kernels/faults.pyx``): metres for
hip and head travel, degrees for angles and their changes, the weight-shift
ratio, and a (low, high) band for the backswing:downswing tempo. Every rule
but two fires when its metric rises past the limit; INSUFFICIENT_SHOULDER_TURN
and HANGING_BACK fire when the swing's peak falls short of it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import msgspec
import numpy as np

from .catalog import CLUBS, FAULT_IDS, SKILL_LEVELS

FALLS_SHORT: frozenset[str] = frozenset({"INSUFFICIENT_SHOULDER_TURN", "HANGING_BACK"})

# (limit, span) for an intermediate player with an iron; severity is 1 at limit + span.
_IRON_INTERMEDIATE: dict[str, tuple[float, float]] = {
    "SWAY": (0.08, 0.08),
    "SLIDE": (0.15, 0.10),
    "EARLY_EXTENSION": (0.06, 0.06),
    "LOSS_OF_POSTURE": (12.0, 10.0),  # good players stand up a few degrees by impact
    "REVERSE_SPINE": (4.0, 10.0),  # side bend below -4 deg: leaning toward the target
    "INSUFFICIENT_SHOULDER_TURN": (68.0, 25.0),
    "CHICKEN_WING": (35.0, 30.0),  # lead elbow bent more than 35 deg (angle < 145)
    "BENT_LEAD_ARM": (35.0, 30.0),  # lead elbow bent more than 35 deg (angle < 145)
    "CASTING": (40.0, 30.0),  # wrist hinge lost since the top, early in the downswing
    "HEAD_MOVEMENT": (0.10, 0.10),
    "TRAIL_KNEE_STRAIGHTENING": (15.0, 15.0),  # tour players straighten it 10-17 deg
    "HANGING_BACK": (0.05, 0.30),
    "POOR_TEMPO": (0.0, math.log(1.5)),  # distance outside the band, in log ratio
}
_DISTANCE_RULES = frozenset({"SWAY", "SLIDE", "EARLY_EXTENSION", "HEAD_MOVEMENT"})
_CLUB_DISTANCE_FACTOR = {"driver": 1.15, "wood": 1.1, "iron": 1.0, "wedge": 0.9}
# Shoulder turn at the top (horizontal plane): tour players turn about 90-105 deg with a driver.
_CLUB_SHOULDER_TURN = {"driver": 72.0, "wood": 70.0, "iron": 68.0, "wedge": 62.0}
# Tolerance by skill: > 1 loosens, < 1 tightens.
_SKILL_TOLERANCE = {"beginner": 1.3, "intermediate": 1.0, "advanced": 0.85, "professional": 0.75}
_SKILL_TURN_OFFSET = {"beginner": -6.0, "intermediate": 0.0, "advanced": 3.0, "professional": 5.0}
# Backswing : downswing. GolfDB's tour swings: median 3.4, inter-quartile 3.0-4.1.
_SKILL_TEMPO_BAND = {
    "beginner": (1.8, 5.5),
    "intermediate": (2.2, 5.0),
    "advanced": (2.4, 4.8),
    "professional": (2.5, 4.6),
}
# A personal limit may move the population limit by at most this much either way.
_BASELINE_RANGE = (0.8, 1.25)


class Thresholds(msgspec.Struct, frozen=True):
    limits: dict[str, float]
    spans: dict[str, float]
    tempo_low: float
    tempo_high: float

    @classmethod
    def for_player(
        cls,
        club: str,
        skill_level: str,
        baseline: Mapping[str, float] | None = None,
    ) -> Thresholds:
        """Limits for a club family and skill level.

        ``baseline`` maps fault ids to the player's typical value of that
        rule's metric (e.g. the median over their stored swings). Each such
        limit moves to half a span beyond the player's typical value, within
        0.8x..1.25x of the population limit, so a steady player is held to
        their own standard and a limited one is not flagged on every swing.
        """
        if club not in CLUBS:
            raise ValueError(f"club {club!r} is not one of {', '.join(CLUBS)}")
        if skill_level not in SKILL_LEVELS:
            raise ValueError(f"skill level {skill_level!r} is not one of {', '.join(SKILL_LEVELS)}")
        tolerance = _SKILL_TOLERANCE[skill_level]
        limits: dict[str, float] = {}
        spans: dict[str, float] = {}
        for fault_id, (limit, span) in _IRON_INTERMEDIATE.items():
            if fault_id == "INSUFFICIENT_SHOULDER_TURN":
                limit = _CLUB_SHOULDER_TURN[club] + _SKILL_TURN_OFFSET[skill_level]
            elif fault_id == "HANGING_BACK":
                limit = limit / tolerance
            elif fault_id != "POOR_TEMPO":
                limit = limit * tolerance
                if fault_id in _DISTANCE_RULES:
                    limit *= _CLUB_DISTANCE_FACTOR[club]
            limits[fault_id] = limit
            spans[fault_id] = span
        for fault_id, typical in (baseline or {}).items():
            if fault_id not in limits:
                raise ValueError(f"baseline names unknown fault {fault_id!r}")
            if fault_id == "POOR_TEMPO" or not math.isfinite(typical):
                continue
            base = limits[fault_id]
            margin = 0.5 * spans[fault_id]
            personal = typical - margin if fault_id in FALLS_SHORT else typical + margin
            low, high = sorted((base * _BASELINE_RANGE[0], base * _BASELINE_RANGE[1]))
            limits[fault_id] = min(max(personal, low), high)
        tempo_low, tempo_high = _SKILL_TEMPO_BAND[skill_level]
        return cls(limits=limits, spans=spans, tempo_low=tempo_low, tempo_high=tempo_high)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Limits and spans in the kernel's fault order."""
        limits = np.array([self.limits[f] for f in FAULT_IDS], dtype=np.float64)
        spans = np.array([self.spans[f] for f in FAULT_IDS], dtype=np.float64)
        return limits, spans
