"""A player's personal baseline: their typical value of each fault rule's metric, from past swings.

The rule: take the player's last ``RECENT_SWINGS`` stored swings with the
same club family; a rule gets a baseline value when at least
``MIN_SWINGS`` of them measured its metric, and the value is their median.
POOR_TEMPO keeps the skill's band (a tempo is a ratio, not a peak).
``Thresholds.for_player`` then moves each limit toward the player.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from .analyzer import SwingSummary
from .catalog import FAULT_IDS

RECENT_SWINGS = 20
MIN_SWINGS = 5
_ADAPTED = tuple(f for f in FAULT_IDS if f != "POOR_TEMPO")


def baseline_from(swings: Iterable[SwingSummary]) -> dict[str, float]:
    """Fault id -> the median of its metric over ``swings``, for rules measured in at least MIN_SWINGS."""
    values: dict[str, list[float]] = {f: [] for f in _ADAPTED}
    for swing in swings:
        for fault_id, kept in values.items():
            value = swing.fault_metrics.get(fault_id)
            if value is not None:
                kept.append(value)
    return {f: statistics.median(v) for f, v in values.items() if len(v) >= MIN_SWINGS}
