"""OfflineCoach: coaching text from the drill library and the swing's own numbers, no network.

Deterministic: the same request always gives the same words. It picks the
worst fault (one thing to fix), says what was measured, why it matters, a
cue for the player's level and a drill with reps; a swing with no fault
gets a short "keep it" with a practice drill. It is the provider when there
is no model, and the fallback whenever the model fails, times out, or its
circuit is open.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

from ..analyzer import Fault, SwingSummary
from ..catalog import FAULT_BY_ID, KPI_UNITS
from .library import Advice, DrillLibrary, default_library
from .provider import Source
from .request import FeedbackRequest

_STAGES = ("address", "top", "impact")


def severity_label(severity: float) -> str:
    if severity < 1 / 3:
        return "mild"
    if severity < 2 / 3:
        return "moderate"
    return "strong"


def swing_figures(swing: SwingSummary) -> dict[str, str]:
    """The swing's numbers as the library's placeholders: ``top_shoulder_turn`` (degrees),
    ``impact_pelvis_sway_cm`` (centimetres), ``impact_weight_shift_lead_pct``, ``tempo``...

    Sizes are absolute (the templates say the direction); a KPI that was not
    measurable is left out, so a template that needs it is skipped.
    """
    figures: dict[str, str] = {}
    for stage, kpis in zip(_STAGES, (swing.kpis_address, swing.kpis_top, swing.kpis_impact)):
        for name, value in kpis.items():
            if value is None or not math.isfinite(value):
                continue
            unit = KPI_UNITS.get(name)
            if unit == "deg":
                figures[f"{stage}_{name}"] = f"{abs(value):.0f}"
            elif unit == "m":
                figures[f"{stage}_{name}_cm"] = f"{abs(value) * 100:.0f}"
            elif name == "weight_shift":  # -1 all trail .. +1 all lead
                figures[f"{stage}_weight_shift_lead_pct"] = f"{min(max((value + 1) * 50, 0), 100):.0f}"
    if swing.tempo_ratio is not None:
        figures["tempo"] = f"{swing.tempo_ratio:.1f}"
    if swing.peak_x_factor is not None:
        figures["peak_x_factor"] = f"{swing.peak_x_factor:.0f}"
    figures["backswing_s"] = f"{swing.backswing_s:.2f}"
    figures["downswing_s"] = f"{swing.downswing_s:.2f}"
    return figures


def _fill(template: str, figures: dict[str, str]) -> str | None:
    try:
        return template.format_map(figures)
    except (KeyError, ValueError):
        return None


class OfflineCoach:
    source = Source.OFFLINE

    def __init__(self, library: DrillLibrary | None = None) -> None:
        self.library = library or default_library()

    def pieces(self, request: FeedbackRequest) -> list[str]:
        """The feedback as a few complete sentences, in reading order."""
        swing = request.swing
        level = request.skill_level
        figures = swing_figures(swing)
        faults = request.faults_by_severity()
        focus = faults[0] if faults else None
        if focus is None:
            advice = self.library.clean
            evidence = _fill(advice.evidence, figures)
            headline = f"Swing {swing.swing_index}: clean" + (f", {evidence}." if evidence else ".")
        else:
            advice = self.library.advice(focus.fault_id)
            headline = self._headline(swing, focus, advice, figures) + self._repeats(request, focus)
        drill, reps = advice.drill(level)
        pieces = [
            headline,
            advice.why if focus is None else f"Why it matters: {advice.why}",
            f"Cue: {advice.cue(level)}",
            f"Drill: {drill.name}. {drill.how} {reps}",
        ]
        others = [f for f in faults[1:] if f.severity >= request.threshold]
        if focus is not None and others:
            names = ", ".join(f"{f.name.lower()} ({severity_label(f.severity)})" for f in others)
            pieces.append(f"Also flagged: {names}. One thing at a time: start with the {focus.name.lower()}.")
        if request.coach_tips:
            pieces.append(f"Your coach's latest tip: {request.coach_tips[-1]}")
        return pieces

    @staticmethod
    def _headline(swing: SwingSummary, fault: Fault, advice: Advice, figures: dict[str, str]) -> str:
        label = severity_label(fault.severity)
        evidence = _fill(advice.evidence, figures)
        if evidence is None:  # a KPI the sentence needs was not measurable
            info = FAULT_BY_ID.get(fault.fault_id)
            evidence = info.description.rstrip(".") if info else fault.name
            evidence = evidence[0].lower() + evidence[1:]
        return f"Swing {swing.swing_index}: {fault.name.lower()} ({label}), {evidence}."

    @staticmethod
    def _repeats(request: FeedbackRequest, fault: Fault) -> str:
        if not request.recent:
            return ""
        seen = sum(1 for s in request.recent if any(f.fault_id == fault.fault_id for f in s.faults))
        if seen == 0:
            return " It was not there on your earlier swings, so this may be a one-off."
        n = len(request.recent)
        earlier = "your previous swing" if n == 1 else f"{seen} of your previous {n} swings"
        return f" It also showed up on {earlier}."

    def text(self, request: FeedbackRequest) -> str:
        return " ".join(self.pieces(request))

    async def stream(self, request: FeedbackRequest) -> AsyncIterator[str]:
        for piece in self.pieces(request):
            yield piece

    async def complete(self, request: FeedbackRequest) -> str:
        return self.text(request)

    async def start(self) -> None:
        pass

    async def aclose(self) -> None:
        pass
