"""``simulate``: a whole session of swings by one golfer, as a pose tracker on a camera would stream it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..catalog import CLUBS, COORDINATE_SYSTEMS, FAULT_IDS, HANDEDNESS
from .camera import (
    CUSTOM_VIEW,
    Camera,
    hip_centred,
    image_side,
    phone_camera,
    random_legacy_camera,
    resolve_view_angle,
    to_camera_axes,
    to_image,
)
from .golfer import (
    MIN_BACKSWING_S,
    SwingSpec,
    SwingTruth,
    body_dimensions,
    compose_session,
    mirror_left_handed,
    pose,
    swing_truth,
)
from .simple_errors import simple_errors
from .tracker import PoseErrors, track
from .world import random_world_placement

__all__ = ["AUTO", "SimulatedStream", "simulate"]


class _Auto:
    """The default of ``pose_errors``: MediaPipe-like errors for a named phone view, none otherwise."""

    def __repr__(self) -> str:
        return "AUTO"


AUTO = _Auto()


@dataclass
class SimulatedStream:
    keypoints: np.ndarray  # (N, 33, 4) float32 in `coordinate_system`, MediaPipe landmark order
    timestamps: np.ndarray  # (N,) float64 seconds, strictly increasing
    frame_indices: np.ndarray  # (N,) int64, gaps where frames were dropped
    swings: list[SwingTruth]
    fps: float
    club: str  # driver | wood | iron | wedge
    handedness: str  # right | left
    coordinate_system: str
    image_aspect: float  # width/height of the virtual image (1.0 unless mediapipe_image)
    body_height_m: float
    # The noise-free body in the golfer frame (y up; target +x right-handed, -x left-handed), kept frames.
    truth_points: np.ndarray | None = None  # (N, 33, 3) float32
    # MediaPipe's world landmarks from the same call as the image ones (mediapipe_image streams only).
    world_keypoints: np.ndarray | None = None  # (N, 33, 4) float32: metres, hip origin, camera axes
    camera_view: str | None = None  # face_on | oblique | down_the_line | custom; None for world_y_up
    camera_angle_deg: float | None = None  # 0 face-on .. 90 down-the-line
    target_image_side: str | None = None  # left | right: where the target lies across the image
    ball_image_side: str | None = None  # left | right: where the ball lies from the golfer across the image
    camera: Camera | None = None  # the camera in the golfer frame of truth_points; None for world_y_up


def _check(swings: Sequence[SwingSpec], club: str, handedness: str, coordinate_system: str, fps: float,
           body_height_m: float, image_aspect: float, drop_rate: float) -> None:
    if club not in CLUBS:
        raise ValueError(f"club {club!r} is not one of {', '.join(CLUBS)}")
    if handedness not in HANDEDNESS:
        raise ValueError(f"handedness {handedness!r} is not one of {', '.join(HANDEDNESS)}")
    if coordinate_system not in COORDINATE_SYSTEMS:
        raise ValueError(f"coordinate_system {coordinate_system!r} is not one of {', '.join(COORDINATE_SYSTEMS)}")
    if not (fps > 0 and 1.2 <= body_height_m <= 2.3 and 0.1 <= image_aspect <= 10 and 0 <= drop_rate < 1):
        raise ValueError("fps, body_height_m, image_aspect or drop_rate out of range")
    for spec in swings:
        unknown = set(spec.faults) - set(FAULT_IDS)
        if unknown:
            raise ValueError(f"unknown fault ids {sorted(unknown)}")
        downswing = spec.backswing_s / spec.tempo_ratio if spec.tempo_ratio > 0 else 0.0
        if not (spec.backswing_s >= MIN_BACKSWING_S - 1e-9 and downswing >= 0.1 - 1e-9):
            raise ValueError("a SwingSpec needs backswing_s >= 0.3 s and backswing_s / tempo_ratio >= 0.1 s")
        if not (spec.address_s >= 0.2 and spec.finish_hold_s >= 0):
            raise ValueError("a SwingSpec needs address_s >= 0.2 s and finish_hold_s >= 0")


def simulate(
    swings: Sequence[SwingSpec],
    *,
    club: str = "driver",
    handedness: str = "right",
    fps: float = 30.0,
    coordinate_system: str = "world_y_up",
    noise_m: float = 0.0,
    occlusion: float = 0.0,
    drop_rate: float = 0.0,
    timestamp_jitter_s: float = 0.0,
    body_height_m: float = 1.78,
    image_aspect: float = 9 / 16,
    walk_between: bool = True,
    camera_view: str | float | None = None,
    pose_errors: PoseErrors | _Auto | None = AUTO,
    seed: int = 0,
) -> SimulatedStream:
    """A session of ``swings`` by one golfer, as a pose tracker would stream it, with ground truth.

    ``camera_view`` (mediapipe_image / mediapipe_world): "face_on", "down_the_line" or "oblique"
    (each +-4 deg), an exact angle in degrees (0 face-on .. 90 down-the-line), or None for the
    original camera 3.5 m away at a random angle 0..90. A given view films with a phone:
    0.9-1.4 m high, the golfer 0.45-0.8 of the frame height, a little roll, a little off centre.

    ``pose_errors``: how MediaPipe gets the landmarks wrong. AUTO (the default) means
    ``PoseErrors()`` for a camera view given by name or angle and None otherwise; None keeps
    the plain model of ``noise_m`` (isotropic, metres) and ``occlusion`` (the share of frames
    that lose a limb at random), which PoseErrors replaces.
    """
    _check(swings, club, handedness, coordinate_system, fps, body_height_m, image_aspect, drop_rate)
    filmed = coordinate_system != "world_y_up"
    if pose_errors is AUTO:
        pose_errors = PoseErrors() if (filmed and camera_view is not None) else None

    # Separate streams so that e.g. more noise never changes the motion; the first seven are the
    # original ones, in their original order, so old seeds give old streams.
    motion, place, view, noise, occlude, drop, jitter, phone, tracking = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(9)
    )
    body = body_dimensions(body_height_m)
    timeline, timings = compose_session(swings, body, club, walk_between, motion)
    n = int(math.floor(timeline.now * fps)) + 1
    frames = np.arange(n)
    points = pose(timeline.sample(frames / fps), body)
    truths = [swing_truth(timing, timeline, body, fps) for timing in timings]

    target_sign = 1.0
    if handedness == "left":
        points, target_sign = mirror_left_handed(points), -1.0
    truth_points = points
    placement = random_world_placement(place)
    aspect = image_aspect if coordinate_system == "mediapipe_image" else 1.0
    if camera_view is None:
        view_name, camera = CUSTOM_VIEW, random_legacy_camera(view, body_height_m, target_sign)
    else:
        view_name, angle = resolve_view_angle(camera_view, phone)
        camera = phone_camera(phone, angle, body_height_m, target_sign, image_aspect)

    world_points = None
    if pose_errors is None:
        points, visibility = simple_errors(points, noise_m, occlusion, noise, occlude)
        if coordinate_system == "world_y_up":
            points = placement.apply(points)
        else:
            seen = to_camera_axes(points, camera)
            world_points = hip_centred(seen)
            points = world_points if coordinate_system == "mediapipe_world" else to_image(seen, camera, aspect)
    else:
        if not filmed:
            raise ValueError("pose_errors model a camera: use coordinate_system mediapipe_image or mediapipe_world")
        # The phone films in image_aspect whichever convention is streamed: the same frame hides the same points.
        tracked = track(to_camera_axes(points, camera), camera, image_aspect, handedness, body.scale,
                        body.grip_gap, fps, pose_errors, tracking)
        visibility, world_points = tracked.visibility, tracked.world
        points = world_points if coordinate_system == "mediapipe_world" else tracked.image

    keep = drop.random(n) >= drop_rate
    keep[0] = True
    timestamps = frames / fps
    if timestamp_jitter_s > 0:
        timestamps = timestamps + jitter.normal(0.0, timestamp_jitter_s, n)
    timestamps = timestamps[keep]
    # Strictly increasing whatever the jitter: no stamp earlier than its predecessor plus 1 us.
    ramp = np.arange(len(timestamps)) * 1e-6
    timestamps = np.maximum.accumulate(timestamps - ramp) + ramp

    keypoints = np.concatenate([points, visibility[..., None]], axis=-1)[keep].astype(np.float32)
    world_keypoints = None
    if coordinate_system == "mediapipe_image":
        world_keypoints = np.concatenate([world_points, visibility[..., None]], axis=-1)[keep].astype(np.float32)
    target = np.array([target_sign, 0.0, 0.0])
    return SimulatedStream(
        keypoints=keypoints,
        timestamps=timestamps.astype(np.float64),
        frame_indices=frames[keep].astype(np.int64),
        swings=truths,
        fps=float(fps),
        club=club,
        handedness=handedness,
        coordinate_system=coordinate_system,
        image_aspect=float(aspect),
        body_height_m=float(body_height_m),
        truth_points=truth_points[keep].astype(np.float32),
        world_keypoints=world_keypoints,
        camera_view=view_name if filmed else None,
        camera_angle_deg=float(camera.angle_deg) if filmed else None,
        target_image_side=image_side(camera, target) if filmed else None,
        ball_image_side=image_side(camera, np.array([0.0, 0.0, 1.0])) if filmed else None,
        camera=camera if filmed else None,
    )
