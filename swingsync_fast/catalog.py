"""The names the analysis speaks: phases, P positions, KPIs and faults.

The order of each tuple is the order of the matching C enum in
``kernels/*.pxd``; codes cross the Cython boundary as small ints.
"""

from __future__ import annotations

import msgspec

PHASES: tuple[str, ...] = (
    "idle",
    "setup",
    "takeaway",
    "backswing",
    "top_of_swing",
    "downswing",
    "impact",
    "follow_through",
    "finish",
)
PHASE_CODE: dict[str, int] = {name: i for i, name in enumerate(PHASES)}

# P1..P10; code 0 means "no position" (idle).
P_POSITIONS: tuple[str | None, ...] = (None,) + tuple(f"P{i}" for i in range(1, 11))

KPI_UNITS: dict[str, str] = {
    "shoulder_turn": "deg",  # shoulder line rotation from address: back until impact, through after
    "hip_turn": "deg",  # hip line rotation from address: back until impact, through after
    "x_factor": "deg",  # shoulder_turn - hip_turn
    "spine_tilt": "deg",  # forward bend of the spine toward the ball, from vertical
    "side_bend": "deg",  # spine lean in the face-on plane, + away from the target
    "lead_elbow": "deg",  # shoulder-elbow-wrist angle, 180 = straight
    "trail_elbow": "deg",
    "lead_knee": "deg",  # hip-knee-ankle angle, 180 = straight
    "trail_knee": "deg",
    "head_sway": "m",  # head (face landmarks' mean) along the target line from address, + away from the target
    "head_lift": "m",  # head height from address, + up
    "pelvis_sway": "m",  # hip centre along the target line from address, + away from the target
    "pelvis_thrust": "m",  # hip centre toward the ball from address
    "wrist_hinge": "deg",  # lead forearm to lead hand angle, 0 = in line
    "hand_height": "m",  # hand centre height above its address height
    "hand_speed": "m/s",
    "weight_shift": "ratio",  # hip centre between the address ankles, -1 trail .. +1 lead
}
KPI_NAMES: tuple[str, ...] = tuple(KPI_UNITS)


class FaultInfo(msgspec.Struct, frozen=True):
    fault_id: str
    name: str
    phases: tuple[str, ...]
    description: str


FAULTS: tuple[FaultInfo, ...] = (
    FaultInfo("SWAY", "Sway", ("takeaway", "backswing", "top_of_swing"),
              "Hips drift away from the target in the backswing instead of turning."),
    FaultInfo("SLIDE", "Slide", ("downswing", "impact"),
              "Hips slide toward the target in the downswing instead of rotating."),
    FaultInfo("EARLY_EXTENSION", "Early extension", ("downswing", "impact"),
              "Hips thrust toward the ball in the downswing."),
    FaultInfo("LOSS_OF_POSTURE", "Loss of posture",
              ("backswing", "top_of_swing", "downswing", "impact"),
              "The spine stands up from its address tilt before impact."),
    FaultInfo("REVERSE_SPINE", "Reverse spine angle", ("backswing", "top_of_swing"),
              "The upper body leans toward the target at the top."),
    FaultInfo("INSUFFICIENT_SHOULDER_TURN", "Insufficient shoulder turn",
              ("backswing", "top_of_swing"),
              "The shoulders turn too little for this club by the top."),
    FaultInfo("CHICKEN_WING", "Chicken wing", ("impact", "follow_through"),
              "The lead elbow folds through impact."),
    FaultInfo("BENT_LEAD_ARM", "Bent lead arm", ("backswing", "top_of_swing"),
              "The lead arm collapses at the elbow in the backswing."),
    FaultInfo("CASTING", "Casting", ("downswing",),
              "The wrist hinge is thrown away early in the downswing."),
    FaultInfo("HEAD_MOVEMENT", "Head movement",
              ("takeaway", "backswing", "top_of_swing", "downswing", "impact"),
              "The head sways or moves up and down before impact."),
    FaultInfo("TRAIL_KNEE_STRAIGHTENING", "Trail knee straightening",
              ("backswing", "top_of_swing"),
              "The trail knee loses its address flex in the backswing."),
    FaultInfo("HANGING_BACK", "Hanging back", ("impact", "follow_through"),
              "The weight stays on the trail side through impact."),
    FaultInfo("POOR_TEMPO", "Poor tempo", ("backswing", "downswing"),
              "The backswing to downswing time ratio is far from about 3:1."),
)
FAULT_IDS: tuple[str, ...] = tuple(f.fault_id for f in FAULTS)
FAULT_BY_ID: dict[str, FaultInfo] = {f.fault_id: f for f in FAULTS}
# The KPIs each fault's rule reads (kernels/faults.pyx): a camera view that
# measures none of them cannot raise it. POOR_TEMPO needs only the events.
FAULT_KPIS: dict[str, tuple[str, ...]] = {
    "SWAY": ("pelvis_sway",),
    "SLIDE": ("pelvis_sway",),
    "EARLY_EXTENSION": ("pelvis_thrust",),
    "LOSS_OF_POSTURE": ("spine_tilt",),
    "REVERSE_SPINE": ("side_bend",),
    "INSUFFICIENT_SHOULDER_TURN": ("shoulder_turn",),
    "CHICKEN_WING": ("lead_elbow",),
    "BENT_LEAD_ARM": ("lead_elbow",),
    "CASTING": ("wrist_hinge",),
    "HEAD_MOVEMENT": ("head_sway", "head_lift"),
    "TRAIL_KNEE_STRAIGHTENING": ("trail_knee",),
    "HANGING_BACK": ("weight_shift",),
    "POOR_TEMPO": (),
}

CLUBS: tuple[str, ...] = ("driver", "wood", "iron", "wedge")
SKILL_LEVELS: tuple[str, ...] = ("beginner", "intermediate", "advanced", "professional")
HANDEDNESS: tuple[str, ...] = ("right", "left")
COORDINATE_SYSTEMS: tuple[str, ...] = ("world_y_up", "mediapipe_world", "mediapipe_image")
# Camera views by kernel code (camera.pxd View); code 0: no address yet, or a 3-D capture.
CAMERA_VIEWS: tuple[str | None, ...] = (None, "face_on", "down_the_line", "oblique")
