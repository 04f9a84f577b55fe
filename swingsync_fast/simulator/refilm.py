"""A real swing filmed again: MediaPipe's 3-D pose of a real clip, put in the golfer frame and filmed by the phone.

Our real clips are filmed from behind. MediaPipe's world landmarks of them are
a 3-D body that moves as the real golfer did, so the simulator's camera and
pose-error model can film that body from any view: real motion, seen face-on
or obliquely, for checking the analysis where we have no real footage.
World landmarks are centred on the hips in every frame, and filmed from behind
their depth -- the target line -- is what the model knows least: the feet
wander 20-30 cm along it against the hips. So the body is put back on its
feet vertically and toward the ball (the feet stay planted through a swing)
but not along the target line: there the hips are held where they addressed
and the feet pinned to their spot. The refilmed swing has no true slide or
sway, and its other motion is the real golfer's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..landmarks import LANDMARK_INDEX
from .camera import Camera, phone_camera, resolve_view_angle, to_camera_axes
from .golfer import body_dimensions, mirror_left_handed
from .tracker import PoseErrors, track

__all__ = ["Refilmed", "golfer_frame", "refilm"]

_I = LANDMARK_INDEX
_FEET = [_I[f"{s}_{p}"] for s in ("left", "right") for p in ("ankle", "heel")]
_LEAD_FOOT = [_I["left_ankle"], _I["left_heel"]]  # of the right-handed golfer of our clips
_SOLES = [_I[f"{s}_{p}"] for s in ("left", "right") for p in ("heel", "foot_index")]
_FOOT_POINTS = [_I[f"{s}_{p}"] for s in ("left", "right") for p in ("ankle", "heel", "foot_index")]
_ADDRESS_FRAMES = 8
_CROWN_ABOVE_NOSE_M = 0.12


@dataclass(frozen=True)
class Refilmed:
    keypoints: np.ndarray  # (N, 33, 4) MediaPipe image landmarks and visibility
    world_keypoints: np.ndarray  # (N, 33, 4) MediaPipe world landmarks, as the same pose call gives them
    frames: np.ndarray  # (N,) the source clip's frame of each row (frames without a person are left out)
    truth_points: np.ndarray  # (N, 33, 3) the body filmed, golfer frame, metres
    camera: Camera
    view: str


def golfer_frame(world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World landmarks (N, 33, >=3; y down, hip-centred) of a right-handed swing -> golfer-frame metres.

    Golfer frame as the simulator's: y up, the target along +x, the ball along +z, the feet's
    address spot under the origin. Returns (points (M, 33, 3), the source rows kept: those with a person).
    """
    rows = np.flatnonzero(np.isfinite(world[:, :, :3]).all(axis=(1, 2)))
    if len(rows) < _ADDRESS_FRAMES:
        raise ValueError("too few frames with a person in them")
    p = world[rows, :, :3].astype(np.float64)
    address = p[:_ADDRESS_FRAMES]
    up = np.array([0.0, -1.0, 0.0])
    lead_hip = address[:, _I["left_hip"]] - address[:, _I["right_hip"]]
    lead_shoulder = address[:, _I["left_shoulder"]] - address[:, _I["right_shoulder"]]
    target = np.median(np.concatenate([lead_hip, lead_shoulder]), axis=0)
    target = target - (target @ up) * up
    target /= np.linalg.norm(target)
    ball = np.cross(target, up)
    points = p @ np.stack([target, up, ball]).T
    # Toward the ball the feet stay on their address spot; up and down the lead foot does.
    feet = points[:, _FEET].mean(axis=1)
    shift = feet[:_ADDRESS_FRAMES].mean(axis=0) - feet
    shift[:, 0] = 0.0  # along the target line: the hips stay (see the module's note)
    shift[:, 1] = points[:_ADDRESS_FRAMES][:, _LEAD_FOOT, 1].mean() - points[:, _LEAD_FOOT, 1].mean(axis=1)
    points = points + shift[:, None, :]
    points[:, _FOOT_POINTS, 0] = points[:_ADDRESS_FRAMES, _FOOT_POINTS, 0].mean(axis=0)
    floor = points[:_ADDRESS_FRAMES, _SOLES, 1].min()
    spot = points[:_ADDRESS_FRAMES, _FEET].mean(axis=(0, 1))
    points = points - np.array([spot[0], floor, spot[2]])
    return points, rows


def refilm(world: np.ndarray, camera_view: str | float, fps: float, *, aspect: float = 9 / 16,
           handedness: str = "right", pose_errors: PoseErrors | None = None, seed: int = 0) -> Refilmed:
    """Film the right-handed swing in ``world`` (MediaPipe world landmarks) with a phone at ``camera_view``.

    ``handedness="left"`` mirrors the body first: the same swing by a left-handed golfer.
    """
    points, rows = golfer_frame(world)
    target_sign = 1.0
    if handedness == "left":
        points, target_sign = mirror_left_handed(points), -1.0
    height = float(np.median(points[:_ADDRESS_FRAMES, _I["nose"], 1])) + _CROWN_ABOVE_NOSE_M
    body = body_dimensions(height)
    place, tracking = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    view, angle = resolve_view_angle(camera_view, place)
    camera = phone_camera(place, angle, height, target_sign, aspect)
    tracked = track(to_camera_axes(points, camera), camera, aspect, handedness, body.scale, body.grip_gap,
                    fps, pose_errors or PoseErrors(), tracking)
    visibility = tracked.visibility[..., None]
    return Refilmed(
        keypoints=np.concatenate([tracked.image, visibility], axis=-1).astype(np.float32),
        world_keypoints=np.concatenate([tracked.world, visibility], axis=-1).astype(np.float32),
        frames=rows,
        truth_points=points.astype(np.float32),
        camera=camera,
        view=view,
    )
