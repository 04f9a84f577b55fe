"""Which landmarks the golfer's own body hides from the camera, and what each hidden one is hidden behind.

The body is a set of capsules (head, trunk, arm and leg segments, hands, feet) around the
landmarks. A landmark is hidden by the capsules its line of sight to the camera passes through;
how deep the line passes inside sets how hidden it is (0 clear .. 1 fully). Two hands together
on the grip also hide each other: MediaPipe sees one blob, and in real clips loses the trail
wrist far more than the lead one (face-on address: 0.20 against 0.68).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..landmarks import LANDMARK_INDEX, LANDMARK_NAMES, NUM_LANDMARKS

__all__ = ["Hiding", "hidden_by_body"]

_HAND = ("wrist", "pinky", "index", "thumb")
_FACE = tuple(name for name in LANDMARK_NAMES[:11])


@dataclass(frozen=True)
class _Capsule:
    start: tuple[str, ...]  # landmarks averaged for one end of the axis
    end: tuple[str, ...]
    radius: float  # metres, for a 1.78 m golfer
    owners: tuple[str, ...]  # landmarks inside it, which it cannot hide


def _capsules() -> tuple[_Capsule, ...]:
    shoulders, hips = ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")
    ears = ("left_ear", "right_ear")
    out = [_Capsule(ears, ears, 0.10, _FACE), _Capsule(shoulders, hips, 0.12, shoulders + hips)]
    for s in ("left", "right"):
        hand = tuple(f"{s}_{p}" for p in _HAND)
        out += [
            _Capsule((f"{s}_shoulder",), (f"{s}_hip",), 0.07, shoulders + hips),
            _Capsule((f"{s}_shoulder",), (f"{s}_elbow",), 0.05, (f"{s}_shoulder", f"{s}_elbow")),
            _Capsule((f"{s}_elbow",), (f"{s}_wrist",), 0.04, (f"{s}_elbow", *hand)),
            _Capsule((f"{s}_wrist",), (f"{s}_index",), 0.045, hand),
            _Capsule((f"{s}_hip",), (f"{s}_knee",), 0.075, (f"{s}_hip", f"{s}_knee")),
            _Capsule((f"{s}_knee",), (f"{s}_ankle",), 0.055, (f"{s}_knee", f"{s}_ankle", f"{s}_heel")),
            _Capsule((f"{s}_heel",), (f"{s}_foot_index",), 0.04, (f"{s}_ankle", f"{s}_heel", f"{s}_foot_index")),
        ]
    return tuple(out)


_CAPSULES = _capsules()
# (capsules, landmarks): True where the capsule is part of the landmark and cannot hide it.
_OWNED = np.array([[name in c.owners for name in LANDMARK_NAMES] for c in _CAPSULES])
_SIGHT_MARGIN_M = 0.04  # a joint centre lies inside its own flesh: stop the line of sight short of it


@dataclass(frozen=True)
class Hiding:
    degree: np.ndarray  # (N, 33) 0 clear .. 1 fully hidden
    anchor: np.ndarray  # (N, 33, 3) what hides it (a point on the capsule's axis, or the other hand)


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


def hidden_by_body(camera_points: np.ndarray, scale: float, handedness: str, grip_hides_trail: float,
                   grip_hides_lead: float, grip_gap_m: float) -> Hiding:
    """How hidden each landmark is from a camera at the origin (points along the camera's axes, metres)."""
    n = len(camera_points)
    distance = np.linalg.norm(camera_points, axis=-1, keepdims=True)
    sight_end = camera_points * (1.0 - _SIGHT_MARGIN_M * scale / distance)
    degree = np.zeros((n, NUM_LANDMARKS))
    anchor = camera_points.copy()
    for capsule, owned in zip(_CAPSULES, _OWNED):
        q0 = _axis_end(camera_points, capsule.start)[:, None]
        q1 = _axis_end(camera_points, capsule.end)[:, None]
        gap, on_axis = _closest_on_segments(sight_end, q0, q1)
        radius = capsule.radius * scale
        # Fully hidden once the line of sight passes within half a radius of the axis.
        depth = np.clip((radius - gap) / (0.5 * radius), 0.0, 1.0)
        depth[:, owned] = 0.0
        deeper = depth > degree
        degree = np.where(deeper, depth, degree)
        anchor = np.where(deeper[..., None], on_axis, anchor)

    lead, trail = ("left", "right") if handedness == "right" else ("right", "left")
    lead_wrist, trail_wrist = LANDMARK_INDEX[f"{lead}_wrist"], LANDMARK_INDEX[f"{trail}_wrist"]
    apart = np.linalg.norm(camera_points[:, lead_wrist] - camera_points[:, trail_wrist], axis=-1)
    # Both hands on the grip (the wrists a grip's gap apart) fade to apart by two gaps.
    on_grip = np.clip((2.0 * grip_gap_m - apart) / grip_gap_m, 0.0, 1.0)
    for wrist, other, share in ((trail_wrist, lead_wrist, grip_hides_trail), (lead_wrist, trail_wrist, grip_hides_lead)):
        grip = share * on_grip
        deeper = grip > degree[:, wrist]
        degree[:, wrist] = np.where(deeper, grip, degree[:, wrist])
        anchor[:, wrist] = np.where(deeper[:, None], camera_points[:, other], anchor[:, wrist])
    return Hiding(degree, anchor)
