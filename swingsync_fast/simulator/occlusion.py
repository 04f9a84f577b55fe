"""Which landmarks the golfer's own body hides from the camera, and what each hidden one is hidden behind.

The body is a set of capsules (head, trunk, arm and leg segments, hands, feet) around the
landmarks. A landmark is hidden by the capsules its line of sight to the camera passes through;
how deep the line passes inside sets how hidden it is (0 clear .. 1 fully). Two hands together
on the grip also hide each other: MediaPipe sees one blob, and in real clips loses the trail
wrist far more than the lead one, and the trail elbow too (face-on address: trail wrist 0.20,
lead wrist 0.68, trail elbow 0.33) -- but only while the hands rest low and still at address;
in motion and at the finish the real clips see both wrists (0.8-0.9).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..landmarks import LANDMARK_INDEX, LANDMARK_NAMES

__all__ = ["PairHiding", "Hiding", "hidden_by_body"]

_HAND = ("wrist", "pinky", "index", "thumb")
_FACE = tuple(name for name in LANDMARK_NAMES[:11])


@dataclass(frozen=True)
class _Capsule:
    start: tuple[str, ...]  # landmarks averaged for one end of the axis
    end: tuple[str, ...]
    radius: float  # metres, for a 1.78 m golfer
    owners: tuple[str, ...]  # landmarks inside it, which it cannot hide
    opacity: float = 1.0  # a thin limb hides less: MediaPipe still infers what is just behind it


def _capsules() -> tuple[_Capsule, ...]:
    shoulders, hips = ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")
    ears = ("left_ear", "right_ear")
    out = [_Capsule(ears, ears, 0.10, _FACE), _Capsule(shoulders, hips, 0.14, shoulders + hips)]
    for s in ("left", "right"):
        hand = tuple(f"{s}_{p}" for p in _HAND)
        hands = tuple(f"{side}_{p}" for side in ("left", "right") for p in _HAND)  # together on the grip
        out += [
            _Capsule((f"{s}_shoulder",), (f"{s}_hip",), 0.08, (f"{s}_shoulder", f"{s}_hip")),
            _Capsule((f"{s}_shoulder",), (f"{s}_elbow",), 0.05, (f"{s}_shoulder", f"{s}_elbow"), 0.5),
            _Capsule((f"{s}_elbow",), (f"{s}_wrist",), 0.04, (f"{s}_elbow", *hands), 0.5),
            _Capsule((f"{s}_wrist",), (f"{s}_index",), 0.045, hands, 0.4),
            _Capsule((f"{s}_hip",), (f"{s}_knee",), 0.075, (f"{s}_hip", f"{s}_knee"), 0.8),
            _Capsule((f"{s}_knee",), (f"{s}_ankle",), 0.055, (f"{s}_knee", f"{s}_ankle", f"{s}_heel"), 0.6),
            _Capsule((f"{s}_heel",), (f"{s}_foot_index",), 0.04, (f"{s}_ankle", f"{s}_heel", f"{s}_foot_index"), 0.4),
        ]
    return tuple(out)


_CAPSULES = _capsules()
# (capsules, landmarks): True where the capsule is part of the landmark and cannot hide it.
_OWNED = np.array([[name in c.owners for name in LANDMARK_NAMES] for c in _CAPSULES])
_SIGHT_MARGIN_M = 0.04  # a joint centre lies inside its own flesh: stop the line of sight short of it


@dataclass(frozen=True)
class Hiding:
    degree: np.ndarray  # (N, 33) 0 clear .. 1 fully hidden
    anchor: np.ndarray  # (N, 33, 3) what MediaPipe's guess is drawn toward: what hides it, or its partner
    pull: np.ndarray  # (N, 33) how strongly (0..1); the degree unless a rule says otherwise


def _axis_end(points: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    return np.mean([points[:, LANDMARK_INDEX[n]] for n in names], axis=0)


def _closest_on_segments(p1: np.ndarray, q0: np.ndarray, q1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance between segments 0..p1 and q0..q1, and the closest point on q0..q1 (broadcast)."""
    d1, d2, r = p1, q1 - q0, -q0
    a = np.sum(d1 * d1, -1)
    e = np.sum(d2 * d2, -1)
    b = np.sum(d1 * d2, -1)
    c = np.sum(d1 * r, -1)
    f = np.sum(d2 * r, -1)
    denom = a * e - b * b
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(denom > 1e-12, np.clip((b * f - c * e) / denom, 0.0, 1.0), 0.0)
        t = np.where(e > 1e-12, (b * s + f) / e, 0.0)
        below, above = t < 0.0, t > 1.0
        s = np.where(below, np.clip(-c / a, 0.0, 1.0), np.where(above, np.clip((b - c) / a, 0.0, 1.0), s))
    t = np.clip(t, 0.0, 1.0)
    on_sight = s[..., None] * d1
    on_axis = q0 + t[..., None] * d2
    return np.linalg.norm(on_sight - on_axis, axis=-1), on_axis


@dataclass(frozen=True)
class PairHiding:
    """What MediaPipe loses where the two sides crowd each other rather than being covered by flesh."""

    # Hands still on the grip low at address: one blob of hands, club and thighs.
    address_trail_wrist: float
    address_lead_wrist: float
    address_trail_elbow: float
    # The limbs of the side whose foot is farther from the camera (down the line: the lead side):
    far_limbs: float  # how hidden, at a full stance's depth between the feet
    far_trunk: float  # how hidden the far shoulder and hip are...
    far_shoulder_pull: float  # ...and how strongly MediaPipe draws them toward the near ones,
    far_hip_pull: float  # flattening the turn it sees (real down-the-line top: shoulders 0.43 of the torso)
    far_side_depth_m: float  # depth between the toes for the full effect


def _hands(camera_points: np.ndarray, lead: str, trail: str) -> tuple[np.ndarray, np.ndarray]:
    return camera_points[:, LANDMARK_INDEX[f"{lead}_wrist"]], camera_points[:, LANDMARK_INDEX[f"{trail}_wrist"]]


def _on_grip(camera_points: np.ndarray, lead: str, trail: str, grip_gap_m: float) -> np.ndarray:
    """1 while the wrists are a grip's gap apart (both hands on the club), 0 from two gaps apart."""
    lw, tw = _hands(camera_points, lead, trail)
    return np.clip((2.0 * grip_gap_m - np.linalg.norm(lw - tw, axis=-1)) / grip_gap_m, 0.0, 1.0)


def _still_and_low(camera_points: np.ndarray, lead: str, trail: str, fps: float) -> np.ndarray:
    """1 while the hands rest (slower than 0.25 m/s) below the hips, as at address; 0 once they move or rise."""
    lw, tw = _hands(camera_points, lead, trail)
    hands = 0.5 * (lw + tw)
    speed = np.linalg.norm(np.gradient(hands, axis=0), axis=-1) * fps if len(hands) > 1 else np.zeros(len(hands))
    still = np.clip(1.5 - speed / 0.5, 0.0, 1.0)
    hips = 0.5 * (camera_points[:, LANDMARK_INDEX["left_hip"]] + camera_points[:, LANDMARK_INDEX["right_hip"]])
    low = np.clip((hands[:, 1] - hips[:, 1]) / 0.1, 0.0, 1.0)  # camera y points down
    return still * low


class _HidingBuilder:
    """Degree, anchor and pull of every landmark, raised rule by rule: the strongest rule wins."""

    def __init__(self, camera_points: np.ndarray) -> None:
        self.points = camera_points
        self.degree = np.zeros(camera_points.shape[:2])
        self.anchor = camera_points.copy()
        self.pull = np.zeros(camera_points.shape[:2])

    def raise_all(self, degree: np.ndarray, anchor: np.ndarray) -> None:
        deeper = degree > self.degree
        self.degree = np.where(deeper, degree, self.degree)
        self.anchor = np.where(deeper[..., None], anchor, self.anchor)
        self.pull = np.where(deeper, degree, self.pull)

    def raise_one(self, name: str, degree: np.ndarray, toward: str | None, pull: np.ndarray | None = None) -> None:
        """Hide ``name`` by ``degree``, its guess drawn toward the landmark ``toward`` (None: left in place)."""
        i = LANDMARK_INDEX[name]
        deeper = degree > self.degree[:, i]
        self.degree[:, i] = np.where(deeper, degree, self.degree[:, i])
        target = self.points[:, LANDMARK_INDEX[toward] if toward else i]
        self.anchor[:, i] = np.where(deeper[:, None], target, self.anchor[:, i])
        self.pull[:, i] = np.where(deeper, degree if pull is None else pull, self.pull[:, i])

    def result(self) -> Hiding:
        return Hiding(self.degree, self.anchor, self.pull)


def _behind_capsules(hiding: _HidingBuilder, scale: float) -> None:
    """Landmarks whose line of sight passes through another part of the body."""
    points = hiding.points
    distance = np.linalg.norm(points, axis=-1, keepdims=True)
    sight_end = points * (1.0 - _SIGHT_MARGIN_M * scale / distance)
    for capsule, owned in zip(_CAPSULES, _OWNED):
        q0 = _axis_end(points, capsule.start)[:, None]
        q1 = _axis_end(points, capsule.end)[:, None]
        gap, on_axis = _closest_on_segments(sight_end, q0, q1)
        radius = capsule.radius * scale
        # Fully hidden once the line of sight passes within half a radius of the axis.
        depth = capsule.opacity * np.clip((radius - gap) / (0.5 * radius), 0.0, 1.0)
        depth[:, owned] = 0.0
        hiding.raise_all(depth, on_axis)


def _far_side(hiding: _HidingBuilder, scale: float, rules: PairHiding) -> None:
    """The side whose foot is behind the other (by the toes: the trail foot pivots on them after impact)."""
    toes = hiding.points[:, [LANDMARK_INDEX["left_foot_index"], LANDMARK_INDEX["right_foot_index"]], 2]
    left_behind = (toes[:, 0] - toes[:, 1]) / (rules.far_side_depth_m * scale)
    for far, near, sign in (("left", "right", 1.0), ("right", "left", -1.0)):
        f = np.clip(sign * left_behind, 0.0, 1.0)
        for part in ("elbow", *_HAND, "knee", "ankle", "heel", "foot_index"):
            hiding.raise_one(f"{far}_{part}", rules.far_limbs * f, f"{near}_{part}")
        hiding.raise_one(f"{far}_shoulder", rules.far_trunk * f, f"{near}_shoulder", rules.far_shoulder_pull * f)
        hiding.raise_one(f"{far}_hip", rules.far_trunk * f, f"{near}_hip", rules.far_hip_pull * f)


def _address_blob(hiding: _HidingBuilder, lead: str, trail: str, grip_gap_m: float, fps: float,
                  rules: PairHiding) -> None:
    points = hiding.points
    blob = _on_grip(points, lead, trail, grip_gap_m) * _still_and_low(points, lead, trail, fps)
    # unsure of both wrists, MediaPipe still keeps them apart (real: 0.38 torso face-on, 0.14 down the line)
    hiding.raise_one(f"{trail}_wrist", rules.address_trail_wrist * blob, None)
    hiding.raise_one(f"{lead}_wrist", rules.address_lead_wrist * blob, None)
    hiding.raise_one(f"{trail}_elbow", rules.address_trail_elbow * blob, f"{lead}_wrist")


def hidden_by_body(camera_points: np.ndarray, scale: float, handedness: str, pair_hides: PairHiding,
                   grip_gap_m: float, fps: float) -> Hiding:
    """How hidden each landmark is from a camera at the origin (points along the camera's axes, metres)."""
    lead, trail = ("left", "right") if handedness == "right" else ("right", "left")
    hiding = _HidingBuilder(camera_points)
    _behind_capsules(hiding, scale)
    _far_side(hiding, scale, pair_hides)
    _address_blob(hiding, lead, trail, grip_gap_m, fps, pair_hides)
    return hiding.result()
