"""The Cython kernel against its numpy reference, and both against first principles.

Hand-made poses whose KPIs follow from geometry check both implementations;
then many simulated swings (every coordinate convention, both hands, noise,
occlusion, dropped and garbage frames) check that the kernel and the
reference agree frame by frame.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from swingsync_fast.catalog import CAMERA_VIEWS, CLUBS, COORDINATE_SYSTEMS, FAULT_IDS, KPI_NAMES, PHASES, SKILL_LEVELS
from swingsync_fast.kernels import reference, stepper, tuning
from swingsync_fast.kernels.reference import Kpi, ReferenceKernel
from swingsync_fast.kernels.stepper import Kernel
from swingsync_fast.landmarks import LANDMARK_INDEX, NUM_LANDMARKS
from swingsync_fast.thresholds import Thresholds

WORLD_Y_UP, MEDIAPIPE_WORLD, MEDIAPIPE_IMAGE = (
    COORDINATE_SYSTEMS.index(name) for name in ("world_y_up", "mediapipe_world", "mediapipe_image"))
CONVENTIONS = tuple(range(len(COORDINATE_SYSTEMS)))
KERNELS = pytest.mark.parametrize("kernel_class", [Kernel, ReferenceKernel], ids=["cython", "numpy"])
PHASE = {name: code for code, name in enumerate(PHASES)}
FPS = 30.0
IMAGE_HEIGHT_M = 2.2  # how many metres the virtual camera's image height spans


# --- driving a kernel -----------------------------------------------------------------------


@dataclass
class Session:
    """A kernel (Cython or numpy) with its own ring buffers."""

    kernel: Kernel | ReferenceKernel
    ring: np.ndarray
    kpi_ring: np.ndarray


def open_session(kernel_class: type, convention: int, *, right_handed: bool = True,
                 aspect: float = 1.0, capacity: int = 64, min_visibility: float = 0.5,
                 thresholds: Thresholds | None = None, camera_view: int = 0) -> Session:
    thresholds = thresholds or Thresholds.for_player("iron", "intermediate")
    limits, spans = thresholds.arrays()
    ring = np.zeros((capacity, NUM_LANDMARKS, 4), np.float32)
    kpi_ring = np.full((capacity, len(KPI_NAMES)), np.nan, np.float32)
    kernel = kernel_class(ring, kpi_ring, convention, aspect, right_handed, min_visibility,
                          limits, spans, thresholds.tempo_low, thresholds.tempo_high,
                          camera_view=camera_view)
    return Session(kernel, ring, kpi_ring)


@dataclass
class Step:
    """What a kernel reports after one frame."""

    flags: int
    phase: int
    p_position: int
    event: tuple[int, int, float] | None
    swings: int
    has_address: bool
    kpis: np.ndarray
    ring_kpis: np.ndarray
    severities: np.ndarray
    record: dict | None
    frame: int | None = None  # the frame index stepped (None for close())


def step(session: Session, i: int, frame_index: int, t: float, keypoints: np.ndarray) -> Step:
    slot = i % len(session.ring)
    session.ring[slot] = keypoints
    flags = session.kernel.step(slot, frame_index, t)
    observed = observe(session, flags, slot)
    observed.frame = frame_index
    return observed


def observe(session: Session, flags: int, slot: int | None) -> Step:
    k = session.kernel
    severities = np.zeros(len(FAULT_IDS))
    k.severities(severities)
    return Step(
        flags=flags,
        phase=k.phase,
        p_position=k.p_position,
        event=k.event,
        swings=k.swings,
        has_address=k.has_address,
        kpis=k.kpis(),
        ring_kpis=session.kpi_ring[slot].copy() if slot is not None else np.full(len(KPI_NAMES), np.nan),
        severities=severities,
        record=k.swing_record() if flags & stepper.SWING_ENDED else None,
    )


def run(kernel_class: type, keypoints: np.ndarray, times: Sequence[float] | None = None,
        frames: Sequence[int] | None = None, *, convention: int = WORLD_Y_UP, **options) -> list[Step]:
    """Feed a whole recording; the last Step is the result of close()."""
    session = open_session(kernel_class, convention, **options)
    times = np.arange(len(keypoints)) / FPS if times is None else np.asarray(times)
    frames = np.arange(len(keypoints)) if frames is None else np.asarray(frames)
    steps = [step(session, i, int(f), float(t), kp)
             for i, (f, t, kp) in enumerate(zip(frames, times, keypoints))]
    steps.append(observe(session, session.kernel.close(), None))
    return steps


# --- hand-made poses ------------------------------------------------------------------------

# A right-handed golfer at address, in metres in the golfer's frame:
# (along the target line, up, toward the ball). Ankle, hip and shoulder
# lines all run along the target line; the torso is exactly 0.5 m.
ADDRESS: dict[str, tuple[float, float, float]] = {
    "head": (0.0, 1.55, 0.35),  # every face landmark: the analysis reads their mean
    "lead_shoulder": (0.2, 1.35, 0.25),
    "trail_shoulder": (-0.2, 1.35, 0.25),
    "lead_elbow": (0.12, 1.08, 0.38),
    "trail_elbow": (-0.12, 1.08, 0.38),
    "lead_wrist": (0.03, 0.84, 0.42),
    "trail_wrist": (-0.02, 0.82, 0.42),
    "lead_index": (0.0, 0.76, 0.44),
    "lead_hip": (0.15, 0.95, -0.05),
    "trail_hip": (-0.15, 0.95, -0.05),
    "lead_knee": (0.18, 0.5, 0.08),
    "trail_knee": (-0.18, 0.5, 0.08),
    "lead_ankle": (0.2, 0.08, 0.0),
    "trail_ankle": (-0.2, 0.08, 0.0),
}
ARMS = ("lead_elbow", "trail_elbow", "lead_wrist", "trail_wrist", "lead_index")
Pose = dict[str, np.ndarray]


def pose(**changes: Sequence[float]) -> Pose:
    """The address pose with some points moved to new places."""
    points = {role: np.array(xyz, dtype=np.float64) for role, xyz in ADDRESS.items()}
    points.update({role: np.array(xyz, dtype=np.float64) for role, xyz in changes.items()})
    return points


def moved(points: Pose, by: Sequence[float], roles: Sequence[str]) -> Pose:
    out = dict(points)
    for role in roles:
        out[role] = out[role] + np.asarray(by, dtype=np.float64)
    return out


def hands_up(points: Pose) -> Pose:
    """Lift the arms 0.3 m so the hands leave their address spot.

    At address the kernel keeps refining the address pose with every frame
    whose hands are still on their spot, which would move the reference a
    test pose is measured against.
    """
    return moved(points, (0.0, 0.3, 0.0), ARMS)


def turned(points: Pose, degrees: float, lead: str, trail: str) -> Pose:
    """Turn one body line about the vertical through its centre; + takes the lead end toward the ball."""
    out = dict(points)
    centre = 0.5 * (points[lead] + points[trail])
    half = 0.5 * (points[lead] - points[trail])
    a = math.radians(degrees)
    rotation = np.array([[math.cos(a), 0.0, -math.sin(a)], [0.0, 1.0, 0.0], [math.sin(a), 0.0, math.cos(a)]])
    out[lead] = centre + rotation @ half
    out[trail] = centre - rotation @ half
    return out


def landmarks_of(points: Pose, *, right_handed: bool = True, yaw_deg: float = 0.0,
                 offset: Sequence[float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """(33, 4) world y-up keypoints of a golfer-frame pose.

    A right-handed golfer faces +z with the target along +x; a left-handed
    one is the mirror image (target along -x, lead side on the right).
    Then the whole scene turns by ``yaw_deg`` about the vertical and moves.
    """
    lead_side, trail_side = ("left", "right") if right_handed else ("right", "left")
    mirror = np.array([1.0 if right_handed else -1.0, 1.0, 1.0])
    a = math.radians(yaw_deg)
    yaw = np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    frame = np.zeros((NUM_LANDMARKS, 4))
    frame[:, :3] = yaw @ (mirror * points["head"]) + np.asarray(offset)  # the rest sit on the head
    frame[:, 3] = 1.0
    for role, xyz in points.items():
        if role == "head":
            continue
        name = role.replace("lead_", f"{lead_side}_").replace("trail_", f"{trail_side}_")
        frame[LANDMARK_INDEX[name], :3] = yaw @ (mirror * xyz) + np.asarray(offset)
    return frame.astype(np.float32)


def in_convention(world: np.ndarray, convention: int, aspect: float = 1.0) -> np.ndarray:
    """World y-up keypoints (metres) as MediaPipe would report them.

    MediaPipe world: y down and z away from the camera. MediaPipe image: the
    same axes normalised by the image (x by its width, y by its height, z at
    x's scale), for a camera whose image is IMAGE_HEIGHT_M tall.
    """
    out = np.array(world, dtype=np.float64)
    if convention == MEDIAPIPE_WORLD:
        out[..., 1:3] *= -1.0
    elif convention == MEDIAPIPE_IMAGE:
        k = 1.0 / IMAGE_HEIGHT_M
        out[..., 0] = 0.5 + k * out[..., 0] / aspect
        out[..., 1] = 0.9 - k * out[..., 1]
        out[..., 2] = -k * out[..., 2] / aspect
    return out.astype(np.float32)


def kpis_of(kernel_class: type, test_pose: Pose, *, convention: int = WORLD_Y_UP,
            right_handed: bool = True, yaw_deg: float = 0.0, aspect: float = 1.0) -> dict[str, float]:
    """KPIs of ``test_pose`` after the golfer settled at ADDRESS for a second."""
    frames = [landmarks_of(ADDRESS, right_handed=right_handed, yaw_deg=yaw_deg)] * int(FPS)
    frames.append(landmarks_of(test_pose, right_handed=right_handed, yaw_deg=yaw_deg))
    keypoints = in_convention(np.stack(frames), convention, aspect)
    steps = run(kernel_class, keypoints, convention=convention, right_handed=right_handed, aspect=aspect)
    settled, measured = steps[-3], steps[-2]
    assert settled.phase == PHASE["setup"] and settled.has_address
    assert measured.flags & stepper.USABLE
    return dict(zip(KPI_NAMES, measured.kpis.tolist()))


# 3-D input: every KPI follows from geometry exactly. Image landmarks have
# their own first-principles tests below, through a camera in each view.
WORLD_CONVENTIONS = (WORLD_Y_UP, MEDIAPIPE_WORLD)
CONVENTION_AND_HAND = pytest.mark.parametrize(
    "convention, right_handed",
    [(c, h) for c in WORLD_CONVENTIONS for h in (True, False)],
    ids=[f"{COORDINATE_SYSTEMS[c]}-{'right' if h else 'left'}" for c in WORLD_CONVENTIONS for h in (True, False)],
)


# --- first principles: both implementations --------------------------------------------------


def test_reference_flags_equal_the_kernel_flags():
    for name in ("USABLE", "PHASE_BEGAN", "SWING_ENDED", "OUT_OF_ORDER"):
        assert getattr(reference, name) == getattr(stepper, name)


@KERNELS
@CONVENTION_AND_HAND
def test_joint_angles(kernel_class, convention, right_handed):
    base = hands_up(pose())
    straight_elbow = 0.5 * (base["lead_shoulder"] + base["lead_wrist"])
    trail_elbow, knee = base["trail_elbow"], base["trail_knee"]
    bend = math.radians(120.0)
    test_pose = dict(
        base,
        lead_elbow=straight_elbow,
        # trail arm: upper arm straight up, forearm toward the ball: a right angle
        trail_shoulder=trail_elbow + (0.0, 0.28, 0.0),
        trail_wrist=trail_elbow + (0.0, 0.0, 0.25),
        # lead leg straight, trail knee bent to 120 degrees
        lead_knee=0.5 * (base["lead_hip"] + base["lead_ankle"]),
        trail_hip=knee + (0.0, 0.45, 0.0),
        trail_ankle=knee + 0.45 * np.array([0.0, math.cos(bend), math.sin(bend)]),
        # the hand in line with the forearm
        lead_index=base["lead_wrist"] + 0.3 * (base["lead_wrist"] - straight_elbow),
    )
    k = kpis_of(kernel_class, test_pose, convention=convention, right_handed=right_handed)
    assert k["lead_elbow"] == pytest.approx(180.0, abs=1e-3)
    assert k["trail_elbow"] == pytest.approx(90.0, abs=1e-3)
    assert k["lead_knee"] == pytest.approx(180.0, abs=1e-3)
    assert k["trail_knee"] == pytest.approx(120.0, abs=1e-3)
    assert k["wrist_hinge"] == pytest.approx(0.0, abs=1e-3)


@KERNELS
def test_wrist_hinge_at_a_right_angle(kernel_class):
    base = hands_up(pose())
    across = np.cross(base["lead_wrist"] - base["lead_elbow"], (0.0, 1.0, 0.0))
    k = kpis_of(kernel_class, dict(base, lead_index=base["lead_wrist"] + 0.08 * across / np.linalg.norm(across)))
    assert k["wrist_hinge"] == pytest.approx(90.0, abs=1e-3)


@KERNELS
@CONVENTION_AND_HAND
@pytest.mark.parametrize("shoulders, hips, reads", [
    (90.0, 0.0, (90.0, 0.0)), (45.0, 30.0, (45.0, 30.0)), (-30.0, -45.0, (-30.0, -45.0)),
    (150.0, 60.0, (150.0, 60.0)), (-120.0, -90.0, (-120.0, -90.0)),
    (200.0, -170.0, (-160.0, -170.0)),  # turns read in (-180, 180]
])
def test_turns_and_x_factor(kernel_class, convention, right_handed, shoulders, hips, reads):
    test_pose = turned(turned(hands_up(pose()), shoulders, "lead_shoulder", "trail_shoulder"),
                       hips, "lead_hip", "trail_hip")
    k = kpis_of(kernel_class, test_pose, convention=convention, right_handed=right_handed)
    assert k["shoulder_turn"] == pytest.approx(reads[0], abs=1e-3)
    assert k["hip_turn"] == pytest.approx(reads[1], abs=1e-3)
    assert k["x_factor"] == pytest.approx(reads[0] - reads[1], abs=1e-3)


@KERNELS
@pytest.mark.parametrize("right_handed", [True, False])
def test_turn_is_measured_from_the_address_lines(kernel_class, right_handed):
    """An address with open, tilted shoulders: a 90 degree turn of that line reads 90."""
    address = turned(pose(lead_shoulder=(0.2, 1.31, 0.25), trail_shoulder=(-0.2, 1.39, 0.25)),
                     -7.0, "lead_shoulder", "trail_shoulder")
    frames = [landmarks_of(address, right_handed=right_handed)] * int(FPS)
    frames.append(landmarks_of(turned(hands_up(address), 90.0, "lead_shoulder", "trail_shoulder"),
                               right_handed=right_handed))
    steps = run(kernel_class, np.stack(frames), right_handed=right_handed)
    assert steps[-2].kpis[Kpi.SHOULDER_TURN] == pytest.approx(90.0, abs=1e-3)


@KERNELS
@CONVENTION_AND_HAND
def test_spine_angles(kernel_class, convention, right_handed):
    hip_mid = 0.5 * (np.array(ADDRESS["lead_hip"]) + np.array(ADDRESS["trail_hip"]))

    def spine_along(direction: np.ndarray) -> Pose:
        shift = hip_mid + 0.5 * direction - 0.5 * (np.array(ADDRESS["lead_shoulder"])
                                                   + np.array(ADDRESS["trail_shoulder"]))
        return moved(hands_up(pose()), shift, ("lead_shoulder", "trail_shoulder"))

    def check(direction: Sequence[float], tilt: float, side_bend: float) -> None:
        k = kpis_of(kernel_class, spine_along(np.asarray(direction)), convention=convention,
                    right_handed=right_handed)
        assert k["spine_tilt"] == pytest.approx(tilt, abs=1e-3)
        assert k["side_bend"] == pytest.approx(side_bend, abs=1e-3)

    r = math.radians
    check((0.0, math.cos(r(30)), math.sin(r(30))), 30.0, 0.0)  # bent toward the ball
    check((-math.sin(r(10)), math.cos(r(10)), 0.0), 0.0, 10.0)  # leaning away from the target
    check((math.sin(r(15)), math.cos(r(15)), 0.0), 0.0, -15.0)  # leaning toward it
    check((0.0, 1.0, 0.0), 0.0, 0.0)


@KERNELS
@CONVENTION_AND_HAND
def test_travel_and_height_in_metres(kernel_class, convention, right_handed):
    options = dict(convention=convention, right_handed=right_handed)
    head = kpis_of(kernel_class, moved(hands_up(pose()), (-0.07, 0.03, 0.0), ["head"]), **options)
    assert head["head_sway"] == pytest.approx(0.07, abs=1e-5)  # away from the target
    assert head["head_lift"] == pytest.approx(0.03, abs=1e-5)
    assert head["hand_height"] == pytest.approx(0.3, abs=1e-5)
    hips = kpis_of(kernel_class, moved(hands_up(pose()), (0.05, 0.0, 0.04), ["lead_hip", "trail_hip"]),
                   **options)
    assert hips["pelvis_sway"] == pytest.approx(-0.05, abs=1e-5)  # toward the target
    assert hips["pelvis_thrust"] == pytest.approx(0.04, abs=1e-5)
    assert hips["head_sway"] == pytest.approx(0.0, abs=1e-5)


@KERNELS
@pytest.mark.parametrize("along_target, expected", [(0.2, 1.0), (-0.2, -1.0), (0.0, 0.0), (0.1, 0.5)])
def test_weight_shift_between_the_ankles(kernel_class, along_target, expected):
    k = kpis_of(kernel_class, moved(hands_up(pose()), (along_target, 0.0, 0.0), ["lead_hip", "trail_hip"]))
    assert k["weight_shift"] == pytest.approx(expected, abs=1e-5)


@KERNELS
@CONVENTION_AND_HAND
def test_hand_speed_of_hands_moving_steadily(kernel_class, convention, right_handed):
    velocity = np.array([0.9, -1.2, 0.0])  # 1.5 m/s in the face-on plane
    frames = [landmarks_of(moved(pose(), velocity * i / FPS, ARMS), right_handed=right_handed)
              for i in range(20)]
    steps = run(kernel_class, in_convention(np.stack(frames), convention),
                convention=convention, right_handed=right_handed)
    assert steps[0].kpis[Kpi.HAND_SPEED] == 0.0  # no previous frame
    assert steps[-2].kpis[Kpi.HAND_SPEED] == pytest.approx(1.5, rel=1e-4)


@KERNELS
@pytest.mark.parametrize("yaw_deg, offset", [(90.0, (0.0, 0.0, 0.0)), (-37.0, (3.0, 0.2, -5.0)),
                                             (180.0, (-1.0, 0.0, 2.0))])
def test_turning_the_scene_about_the_vertical_changes_nothing(kernel_class, yaw_deg, offset):
    test_poses = [hands_up(turned(pose(), 60.0, "lead_shoulder", "trail_shoulder")),
                  moved(hands_up(pose()), (0.05, -0.02, 0.03), ["lead_hip", "trail_hip", "head"])]
    for test_pose in test_poses:
        frames = [ADDRESS] * int(FPS) + [test_pose]
        plain = run(kernel_class, np.stack([landmarks_of(p) for p in frames]))
        seen = run(kernel_class, np.stack([landmarks_of(p, yaw_deg=yaw_deg, offset=offset) for p in frames]))
        assert [s.phase for s in seen] == [s.phase for s in plain]
        # float32 keypoints 5 m from the origin are good to about 5e-7 m
        np.testing.assert_allclose(seen[-2].kpis, plain[-2].kpis, atol=1e-3)


@KERNELS
def test_mediapipe_world_is_world_y_up_turned_half_a_turn_about_x(kernel_class):
    frames = [ADDRESS] * int(FPS) + [hands_up(turned(pose(), 80.0, "lead_shoulder", "trail_shoulder"))]
    world = np.stack([landmarks_of(p) for p in frames])
    mirrored = world.copy()
    mirrored[..., 1:3] *= -1.0
    plain = run(kernel_class, world, convention=WORLD_Y_UP)
    seen = run(kernel_class, mirrored, convention=MEDIAPIPE_WORLD)
    assert_same_steps(seen, plain, kpi_atol=0.0)


# --- first principles in image landmarks: a camera in each view ------------------------------

VIEW = {name: code for code, name in enumerate(CAMERA_VIEWS) if name is not None}


def prior_address(tilt_deg: float = tuning.TILT_PRIOR_DEG, bend_deg: float = tuning.SIDE_BEND_PRIOR_DEG,
                  breadth: float = 1.0) -> Pose:
    """A right-handed address built to the camera fit's own body model.

    The torso is IMAGE_TORSO_METRES with the spine tilted toward the ball and
    bent away from the target; shoulder and hip lines run along the target
    line at the prior widths. From any camera angle this picture costs the
    fit nothing at the true angle, so the tests can ask for exact readings.
    ``breadth`` scales both lines' widths: a broader or narrower golfer.
    """
    torso = tuning.IMAGE_TORSO_METRES
    t, b = math.radians(tilt_deg), math.radians(bend_deg)
    hips = np.array([0.0, 0.95, 0.0])
    shoulders = hips + torso * np.array([-math.sin(b), math.cos(t), math.sin(t)])
    half_sh = np.array([0.5 * breadth * tuning.SHOULDER_WIDTH * torso, 0.0, 0.0])
    half_hp = np.array([0.5 * breadth * tuning.HIP_WIDTH * torso, 0.0, 0.0])
    hands = np.array([0.0, 0.78, 0.45])
    return pose(
        head=shoulders + (0.0, 0.18, 0.12),
        lead_shoulder=shoulders + half_sh, trail_shoulder=shoulders - half_sh,
        lead_elbow=0.5 * (shoulders + half_sh + hands) + (0.0, 0.0, 0.04),
        trail_elbow=0.5 * (shoulders - half_sh + hands) + (0.0, 0.0, 0.06),
        lead_wrist=hands + (0.02, 0.0, 0.0), trail_wrist=hands - (0.02, 0.0, 0.0),
        lead_index=hands + (0.0, -0.08, 0.02),
        lead_hip=hips + half_hp, trail_hip=hips - half_hp,
        lead_knee=(0.16, 0.5, 0.12), trail_knee=(-0.16, 0.5, 0.12),
        lead_ankle=(0.2, 0.08, 0.0), trail_ankle=(-0.2, 0.08, 0.0),
    )


# Real MediaPipe image z spreads 3.3-4.6 times as far as x over a body (real-view-fingerprint.md).
MEDIAPIPE_Z_STRETCH = 4.0


def photographed(points: Pose, view_deg: float, *, right_handed: bool = True, aspect: float = 9 / 16,
                 z_stretch: float = MEDIAPIPE_Z_STRETCH) -> np.ndarray:
    """(33, 4) MediaPipe image landmarks of a golfer-frame pose seen from ``view_deg``.

    0 is face-on from the ball side, 90 down-the-line from behind the golfer;
    an orthographic camera whose image is IMAGE_HEIGHT_M tall, z the depth
    away from the camera at ``z_stretch`` times x's scale, as MediaPipe's image landmarks are.
    """
    world = landmarks_of(points, right_handed=right_handed).astype(np.float64)
    a = math.radians(view_deg)
    target = 1.0 if right_handed else -1.0
    forward = np.array([target * math.sin(a), 0.0, -math.cos(a)])
    right = np.cross(forward, (0.0, 1.0, 0.0))
    k = 1.0 / IMAGE_HEIGHT_M
    out = world.copy()
    out[:, 0] = 0.5 + k * (world[:, :3] @ right) / aspect
    out[:, 1] = 0.9 - k * world[:, 1]
    out[:, 2] = z_stretch * k * (world[:, :3] @ forward) / aspect
    return out.astype(np.float32)


def image_steps(kernel_class: type, poses: Sequence[Pose], view_deg: float, right_handed: bool,
                aspect: float = 9 / 16, z_stretch: float = MEDIAPIPE_Z_STRETCH,
                address: Pose | None = None, **options) -> tuple[list[Step], Kernel | ReferenceKernel]:
    """A second at ``address`` (``prior_address``), then ``poses``, through a camera at ``view_deg``."""
    frames = [address or prior_address()] * int(FPS) + list(poses)
    keypoints = np.stack([photographed(p, view_deg, right_handed=right_handed, aspect=aspect, z_stretch=z_stretch)
                          for p in frames])
    session = open_session(kernel_class, MEDIAPIPE_IMAGE, right_handed=right_handed, aspect=aspect, **options)
    steps = [step(session, i, i, i / FPS, kp) for i, kp in enumerate(keypoints)]
    return steps, session.kernel


def shoulders_turned(points: Pose, degrees: float) -> Pose:
    """The shoulder line turned about the tilted spine: + takes the lead shoulder toward the ball and down."""
    t = math.radians(tuning.TILT_PRIOR_DEG)
    lead, trail = points["lead_shoulder"], points["trail_shoulder"]
    centre, half = 0.5 * (lead + trail), 0.5 * np.linalg.norm(lead - trail)
    a = math.radians(degrees)
    toward = half * (math.cos(a) * np.array([1.0, 0.0, 0.0]) + math.sin(a) * np.array([0.0, -math.sin(t), math.cos(t)]))
    return dict(points, lead_shoulder=centre + toward, trail_shoulder=centre - toward)


HANDS = pytest.mark.parametrize("right_handed", [True, False], ids=["right", "left"])
VIEWS_DEG = pytest.mark.parametrize("view_deg", [0.0, 20.0, 45.0, 70.0, 90.0])


@KERNELS
@pytest.mark.parametrize("breadth", [0.8, 1.4], ids=["narrow", "broad"])
@pytest.mark.parametrize("z_stretch", [3.3, 4.6])
@pytest.mark.parametrize("view_deg", [20.0, 45.0, 70.0])
def test_the_camera_angle_holds_for_any_build_and_depth_scale(kernel_class, breadth, z_stretch, view_deg):
    # MediaPipe's real bodies run 0.74-0.86 torso across the shoulders (1.4x the prior): by
    # widths alone a broad golfer at 45 degrees reads 28 degrees. The lines' depth tells it
    # apart, within what the spread of MediaPipe's z scale (3.3-4.6x) leaves.
    steps, kernel = image_steps(kernel_class, [], view_deg, True, z_stretch=z_stretch,
                                address=prior_address(breadth=breadth))
    assert steps[-1].phase == PHASE["setup"]
    assert kernel.camera()["angle"] == pytest.approx(view_deg, abs=8.0)


@KERNELS
@HANDS
@VIEWS_DEG
def test_the_camera_is_fitted_at_address(kernel_class, right_handed, view_deg):
    steps, kernel = image_steps(kernel_class, [], view_deg, right_handed)
    assert steps[-1].phase == PHASE["setup"]
    camera = kernel.camera()
    assert camera["angle"] == pytest.approx(view_deg, abs=1.0)
    assert camera["tilt"] == pytest.approx(tuning.TILT_PRIOR_DEG, abs=1.0)
    expected = "face_on" if view_deg < tuning.FACE_ON_MAX_DEG else (
        "down_the_line" if view_deg > tuning.DTL_MIN_DEG else "oblique")
    assert kernel.camera_view == VIEW[expected]
    if view_deg < 80.0:  # straight down the line the target is along the camera axis: no side
        assert camera["target_x"] == (1.0 if right_handed else -1.0)
    if view_deg > 10.0:  # straight face-on the ball is along the camera axis
        assert camera["ball_x"] == (1.0 if right_handed else -1.0)


@KERNELS
@HANDS
@VIEWS_DEG
@pytest.mark.parametrize("shoulders, hips", [(45.0, 20.0), (90.0, 45.0), (105.0, 50.0)])
def test_turns_read_in_every_view(kernel_class, right_handed, view_deg, shoulders, hips):
    """Shoulders turn about the tilted spine, hips about the vertical; both read from the picture alone.

    A turn reads in the ground plane, as 3-D input reads it: a shoulder line
    turned by S about a spine tilted by T lies atan(tan S cos T) off the target line.
    """
    top = turned(shoulders_turned(hands_up(prior_address()), shoulders), hips, "lead_hip", "trail_hip")
    steps, _ = image_steps(kernel_class, [top], view_deg, right_handed)
    k = dict(zip(KPI_NAMES, steps[-1].kpis.tolist()))
    s, t = math.radians(shoulders), math.radians(tuning.TILT_PRIOR_DEG)
    on_the_ground = math.degrees(math.atan2(math.sin(s) * math.cos(t), math.cos(s)))
    assert k["shoulder_turn"] == pytest.approx(on_the_ground, abs=1.0)
    assert k["hip_turn"] == pytest.approx(hips, abs=1.0)
    assert k["x_factor"] == pytest.approx(on_the_ground - hips, abs=2.0)


UPPER_BODY = ("head", "lead_shoulder", "trail_shoulder", "lead_hip", "trail_hip", *ARMS)


@KERNELS
@HANDS
@VIEWS_DEG
def test_each_view_reports_what_it_sees_and_nothing_else(kernel_class, right_handed, view_deg):
    """Each view reads travel along the axis it sees; off face-on or down-the-line a
    move along the other axis leaks in by the tangent of the angle (the docs' error table)."""
    head_moved = moved(hands_up(prior_address()), (-0.05, 0.03, 0.0), ["head"])
    toward_target = moved(hands_up(prior_address()), (0.04, 0.0, 0.0), UPPER_BODY)
    toward_ball = moved(hands_up(prior_address()), (0.0, 0.0, 0.06), UPPER_BODY)
    steps, kernel = image_steps(kernel_class, [head_moved, toward_target, toward_ball], view_deg, right_handed)
    view = CAMERA_VIEWS[kernel.camera_view]
    head, sway, thrust = (dict(zip(KPI_NAMES, s.kpis.tolist())) for s in steps[-3:])
    for k in (head, sway, thrust):
        assert {name for name, value in k.items() if math.isfinite(value)} == set(tuning.VIEW_KPIS[view])
        if view == "face_on":
            assert k["hand_height"] == pytest.approx(0.3, abs=5e-3)
        assert k["shoulder_turn"] == pytest.approx(0.0, abs=1.0)
        assert k["hip_turn"] == pytest.approx(0.0, abs=1.0)
    assert head["head_lift"] == pytest.approx(0.03, abs=2e-3)
    assert sway["head_lift"] == pytest.approx(0.0, abs=2e-3)
    if view == "face_on":
        assert head["head_sway"] == pytest.approx(0.05, abs=3e-3)  # away from the target
        assert head["pelvis_sway"] == pytest.approx(0.0, abs=3e-3)
        assert sway["pelvis_sway"] == pytest.approx(-0.04, abs=3e-3)  # toward it
        # the spine's angle from the vertical in the plane facing the camera
        t, b = math.radians(tuning.TILT_PRIOR_DEG), math.radians(tuning.SIDE_BEND_PRIOR_DEG)
        assert sway["side_bend"] == pytest.approx(math.degrees(math.atan2(math.sin(b), math.cos(t))), abs=1.0)
        assert sway["weight_shift"] == pytest.approx(0.04 / 0.2, abs=0.02)
    if view == "down_the_line":
        assert head["pelvis_thrust"] == pytest.approx(0.0, abs=3e-3)
        assert thrust["pelvis_thrust"] == pytest.approx(0.06, abs=3e-3)  # toward the ball
        assert thrust["spine_tilt"] == pytest.approx(tuning.TILT_PRIOR_DEG, abs=1.0)


@KERNELS
@HANDS
def test_a_forced_view_overrides_the_fit(kernel_class, right_handed):
    steps, kernel = image_steps(kernel_class, [], 90.0, right_handed, camera_view=VIEW["face_on"])
    assert kernel.camera_view == VIEW["face_on"]
    assert kernel.camera()["angle"] <= tuning.FACE_ON_MAX_DEG


@KERNELS
def test_image_hand_speed_is_in_metres_per_second(kernel_class):
    velocity = np.array([0.9, -1.2, 0.0])  # 1.5 m/s in the face-on plane
    poses = [moved(prior_address(), velocity * i / FPS, ARMS) for i in range(1, 20)]
    steps, _ = image_steps(kernel_class, poses, 0.0, True)
    assert steps[-1].kpis[Kpi.HAND_SPEED] == pytest.approx(1.5, rel=2e-3)


@KERNELS
def test_image_landmarks_report_nothing_before_an_address(kernel_class):
    frames = np.stack([photographed(hands_up(prior_address()), 0.0)] * 5)
    steps = run(kernel_class, frames, convention=MEDIAPIPE_IMAGE, aspect=9 / 16)
    assert all(s.flags & stepper.USABLE and not s.has_address for s in steps[:-1])
    assert all(np.isnan(s.kpis).all() for s in steps[:-1])


# --- bad input -------------------------------------------------------------------------------


def spoil_nan(f: np.ndarray) -> None:
    f[LANDMARK_INDEX["left_shoulder"], 0] = np.nan


def spoil_inf(f: np.ndarray) -> None:
    f[LANDMARK_INDEX["right_hip"], 1] = np.inf


def spoil_huge(f: np.ndarray) -> None:
    f[LANDMARK_INDEX["left_hip"], 2] = 1e9


def spoil_one_point(f: np.ndarray) -> None:
    f[:, :3] = f[0, :3]  # every limb zero-length


def spoil_zero(f: np.ndarray) -> None:
    f[:, :3] = 0.0


def spoil_shoulders_together(f: np.ndarray) -> None:
    f[[LANDMARK_INDEX["left_shoulder"], LANDMARK_INDEX["right_shoulder"]], :3] = 0.5


def spoil_unseen(f: np.ndarray) -> None:
    f[:, 3] = 0.1


def spoil_no_hands(f: np.ndarray) -> None:
    f[[LANDMARK_INDEX["left_wrist"], LANDMARK_INDEX["right_wrist"]], 3] = 0.0


def spoil_nan_visibility(f: np.ndarray) -> None:
    f[LANDMARK_INDEX["right_shoulder"], 3] = np.nan


def spoil_all_nan(f: np.ndarray) -> None:
    f[:] = np.nan


SPOILERS: tuple[Callable[[np.ndarray], None], ...] = (
    spoil_nan, spoil_inf, spoil_huge, spoil_one_point, spoil_zero, spoil_shoulders_together,
    spoil_unseen, spoil_no_hands, spoil_nan_visibility, spoil_all_nan,
)


@KERNELS
@pytest.mark.parametrize("spoil", SPOILERS, ids=[s.__name__ for s in SPOILERS])
@pytest.mark.parametrize("convention", CONVENTIONS, ids=COORDINATE_SYSTEMS)
def test_garbage_frames_are_unusable_and_the_stream_carries_on(kernel_class, spoil, convention):
    good = in_convention(landmarks_of(ADDRESS), convention)
    bad = good.copy()
    spoil(bad)
    frames = np.stack([good] * int(FPS) + [bad, good, bad, bad, good])
    steps = run(kernel_class, frames, convention=convention)
    settled = steps[int(FPS) - 1]
    assert settled.phase == PHASE["setup"]
    for i in (int(FPS), int(FPS) + 2, int(FPS) + 3):
        s = steps[i]
        assert not s.flags & stepper.USABLE
        assert np.isnan(s.kpis).all() and np.isnan(s.ring_kpis).all()
        assert (s.phase, s.p_position, s.has_address, s.event) == (settled.phase, settled.p_position, True, None)
    for i in (int(FPS) + 1, int(FPS) + 4):
        assert steps[i].flags & stepper.USABLE
        assert steps[i].phase == PHASE["setup"]
        assert steps[i].kpis[Kpi.SHOULDER_TURN] == pytest.approx(0.0, abs=1e-6)


@KERNELS
def test_one_hidden_wrist_places_the_grip_from_the_last_offset(kernel_class):
    """With the lead wrist hidden, the grip is where the trail wrist says, minus half the last grip offset."""
    up = hands_up(pose())
    hidden = landmarks_of(moved(up, (0.0, 0.1, 0.0), ARMS))
    hidden[LANDMARK_INDEX["left_wrist"], 3] = 0.0
    frames = np.stack([landmarks_of(ADDRESS)] * int(FPS) + [landmarks_of(up), hidden])
    steps = run(kernel_class, frames)
    assert steps[-2].flags & stepper.USABLE
    assert np.isnan(steps[-2].kpis[Kpi.LEAD_ELBOW])
    # the hands rose 0.4 m in all: the grip moved with the trail wrist
    assert steps[-2].kpis[Kpi.HAND_HEIGHT] == pytest.approx(0.4, abs=1e-5)


@KERNELS
def test_hands_hidden_at_address_are_placed_from_the_surer_guess_until_the_backswing(kernel_class):
    """Face-on at address MediaPipe sees the grip as one blob: neither wrist reaches 0.5."""
    blob = landmarks_of(ADDRESS)
    blob[LANDMARK_INDEX["left_wrist"], 3] = 0.35
    blob[LANDMARK_INDEX["right_wrist"], 3] = 0.25
    lost = blob.copy()
    lost[[LANDMARK_INDEX["left_wrist"], LANDMARK_INDEX["right_wrist"]], 3] = tuning.HANDS_GUESSED_MIN - 0.05
    frames = np.stack([blob] * int(FPS) + [lost, blob])
    steps = run(kernel_class, frames)
    assert all(s.flags & stepper.USABLE for s in steps[:int(FPS)])
    assert steps[int(FPS) - 1].phase == PHASE["setup"]
    assert steps[int(FPS) - 1].kpis[Kpi.HAND_HEIGHT] == pytest.approx(0.0, abs=1e-6)
    assert np.isnan(steps[int(FPS) - 1].kpis[Kpi.LEAD_ELBOW])  # the guessed wrist is not a seen one
    assert not steps[int(FPS)].flags & stepper.USABLE  # below the floor: no guess
    # in the backswing a hidden wrist is a guess about moving hands: the frame is not used
    swing = landmarks_of(hands_up(pose()))
    hidden_up = swing.copy()
    hidden_up[[LANDMARK_INDEX["left_wrist"], LANDMARK_INDEX["right_wrist"]], 3] = 0.35
    address = landmarks_of(ADDRESS)
    steps = run(kernel_class, np.stack([address] * int(FPS) + [swing] * 6 + [hidden_up]))
    assert steps[-3].phase >= PHASE["backswing"]
    assert not steps[-2].flags & stepper.USABLE


@KERNELS
def test_out_of_order_timestamps_are_refused_without_side_effects(kernel_class):
    frame = landmarks_of(ADDRESS)
    session = open_session(kernel_class, WORLD_Y_UP)
    for i in range(int(FPS)):
        before = step(session, i, i, i / FPS, frame)
    last_t = (FPS - 1) / FPS
    for k, t in enumerate((last_t, last_t - 0.5, math.nan, math.inf, -math.inf)):
        s = step(session, 100 + k, 100 + k, t, frame)
        assert s.flags == stepper.OUT_OF_ORDER
        assert np.isnan(s.kpis).all() and np.isnan(s.ring_kpis).all()
        assert (s.phase, s.p_position, s.event, s.has_address) == (before.phase, before.p_position, None, True)
    assert step(session, 200, 200, last_t + 1 / FPS, frame).flags & stepper.USABLE


# --- comparing the two implementations -------------------------------------------------------


def assert_close(name: str, got: np.ndarray, want: np.ndarray, atol: float) -> None:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if not np.array_equal(np.isnan(got), np.isnan(want)):
        raise AssertionError(f"{name}: NaN in different places\n  kernel    {got}\n  reference {want}")
    if not np.allclose(got, want, rtol=0.0, atol=atol, equal_nan=True):
        worst = int(np.nanargmax(np.abs(got - want)))
        raise AssertionError(f"{name}[{worst}]: {got[worst]} != {want[worst]} (atol {atol})")


def assert_same_record(got: dict, want: dict, atol: float) -> None:
    assert got["number"] == want["number"]
    for marker in ("takeaway", "top", "impact", "finish"):
        assert got[marker][0] == want[marker][0], marker  # frames exactly
        assert got[marker][1] == pytest.approx(want[marker][1], abs=atol), marker
    for name in ("tempo", "peak_x_factor"):
        assert_close(name, [got[name]], [want[name]], atol)
    for name in ("address_kpis", "top_kpis", "impact_kpis"):
        assert_close(name, got[name], want[name], atol)
    assert_close("record severities", got["severities"], want["severities"], 1e-6)
    assert_close("record metrics", got["metrics"], want["metrics"], atol)


def assert_same_step(got: Step, want: Step, kpi_atol: float = 1e-4) -> None:
    assert got.flags == want.flags, "flags"
    assert (got.phase, got.p_position, got.swings, got.has_address) == (
        want.phase, want.p_position, want.swings, want.has_address), "phase, P, swings, address"
    if want.event is None or got.event is None:
        assert got.event == want.event, "event"
    else:
        assert got.event[:2] == want.event[:2], "event"
        assert got.event[2] == pytest.approx(want.event[2], abs=1e-9), "event time"
    assert_close("kpis", got.kpis, want.kpis, kpi_atol)
    assert_close("kpi ring", got.ring_kpis, want.ring_kpis, kpi_atol)
    assert_close("severities", got.severities, want.severities, 1e-6)
    assert (got.record is None) == (want.record is None), "swing ended"
    if got.record is not None:
        assert_same_record(got.record, want.record, kpi_atol)


def first_difference(got: Sequence[Step], want: Sequence[Step], kpi_atol: float = 1e-4) -> tuple[int, str] | None:
    """The first step where two runs differ, and how; None when they agree."""
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        try:
            assert_same_step(g, w, kpi_atol)
        except AssertionError as error:
            label = "close()" if i == len(got) - 1 else f"step {i} (frame {g.frame})"
            return i, f"{label}: {error}\n  got  {summary(g)}\n  want {summary(w)}"
    return None


def assert_same_steps(got: Sequence[Step], want: Sequence[Step], kpi_atol: float = 1e-4) -> None:
    difference = first_difference(got, want, kpi_atol)
    if difference is not None:
        raise AssertionError(difference[1])


def assert_kernel_agrees(cython: Sequence[Step], numpy: Sequence[Step]) -> None:
    """The kernel matches the reference.

    Only the first difference is reported: after it the two runs follow
    different histories and cannot be compared further.
    """
    difference = first_difference(cython, numpy)
    if difference is not None:
        raise AssertionError(difference[1])


def summary(s: Step) -> str:
    return f"flags={s.flags} phase={PHASES[s.phase]} P={s.p_position} event={s.event} swings={s.swings}"


# --- simulated swings: the kernel and the reference agree ------------------------------------


@dataclass(frozen=True)
class Plan:
    """One simulated session, degraded on purpose."""

    convention: int
    right_handed: bool
    club: str
    fps: float
    faults: tuple[str | None, ...]  # one per swing; None = a clean swing
    noise_m: float = 0.0
    jitter_s: float = 0.0
    occlusion: float = 0.0
    drop_rate: float = 0.0
    skill: str = "intermediate"  # picks the fault thresholds
    hole: bool = False  # a run of frames longer than GAP_MAX_S missing from the first backswing
    garbage: float = 0.0  # share of frames replaced by garbage
    repeats: float = 0.0  # share of frames sent twice with the same timestamp
    seed: int = 0

    @property
    def name(self) -> str:
        hand = "right" if self.right_handed else "left"
        extras = [f"{k}{getattr(self, k):g}" for k in ("noise_m", "occlusion", "drop_rate", "garbage", "repeats")
                  if getattr(self, k)]
        extras += ["hole"] if self.hole else []
        return "-".join([COORDINATE_SYSTEMS[self.convention], hand, self.club, self.skill, f"{self.fps:g}fps",
                         *extras])


@dataclass
class Recording:
    keypoints: np.ndarray
    times: np.ndarray
    frames: np.ndarray
    aspect: float
    truth_swings: int


DEGRADATIONS: tuple[dict[str, object], ...] = (
    dict(fps=30.0),
    dict(fps=60.0, noise_m=0.006, jitter_s=0.002),
    dict(fps=24.0, noise_m=0.003, occlusion=0.12),
    dict(fps=30.0, noise_m=0.002, drop_rate=0.1, hole=True),
    dict(fps=30.0, noise_m=0.003, garbage=0.05, repeats=0.03, occlusion=0.03),
)


def session_plans() -> list[Plan]:
    """Every convention x hand x degradation, two swings each; faults, clubs and skills in turn."""
    fault_cycle = [None, *FAULT_IDS]
    plans = []
    for i, (convention, right_handed, degradation) in enumerate(
            (c, h, d) for c in CONVENTIONS for h in (True, False) for d in DEGRADATIONS):
        faults = (fault_cycle[(2 * i) % len(fault_cycle)], fault_cycle[(2 * i + 1) % len(fault_cycle)])
        plans.append(Plan(convention, right_handed, CLUBS[i % len(CLUBS)], faults=faults,
                          skill=SKILL_LEVELS[(i // len(CLUBS)) % len(SKILL_LEVELS)], seed=100 + i, **degradation))
    return plans


PLANS = session_plans()


def simulated(plan: Plan) -> Recording:
    from swingsync_fast.simulator import random_swing_spec, simulate

    rng = np.random.default_rng(plan.seed)
    specs = [random_swing_spec(rng, club=plan.club, faults=frozenset() if f is None else frozenset({f}))
             for f in plan.faults]
    stream = simulate(
        specs, club=plan.club, handedness="right" if plan.right_handed else "left", fps=plan.fps,
        coordinate_system=COORDINATE_SYSTEMS[plan.convention], noise_m=plan.noise_m,
        occlusion=plan.occlusion, drop_rate=plan.drop_rate, timestamp_jitter_s=plan.jitter_s,
        seed=plan.seed,
    )
    keypoints, times, frames = stream.keypoints.copy(), stream.timestamps, stream.frame_indices
    if plan.hole:
        # longer than GAP_MAX_S, starting between the first takeaway and top: abandons a swing in progress
        first = stream.swings[0]
        start = int(rng.integers(first.takeaway_frame, first.top_frame))
        missing = (frames >= start) & (frames < start + math.ceil(1.3 * tuning.GAP_MAX_S * plan.fps))
        keypoints, times, frames = keypoints[~missing], times[~missing], frames[~missing]
    for i in np.flatnonzero(rng.random(len(keypoints)) < plan.garbage):
        SPOILERS[rng.integers(len(SPOILERS))](keypoints[i])
    repeat = rng.random(len(keypoints)) < plan.repeats
    order = np.repeat(np.arange(len(keypoints)), np.where(repeat, 2, 1))  # sent again, same time
    return Recording(keypoints[order], times[order], frames[order], stream.image_aspect, len(stream.swings))


def run_both(recording: Recording, plan: Plan, **options) -> tuple[list[Step], list[Step]]:
    common = dict(convention=plan.convention, right_handed=plan.right_handed, aspect=recording.aspect,
                  thresholds=Thresholds.for_player(plan.club, plan.skill), **options)
    return tuple(run(cls, recording.keypoints, recording.times, recording.frames, **common)
                 for cls in (Kernel, ReferenceKernel))


@functools.cache
def compared(plan: Plan) -> tuple[list[Step], list[Step]]:
    """Both implementations on one session (computed once per test run)."""
    return run_both(simulated(plan), plan)


@pytest.mark.parametrize("plan", PLANS, ids=[p.name for p in PLANS])
def test_kernel_matches_reference_on_simulated_swings(plan):
    cython, numpy = compared(plan)
    assert_kernel_agrees(cython, numpy)
    # the comparison went past the address into a swing
    assert any(s.event is not None and s.event[0] == PHASE["takeaway"] for s in numpy)
    if plan.garbage or plan.repeats:
        assert any(not s.flags & stepper.USABLE for s in numpy[:-1])
    if plan.repeats:
        assert any(s.flags & stepper.OUT_OF_ORDER for s in numpy)


def test_simulated_sessions_cover_the_grid():
    assert sum(len(p.faults) for p in PLANS) >= 60
    assert {p.convention for p in PLANS} == set(CONVENTIONS)
    assert {p.right_handed for p in PLANS} == {True, False}
    assert {f for p in PLANS for f in p.faults} == {None, *FAULT_IDS}
    # most simulated swings were followed to their end, so swing records were compared
    ended = sum(sum(s.record is not None for s in compared(plan)[1]) for plan in PLANS)
    assert ended >= 0.75 * sum(len(p.faults) for p in PLANS)
    # and the fault rules fired, so severities were compared
    raised = {i for plan in PLANS for s in compared(plan)[1] for i in np.flatnonzero(s.severities)}
    assert len(raised) >= len(FAULT_IDS) - 1


def test_a_small_ring_wraps_the_same_way():
    plan = PLANS[3]
    cython, numpy = run_both(simulated(plan), plan, capacity=16)
    assert_kernel_agrees(cython, numpy)


@KERNELS
def test_reset_forgets_the_stream(kernel_class, world_session):
    """After reset() the same stream reads exactly as it did on a new kernel (thresholds kept)."""
    plan, recording = world_session
    thresholds = Thresholds.for_player("driver", "professional")
    session = open_session(kernel_class, plan.convention, thresholds=thresholds)
    replays = []
    for _ in range(2):
        session.kernel.reset()
        steps = [step(session, i, int(f), float(t), kp) for i, (f, t, kp) in
                 enumerate(zip(recording.frames, recording.times, recording.keypoints))]
        replays.append(steps + [observe(session, session.kernel.close(), None)])
    fresh = run(kernel_class, recording.keypoints, recording.times, recording.frames, thresholds=thresholds)
    assert fresh[-1].swings == 2
    assert_same_steps(replays[0], fresh, kpi_atol=0.0)
    assert_same_steps(replays[1], fresh, kpi_atol=0.0)


REAL_CLIPS = [("swing1_labeled", 30.0), ("swing2_labeled", 30.0), ("swing2_labeled", 120.0),
              ("swing3_labeled", 240.0), ("swing4_labeled", 30.0), ("swing4_labeled", 240.0),
              ("swing5_labeled", 240.0), ("new_swing", 30.0)]


@pytest.mark.parametrize("clip, fps", REAL_CLIPS, ids=[f"{c}-{f:g}fps" for c, f in REAL_CLIPS])
def test_real_phone_swings_agree(realdata_dir, clip, fps):
    """Real MediaPipe image keypoints (portrait phone video, many frames with hidden hands)."""
    from swingsync_fast.evaluation import REAL_CLIP_ASPECT
    from swingsync_fast.recordings import read_keypoint_csv

    data = read_keypoint_csv(realdata_dir / f"{clip}.csv.gz")
    cython, numpy = (run(cls, data.keypoints, data.frames / fps, data.frames, convention=MEDIAPIPE_IMAGE,
                         aspect=REAL_CLIP_ASPECT) for cls in (Kernel, ReferenceKernel))
    assert any(s.flags & stepper.USABLE for s in numpy)
    assert_kernel_agrees(cython, numpy)


@pytest.mark.parametrize("view, handedness", [("face_on", "right"), ("face_on", "left"), ("oblique", "right")])
def test_filmed_swings_with_the_hands_lost_at_address_agree(view, handedness):
    """Phone video whose address hides both wrists (the lower quartile of real face-on clips)."""
    import dataclasses

    from swingsync_fast.simulator import random_swing_spec, simulate
    from swingsync_fast.simulator.tracker import PoseErrors

    errors = PoseErrors()
    errors = dataclasses.replace(errors, crowding=dataclasses.replace(errors.crowding, address_lead_wrist=0.75))
    rng = np.random.default_rng(3)
    stream = simulate([random_swing_spec(rng, club="iron") for _ in range(2)], club="iron", handedness=handedness,
                      coordinate_system="mediapipe_image", camera_view=view, walk_between=False,
                      pose_errors=errors, seed=5)
    wrists = [LANDMARK_INDEX["left_wrist"], LANDMARK_INDEX["right_wrist"]]
    assert (stream.keypoints[:, wrists, 3].max(axis=1) < 0.5).mean() > 0.2  # the address is lost to a 0.5 rule
    cython, numpy = (run(cls, stream.keypoints, stream.timestamps, stream.frame_indices,
                         convention=MEDIAPIPE_IMAGE, right_handed=handedness == "right",
                         aspect=stream.image_aspect) for cls in (Kernel, ReferenceKernel))
    assert numpy[-1].swings == 2
    assert_kernel_agrees(cython, numpy)


@pytest.mark.parametrize("view, golfer", [("down_the_line", "left"), ("oblique", "left"),
                                          ("down_the_line", "right"), ("face_on", "left"),
                                          ("face_on", "right")])
def test_a_golfer_set_with_the_wrong_hand_is_read_the_same_way(view, golfer):
    """From behind or beside the address says which hand it is (tuning.HANDEDNESS_DEPTH), face-on
    the backswing does (tuning.HANDEDNESS_BACKSWING)."""
    from swingsync_fast.simulator import random_swing_spec, simulate

    rng = np.random.default_rng(8)
    stream = simulate([random_swing_spec(rng, club="driver") for _ in range(2)], club="driver",
                      handedness=golfer, coordinate_system="mediapipe_image", camera_view=view,
                      walk_between=False, seed=9)
    cython, numpy = (run(cls, stream.keypoints, stream.timestamps, stream.frame_indices,
                         convention=MEDIAPIPE_IMAGE, right_handed=golfer != "right",
                         aspect=stream.image_aspect) for cls in (Kernel, ReferenceKernel))
    assert_kernel_agrees(cython, numpy)
    records = [s.record for s in numpy if s.record is not None]
    assert len(records) == 2
    assert all(r["right_handed"] == (golfer == "right") for r in records)


# --- the same scene, described differently ---------------------------------------------------

MIRROR = np.array([LANDMARK_INDEX[name.replace("left", "@").replace("right", "left").replace("@", "right")]
                   for name in LANDMARK_INDEX])


@pytest.fixture(scope="module")
def world_session() -> tuple[Plan, Recording]:
    plan = Plan(WORLD_Y_UP, True, "driver", 30.0, faults=(None, "HEAD_MOVEMENT"), noise_m=0.003,
                occlusion=0.05, seed=7)
    return plan, simulated(plan)


def rerun(plan: Plan, recording: Recording, kernel_class: type, keypoints: np.ndarray, **changes) -> list[Step]:
    options = dict(convention=plan.convention, right_handed=plan.right_handed, aspect=recording.aspect,
                   thresholds=Thresholds.for_player(plan.club, plan.skill)) | changes
    return run(kernel_class, keypoints, recording.times, recording.frames, **options)


@KERNELS
def test_whole_swings_in_mediapipe_world_read_the_same(kernel_class, world_session):
    plan, recording = world_session
    flipped = recording.keypoints.copy()
    flipped[..., 1:3] *= -1.0
    plain = rerun(plan, recording, kernel_class, recording.keypoints)
    assert plain[-1].swings == 2
    assert_same_steps(rerun(plan, recording, kernel_class, flipped, convention=MEDIAPIPE_WORLD), plain,
                      kpi_atol=0.0)


@KERNELS
def test_a_left_handed_golfer_is_the_mirror_image(kernel_class, world_session):
    plan, recording = world_session
    mirrored = recording.keypoints[:, MIRROR].copy()
    mirrored[..., 0] *= -1.0
    plain = rerun(plan, recording, kernel_class, recording.keypoints)
    assert_same_steps(rerun(plan, recording, kernel_class, mirrored, right_handed=False), plain, kpi_atol=1e-6)


@KERNELS
def test_whole_swings_turned_about_the_vertical_read_the_same(kernel_class, world_session):
    plan, recording = world_session
    a = math.radians(-121.0)
    yaw = np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    turned_scene = recording.keypoints.copy()
    turned_scene[..., :3] = (recording.keypoints[..., :3].astype(np.float64) @ yaw.T + (0.7, 0.0, -1.3))
    plain = rerun(plan, recording, kernel_class, recording.keypoints)
    seen = rerun(plan, recording, kernel_class, turned_scene)
    assert [(s.flags, s.phase, s.p_position, s.event and s.event[:2]) for s in seen] == [
        (s.flags, s.phase, s.p_position, s.event and s.event[:2]) for s in plain]
    for s, p in zip(seen, plain):
        assert_close("kpis", s.kpis, p.kpis, 1e-3)  # float32 keypoints: ~1e-7 m


# --- the vectorised reference over whole recordings ------------------------------------------


def test_vectorised_reference_matches_the_kernel_frame_by_frame():
    """Whole recordings at once: body points, usable frames, and KPIs against each swing's address.

    Up to impact: from there on the kernel reads turns the other way round.
    """
    plan = Plan(MEDIAPIPE_IMAGE, False, "iron", 30.0, faults=("SWAY", None), noise_m=0.004,
                occlusion=0.1, garbage=0.04, seed=21)
    recording = simulated(plan)
    points, ok, usable = reference.convert_recording(recording.keypoints, plan.convention, recording.aspect,
                                                     lead_is_left=plan.right_handed)
    bodies = reference.read_bodies(recording.keypoints, plan.convention, recording.aspect,
                                   plan.right_handed, 0.5, times=recording.times)
    cython = open_session(Kernel, plan.convention, right_handed=plan.right_handed, aspect=recording.aspect,
                          capacity=len(recording.keypoints))
    numpy = open_session(ReferenceKernel, plan.convention, right_handed=plan.right_handed,
                         aspect=recording.aspect, capacity=len(recording.keypoints))
    before_impact = (PHASE["takeaway"], PHASE["backswing"], PHASE["top_of_swing"], PHASE["downswing"])
    swings: list[tuple[reference.Reference, list[int]]] = []  # the address and the frames it measures
    for i, (t, f, kp) in enumerate(zip(recording.times, recording.frames, recording.keypoints)):
        flags = step(cython, i, int(f), float(t), kp).flags
        assert bool(flags & stepper.USABLE) == usable[i]
        reported = step(numpy, i, int(f), float(t), kp)
        if reported.event is not None and reported.event[0] == PHASE["takeaway"]:
            swings.append((numpy.kernel._machine.ref, []))
        if swings and reported.phase in before_impact and usable[i]:
            swings[-1][1].append(i)
    assert len(swings) >= 2
    assert np.array_equal(np.isnan(points).any(axis=-1), ~ok)
    for address, frames in swings:
        expected = cython.kpi_ring[frames].astype(np.float64)
        got = np.stack([reference.frame_kpis(bodies[f], address, speed, plan.right_handed, plan.convention)
                        for f, speed in zip(frames, expected[:, Kpi.HAND_SPEED])])
        for name, g, e in zip(KPI_NAMES, got.T, expected.T):
            assert_close(name, g, e, 1e-4)


# --- kernel defects found by the reference ---------------------------------------------------


@KERNELS
@pytest.mark.parametrize("convention", CONVENTIONS, ids=COORDINATE_SYSTEMS)
def test_a_follow_through_cut_by_a_gap_finishes_and_holds_the_finish(kernel_class, convention):
    from swingsync_fast.simulator import SwingSpec, simulate

    stream = simulate([SwingSpec(finish_hold_s=1.5)], club="iron", seed=2,
                      coordinate_system=COORDINATE_SYSTEMS[convention])
    impact = stream.swings[0].impact_frame
    start = impact + round(0.2 * FPS)  # in the follow-through, before the finish is reached
    end = start + math.ceil(1.3 * tuning.GAP_MAX_S * FPS)  # and back when the finish is held
    keep = (stream.frame_indices < start) | (stream.frame_indices >= end)
    steps = run(kernel_class, stream.keypoints[keep], stream.timestamps[keep], stream.frame_indices[keep],
                convention=convention, aspect=stream.image_aspect)
    back = int(np.searchsorted(stream.frame_indices[keep], end))
    assert steps[back - 1].phase == PHASE["follow_through"]
    assert steps[back].flags & stepper.SWING_ENDED and steps[back].swings == 1
    assert steps[back].event[:2] == (PHASE["finish"], end)
    # the golfer is holding the finish: the analysis holds it too
    assert [s.phase for s in steps[back:back + 5]] == [PHASE["finish"]] * 5


@KERNELS
def test_a_refused_address_keeps_the_previous_one(kernel_class):
    """A still, address-like pose with no target line (every body line vertical) is not an address."""
    # all points of a side pair on one vertical line (the lead one 1 cm higher), hips nearer the ball
    no_target_line = {role: np.array([0.0, xyz[1] + (0.01 if role.startswith("lead") else 0.0), xyz[2]])
                      for role, xyz in ADDRESS.items()}
    no_target_line = moved(no_target_line, (0.0, 0.0, 0.1), ["lead_hip", "trail_hip"])
    poses = [ADDRESS] * int(FPS) + [hands_up(pose())] * 3 + [no_target_line] * int(FPS) + [hands_up(pose())]
    times = np.arange(len(poses)) / FPS
    gap_at = int(FPS) + 3  # a pause longer than GAP_MAX_S abandons the takeaway that began
    times[gap_at:] += 2 * tuning.GAP_MAX_S
    steps = run(kernel_class, np.stack([landmarks_of(p) for p in poses]), times)
    assert steps[gap_at - 1].phase in (PHASE["takeaway"], PHASE["backswing"])
    assert all(s.flags & stepper.USABLE and s.phase == PHASE["idle"] for s in steps[gap_at:-1])
    # idle reads nothing against an address, but keeps it for the next one
    assert all(s.has_address and np.isnan(s.kpis[Kpi.PELVIS_SWAY]) for s in steps[gap_at:-1])


@KERNELS
def test_a_takeaway_does_not_start_while_the_hands_are_still_at_address(kernel_class):
    """A new address, then the hands move at once: the takeaway began at the address frame, not before."""
    session = open_session(kernel_class, WORLD_Y_UP)
    frame, t = 0, 0.0

    def feed(p: Pose) -> Step:
        nonlocal frame, t
        frame, t = frame + 1, t + 1 / FPS
        return step(session, frame, frame, t, landmarks_of(p))

    nudged = moved(pose(), (0.02, 0.0, 0.0), ARMS)  # hands off their spot, but still "at address"
    for p in [ADDRESS] * int(FPS) + [nudged] + [hands_up(pose())] * 3:
        feed(p)
    t += 2 * tuning.GAP_MAX_S  # a pause: that swing is abandoned
    for _ in range(int(FPS)):
        addressed = feed(ADDRESS)
        if addressed.event is not None and addressed.event[0] == PHASE["setup"]:
            break
    assert addressed.phase == PHASE["setup"]
    moving = feed(moved(pose(), (0.0, 0.1, 0.0), ARMS))
    assert moving.event[0] == PHASE["takeaway"]
    # the hands were exactly on their address spot in the frame before
    assert moving.event[1] == addressed.frame


@KERNELS
def test_fault_severity_refuses_unknown_faults(kernel_class):
    kernel = open_session(kernel_class, WORLD_Y_UP).kernel
    assert kernel.fault_severity(len(FAULT_IDS) - 1) == 0.0
    for fault in (len(FAULT_IDS), 40, -1):
        with pytest.raises(IndexError):
            kernel.fault_severity(fault)


@KERNELS
def test_severities_refuses_a_short_buffer(kernel_class):
    kernel = open_session(kernel_class, WORLD_Y_UP).kernel
    backing = np.full(2 * len(FAULT_IDS), 7.0)  # a view into it keeps a stray write harmless
    with pytest.raises(ValueError):
        kernel.severities(backing[:5])
    assert (backing[5:] == 7.0).all()


@KERNELS
def test_set_thresholds_refuses_short_arrays(kernel_class):
    kernel = open_session(kernel_class, WORLD_Y_UP).kernel
    limits, spans = Thresholds.for_player("iron", "intermediate").arrays()
    padded_limits, padded_spans = np.concatenate([limits, limits]), np.concatenate([spans, spans])
    with pytest.raises(ValueError):
        kernel.set_thresholds(padded_limits[:5], padded_spans[:5], 2.0, 4.0)


@KERNELS
def test_thresholds_are_validated(kernel_class):
    kernel = open_session(kernel_class, WORLD_Y_UP).kernel
    limits, spans = Thresholds.for_player("iron", "intermediate").arrays()
    with pytest.raises(ValueError):
        kernel.set_thresholds(limits, np.zeros_like(spans), 2.0, 4.0)
    with pytest.raises(ValueError):
        kernel.set_thresholds(limits, spans, 4.0, 2.0)
    with pytest.raises(IndexError):
        kernel.step(64, 0, 0.0)


# --- the reference's own helpers, from first principles ---------------------------------------


@pytest.mark.parametrize("peak", [True, False], ids=["top", "impact"])
@pytest.mark.parametrize("vertex", [5.0 + 0.4 / FPS, 5.0 - 0.25 / FPS, 5.0])
def test_vertex_time_is_the_vertex_of_a_sampled_parabola(vertex, peak):
    times = 5.0 + np.array([-1.0, 0.0, 1.0]) / FPS
    heights = (1.0 if peak else -1.0) * (1.2 - 40.0 * (times - vertex) ** 2)
    extreme = reference.Extremum(times[1], heights[1], (times[0], heights[0]), (times[2], heights[2]))
    assert reference.vertex_time(extreme, peak) == pytest.approx(vertex, abs=1e-9)
    # the wrong kind of extreme is left at its sample
    assert reference.vertex_time(extreme, not peak) == times[1]
