"""What feedback is asked about: one swing, who swung it, and what came before."""

from __future__ import annotations

import msgspec

from ..analyzer import Fault, SwingSummary
from ..catalog import FAULT_IDS

_CATALOG_ORDER = {fault_id: i for i, fault_id in enumerate(FAULT_IDS)}


class FeedbackRequest(msgspec.Struct, frozen=True, kw_only=True):
    swing: SwingSummary
    club: str  # driver | wood | iron | wedge
    skill_level: str  # beginner | intermediate | advanced | professional
    handedness: str  # right | left
    threshold: float  # the session's feedback_threshold: faults below it are minor
    recent: tuple[SwingSummary, ...] = ()  # earlier swings of the session, oldest first
    coach_tips: tuple[str, ...] = ()  # tips from a linked coaching session, oldest first
    requested: bool = False  # the player asked (request_feedback) rather than a fault triggering it

    def faults_by_severity(self) -> list[Fault]:
        """The swing's faults, worst first (catalog order breaks ties, so the order is stable)."""
        return sorted(self.swing.faults, key=lambda f: (-f.severity, _CATALOG_ORDER.get(f.fault_id, 99)))


def worst_severity(swing: SwingSummary) -> float:
    return max((f.severity for f in swing.faults), default=0.0)
