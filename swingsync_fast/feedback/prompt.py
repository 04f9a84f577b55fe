"""What the model is told: a fixed system instruction, and a context prompt built from one swing.

The context is plain labelled text (not JSON): the player, the swing's
timing, its faults worst first, its KPIs at address / top / impact, a line
per recent swing, and the coach's tips when a coaching session is linked.
"""

from __future__ import annotations

from ..analyzer import SwingSummary
from ..catalog import FAULT_BY_ID, KPI_NAMES, KPI_UNITS
from .request import FeedbackRequest

SYSTEM_INSTRUCTION = """\
You are a golf coach talking to a player on the range between swings. A pose \
tracker measured the swing; you get its numbers and the faults it found.

Reply in plain text (no markdown, no lists, no headings), at most 90 words:
1. Name the one fault to work on first (usually the most severe) and say what \
the numbers show, in words a player understands.
2. Why it matters for the ball flight or the strike, in one sentence.
3. One cue of at most 12 words the player can think about on the next swing.
4. One drill with a number of reps.
Match the player's skill level: simple feels for beginners, more precise \
positions for advanced players and professionals. If there is no fault, say \
what was good and how to repeat it. If the coach gave tips, stay consistent \
with them. Lead and trail follow the player's handedness (a right-hander's \
lead side is the left). Do not invent measurements that are not given.\
"""

_UNIT_WORDS = {"deg": "deg", "m": "m", "m/s": "m/s", "ratio": ""}


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "m":
        return f"{value:+.3f}"
    if unit == "ratio":
        return f"{value:+.2f}"
    return f"{value:.1f}"


def _faults_line(swing: SwingSummary) -> str:
    if not swing.faults:
        return "none"
    return ", ".join(f"{f.fault_id} {f.severity:.2f}" for f in sorted(swing.faults, key=lambda f: -f.severity))


def build_prompt(request: FeedbackRequest) -> str:
    swing = request.swing
    lines = [
        f"Player: {request.handedness}-handed, skill level {request.skill_level}, club {request.club}.",
        f"This is swing {swing.swing_index} of the session."
        + (" The player asked for feedback on it." if request.requested else ""),
        "",
        "Timing:",
        f"- backswing {swing.backswing_s:.2f} s, downswing {swing.downswing_s:.2f} s, "
        f"follow-through {swing.follow_through_s:.2f} s",
        "- tempo (backswing : downswing) "
        + (f"{swing.tempo_ratio:.2f} : 1" if swing.tempo_ratio is not None else "not measured"),
    ]
    if swing.peak_x_factor is not None:
        lines.append(f"- peak X-factor {swing.peak_x_factor:.1f} deg")
    lines += ["", f"Faults (severity 0..1; {request.threshold:.2f} or more is worth feedback), worst first:"]
    faults = request.faults_by_severity()
    if not faults:
        lines.append("- none detected")
    for fault in faults:
        info = FAULT_BY_ID.get(fault.fault_id)
        about = f": {info.description}" if info else ""
        lines.append(
            f"- {fault.name} ({fault.fault_id}), severity {fault.severity:.2f}, "
            f"phases {', '.join(fault.phases)}{about}"
        )
    camera = swing.camera
    if camera.view is not None:
        lines += ["", f"Camera: {camera.view.replace('_', '-')}"
                  + (f", {camera.angle_deg:.0f} deg from face-on" if camera.angle_deg is not None else "")
                  + ". What this view cannot see is n/a: say nothing about it."]
    lines += ["", "KPIs at address / top / impact (n/a = not measurable):"]
    for name in KPI_NAMES:
        unit = KPI_UNITS[name]
        values = " / ".join(
            _number(kpis.get(name), unit) for kpis in (swing.kpis_address, swing.kpis_top, swing.kpis_impact)
        )
        suffix = f" {_UNIT_WORDS[unit]}" if _UNIT_WORDS[unit] else ""
        lines.append(f"- {name}: {values}{suffix}")
    lines.append(
        "(turns are degrees from address, away from the target until impact and toward it from impact on; "
        "sways are metres, + away from the target; pelvis_thrust is "
        "metres, + toward the ball; weight_shift is -1 all on the trail foot .. +1 all on the lead foot)"
    )
    if request.recent:
        lines += ["", "Earlier swings this session, oldest first:"]
        for earlier in request.recent:
            tempo = f"{earlier.tempo_ratio:.2f}" if earlier.tempo_ratio is not None else "n/a"
            lines.append(f"- swing {earlier.swing_index}: tempo {tempo}, faults {_faults_line(earlier)}")
    if request.coach_tips:
        lines += ["", "Tips from the player's coach this session, oldest first:"]
        lines += [f"- {tip}" for tip in request.coach_tips]
    lines += ["", "Give the player your feedback on this swing now."]
    return "\n".join(lines)
