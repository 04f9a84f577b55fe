"""A kinematic golfer: whole sessions of golf swings as MediaPipe Pose landmarks, with ground truth.

The body is a forward-kinematics skeleton with Winter's segment proportions.
Every degree of freedom (pelvis position and turn, spine tilt and side bend,
shoulder turn, lead-arm direction relative to the thorax, elbow, wrist hinge,
feet, head) is a keyframed track over the session, interpolated with a
shape-preserving cubic so nothing overshoots and the body is at rest wherever
a phase holds still. Arms and legs are placed by two-link IK, so every bone
keeps its length exactly. Everything is built for a right-handed golfer in a
golfer frame (y up, target +x, ball +z, floor y = 0); a left-handed golfer is
the mirror image of that motion, and only then is the session placed in the
world or seen by a camera.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..catalog import CLUBS
from ..landmarks import LANDMARK_INDEX, LANDMARK_NAMES, NUM_LANDMARKS

__all__ = [
    "DEFAULT_SHOULDER_TURN_DEG",
    "MIN_BACKSWING_S",
    "BodyDimensions",
    "SwingSpec",
    "SwingTruth",
    "body_dimensions",
    "compose_session",
    "mirror_left_handed",
    "pose",
    "random_swing_spec",
    "swing_truth",
]

DEFAULT_SHOULDER_TURN_DEG: dict[str, float] = {"driver": 95.0, "wood": 92.0, "iron": 88.0, "wedge": 78.0}


@dataclass(frozen=True)
class SwingSpec:
    tempo_ratio: float = 3.0  # backswing time / downswing time
    backswing_s: float = 0.85  # takeaway start -> top
    faults: frozenset[str] = frozenset()  # ids from catalog.FAULT_IDS
    fault_strength: float = 1.0  # 0 = clean, 1 = the full injected magnitude
    shoulder_turn_deg: float | None = None  # peak at the top; None = club default
    address_s: float = 1.2  # still address before the takeaway (a small waggle allowed)
    finish_hold_s: float = 1.0


@dataclass(frozen=True)
class SwingTruth:
    takeaway_frame: int  # first frame after the hands start to move
    top_frame: int  # frame nearest the hands' highest point in the backswing
    impact_frame: int  # frame nearest the hands' closest return to their address spot
    finish_frame: int  # first frame of the held finish
    tempo_ratio: float
    faults: frozenset[str]


def random_swing_spec(
    rng: np.random.Generator,
    *,
    club: str = "driver",
    faults: frozenset[str] = frozenset(),
    fault_strength: float = 1.0,
) -> SwingSpec:
    """A plausible swing of ``club`` with the given faults: random tempo, length and pauses."""
    if club not in CLUBS:
        raise ValueError(f"club {club!r} is not one of {', '.join(CLUBS)}")
    return SwingSpec(
        tempo_ratio=float(rng.uniform(2.6, 3.8)),
        backswing_s=float(rng.uniform(0.70, 1.05)),
        faults=frozenset(faults),
        fault_strength=float(fault_strength),
        shoulder_turn_deg=DEFAULT_SHOULDER_TURN_DEG[club] + float(rng.uniform(-5.0, 5.0)),
        address_s=float(rng.uniform(1.0, 1.6)),
        finish_hold_s=float(rng.uniform(0.8, 1.5)),
    )


# --------------------------------------------------------------------------- body


@dataclass(frozen=True)
class BodyDimensions:
    """Segment lengths in metres (Winter's ratios of body height)."""

    scale: float  # height / 1.78: offsets written for a 1.78 m golfer are multiplied by this
    ankle_height: float
    shank: float
    thigh: float
    hip_width: float  # between the hip joint centres
    spine: float  # hip midpoint to shoulder midpoint
    shoulder_width: float  # between the shoulder joint centres
    neck: float  # shoulder midpoint to the head centre (between the ears)
    upper_arm: float
    forearm: float
    grip_gap: float  # lead wrist to trail wrist along the grip


def body_dimensions(height: float) -> BodyDimensions:
    # Joint centres sit inside Winter's outer widths (0.259 H shoulders, 0.191 H hips).
    return BodyDimensions(
        scale=height / 1.78,
        ankle_height=0.039 * height,
        shank=0.246 * height,
        thigh=0.245 * height,
        hip_width=0.105 * height,
        spine=0.288 * height,
        shoulder_width=0.195 * height,
        neck=0.112 * height,
        upper_arm=0.186 * height,
        forearm=0.146 * height,
        # the lead hand a palm above the trail one: real down-the-line addresses 0.14-0.21 torso apart
        grip_gap=0.050 * height,
    )


# Landmark offsets for a 1.78 m golfer, scaled by BodyDimensions.scale.
# Head frame: (forward, up, toward the left ear).
_HEAD_POINTS: dict[str, tuple[float, float, float]] = {
    "nose": (0.105, -0.025, 0.0),
    "left_eye_inner": (0.090, 0.010, 0.017),
    "left_eye": (0.085, 0.012, 0.032),
    "left_eye_outer": (0.077, 0.010, 0.047),
    "right_eye_inner": (0.090, 0.010, -0.017),
    "right_eye": (0.085, 0.012, -0.032),
    "right_eye_outer": (0.077, 0.010, -0.047),
    "left_ear": (0.0, 0.0, 0.075),
    "right_ear": (0.0, 0.0, -0.075),
    "mouth_left": (0.088, -0.060, 0.025),
    "mouth_right": (0.088, -0.060, -0.025),
}
# Hand frame: (along the hand, toward the thumb side).
# The index knuckle lies on the hand's axis, so the wrist hinge reads exactly as set.
_HAND_POINTS: dict[str, tuple[float, float]] = {
    "index": (0.085, 0.0),
    "pinky": (0.075, -0.030),
    "thumb": (0.045, 0.035),
}
# Foot frame: (forward, up) from the floor point below the ankle.
_FOOT_HEEL = (-0.065, 0.030)
_FOOT_TOE = (0.165, 0.025)


@dataclass(frozen=True)
class _Posture:
    """What changes with the club (driver .. wedge), for a 1.78 m golfer."""

    spine_tilt: float  # deg toward the ball at address
    side_bend: float  # deg away from the target at address
    stance: float  # m between the ankles
    pelvis_turn: float  # deg at the top
    arm_hang: float  # deg the lead arm leans toward the ball at address
    hands_ahead: float  # m the lead wrist is toward the target of the shoulder midpoint at address
    shaft_lean: float  # m the hands are ahead of their address spot at impact
    top_hands: tuple[float, float, float]  # lead wrist aim at the top


_POSTURES: dict[str, _Posture] = {  # tilt, bend, stance, pelvis turn, arm hang, hands, lean, top
    "driver": _Posture(37.0, 8.0, 0.45, 45.0, 14.0, 0.05, 0.03, (-0.42, 1.70, 0.20)),
    "wood": _Posture(39.0, 7.5, 0.42, 43.0, 14.0, 0.05, 0.04, (-0.40, 1.66, 0.24)),
    "iron": _Posture(42.0, 7.0, 0.38, 40.0, 13.0, 0.05, 0.06, (-0.40, 1.62, 0.30)),
    "wedge": _Posture(45.0, 6.0, 0.35, 35.0, 12.0, 0.05, 0.07, (-0.38, 1.55, 0.36)),
}

_ADDRESS_KNEE = 158.0  # both legs share the load at address, so each bends a little more (~155)
_STAND_KNEE = 173.0
_STAND_TILT = 4.0
_LEAD_FOOT_YAW = 20.0  # lead toes flared toward the target
_TRAIL_FOOT_YAW = -8.0
_ADDRESS_HIPS_BACK = 0.06  # hip joints behind the ankle line at address
_ADDRESS_OPEN = -5.0  # shoulders a little open at address: the trail hand reaches lower on the grip
_ADDRESS_TRAIL_ELBOW_MAX = 167.0  # the trail arm reaches down the grip with a soft elbow
_HEAD_PITCH_ADDRESS = 60.0  # eyes down on the ball
_HEAD_PITCH_STAND = 12.0
MIN_BACKSWING_S = 0.3
_SIDES = ("lead", "trail")

# --------------------------------------------------------------------------- tracks


class _Track:
    """Knots of one degree of freedom; a shape-preserving cubic (PCHIP) between them.

    A knot may fix its slope (units per second); the others get PCHIP's, which is
    zero at every turning point, so the motion never overshoots a knot.
    """

    def __init__(self, value: float) -> None:
        self.times = [0.0]
        self.values = [float(value)]
        self.slopes = [math.nan]

    @property
    def last(self) -> float:
        return self.values[-1]

    def key(self, t: float, value: float, slope: float = math.nan) -> None:
        if abs(t - self.times[-1]) < 1e-9:
            self.values[-1], self.slopes[-1] = float(value), float(slope)
            return
        if t < self.times[-1]:
            raise ValueError(f"knot at {t:.3f} s is before the last one at {self.times[-1]:.3f} s")
        self.times.append(float(t))
        self.values.append(float(value))
        self.slopes.append(float(slope))

    def copy(self) -> _Track:
        twin = _Track(0.0)
        twin.times, twin.values, twin.slopes = list(self.times), list(self.values), list(self.slopes)
        return twin

    def sample(self, t: np.ndarray) -> np.ndarray:
        x = np.asarray(self.times)
        y = np.asarray(self.values)
        if len(x) == 1:
            return np.full(t.shape, y[0])
        h = np.diff(x)
        secant = np.diff(y) / h
        slope = np.zeros_like(y)  # zero at both ends: the session starts and ends at rest
        w1, w2 = 2 * h[1:] + h[:-1], h[1:] + 2 * h[:-1]
        same = secant[:-1] * secant[1:] > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            harmonic = (w1 + w2) / (w1 / secant[:-1] + w2 / secant[1:])
        slope[1:-1] = np.where(same, harmonic, 0.0)
        fixed = np.asarray(self.slopes)
        slope = np.where(np.isnan(fixed), slope, fixed)
        i = np.clip(np.searchsorted(x, t, side="right") - 1, 0, len(x) - 2)
        u = np.clip((t - x[i]) / h[i], 0.0, 1.0)
        u2, u3 = u * u, u * u * u
        return (
            (2 * u3 - 3 * u2 + 1) * y[i]
            + (u3 - 2 * u2 + u) * h[i] * slope[i]
            + (-2 * u3 + 3 * u2) * y[i + 1]
            + (u3 - u2) * h[i] * slope[i + 1]
        )


class _Timeline:
    """All tracks of a session, appended phase by phase."""

    def __init__(self, initial: dict[str, float]) -> None:
        self.tracks = {name: _Track(value) for name, value in initial.items()}
        self.now = 0.0

    def key(self, t: float, **values: float) -> None:
        for name, value in values.items():
            self.tracks[name].key(t, value)

    def last(self, name: str) -> float:
        return self.tracks[name].last

    def burst(self, name: str, t_peak: float, t_end: float, value_end: float, end_ratio: float) -> None:
        """Move from rest at the last knot to ``value_end`` at ``t_end``, fastest at ``t_peak``.

        The speed rises linearly to its peak and falls linearly to ``end_ratio`` of it
        at ``t_end``; a cubic whose end slopes average its secant has exactly that
        linear speed, so the peak is where it is asked to be.
        """
        track = self.tracks[name]
        t0, v0 = track.times[-1], track.values[-1]
        track.slopes[-1] = 0.0
        peak = (value_end - v0) / (0.5 * (t_peak - t0) + 0.5 * (1 + end_ratio) * (t_end - t_peak))
        track.key(t_peak, v0 + 0.5 * peak * (t_peak - t0), peak)
        track.key(t_end, value_end, end_ratio * peak)

    def hold_all(self, t: float) -> None:
        """Every degree of freedom reaches its last value by ``t`` and rests there."""
        for track in self.tracks.values():
            track.key(t, track.last)
        self.now = t

    def copy(self) -> _Timeline:
        twin = _Timeline({})
        twin.tracks = {name: track.copy() for name, track in self.tracks.items()}
        twin.now = self.now
        return twin

    def sample(self, times: np.ndarray) -> dict[str, np.ndarray]:
        times = np.atleast_1d(np.asarray(times, dtype=np.float64))
        return {name: track.sample(times) for name, track in self.tracks.items()}


# --------------------------------------------------------------------------- vector helpers


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1)


def _yaw_x(angle: np.ndarray) -> np.ndarray:
    """+x turned by ``angle`` (rad) about +y."""
    return np.stack([np.cos(angle), np.zeros_like(angle), -np.sin(angle)], axis=-1)


def _yaw_z(angle: np.ndarray) -> np.ndarray:
    """+z turned by ``angle`` (rad) about +y."""
    return np.stack([np.sin(angle), np.zeros_like(angle), np.cos(angle)], axis=-1)


def _perpendicular(v: np.ndarray, axis: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Unit part of ``v`` orthogonal to the unit ``axis``; ``fallback`` where ``v`` is parallel to it."""
    p = v - _dot(v, axis)[..., None] * axis
    q = fallback - _dot(fallback, axis)[..., None] * axis
    small = np.linalg.norm(p, axis=-1, keepdims=True) < 1e-6
    return _unit(np.where(small, q, p))


def _reach(l1: float, l2: float, angle_deg: np.ndarray) -> np.ndarray:
    """Root-to-end distance of a two-link chain whose middle joint is at ``angle_deg`` (180 = straight)."""
    return np.sqrt(l1 * l1 + l2 * l2 - 2 * l1 * l2 * np.cos(np.radians(angle_deg)))


def _two_link(root: np.ndarray, target: np.ndarray, l1: float, l2: float, pole: np.ndarray):
    """Middle and end joints reaching toward ``target``, the middle joint bent toward ``pole``."""
    offset = target - root
    axis = _unit(offset)
    # Joint range 15..179.5 deg; an unreachable target pulls the chain straight toward it.
    dist = np.clip(np.linalg.norm(offset, axis=-1), _reach(l1, l2, 15.0), _reach(l1, l2, 179.5))
    cos_root = np.clip((l1 * l1 + dist * dist - l2 * l2) / (2 * l1 * dist), -1.0, 1.0)
    bend = _perpendicular(pole, axis, np.broadcast_to([0.0, 0.0, 1.0], axis.shape))
    middle = root + l1 * (cos_root[..., None] * axis + np.sqrt(1 - cos_root**2)[..., None] * bend)
    return middle, root + dist[..., None] * axis


# --------------------------------------------------------------------------- pose


@dataclass
class _Trunk:
    body_side: np.ndarray  # (N, 3) horizontal, toward the target (the golfer's left)
    body_front: np.ndarray  # (N, 3) horizontal, toward the ball
    pelvis: np.ndarray  # hip midpoint
    lead_hip: np.ndarray
    trail_hip: np.ndarray
    spine: np.ndarray  # unit, hip midpoint -> shoulder midpoint
    chest: np.ndarray  # unit, the thorax's forward axis
    shoulder_line: np.ndarray  # unit, trail -> lead shoulder
    lead_shoulder: np.ndarray
    trail_shoulder: np.ndarray
    feet: dict[str, dict[str, np.ndarray]]  # side -> ankle, heel, toe, forward


def _foot(d: dict[str, np.ndarray], side: str, body: BodyDimensions) -> dict[str, np.ndarray]:
    forward = _yaw_z(np.radians(d[f"{side}_foot_yaw"]))
    up = np.array([0.0, 1.0, 0.0])
    floor = np.stack([d[f"{side}_foot_x"], np.zeros_like(d[f"{side}_foot_x"]), d[f"{side}_foot_z"]], axis=-1)
    heel_up = np.radians(d[f"{side}_heel_up"])[:, None]
    s = body.scale

    def place(along: float, height: float) -> np.ndarray:
        # Heel-up turns the foot about its toes.
        da, dh = along - _FOOT_TOE[0] * s, height - _FOOT_TOE[1] * s
        a = _FOOT_TOE[0] * s + da * np.cos(heel_up) + dh * np.sin(heel_up)
        h = _FOOT_TOE[1] * s - da * np.sin(heel_up) + dh * np.cos(heel_up)
        return floor + a * forward + (h + d[f"{side}_lift"][:, None]) * up

    return {
        "ankle": place(0.0, body.ankle_height),
        "heel": place(_FOOT_HEEL[0] * s, _FOOT_HEEL[1] * s),
        "toe": place(_FOOT_TOE[0] * s, _FOOT_TOE[1] * s),
        "forward": forward,
    }


def _pelvis_height(hip_xz: dict[str, np.ndarray], feet, d, body: BodyDimensions) -> np.ndarray:
    """The highest pelvis at which each leg's knee is at most its track's angle.

    A smooth minimum over the legs: the leg farther from its foot sets the height,
    the other bends more, as when the lead knee flexes in the backswing.
    """
    heights = []
    for side in _SIDES:
        ankle = feet[side]["ankle"]
        horizontal = (hip_xz[side][:, 0] - ankle[:, 0]) ** 2 + (hip_xz[side][:, 1] - ankle[:, 2]) ** 2
        leg = _reach(body.thigh, body.shank, d[f"{side}_knee"])
        heights.append(ankle[:, 1] + np.sqrt(np.maximum(leg**2 - horizontal, 0.01)))
    softness = 0.002
    low = np.minimum(*heights)
    return low - softness * np.log1p(np.exp(-np.abs(heights[0] - heights[1]) / softness))


def _trunk(d: dict[str, np.ndarray], body: BodyDimensions) -> _Trunk:
    yaw = np.radians(d["body_yaw"])
    side, front = _yaw_x(yaw), _yaw_z(yaw)
    up = np.array([0.0, 1.0, 0.0])
    feet = {s: _foot(d, s, body) for s in _SIDES}

    hip_line = _yaw_x(yaw - np.radians(d["pelvis_turn"]))  # a backswing turn takes the lead hip toward the ball
    centre_xz = np.stack([d["pelvis_x"], d["pelvis_z"]], axis=-1)
    half = 0.5 * body.hip_width * hip_line[:, [0, 2]]
    hip_xz = {"lead": centre_xz + half, "trail": centre_xz - half}
    height = _pelvis_height(hip_xz, feet, d, body)
    pelvis = np.stack([d["pelvis_x"], height, d["pelvis_z"]], axis=-1)
    lead_hip = pelvis + 0.5 * body.hip_width * hip_line
    trail_hip = pelvis - 0.5 * body.hip_width * hip_line

    # Spine from its two measured angles: tilt toward the ball, side bend away from the target.
    tilt, bend = np.radians(d["spine_tilt"]), np.radians(d["side_bend"])
    spine = _unit(-np.tan(bend)[:, None] * side + up + np.tan(tilt)[:, None] * front)
    # Shoulder line: perpendicular to the spine, its horizontal projection at the shoulder turn.
    h = _yaw_x(yaw - np.radians(d["shoulder_turn"]))
    shoulder_line = _unit(h - (_dot(h, spine) / spine[:, 1])[:, None] * up)
    chest = np.cross(shoulder_line, spine)
    shoulder_mid = pelvis + body.spine * spine
    half_shoulders = 0.5 * body.shoulder_width * shoulder_line
    return _Trunk(
        body_side=side,
        body_front=front,
        pelvis=pelvis,
        lead_hip=lead_hip,
        trail_hip=trail_hip,
        spine=spine,
        chest=chest,
        shoulder_line=shoulder_line,
        lead_shoulder=shoulder_mid + half_shoulders,
        trail_shoulder=shoulder_mid - half_shoulders,
        feet=feet,
    )


def _arm_direction(trunk: _Trunk, azimuth_deg: np.ndarray, polar_deg: np.ndarray) -> np.ndarray:
    """Lead-arm unit vector from spherical angles in the thorax frame (polar axis = chest forward)."""
    a, p = np.radians(azimuth_deg)[:, None], np.radians(polar_deg)[:, None]
    return np.sin(p) * (np.cos(a) * trunk.shoulder_line + np.sin(a) * trunk.spine) + np.cos(p) * trunk.chest


def _arm_angles(trunk: _Trunk, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of _arm_direction."""
    x = _dot(direction, trunk.shoulder_line)
    y = _dot(direction, trunk.spine)
    z = _dot(direction, trunk.chest)
    return np.degrees(np.arctan2(y, x)), np.degrees(np.arccos(np.clip(z, -1.0, 1.0)))


def _arms(d: dict[str, np.ndarray], trunk: _Trunk, body: BodyDimensions) -> dict[str, np.ndarray]:
    up = np.array([0.0, 1.0, 0.0])
    u, f = body.upper_arm, body.forearm
    grip = d["grip"][:, None]
    # Elbow tips: the lead one toward the target side and down, the trail one down and out.
    lead_pole = _unit(trunk.shoulder_line - 0.3 * trunk.chest - up)
    trail_pole = _unit(-up - 0.5 * trunk.shoulder_line)

    # Hands on the club: the lead arm set by the thorax-relative tracks.
    lead_grip = trunk.lead_shoulder + _reach(u, f, d["lead_elbow"])[:, None] * _arm_direction(
        trunk, d["arm_azimuth"], d["arm_polar"]
    )
    # Hands free: arms hang and swing fore and aft.
    def hanging(shoulder: np.ndarray, swing_deg: np.ndarray, outward: float) -> np.ndarray:
        s = np.radians(swing_deg)[:, None]
        direction = _unit(-np.cos(s) * up + np.sin(s) * trunk.body_front + outward * trunk.body_side)
        return shoulder + _reach(u, f, 165.0) * direction

    lead_free = hanging(trunk.lead_shoulder, d["lead_arm_swing"], 0.08)
    trail_free = hanging(trunk.trail_shoulder, d["trail_arm_swing"], -0.08)

    lead_elbow, lead_wrist = _two_link(
        trunk.lead_shoulder, lead_free + grip * (lead_grip - lead_free), u, f, lead_pole
    )
    forearm = _unit(lead_wrist - lead_elbow)
    club = _unit(d["club_x"][:, None] * trunk.body_side + d["club_y"][:, None] * up
                 + d["club_z"][:, None] * trunk.body_front)
    # Wrist hinge: the hand turns from the forearm by exactly the hinge angle, toward the club.
    lag = _perpendicular(club, forearm, trunk.body_front)
    hinge = np.radians(d["hinge"])[:, None]
    lead_hand_grip = np.cos(hinge) * forearm + np.sin(hinge) * lag
    lead_hand_free = _unit(np.cos(0.15) * forearm + np.sin(0.15) * _perpendicular(trunk.body_front, forearm, up))
    lead_hand = _unit(lead_hand_free + grip * (lead_hand_grip - lead_hand_free))

    trail_grip = lead_wrist + body.grip_gap * lead_hand_grip  # the trail hand sits below on the grip
    trail_elbow, trail_wrist = _two_link(
        trunk.trail_shoulder, trail_free + grip * (trail_grip - trail_free), u, f, trail_pole
    )
    trail_forearm = _unit(trail_wrist - trail_elbow)
    trail_hand_free = _unit(
        np.cos(0.15) * trail_forearm + np.sin(0.15) * _perpendicular(trunk.body_front, trail_forearm, up)
    )
    trail_hand = _unit(trail_hand_free + grip * (lead_hand_grip - trail_hand_free))
    thumb_side = _perpendicular(lead_hand_grip + lag, lead_hand, trunk.body_front)

    points = {
        "lead_elbow": lead_elbow,
        "lead_wrist": lead_wrist,
        "trail_elbow": trail_elbow,
        "trail_wrist": trail_wrist,
    }
    for prefix, wrist, hand in (("lead", lead_wrist, lead_hand), ("trail", trail_wrist, trail_hand)):
        across = _perpendicular(thumb_side, hand, trunk.body_front)
        for name, (along, side) in _HAND_POINTS.items():
            points[f"{prefix}_{name}"] = wrist + body.scale * (along * hand + side * across)
    return points


def _head_centre(d: dict[str, np.ndarray], trunk: _Trunk, body: BodyDimensions) -> np.ndarray:
    """Midpoint of the ears, on the neck above the shoulder midpoint."""
    up = np.array([0.0, 1.0, 0.0])
    shoulder_mid = 0.5 * (trunk.lead_shoulder + trunk.trail_shoulder)
    natural = _unit(trunk.spine + 0.35 * up)  # the neck stands a little more upright than the back
    # Holding the head still: the neck leans toward the head's anchor, at most 35 deg off its natural line.
    anchor = np.stack([d["head_x"], d["head_y"], d["head_z"]], axis=-1)
    wanted = _unit(natural + d["head_hold"][:, None] * (_unit(anchor - shoulder_mid) - natural))
    limit = math.radians(35.0)
    angle = np.arccos(np.clip(_dot(wanted, natural), -1.0, 1.0))
    sideways = _perpendicular(wanted, natural, trunk.body_side)
    clipped = np.minimum(angle, limit)[:, None]
    neck = np.cos(clipped) * natural + np.sin(clipped) * sideways
    return shoulder_mid + body.neck * neck


def _head(d: dict[str, np.ndarray], trunk: _Trunk, body: BodyDimensions) -> dict[str, np.ndarray]:
    up = np.array([0.0, 1.0, 0.0])
    centre = _head_centre(d, trunk, body)
    heading = np.radians(d["body_yaw"] - d["head_yaw"])
    pitch = np.radians(d["head_pitch"])[:, None]
    level_front = _yaw_z(heading)
    face = np.cos(pitch) * level_front - np.sin(pitch) * up
    left = _yaw_x(heading)
    top = np.cross(face, left)
    return {
        name: centre + body.scale * (fwd * face + hi * top + lt * left)
        for name, (fwd, hi, lt) in _HEAD_POINTS.items()
    }


def pose(d: dict[str, np.ndarray], body: BodyDimensions) -> np.ndarray:
    """(N, 33, 3) landmark positions of a right-handed golfer in the golfer frame."""
    trunk = _trunk(d, body)
    arms = _arms(d, trunk, body)
    head = _head(d, trunk, body)
    legs = {}
    for side, hip in (("lead", trunk.lead_hip), ("trail", trunk.trail_hip)):
        foot = trunk.feet[side]
        # Knees point over the toes; the trail knee kicks in toward the target through impact.
        pole = foot["forward"] + (d["trail_knee_kick"][:, None] * trunk.body_side if side == "trail" else 0.0)
        knee, ankle = _two_link(hip, foot["ankle"], body.thigh, body.shank, pole)
        legs[side] = (knee, ankle, foot)

    out = np.empty((len(trunk.pelvis), NUM_LANDMARKS, 3))
    for name, point in head.items():
        out[:, LANDMARK_INDEX[name]] = point
    # Right-handed: the lead side is the golfer's left.
    for role, mp_side in (("lead", "left"), ("trail", "right")):
        out[:, LANDMARK_INDEX[f"{mp_side}_shoulder"]] = getattr(trunk, f"{role}_shoulder")
        out[:, LANDMARK_INDEX[f"{mp_side}_hip"]] = getattr(trunk, f"{role}_hip")
        for part in ("elbow", "wrist", "index", "pinky", "thumb"):
            out[:, LANDMARK_INDEX[f"{mp_side}_{part}"]] = arms[f"{role}_{part}"]
        knee, ankle, foot = legs[role]
        out[:, LANDMARK_INDEX[f"{mp_side}_knee"]] = knee
        out[:, LANDMARK_INDEX[f"{mp_side}_ankle"]] = ankle
        out[:, LANDMARK_INDEX[f"{mp_side}_heel"]] = foot["heel"]
        out[:, LANDMARK_INDEX[f"{mp_side}_foot_index"]] = foot["toe"]
    return out


def _hands(d: dict[str, np.ndarray], body: BodyDimensions) -> np.ndarray:
    """Midpoint of the wrists, the analyser's hand position."""
    arms = _arms(d, _trunk(d, body), body)
    return 0.5 * (arms["lead_wrist"] + arms["trail_wrist"])


# --------------------------------------------------------------------------- session timeline


def _standing_values(body: BodyDimensions, centre: np.ndarray) -> dict[str, float]:
    """Every track of a golfer standing upright, feet hip-width apart, club hanging in the lead hand."""
    s = body.scale
    return {
        "body_yaw": 0.0,
        "pelvis_x": centre[0],
        "pelvis_z": centre[1],
        "pelvis_turn": 0.0,
        "shoulder_turn": 0.0,
        "spine_tilt": _STAND_TILT,
        "side_bend": 0.0,
        "lead_knee": _STAND_KNEE,
        "trail_knee": _STAND_KNEE,
        "trail_knee_kick": 0.0,
        "arm_azimuth": -95.0,
        "arm_polar": 75.0,
        "lead_elbow": 150.0,
        "hinge": 20.0,
        "club_x": 0.0,
        "club_y": 1.0,
        "club_z": 0.4,
        "grip": 0.0,
        "lead_arm_swing": 0.0,
        "trail_arm_swing": 0.0,
        "head_yaw": 0.0,
        "head_pitch": _HEAD_PITCH_STAND,
        "head_hold": 0.0,
        "head_x": 0.0,
        "head_y": 0.0,
        "head_z": 0.0,
        "lead_foot_x": centre[0] + 0.1 * s,
        "lead_foot_z": centre[1],
        "lead_foot_yaw": 5.0,
        "lead_lift": 0.0,
        "lead_heel_up": 0.0,
        "trail_foot_x": centre[0] - 0.1 * s,
        "trail_foot_z": centre[1],
        "trail_foot_yaw": -5.0,
        "trail_lift": 0.0,
        "trail_heel_up": 0.0,
    }


def _at(tl: _Timeline, t: float) -> dict[str, np.ndarray]:
    return tl.sample(np.array([t]))


def _wrap_near(angle: float, reference: float) -> float:
    """``angle`` plus whole turns, as close as possible to ``reference`` (degrees)."""
    return angle + 360.0 * round((reference - angle) / 360.0)


def _walk(tl: _Timeline, body: BodyDimensions, feet_to: dict[str, tuple[float, float, float]],
          step_s: float = 0.45) -> None:
    """Step from the current feet to ``feet_to`` (side -> x, z, yaw), turning toward the way walked."""
    s = body.scale
    start = {side: np.array([tl.last(f"{side}_foot_x"), tl.last(f"{side}_foot_z")]) for side in _SIDES}
    end = {side: np.array(feet_to[side][:2]) for side in _SIDES}
    centre_from = 0.5 * (start["lead"] + start["trail"])
    delta = 0.5 * (end["lead"] + end["trail"]) - centre_from
    distance = float(np.hypot(*delta))
    heading = math.degrees(math.atan2(delta[0], delta[1])) if distance > 0.05 else 0.0
    left = np.array([math.cos(math.radians(heading)), -math.sin(math.radians(heading))])

    steps: list[tuple[str, float, float, float]] = []
    n_between = max(1, round(distance / 0.3))
    side = "trail"
    for j in range(1, n_between + 1):
        centre = centre_from + delta * j / (n_between + 1)
        offset = 0.1 * s * (left if side == "lead" else -left)
        steps.append((side, *(centre + offset), heading + (5.0 if side == "lead" else -5.0)))
        side = "lead" if side == "trail" else "trail"
    for _ in range(2):
        steps.append((side, *feet_to[side]))
        side = "lead" if side == "trail" else "trail"

    t = tl.now
    feet = {side: [*start[side], tl.last(f"{side}_foot_yaw")] for side in _SIDES}
    for k, (side, x, z, yaw) in enumerate(steps):
        t_mid, t_end = t + 0.5 * step_s, t + step_s
        other = "lead" if side == "trail" else "trail"
        tl.key(t, **{f"{side}_foot_x": feet[side][0], f"{side}_foot_z": feet[side][1],
                     f"{side}_foot_yaw": feet[side][2], f"{side}_lift": 0.0})
        # The arm opposite the stepping foot swings forward.
        swing = 14.0 if k < len(steps) - 1 else 5.0
        tl.key(t_mid, **{f"{side}_lift": 0.07 * s, f"{other}_arm_swing": swing, f"{side}_arm_swing": -swing})
        feet[side] = [x, z, yaw]
        tl.key(t_end, **{f"{side}_foot_x": x, f"{side}_foot_z": z, f"{side}_foot_yaw": yaw, f"{side}_lift": 0.0})
        centre = 0.5 * (np.array(feet["lead"][:2]) + np.array(feet["trail"][:2]))
        tl.key(t_end, pelvis_x=centre[0], pelvis_z=centre[1])
        if k == 0:
            tl.key(t_end, body_yaw=heading, grip=0.0, pelvis_turn=0.0, shoulder_turn=0.0, spine_tilt=_STAND_TILT,
                   side_bend=0.0, head_yaw=0.0, head_pitch=_HEAD_PITCH_STAND, lead_knee=_STAND_KNEE,
                   trail_knee=_STAND_KNEE)
        if k == len(steps) - 2:
            tl.key(t, body_yaw=heading)
        t = t_end
    tl.key(t, body_yaw=0.0, lead_arm_swing=0.0, trail_arm_swing=0.0)
    tl.hold_all(t + 0.15)


def _address_feet(posture: _Posture, body: BodyDimensions, spot: np.ndarray) -> dict[str, tuple[float, float, float]]:
    half = 0.5 * posture.stance * body.scale
    return {"lead": (spot[0] + half, spot[1], _LEAD_FOOT_YAW), "trail": (spot[0] - half, spot[1], _TRAIL_FOOT_YAW)}


def _settle(tl: _Timeline, body: BodyDimensions, posture: _Posture, spot: np.ndarray) -> None:
    """From standing over the ball to the address posture, hands joining on the grip."""
    s = body.scale
    t0, t1 = tl.now, tl.now + 1.2
    tl.key(t0 + 0.7, grip=1.0, head_pitch=_HEAD_PITCH_ADDRESS)
    tl.key(
        t1,
        spine_tilt=posture.spine_tilt,
        side_bend=posture.side_bend,
        lead_knee=_ADDRESS_KNEE,
        trail_knee=_ADDRESS_KNEE,
        pelvis_x=spot[0],
        pelvis_z=spot[1] - _ADDRESS_HIPS_BACK * s,
        pelvis_turn=0.0,
        shoulder_turn=_ADDRESS_OPEN,
        head_yaw=0.0,
        lead_elbow=176.0,
        hinge=15.0,
        club_x=0.0,
        club_y=-0.7,
        club_z=0.7,
        lead_arm_swing=0.0,
        trail_arm_swing=0.0,
    )
    azimuth, polar = _address_arm(_at(tl, t1), body, posture)
    tl.key(t1, arm_azimuth=_wrap_near(azimuth, tl.last("arm_azimuth")), arm_polar=polar)
    tl.hold_all(t1)


def _address_arm(d: dict[str, np.ndarray], body: BodyDimensions, posture: _Posture) -> tuple[float, float]:
    """Lead-arm angles at address: hanging toward the ball, the hands as far ahead of the
    sternum as the posture asks while the trail arm still reaches the grip with a soft elbow."""
    offsets = np.linspace(-0.15, posture.hands_ahead, 40) * body.scale
    many = {name: np.repeat(value, len(offsets)) for name, value in d.items()}
    trunk = _trunk(many, body)
    shoulder_mid_x = 0.5 * (trunk.lead_shoulder[:, 0] + trunk.trail_shoulder[:, 0])
    reach = _reach(body.upper_arm, body.forearm, many["lead_elbow"])
    across = np.clip((shoulder_mid_x + offsets - trunk.lead_shoulder[:, 0]) / reach, -0.6, 0.6)
    toward_ball = math.sin(math.radians(posture.arm_hang))
    direction = np.stack([across, -np.sqrt(1 - across**2 - toward_ball**2), np.full_like(across, toward_ball)], -1)
    many["arm_azimuth"], many["arm_polar"] = _arm_angles(trunk, direction)
    arms = _arms(many, trunk, body)
    upper, lower = trunk.trail_shoulder - arms["trail_elbow"], arms["trail_wrist"] - arms["trail_elbow"]
    trail_elbow = np.degrees(np.arccos(np.clip(_dot(_unit(upper), _unit(lower)), -1.0, 1.0)))
    best = int(np.flatnonzero(trail_elbow <= _ADDRESS_TRAIL_ELBOW_MAX).max(initial=0))
    return float(many["arm_azimuth"][best]), float(many["arm_polar"][best])


def _natural_head_centre(tl: _Timeline, t: float, body: BodyDimensions) -> np.ndarray:
    d = _at(tl, t)
    d["head_hold"] = np.zeros(1)
    return _head_centre(d, _trunk(d, body), body)[0]


def _address(tl: _Timeline, body: BodyDimensions, spec: SwingSpec, rng: np.random.Generator) -> None:
    """Hold the address, with an optional small waggle; the head is held on its address spot."""
    t0 = tl.now
    # The body is still, so the head is already on its anchor when the neck starts holding it there.
    anchor = _natural_head_centre(tl, t0, body)
    tl.key(t0, head_x=anchor[0], head_y=anchor[1], head_z=anchor[2], head_hold=0.0)
    tl.key(t0 + 0.5 * spec.address_s, head_hold=1.0)
    if spec.address_s >= 1.0 and rng.random() < 0.7:
        # A waggle: the club head swings a little, the hands move about 2 cm.
        azimuth, hinge = tl.last("arm_azimuth"), tl.last("hinge")
        tl.key(t0 + 0.3, arm_azimuth=azimuth, hinge=hinge)
        tl.key(t0 + 0.5, arm_azimuth=azimuth - 1.6, hinge=hinge + 10.0)
        tl.key(t0 + 0.7, arm_azimuth=azimuth + 1.0, hinge=hinge - 4.0)
        tl.key(t0 + 0.85, arm_azimuth=azimuth, hinge=hinge)
    tl.hold_all(t0 + spec.address_s)


@dataclass(frozen=True)
class _SwingPlan:
    start: float  # takeaway: the hands start to move
    backswing: float
    downswing: float
    follow: float  # impact -> finish
    hold: float
    shoulder_turn: float  # at the top, before any fault
    faults: dict[str, float]  # fault id -> strength

    @property
    def pelvis_lead(self) -> float:
        """How long before the shoulders the pelvis starts down."""
        return float(np.clip(0.16 * self.downswing, 0.03, 0.06))

    @property
    def top(self) -> float:
        return self.start + self.backswing

    @property
    def impact(self) -> float:
        return self.top + self.downswing

    @property
    def finish(self) -> float:
        return self.impact + self.follow

    def mix(self, fault: str, clean: float, faulty: float) -> float:
        """``clean``, moved toward ``faulty`` by the fault's strength (0 if not injected)."""
        return clean + self.faults.get(fault, 0.0) * (faulty - clean)


# Lead-wrist aims of the clean swing for a 1.78 m golfer, relative to the stance centre.
_ARM_AIMS = {
    "p2": (-0.28, 0.88, 0.30),
    "p3": (-0.50, 1.28, 0.12),
    "p8": (0.42, 0.98, 0.30),
    "p9": (0.40, 1.40, 0.05),
    "finish": (0.10, 1.55, -0.08),
}


def _arm_times(plan: _SwingPlan) -> dict[str, float]:
    t0, T, D = plan.start, plan.backswing, plan.downswing
    return {
        "p2": t0 + 0.32 * T,
        "p3": t0 + 0.65 * T,
        "top": plan.top + 0.015,  # the arms finish their backswing just after the shoulders
        "p6": plan.top + 0.6 * D,
        "impact": plan.impact,
        "p8": plan.impact + 0.1,
        "p9": plan.impact + 0.25,
        "finish": plan.finish,
    }


def _swing_body(tl: _Timeline, plan: _SwingPlan, posture: _Posture, body: BodyDimensions, spot: np.ndarray,
                head_anchor: np.ndarray) -> None:
    """Knots of everything but the arms: pelvis, spine, shoulders, legs, feet, head."""
    s = body.scale
    t0, T, D = plan.start, plan.backswing, plan.downswing
    tT, tI, tF = plan.top, plan.impact, plan.finish
    half_stance = 0.5 * posture.stance * s
    hips_back = spot[1] - _ADDRESS_HIPS_BACK * s
    mix = plan.mix

    # Kinematic sequence: the pelvis starts down first and peaks first, then the thorax, then the arms.
    P, pace = posture.pelvis_turn, D / 0.283
    S = mix("INSUFFICIENT_SHOULDER_TURN", plan.shoulder_turn, 54.0)
    tl.key(t0 + 0.3 * T, pelvis_turn=0.1 * P)
    tl.key(t0 + 0.7 * T, pelvis_turn=0.6 * P)
    tl.key(tT - plan.pelvis_lead, pelvis_turn=P + 2.0)
    tl.burst("pelvis_turn", tI - 0.11 * pace, tI, -40.0, 0.55)
    tl.key(tI + 0.15, pelvis_turn=-66.0)
    tl.key(tF, pelvis_turn=-87.0)
    # Turns are measured from the (slightly open) address shoulder line.
    tl.key(t0 + 0.3 * T, shoulder_turn=_ADDRESS_OPEN + 0.25 * S)
    tl.key(t0 + 0.65 * T, shoulder_turn=_ADDRESS_OPEN + 0.72 * S)
    tl.key(tT, shoulder_turn=_ADDRESS_OPEN + S)
    # open at impact: real face-on impacts show the shoulders 0.66 of the torso wide (0.73 at address)
    tl.burst("shoulder_turn", tI - 0.075 * pace, tI, _ADDRESS_OPEN - 25.0, 0.6)
    tl.key(tI + 0.15, shoulder_turn=_ADDRESS_OPEN - 72.0)
    tl.key(tF, shoulder_turn=_ADDRESS_OPEN - 120.0)

    tilt, bend = posture.spine_tilt, posture.side_bend
    stand_up = mix("LOSS_OF_POSTURE", 0.0, 19.0)
    tl.key(t0 + 0.5 * T, spine_tilt=tilt - 0.5 - 0.55 * stand_up)
    tl.key(tT, spine_tilt=tilt - 1.0 - stand_up)
    tl.key(tI, spine_tilt=tilt - 1.5 - stand_up - mix("EARLY_EXTENSION", 0.0, 3.5))
    tl.key(tI + 0.15, spine_tilt=tilt - 8.0)
    tl.key(tF, spine_tilt=12.0)
    # A sway keeps the head roughly still by leaning the upper body back toward the target.
    top_bend = bend + 1.0 + mix("SWAY", 0.0, -9.0) + mix("HEAD_MOVEMENT", 0.0, 14.0)
    top_bend = mix("REVERSE_SPINE", top_bend, -12.5)
    tl.key(tT, side_bend=top_bend)
    # The upper body stays behind a sliding pelvis and over one that hangs back, so the head holds still.
    tl.key(tI, side_bend=bend + 12.0 + mix("SLIDE", 0.0, 8.0) + mix("HANGING_BACK", 0.0, -7.0))
    tl.key(tI + 0.15, side_bend=bend + 12.0)
    tl.key(tF, side_bend=14.0)

    # Hip centre: a touch back in the backswing, toward the target by impact, over the lead foot at the finish.
    sway = mix("SWAY", -0.012, -0.175)
    impact_x = mix("SLIDE", 0.26 * half_stance, 0.25)
    impact_x = mix("HANGING_BACK", impact_x, -0.17 * half_stance)
    tl.key(tT - plan.pelvis_lead, pelvis_x=spot[0] + sway, pelvis_z=hips_back - 0.01)
    tl.key(tI, pelvis_x=spot[0] + impact_x, pelvis_z=hips_back + mix("EARLY_EXTENSION", 0.005, 0.12))
    after_x = mix("HANGING_BACK", 0.5 * (impact_x + 0.95 * half_stance), -0.1 * half_stance)
    tl.key(tI + 0.2, pelvis_x=spot[0] + after_x, pelvis_z=hips_back + mix("EARLY_EXTENSION", 0.015, 0.11))
    finish_x = mix("HANGING_BACK", 0.95 * half_stance, 0.3 * half_stance)
    tl.key(tF, pelvis_x=spot[0] + finish_x, pelvis_z=hips_back + 0.03)

    # Knees: the trail knee keeps its flex to the top, the lead knee straightens through impact.
    # The pelvis sits as high as the more stretched leg allows, so a fault that straightens
    # one knee must free the other: a sway stretches the lead leg, a straightening trail
    # knee lifts the pelvis off the lead one.
    lead_top = mix("SWAY", _ADDRESS_KNEE - 3.0, 175.0)
    tl.key(tT, lead_knee=mix("TRAIL_KNEE_STRAIGHTENING", lead_top, 179.5),
           trail_knee=mix("TRAIL_KNEE_STRAIGHTENING", _ADDRESS_KNEE, 178.5))
    # A slide stretches the trail leg toward the target; it straightens rather than drop the pelvis.
    tl.key(tI, lead_knee=168.0, trail_knee=mix("SLIDE", 150.0, 172.0))
    tl.key(tF, lead_knee=176.0, trail_knee=172.0)
    tl.key(tT, trail_knee_kick=0.0)
    tl.key(tI, trail_knee_kick=0.6)
    tl.key(tF, trail_knee_kick=1.2)

    # Trail foot: heel up from the downswing, pivoting on its toes to face the target at the finish.
    toe_reach = _FOOT_TOE[0] * s
    yaw0 = tl.last("trail_foot_yaw")
    toe = np.array([tl.last("trail_foot_x"), tl.last("trail_foot_z")]) + toe_reach * np.array(
        [math.sin(math.radians(yaw0)), math.cos(math.radians(yaw0))]
    )
    tl.key(tT + 0.3 * D, trail_heel_up=0.0)
    tl.key(tI, trail_heel_up=15.0, trail_foot_yaw=yaw0)
    tl.key(tI + 0.2, trail_heel_up=45.0)
    yaw_finish = yaw0 + 35.0
    floor = toe - toe_reach * np.array([math.sin(math.radians(yaw_finish)), math.cos(math.radians(yaw_finish))])
    tl.key(tI, trail_foot_x=tl.last("trail_foot_x"), trail_foot_z=tl.last("trail_foot_z"))
    tl.key(tF, trail_heel_up=72.0, trail_foot_yaw=yaw_finish, trail_foot_x=floor[0], trail_foot_z=floor[1])

    # Head: eyes on the ball until just after impact, then up and round toward the target.
    head_shift = mix("HEAD_MOVEMENT", 0.0, -0.175)  # away from the target
    tl.key(tT, head_yaw=12.0, head_x=head_anchor[0] + head_shift)
    tl.key(tI, head_yaw=4.0, head_x=head_anchor[0] + head_shift)
    tl.key(tI + 0.05, head_pitch=_HEAD_PITCH_ADDRESS, head_hold=1.0)
    tl.key(tI + 0.15, head_yaw=-20.0)
    tl.key(tI + 0.35, head_pitch=25.0, head_hold=0.0)
    tl.key(tF, head_yaw=-75.0, head_pitch=8.0)


def _swing_arms(tl: _Timeline, plan: _SwingPlan, posture: _Posture, body: BodyDimensions, spot: np.ndarray,
                clean_angles: dict[str, tuple[float, float]], address_wrist: np.ndarray) -> None:
    """Knots of the lead arm, elbow, wrist hinge and club direction."""
    times = _arm_times(plan)
    mix = plan.mix
    for name in ("p2", "p3", "top"):
        azimuth, polar = clean_angles[name]
        tl.key(times[name], arm_azimuth=_wrap_near(azimuth, tl.last("arm_azimuth")), arm_polar=polar)
    # At impact the hands come back to the ball, whatever the body did; they are fastest just before.
    trunk = _trunk(_at(tl, times["impact"]), body)
    impact_aim = address_wrist + np.array([posture.shaft_lean * body.scale, 0.0, 0.0])
    azimuth, polar = _arm_angles(trunk, _unit(impact_aim[None] - trunk.lead_shoulder))
    t_peak = plan.impact - 0.012 * plan.downswing / 0.283
    tl.burst("arm_azimuth", t_peak, times["impact"], _wrap_near(float(azimuth[0]), tl.last("arm_azimuth")), 0.95)
    tl.burst("arm_polar", t_peak, times["impact"], float(polar[0]), 0.95)
    for name in ("p8", "p9", "finish"):
        azimuth, polar = clean_angles[name]
        tl.key(times[name], arm_azimuth=_wrap_near(azimuth, tl.last("arm_azimuth")), arm_polar=polar)

    chicken = mix("CHICKEN_WING", 0.0, 1.0)
    for t, elbow in ((times["p2"], 176.0), (times["top"], mix("BENT_LEAD_ARM", 172.0, 127.0)),
                     (times["p6"], 174.0 - 10.0 * chicken), (times["impact"], mix("CHICKEN_WING", 178.0, 120.0)),
                     (times["p8"], mix("CHICKEN_WING", 177.0, 120.0)), (times["p9"], mix("CHICKEN_WING", 150.0, 112.0)),
                     (times["finish"], 100.0)):
        tl.key(t, lead_elbow=elbow)

    # The hinge sets through the backswing, holds to hip height and releases into impact.
    top, D = plan.top, plan.downswing
    for t, hinge in ((times["p2"], 32.0), (times["p3"], 72.0), (top + min(0.03, 0.2 * D), 92.0),
                     (top + 0.35 * D, mix("CASTING", 89.0, 60.0)), (top + 0.6 * D, mix("CASTING", 85.0, 28.0)),
                     (top + 0.78 * D, mix("CASTING", 80.0, 24.0)), (times["impact"], mix("CASTING", 15.0, 10.0)),
                     (times["p8"], 25.0), (times["p9"], 60.0), (times["finish"], 75.0)):
        tl.key(t, hinge=hinge)

    # Which way the club points from the hands (toward it the hinge bends the hand), body frame.
    for name, club in (("p2", (-1.0, 0.15, 0.1)), ("p3", (0.0, 1.0, 0.0)), ("top", (1.0, 0.1, 0.0)),
                       ("p6", (0.0, 1.0, 0.1)), ("impact", (0.1, -0.7, 0.7)), ("p8", (1.0, 0.2, 0.2)),
                       ("p9", (0.3, 1.0, 0.0)), ("finish", (-1.0, 0.2, -0.3))):
        tl.key(times[name], club_x=club[0], club_y=club[1], club_z=club[2])


def _clean_arm_angles(tl: _Timeline, plan: _SwingPlan, posture: _Posture, body: BodyDimensions, spot: np.ndarray,
                      head_anchor: np.ndarray) -> dict[str, tuple[float, float]]:
    """Thorax-relative lead-arm angles that put the clean swing's hands on their aims.

    Faults then reuse these angles, so a smaller turn or a bent arm changes where
    the hands go, as it would for a real golfer.
    """
    clean = replace(plan, faults={})
    scratch = tl.copy()
    _swing_body(scratch, clean, posture, body, spot, head_anchor)
    aims = dict(_ARM_AIMS, top=posture.top_hands)
    times = _arm_times(clean)
    angles = {}
    for name, aim in aims.items():
        trunk = _trunk(_at(scratch, times[name]), body)
        target = np.array([spot[0], 0.0, spot[1]]) + body.scale * np.asarray(aim)
        azimuth, polar = _arm_angles(trunk, _unit(target[None] - trunk.lead_shoulder))
        angles[name] = (float(azimuth[0]), float(polar[0]))
    return angles


@dataclass(frozen=True)
class _SwingTiming:
    plan: _SwingPlan
    tempo_ratio: float
    faults: frozenset[str]
    address_hands: np.ndarray


def _swing(tl: _Timeline, body: BodyDimensions, club: str, spot: np.ndarray, spec: SwingSpec,
           rng: np.random.Generator) -> _SwingTiming:
    posture = _POSTURES[club]
    strength = float(np.clip(spec.fault_strength, 0.0, 1.0))
    faults = {fault: strength for fault in spec.faults}
    tempo = spec.tempo_ratio
    downswing = spec.backswing_s / spec.tempo_ratio
    backswing = spec.backswing_s
    if "POOR_TEMPO" in faults:
        # A real golfer's downswing hardly changes; a poor tempo is a rushed or a dawdling backswing.
        tempo += strength * ((1.5 if rng.random() < 0.5 else 6.0) - tempo)
        backswing = max(downswing * tempo, MIN_BACKSWING_S)
        downswing = backswing / tempo
    turn = spec.shoulder_turn_deg if spec.shoulder_turn_deg is not None else DEFAULT_SHOULDER_TURN_DEG[club]
    plan = _SwingPlan(tl.now, backswing, downswing, 0.75, spec.finish_hold_s, turn, faults)

    d = _at(tl, plan.start)
    head_anchor = np.array([d["head_x"][0], d["head_y"][0], d["head_z"][0]])
    address_arms = _arms(d, _trunk(d, body), body)
    address_wrist = address_arms["lead_wrist"][0]
    address_hands = 0.5 * (address_arms["lead_wrist"][0] + address_arms["trail_wrist"][0])

    def build(into: _Timeline, plan: _SwingPlan) -> None:
        clean_angles = _clean_arm_angles(into, plan, posture, body, spot, head_anchor)
        _swing_body(into, plan, posture, body, spot, head_anchor)
        _swing_arms(into, plan, posture, body, spot, clean_angles, address_wrist)
        into.hold_all(plan.finish)
        into.hold_all(plan.finish + plan.hold)

    # The top and impact events are where the hands are highest and back at the ball, which the
    # knots only approximate; rescale the phases until the measured times match the asked ones.
    for _ in range(2):
        trial = tl.copy()
        build(trial, plan)
        t_top, t_impact = _event_times(trial, plan, body, address_hands)
        plan = replace(
            plan,
            backswing=plan.backswing * backswing / (t_top - plan.start),
            downswing=plan.downswing * downswing / (t_impact - t_top),
        )
    build(tl, plan)
    return _SwingTiming(plan, tempo, frozenset(spec.faults), address_hands)


def _event_times(tl: _Timeline, plan: _SwingPlan, body: BodyDimensions,
                 address_hands: np.ndarray) -> tuple[float, float]:
    """Times the hands are highest in the backswing and back nearest their address spot, 1 ms apart."""
    t = np.arange(plan.start, plan.impact + 0.5 * plan.downswing, 0.001)
    hands = _hands(tl.sample(t), body)
    t_top = t[np.argmax(np.where(t <= plan.impact, hands[:, 1], -np.inf))]
    gap = np.linalg.norm(hands - address_hands, axis=1)
    t_impact = t[np.argmin(np.where(t > t_top + 0.3 * plan.downswing, gap, np.inf))]
    return float(t_top), float(t_impact)


def _lower(tl: _Timeline, body: BodyDimensions, posture: _Posture, spot: np.ndarray) -> None:
    """From the finish, unwind to upright with the club lowered to the waist, feet back in the stance."""
    t1 = tl.now + 1.1
    feet = _address_feet(posture, body, spot)
    tl.key(
        t1,
        pelvis_turn=-20.0,
        shoulder_turn=-25.0,
        spine_tilt=_STAND_TILT,
        side_bend=0.0,
        lead_knee=_STAND_KNEE,
        trail_knee=_STAND_KNEE,
        trail_knee_kick=0.0,
        pelvis_x=spot[0] + 0.03 * body.scale,
        pelvis_z=spot[1],
        trail_heel_up=0.0,
        trail_foot_x=feet["trail"][0],
        trail_foot_z=feet["trail"][1],
        trail_foot_yaw=feet["trail"][2],
        head_yaw=-10.0,
        head_pitch=_HEAD_PITCH_STAND,
        head_hold=0.0,
        arm_azimuth=_wrap_near(-100.0, tl.last("arm_azimuth")),
        arm_polar=50.0,
        lead_elbow=140.0,
        hinge=50.0,
        club_x=0.0,
        club_y=1.0,
        club_z=0.5,
    )
    tl.hold_all(t1)


def compose_session(specs: Sequence[SwingSpec], body: BodyDimensions, club: str, walk_between: bool,
                     rng: np.random.Generator) -> tuple[_Timeline, list[_SwingTiming]]:
    """Stand, walk in, then address / swing / finish / lower (and walk) for each swing; stand again."""
    posture = _POSTURES[club]
    spot = np.zeros(2)  # address stance centre (x, z) in the golfer frame
    tl = _Timeline(_standing_values(body, spot - np.array([0.0, 0.6])))
    tl.hold_all(0.5)
    _walk(tl, body, _address_feet(posture, body, spot))
    timings = []
    for i, spec in enumerate(specs):
        if i > 0:
            if walk_between:
                # Along the target line to the next ball, back toward where the session started.
                distance = float(rng.uniform(0.5, 1.0))
                direction = -math.copysign(1.0, spot[0]) if abs(spot[0]) > 1e-9 else rng.choice([-1.0, 1.0])
                spot = spot + np.array([direction * distance, 0.0])
                _walk(tl, body, _address_feet(posture, body, spot))
            else:
                tl.hold_all(tl.now + 0.4)
        _settle(tl, body, posture, spot)
        _address(tl, body, spec, rng)
        timings.append(_swing(tl, body, club, spot, spec, rng))
        _lower(tl, body, posture, spot)
    tl.hold_all(tl.now + 0.5)
    return tl, timings


def swing_truth(timing: _SwingTiming, tl: _Timeline, body: BodyDimensions, fps: float) -> SwingTruth:
    plan = timing.plan
    t_top, t_impact = _event_times(tl, plan, body, timing.address_hands)
    return SwingTruth(
        takeaway_frame=int(math.floor(plan.start * fps + 1e-9)) + 1,
        top_frame=int(round(t_top * fps)),
        impact_frame=int(round(t_impact * fps)),
        finish_frame=int(math.ceil(plan.finish * fps - 1e-9)),
        tempo_ratio=float(timing.tempo_ratio),
        faults=timing.faults,
    )


# --------------------------------------------------------------------------- output


def _mirror_order() -> list[int]:
    """For each landmark, the index of its left/right counterpart (itself on the midline)."""
    def other_side(name: str) -> str:
        return name.replace("left", "@").replace("right", "left").replace("@", "right")

    return [LANDMARK_INDEX[other_side(name)] for name in LANDMARK_NAMES]


_MIRROR_ORDER = _mirror_order()


def mirror_left_handed(points: np.ndarray) -> np.ndarray:
    """The left-handed golfer: the motion reflected across the golfer's sagittal plane, sides relabelled."""
    out = points[:, _MIRROR_ORDER].copy()
    out[..., 0] *= -1.0
    return out
