"""The camera that films the golfer: where it stands, and how it turns 3-D points into MediaPipe's conventions.

Cameras are placed in the golfer frame (y up, the golfer's target along ``target_sign`` * x, ball +z).
The view angle runs from 0 (face-on: on the ball side, looking at the golfer's chest) to 90 deg
(down-the-line: behind the golfer, opposite the target, looking along the target line).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..landmarks import LANDMARK_INDEX

__all__ = [
    "CAMERA_VIEWS",
    "CUSTOM_VIEW",
    "Camera",
    "hip_centred",
    "image_side",
    "phone_camera",
    "random_legacy_camera",
    "resolve_view_angle",
    "to_camera_axes",
    "to_image",
]

CAMERA_VIEWS: dict[str, float] = {"face_on": 0.0, "oblique": 45.0, "down_the_line": 90.0}
CUSTOM_VIEW = "custom"  # an exact angle, or the legacy random one
VIEW_SPREAD_DEG = 4.0  # nobody sets a tripod exactly square to the target line
_LEFT_HIP, _RIGHT_HIP = LANDMARK_INDEX["left_hip"], LANDMARK_INDEX["right_hip"]


@dataclass(frozen=True)
class Camera:
    position: np.ndarray  # golfer frame, metres
    axes: np.ndarray  # rows: image right, image down, viewing direction (right-handed)
    focal: float  # in image heights
    angle_deg: float  # 0 = face-on .. 90 = down-the-line


def resolve_view_angle(camera_view: str | float, rng: np.random.Generator) -> tuple[str, float]:
    """The view's name and its angle in degrees: a named view with a small spread, or an exact angle."""
    if isinstance(camera_view, str):
        if camera_view not in CAMERA_VIEWS:
            raise ValueError(f"camera_view {camera_view!r} is not one of {', '.join(CAMERA_VIEWS)} or an angle")
        return camera_view, CAMERA_VIEWS[camera_view] + float(rng.uniform(-VIEW_SPREAD_DEG, VIEW_SPREAD_DEG))
    angle = float(camera_view)
    if not -180.0 <= angle <= 180.0:
        raise ValueError("camera_view as an angle must be within -180..180 degrees")
    return CUSTOM_VIEW, angle


def _look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    forward = target - position
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right = right / np.linalg.norm(right)
    return np.stack([right, np.cross(forward, right), forward])


def random_legacy_camera(rng: np.random.Generator, body_height: float, target_sign: float) -> Camera:
    """A camera 3.3-3.7 m away, anywhere from face-on (view 0) to down-the-line (90 deg, behind the golfer)."""
    view = rng.uniform(0.0, 0.5 * math.pi)
    distance, height = rng.uniform(3.3, 3.7), rng.uniform(1.1, 1.3)
    position = np.array([-target_sign * distance * math.sin(view), height, distance * math.cos(view)])
    forward = _unit(np.array([0.0, 0.52 * body_height, 0.0]) - position)
    right = _unit(np.cross(forward, [0.0, 1.0, 0.0]))
    down = np.cross(forward, right)
    # The standing golfer fills ~70% of the image height.
    return Camera(position, np.stack([right, down, forward]), 0.7 * distance / body_height, math.degrees(view))


def phone_camera(rng: np.random.Generator, angle_deg: float, body_height: float, target_sign: float,
                 aspect: float) -> Camera:
    """A phone on a tripod or a friend's hands: 0.9-1.4 m up, the standing golfer 0.45-0.8 of the frame
    height (farther back when the swing would otherwise leave the frame sideways), a little roll, the
    golfer a little off centre."""
    height = rng.uniform(0.9, 1.4)
    fill = rng.triangular(0.45, 0.75, 0.8)  # filmed for analysis: mostly close, as the tighter real clips
    focal = 0.5 / math.tan(0.5 * math.radians(rng.uniform(55.0, 70.0)))  # a phone's main lens
    roll = math.radians(rng.uniform(-2.0, 2.0))
    off_right, off_down = rng.uniform(-0.04, 0.04), rng.uniform(-0.05, 0.05)  # image heights
    view = math.radians(angle_deg)
    # Filmed from behind, the phone stands on the line of the hands and ball, not of the feet.
    toward_ball = math.sin(view) * rng.uniform(0.2, 0.5) * body_height / 1.78
    # Half the swing's width across the image: hands at the top and finish, the arms reaching to the ball.
    half_width = body_height / 1.78 * (0.75 * abs(math.cos(view)) + 0.55 * abs(math.sin(view)))
    room = 0.46 * aspect - abs(off_right)  # image heights between the golfer's centre and the nearer edge
    distance = max(focal * body_height / fill, focal * half_width / room)
    position = np.array([-target_sign * distance * math.sin(view), height, toward_ball + distance * math.cos(view)])
    centre = np.array([0.0, 0.5 * body_height, toward_ball])
    axes = _look_at(position, centre)
    # Aim beside the golfer so they appear off centre: one image height spans distance / focal metres.
    metres = distance / focal
    axes = _look_at(position, centre - metres * (off_right * axes[0] + off_down * axes[1]))
    c, s = math.cos(roll), math.sin(roll)
    right, down = c * axes[0] + s * axes[1], -s * axes[0] + c * axes[1]
    return Camera(position, np.stack([right, down, axes[2]]), focal, float(angle_deg))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def to_camera_axes(points: np.ndarray, camera: Camera) -> np.ndarray:
    """Golfer-frame points in metres along the camera's axes (x right, y down, z away), camera at 0."""
    return (points - camera.position) @ camera.axes.T


def hip_centred(camera_points: np.ndarray) -> np.ndarray:
    """MediaPipe's world convention: camera axes, origin at the hip midpoint."""
    hip_mid = 0.5 * (camera_points[:, _LEFT_HIP] + camera_points[:, _RIGHT_HIP])[:, None]
    return camera_points - hip_mid


def to_image(camera_points: np.ndarray, camera: Camera, aspect: float) -> np.ndarray:
    """Normalised image x (widths), y (heights); z = depth from the hips in the unit of x (unstretched)."""
    p = camera_points
    hip_mid = 0.5 * (p[:, _LEFT_HIP] + p[:, _RIGHT_HIP])[:, None]
    depth = p[..., 2]
    hip_depth = hip_mid[..., 2]
    out = np.empty_like(p)
    out[..., 0] = 0.5 + camera.focal * p[..., 0] / (depth * aspect)
    out[..., 1] = 0.5 + camera.focal * p[..., 1] / depth
    out[..., 2] = (depth - hip_depth) * camera.focal / (aspect * hip_depth)
    return out


def image_side(camera: Camera, direction: np.ndarray) -> str:
    """The side of the image ("left" | "right") a horizontal golfer-frame direction points to.

    Straight along the viewing axis (down-the-line, exactly) it counts as "right"."""
    return "right" if float(camera.axes[0] @ direction) >= -1e-9 else "left"
