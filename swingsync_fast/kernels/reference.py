"""A plain numpy reference of the Cython analysis kernels, for tests.

The same maths as ``frame.pyx``, ``phase.pyx``, ``faults.pyx`` and
``stepper.pyx``, written independently and for clarity rather than speed:
body points are numpy arrays, vectors are handled with numpy, and the
per-frame functions (keypoints -> body points, body points -> KPIs) take any
number of leading frame axes, so a whole recording can be converted in one
call and the stepping :class:`ReferenceKernel` uses the same functions on one
frame at a time. Every tuning constant is read from :mod:`.tuning`. What
carries state from frame to frame (the grip, the phase machine, the fault
rules) is a small class stepped one frame at a time, as in the kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from .. import landmarks
from ..catalog import CAMERA_VIEWS, COORDINATE_SYSTEMS, FAULT_IDS, KPI_NAMES, PHASES
from . import tuning

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# step() flags; equal to stepper.USABLE ... (the tests check that)
USABLE = 1
PHASE_BEGAN = 2
SWING_ENDED = 4
OUT_OF_ORDER = 8
HAS_FAULTS = 16

WORLD_Y_UP = COORDINATE_SYSTEMS.index("world_y_up")
MEDIAPIPE_WORLD = COORDINATE_SYSTEMS.index("mediapipe_world")
MEDIAPIPE_IMAGE = COORDINATE_SYSTEMS.index("mediapipe_image")

# Constants the kernel keeps in its code rather than in tuning.py.
MIN_TORSO = 1e-6  # read_body: shorter torso or shoulder line -> unusable frame
MIN_ARM = 1e-9  # angle_at: a shorter limb has no angle
MIN_LINE = 1e-9  # _add_line: a shorter horizontal line gives no direction
MIN_TARGET = 1e-6  # make_reference: the summed line directions must be longer than this
MIN_STANCE = 1e-6  # compute_kpis: narrower address stance -> no weight shift
MIN_VIEW_COS = 0.1  # frame.pyx: a view measures along an axis it sees at least this well
SEVERITY_AT_LIMIT = 0.3  # faults.pyx: severity runs 0.3 at the limit .. 1.0 at limit + span
HOLD_SAMPLES = 32  # faults.pxd: the longest run of frames a held peak keeps
FACE_LANDMARKS = 11  # the head is the mean of MediaPipe's landmarks 0..10

# Camera view codes (camera.pxd View), in catalog.CAMERA_VIEWS order
VIEW_NONE, FACE_ON, DOWN_THE_LINE, OBLIQUE = range(4)

UP = np.array([0.0, 1.0, 0.0])


class Point(IntEnum):
    """The 14 body points the analysis reads, by role rather than by side."""

    HEAD = 0  # the mean of the face landmarks
    LEAD_SHOULDER = 1
    TRAIL_SHOULDER = 2
    LEAD_ELBOW = 3
    TRAIL_ELBOW = 4
    LEAD_WRIST = 5
    TRAIL_WRIST = 6
    LEAD_INDEX = 7
    LEAD_HIP = 8
    TRAIL_HIP = 9
    LEAD_KNEE = 10
    TRAIL_KNEE = 11
    LEAD_ANKLE = 12
    TRAIL_ANKLE = 13


# KPI, fault and phase codes come from the catalog, whose order is the kernel's.
Kpi = IntEnum("Kpi", {name.upper(): i for i, name in enumerate(KPI_NAMES)})
Fault = IntEnum("Fault", {name: i for i, name in enumerate(FAULT_IDS)})
Phase = IntEnum("Phase", {name.upper(): i for i, name in enumerate(PHASES)})
NUM_KPIS = len(KPI_NAMES)
NUM_FAULTS = len(FAULT_IDS)
SWING_PHASES = (Phase.TAKEAWAY, Phase.BACKSWING, Phase.TOP_OF_SWING, Phase.DOWNSWING,
                Phase.IMPACT, Phase.FOLLOW_THROUGH)


def landmark_indices(lead_is_left: bool) -> NDArray[np.intp]:
    """MediaPipe landmark index of each :class:`Point` (mirrors frame.pyx *_LEAD_INDEX).

    HEAD's entry is the nose, the first of the face landmarks it averages.
    """
    lead, trail = ("left", "right") if lead_is_left else ("right", "left")
    names = []
    for point in Point:
        role = point.name.lower()
        if role == "head":
            role = "nose"
        elif role.startswith("lead_"):
            role = f"{lead}_{role[len('lead_'):]}"
        elif role.startswith("trail_"):
            role = f"{trail}_{role[len('trail_'):]}"
        names.append(role)
    return np.array([landmarks.LANDMARK_INDEX[name] for name in names])


def axis_scale(convention: int, aspect: float) -> FloatArray:
    """Per-axis factors that turn a convention's coordinates into y-up, right-handed ones.

    MediaPipe world has y down and z away from the camera: turning it half a
    turn about x makes y up and keeps the axes right-handed. MediaPipe image
    coordinates are also y down, with x normalised by the image width and
    z roughly at x's scale, so x and z are multiplied by width / height.
    """
    if convention == WORLD_Y_UP:
        return np.array([1.0, 1.0, 1.0])
    if convention == MEDIAPIPE_WORLD:
        return np.array([1.0, -1.0, -1.0])
    if convention == MEDIAPIPE_IMAGE:
        return np.array([aspect, -1.0, -aspect])
    raise ValueError(f"unknown coordinate convention code {convention}")


# --- keypoints -> body points (frame.pyx read_body) ---------------------------------------


def shoulder_mid(points: FloatArray) -> FloatArray:
    return 0.5 * (points[..., Point.LEAD_SHOULDER, :] + points[..., Point.TRAIL_SHOULDER, :])


def hip_mid(points: FloatArray) -> FloatArray:
    return 0.5 * (points[..., Point.LEAD_HIP, :] + points[..., Point.TRAIL_HIP, :])


def length(v: FloatArray, planar: bool) -> FloatArray:
    """A length: in the picture for image landmarks, whose depth has no scale of its own."""
    return np.linalg.norm(v[..., :2] if planar else v, axis=-1)


def torso_length(points: FloatArray, planar: bool = False) -> FloatArray:
    """Hip centre to shoulder centre, in input units."""
    return length(shoulder_mid(points) - hip_mid(points), planar)


@dataclass(frozen=True)
class Body:
    """Body points of one frame, or of a stack of frames along leading axes.

    Points a frame does not see (not finite, too large, or below the
    visibility threshold) are NaN, so anything computed from them is NaN.
    """

    points: FloatArray  # (..., 14, 3), y up
    ok: BoolArray  # (..., 14)
    vis: FloatArray  # (..., 14) MediaPipe's visibility of each point
    hands: FloatArray  # (..., 3) grip centre, NaN where no wrist is seen
    usable: BoolArray  # (...,)
    planar: bool  # image landmarks: lengths are measured in the picture

    def point(self, p: Point) -> FloatArray:
        return self.points[..., p, :]

    @property
    def shoulder_mid(self) -> FloatArray:
        return shoulder_mid(self.points)

    @property
    def hip_mid(self) -> FloatArray:
        return hip_mid(self.points)

    @property
    def torso(self) -> FloatArray:
        """Hip centre to shoulder centre, in input units."""
        return torso_length(self.points, self.planar)

    def __getitem__(self, index: int | slice | NDArray) -> Body:
        """The frame(s) at ``index`` along the first axis."""
        return Body(self.points[index], self.ok[index], self.vis[index], self.hands[index],
                    self.usable[index], self.planar)


def body_points(keypoints: NDArray, convention: int, aspect: float, lead_is_left: bool,
                min_visibility: float) -> tuple[FloatArray, BoolArray, FloatArray]:
    """(..., 33, 4) keypoints -> (..., 14, 3) y-up body points (NaN where unseen), mask, visibility.

    HEAD is the mean of the 11 face landmarks, seen when all are finite and
    their mean visibility passes.
    """
    raw = np.asarray(keypoints, dtype=np.float64)
    picked = raw[..., landmark_indices(lead_is_left), :].copy()
    picked[..., Point.HEAD, :] = raw[..., :FACE_LANDMARKS, :].sum(axis=-2) / FACE_LANDMARKS
    xyz, visibility = picked[..., :3], picked[..., 3]
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(picked).all(axis=-1) & (np.abs(xyz) < tuning.MAX_ABS_COORD).all(axis=-1)
        face = raw[..., :FACE_LANDMARKS, :]
        finite[..., Point.HEAD] = (np.isfinite(face).all(axis=(-1, -2))
                                   & (np.abs(face[..., :3]) < tuning.MAX_ABS_COORD).all(axis=(-1, -2)))
        ok = finite & (visibility >= min_visibility)
    points = np.where(ok[..., None], xyz * axis_scale(convention, aspect), np.nan)
    return points, ok, visibility


def core_seen(points: FloatArray, ok: BoolArray, planar: bool) -> BoolArray:
    """Both shoulders and hips seen, with a torso (in the picture) and a shoulder line of non-zero length."""
    shoulders_hips = ok[..., [Point.LEAD_SHOULDER, Point.TRAIL_SHOULDER, Point.LEAD_HIP,
                              Point.TRAIL_HIP]].all(axis=-1)
    # in depth too: down-the-line the shoulder line can be seen end-on
    shoulder_line = length(points[..., Point.LEAD_SHOULDER, :] - points[..., Point.TRAIL_SHOULDER, :], False)
    with np.errstate(invalid="ignore"):
        return shoulders_hips & (torso_length(points, planar) >= MIN_TORSO) & (shoulder_line >= MIN_TORSO)


@dataclass
class Grip:
    """Where the grip is, across frames that hide a wrist (mirrors body.pxd Grip).

    Two clearly seen wrists close together: their midpoint. Otherwise the
    better-seen wrist (the anchor) plus half of the trail-minus-lead offset,
    which learns only from frames that see both wrists close together: a
    hidden wrist is MediaPipe's guess.
    """

    offset: FloatArray = field(default_factory=lambda: np.zeros(3))
    learnt: bool = False
    anchor: Point | None = None

    def place(self, points: FloatArray, ok: BoolArray, vis: FloatArray, torso: float,
              planar: bool, alpha: float) -> FloatArray | None:
        """The grip centre of one frame (None without a wrist), learning from it."""
        lead_ok, trail_ok = bool(ok[Point.LEAD_WRIST]), bool(ok[Point.TRAIL_WRIST])
        if not (lead_ok or trail_ok):
            return None
        both_seen = False
        if lead_ok and trail_ok:
            d = points[Point.TRAIL_WRIST] - points[Point.LEAD_WRIST]
            if length(d, planar) <= tuning.GRIP_TOGETHER * torso:
                both_seen = bool(vis[Point.LEAD_WRIST] >= tuning.GRIP_SEEN
                                 and vis[Point.TRAIL_WRIST] >= tuning.GRIP_SEEN)
                if not self.learnt:
                    alpha, self.learnt = 1.0, True
                self.offset = self.offset + alpha * (d - self.offset)
        anchor = self.anchor
        if anchor is None or not ok[anchor]:
            lead_better = lead_ok and (not trail_ok or vis[Point.LEAD_WRIST] >= vis[Point.TRAIL_WRIST])
            anchor = Point.LEAD_WRIST if lead_better else Point.TRAIL_WRIST
        elif lead_ok and trail_ok:
            other = Point.TRAIL_WRIST if anchor == Point.LEAD_WRIST else Point.LEAD_WRIST
            if vis[other] > vis[anchor] + tuning.GRIP_ANCHOR_SWITCH:
                anchor = other
        self.anchor = anchor
        if both_seen:  # two clearly seen wrists on one grip: their midpoint halves the jitter
            return 0.5 * (points[Point.LEAD_WRIST] + points[Point.TRAIL_WRIST])
        half = 0.5 if anchor == Point.LEAD_WRIST else -0.5
        return points[anchor] + half * self.offset

    def guess(self, points: FloatArray, ok: BoolArray, vis: FloatArray) -> FloatArray | None:
        """The grip from the surer of two hidden wrists (``ok``: it reaches the floor), learning nothing."""
        # at address MediaPipe sees the hands on the grip as one blob and is unsure of both wrists
        j = Point.LEAD_WRIST if vis[Point.LEAD_WRIST] >= vis[Point.TRAIL_WRIST] else Point.TRAIL_WRIST
        if not ok[j]:
            return None
        half = 0.5 if j == Point.LEAD_WRIST else -0.5
        return points[j] + half * self.offset


def read_body(keypoints: NDArray, convention: int, aspect: float, lead_is_left: bool,
              min_visibility: float, grip: Grip, grip_alpha: float,
              hands_floor: float | None = None) -> Body:
    """One (33, 4) frame -> its body; usable when the core and at least one wrist are seen.

    With no wrist seen, the surer guess still places the grip if its
    visibility reaches ``hands_floor`` (None: never).
    """
    planar = convention == MEDIAPIPE_IMAGE
    points, ok, vis = body_points(keypoints, convention, aspect, lead_is_left, min_visibility)
    hands = None
    core = bool(core_seen(points, ok, planar))
    if core:
        hands = grip.place(points, ok, vis, float(torso_length(points, planar)), planar, grip_alpha)
        if hands is None and hands_floor is not None:
            guesses, seen, _ = body_points(keypoints, convention, aspect, lead_is_left, hands_floor)
            hands = grip.guess(guesses, seen, vis)
    usable = core and hands is not None
    return Body(points, ok, vis, hands if usable else np.full(3, np.nan), np.bool_(usable), planar)


def read_bodies(keypoints: NDArray, convention: int, aspect: float, lead_is_left: bool,
                min_visibility: float, times: NDArray | None = None) -> Body:
    """A whole (N, 33, 4) recording -> a stack of N bodies, the grip carried frame to frame.

    ``times`` set the grip offset's smoothing as the kernel's frame gaps do
    (default: 30 FPS).
    """
    times = np.arange(len(keypoints)) / 30.0 if times is None else np.asarray(times, dtype=np.float64)
    grip, bodies, t_prev = Grip(), [], math.nan
    for frame, t in zip(keypoints, times):
        body = read_body(frame, convention, aspect, lead_is_left, min_visibility, grip,
                         grip_alpha(t - t_prev))
        if body.usable:
            t_prev = t
        bodies.append(body)
    planar = convention == MEDIAPIPE_IMAGE
    return Body(np.stack([b.points for b in bodies]), np.stack([b.ok for b in bodies]),
                np.stack([b.vis for b in bodies]), np.stack([b.hands for b in bodies]),
                np.array([b.usable for b in bodies]), planar)


def grip_alpha(dt: float) -> float:
    """How far the grip offset follows this frame, after ``dt`` seconds (1 after a gap)."""
    if dt > 0.0 and dt <= tuning.GAP_MAX_S:
        return 1.0 - math.exp(-dt / tuning.GRIP_OFFSET_S)
    return 1.0


def convert_recording(keypoints: NDArray, convention: int, aspect: float = 1.0,
                      lead_is_left: bool = True,
                      min_visibility: float = 0.5) -> tuple[FloatArray, BoolArray, BoolArray]:
    """A whole (N, 33, 4) recording -> y-up body points (N, 14, 3), point mask, usable mask."""
    bodies = read_bodies(keypoints, convention, aspect, lead_is_left, min_visibility)
    return bodies.points, bodies.ok, bodies.usable


# --- the camera (camera.pyx) ---------------------------------------------------------------


@dataclass(frozen=True)
class Camera:
    """Where the camera stands, fitted at address (mirrors camera.pxd Camera)."""

    view: int
    angle: float = 0.0  # radians from face-on toward down-the-line
    target_x: float = 1.0  # +1: the target lies toward the image's right
    ball_x: float = 1.0
    tilt: float = 0.0  # spine tilt toward the ball at address, radians
    torso: float = 0.0  # image units, not foreshortened
    shoulder_width: float = 0.0
    hip_width: float = 0.0
    measured: frozenset[Kpi] = frozenset()


def _kpi_set(names) -> frozenset[Kpi]:
    return frozenset(Kpi[name.upper()] for name in names)


ALL_KPIS: frozenset[Kpi] = frozenset(Kpi)
VIEW_KPIS: dict[int, frozenset[Kpi]] = {
    VIEW_NONE: ALL_KPIS,
    **{CAMERA_VIEWS.index(view): _kpi_set(names) for view, names in tuning.VIEW_KPIS.items()},
}
WORLD_KPIS: frozenset[Kpi] = _kpi_set(tuning.WORLD_KPIS)
# measured against the address pose: meaningless once a swing is over and before the next
ADDRESS_KPIS: frozenset[Kpi] = _kpi_set(("shoulder_turn", "hip_turn", "x_factor", "head_sway", "head_lift",
                                         "pelvis_sway", "pelvis_thrust", "hand_height"))
RADIAN = math.pi / 180.0
SIN_BEND = math.sin(tuning.SIDE_BEND_PRIOR_DEG * math.pi / 180.0)
SIN_BEND_SD = math.sin(tuning.SIDE_BEND_SD_DEG * math.pi / 180.0)
TILT_PRIOR = tuning.TILT_PRIOR_DEG * math.pi / 180.0
TILT_SD = tuning.TILT_SD_DEG * math.pi / 180.0


def depth_angle(width: float, dz: float, sd_deg: float) -> tuple[float, float]:
    """A line's angle off the picture plane from its depth (mirrors _depth_angle): (radians, weight).

    MediaPipe's z runs Z_STRETCH times the body's depth, and the lead end of a
    line is the farther one from any supported camera; a line reaching toward
    the camera reads as face-on.
    """
    return math.atan2(max(-dz, 0.0) / tuning.Z_STRETCH, width), 1.0 / (sd_deg * RADIAN) ** 2


def camera_cost(shoulders: float, hips: float, lean: float, vt: float, target_x: float,
                ball_x: NDArray, angle_deg: NDArray, tilt_deg: NDArray,
                depth: tuple[tuple[float, float], ...] = ()) -> NDArray:
    """How unlikely the address picture is from each camera angle and spine tilt (mirrors _cost).

    ``depth``: (angle, weight) of each line's depth reading (``depth_angle``).
    """
    t, a = tilt_deg * RADIAN, angle_deg * RADIAN
    ca, sa = np.cos(a), np.sin(a)
    torso = vt / np.cos(t)
    r1 = (shoulders - tuning.SHOULDER_WIDTH * torso * ca) / (
        torso * (tuning.SHOULDER_WIDTH_SD * ca + tuning.WIDTH_ERROR))
    r2 = (hips - tuning.HIP_WIDTH * torso * ca) / (torso * (tuning.HIP_WIDTH_SD * ca + tuning.WIDTH_ERROR))
    # the spine leans toward the ball by its tilt and away from the target by its side bend
    lean_model = torso * (ball_x * sa * np.sin(t) - target_x * ca * SIN_BEND)
    r3 = (lean - lean_model) / (torso * np.sqrt(tuning.LEAN_ERROR * tuning.LEAN_ERROR
                                                + ca * ca * SIN_BEND_SD * SIN_BEND_SD))
    r4 = (t - TILT_PRIOR) / TILT_SD
    cost = r1 * r1 + r2 * r2 + r3 * r3 + r4 * r4
    for angle, weight in depth:
        cost = cost + weight * (a - angle) ** 2
    return cost


def angle_range(forced_view: int) -> tuple[float, float]:
    if forced_view == FACE_ON:
        return 0.0, tuning.FACE_ON_MAX_DEG
    if forced_view == DOWN_THE_LINE:
        return tuning.DTL_MIN_DEG, 90.0
    if forced_view == OBLIQUE:
        return tuning.FACE_ON_MAX_DEG, tuning.DTL_MIN_DEG
    return 0.0, 90.0


def view_of(angle_deg: float) -> int:
    if angle_deg < tuning.FACE_ON_MAX_DEG:
        return FACE_ON
    if angle_deg > tuning.DTL_MIN_DEG:
        return DOWN_THE_LINE
    return OBLIQUE


def camera_fit(body: Body, forced_view: int) -> Camera | None:
    """The camera of an image-landmark address pose (mirrors camera_fit), None if it cannot say.

    A grid over camera angle and spine tilt in 5 degree steps for the ball on
    either side of the picture, then 1 degree steps around the best cell.
    """
    sh = body.point(Point.LEAD_SHOULDER) - body.point(Point.TRAIL_SHOULDER)
    hp = body.point(Point.LEAD_HIP) - body.point(Point.TRAIL_HIP)
    spine = body.shoulder_mid - body.hip_mid
    lean, vt = float(spine[0]), float(spine[1])
    if not vt > 0.0:
        return None
    lo, hi = angle_range(forced_view)
    target_x = -1.0 if sh[0] + hp[0] < 0.0 else 1.0
    shoulders, hips = abs(float(sh[0])), abs(float(hp[0]))
    depth = (depth_angle(shoulders, float(sh[2]), tuning.Z_ANGLE_SD_SHOULDERS_DEG),
             depth_angle(hips, float(hp[2]), tuning.Z_ANGLE_SD_HIPS_DEG))
    t_lo, t_hi = tuning.TILT_RANGE_DEG
    angles = np.arange(lo, hi + 1e-9, 5.0)
    tilts = np.arange(t_lo, t_hi + 1e-9, 5.0)
    balls = np.array([1.0, -1.0])
    b, a, t = np.meshgrid(balls, angles, tilts, indexing="ij")
    cost = camera_cost(shoulders, hips, lean, vt, target_x, b, a, t, depth)
    side, i, j = np.unravel_index(np.argmin(cost), cost.shape)
    best, best_a, best_t, ball = cost[side, i, j], angles[i], tilts[j], balls[side]
    fine_a = best_a + np.arange(-4, 5)
    fine_t = best_t + np.arange(-4, 5)
    fa, ft = np.meshgrid(fine_a, fine_t, indexing="ij")
    inside = (fa >= lo) & (fa <= hi) & (ft >= t_lo) & (ft <= t_hi)
    fine = np.where(inside, camera_cost(shoulders, hips, lean, vt, target_x, ball, fa, ft, depth), np.inf)
    k = np.unravel_index(np.argmin(fine), fine.shape)
    if fine[k] < best:
        best_a, best_t = fa[k], ft[k]
    angle, tilt = best_a * RADIAN, best_t * RADIAN
    torso = vt / math.cos(tilt)
    ca, sa = math.cos(angle), math.sin(angle)
    view = forced_view if forced_view != VIEW_NONE else view_of(best_a)
    return Camera(
        view=view, angle=angle, target_x=target_x, ball_x=ball, tilt=tilt, torso=torso,
        # a line's width: seen directly face-on, from body proportions down-the-line
        shoulder_width=ca * shoulders + sa * sa * tuning.SHOULDER_WIDTH * torso,
        hip_width=ca * hips + sa * sa * tuning.HIP_WIDTH * torso,
        measured=VIEW_KPIS[view],
    )


def camera_for_world(target: FloatArray, has_camera: bool) -> Camera:
    """3-D input measures everything; camera-aligned world landmarks still tell the angle."""
    angle = math.atan2(abs(target[2]), abs(target[0]))
    view = view_of(math.degrees(angle)) if has_camera else VIEW_NONE
    return Camera(view=view, angle=angle, target_x=-1.0 if target[0] < 0.0 else 1.0,
                  measured=ALL_KPIS)


def camera_turn(cam: Camera, now: FloatArray, address: FloatArray, width: float, tilted: bool,
                handed: float) -> float:
    """Degrees a line has turned from address, + away from the target (mirrors camera_turn).

    The line now is cos(a) * its address vector + sin(a) * its backswing
    direction; x, y and z each give a linear equation in (cos a, sin a).
    z is scaled by its own address value where the line had depth, else by
    the usual stretch of MediaPipe's z. The dip in y is only as good as the
    fitted spine tilt, which face-on is a guess from body proportions.
    A direction no equation sees is closed on the unit circle, on the side
    the z change agrees with.
    """
    ct, st = (math.cos(cam.tilt), math.sin(cam.tilt)) if tilted else (1.0, 0.0)
    sa, ca = math.sin(cam.angle), math.cos(cam.angle)
    w2d = 1.0 / (tuning.TURN_ERROR_2D * width) ** 2
    rows = [(w2d, address[0], width * ct * cam.ball_x * sa, now[0])]  # weight, cos, sin, seen
    if tilted:
        dip_error = math.hypot(tuning.TURN_ERROR_2D, tuning.TURN_ERROR_TILT * st * ca)
        rows.append((1.0 / (dip_error * width) ** 2, address[1], -width * st, now[1]))
    dz0 = address[2]
    if sa >= tuning.Z_MIN_SIN and abs(dz0) > 1e-9:
        rows.append((1.0 / (tuning.TURN_ERROR_Z * dz0) ** 2, dz0,
                     -dz0 * ct * (ca / sa) * cam.target_x * cam.ball_x, now[2]))
    elif width > 0.0:
        # toward the camera: a turning line's lead end comes toward a camera on the ball side
        depth = tuning.Z_STRETCH * width
        rows.append((1.0 / (tuning.TURN_ERROR_Z_STRETCH * depth) ** 2, dz0, depth * ct * ca, now[2]))
    m, r = np.zeros((2, 2)), np.zeros(2)
    for w, c_coef, s_coef, seen in rows:
        v = np.array([c_coef, s_coef])
        m += w * np.outer(v, v)
        r += w * v * seen
    values, vectors = np.linalg.eigh(m)
    small, big = values
    if not big > 0.0:
        return 0.0
    if small >= tuning.TURN_WEAK * big:
        c, s = np.linalg.solve(m, r)
    else:
        u = vectors[:, 1]
        proj = float(np.clip(u @ r / big, -1.0, 1.0))
        q = math.sqrt(1.0 - proj * proj)
        perp = np.array([-u[1], u[0]])
        candidates = [proj * u + q * perp, proj * u - q * perp]
        dz = now[2] - dz0
        if sa >= tuning.Z_PICK_MIN_SIN and abs(dz0) > tuning.Z_SIGN_MIN * cam.torso:
            zs = -dz0 * ct * (ca / sa) * cam.target_x * cam.ball_x
            c, s = min(candidates, key=lambda cs: abs(cs[0] * dz0 + cs[1] * zs - now[2]))
        else:
            s_sign = 1.0
            if abs(dz) > tuning.Z_SIGN_MIN * cam.torso:
                s_sign = (-1.0 if dz < 0.0 else 1.0) * handed * cam.target_x
            c, s = max(candidates, key=lambda cs: cs[1] * s_sign)
    return math.degrees(math.atan2(s * ct, c))


# --- the address reference (frame.pyx make_reference, blend_body) -------------------------


@dataclass(frozen=True)
class Reference:
    """The address pose and the axes every KPI is measured along."""

    body: Body  # one frame
    target: FloatArray  # horizontal unit vector, trail side to lead side (3-D input)
    ball: FloatArray  # horizontal unit vector toward the ball
    shoulder_angle: float  # shoulder line direction at address, radians in (target, ball)
    hip_angle: float
    metres_per_unit: float
    foot: Point | None  # the ankle travel is measured from
    camera: Camera


def horizontal_direction(body: Body, lead: Point, trail: Point) -> FloatArray | None:
    """Unit direction trail -> lead of one body line projected on the ground, if it has one."""
    if not (body.ok[lead] and body.ok[trail]):
        return None
    d = (body.point(lead) - body.point(trail)) * np.array([1.0, 0.0, 1.0])
    size = np.linalg.norm(d)
    return d / size if size >= MIN_LINE else None


def line_angle(body: Body, lead: Point, trail: Point, target: FloatArray,
               ball: FloatArray) -> FloatArray:
    """Direction of the trail -> lead line in the ground plane, radians from target toward ball."""
    d = body.point(lead) - body.point(trail)
    return np.arctan2(d @ ball, d @ target)


def planted_foot(body: Body) -> Point | None:
    """The lead ankle stays flat longest; down-the-line it can hide behind the trail leg."""
    if body.ok[Point.LEAD_ANKLE]:
        return Point.LEAD_ANKLE
    return Point.TRAIL_ANKLE if body.ok[Point.TRAIL_ANKLE] else None


NO_CAMERA = Camera(VIEW_NONE)


def other_hand(body: Body) -> bool:
    """Whether an address in image landmarks is the other hand's (tuning.HANDEDNESS_DEPTH):
    its shoulder and hip lines have their lead ends nearer the camera (y-up: larger z)."""
    depth = body.point(Point.LEAD_SHOULDER)[2] - body.point(Point.TRAIL_SHOULDER)[2]
    hip_depth = body.point(Point.LEAD_HIP)[2] - body.point(Point.TRAIL_HIP)[2]
    limit = tuning.HANDEDNESS_DEPTH * float(body.torso)
    return bool(depth > limit and hip_depth > 0.5 * limit)


_SIDES = np.array([Point.HEAD, Point.TRAIL_SHOULDER, Point.LEAD_SHOULDER, Point.TRAIL_ELBOW, Point.LEAD_ELBOW,
                   Point.TRAIL_WRIST, Point.LEAD_WRIST, Point.LEAD_INDEX, Point.TRAIL_HIP, Point.LEAD_HIP,
                   Point.TRAIL_KNEE, Point.LEAD_KNEE, Point.TRAIL_ANKLE, Point.LEAD_ANKLE])


def swap_sides(body: Body) -> Body:
    """The same body read the other way round (mirrors frame.pyx swap_sides): lead and trail
    exchanged; the trail index finger is never read, so the lead one is lost."""
    points, ok, vis = body.points[_SIDES].copy(), body.ok[_SIDES].copy(), body.vis[_SIDES].copy()
    points[Point.LEAD_INDEX], ok[Point.LEAD_INDEX], vis[Point.LEAD_INDEX] = np.nan, False, 0.0
    return replace(body, points=points, ok=ok, vis=vis)


def make_reference(body: Body, right_handed: bool, convention: int, forced_view: int = VIEW_NONE,
                   keep: Reference | None = None) -> Reference | None:
    """The address reference of a pose (mirrors make_reference + fit_camera).

    3-D input: the target line is the mean ground direction of the ankle, hip
    and shoulder lines, near parallel at address, and the ball is in front of
    the golfer (target x up for a right-handed golfer, up x target for a
    left). Image landmarks: the camera (fitted at address) places both.
    ``keep``: refine that reference's pose but keep its camera.
    """
    foot = planted_foot(body)
    if convention == MEDIAPIPE_IMAGE:
        if keep is not None:
            return replace(keep, body=body, foot=foot)
        camera = camera_fit(body, forced_view)
        if camera is None:
            return None
        return Reference(body=body, target=np.array([1.0, 0.0, 0.0]), ball=np.array([0.0, 0.0, 1.0]),
                         shoulder_angle=0.0, hip_angle=0.0,
                         metres_per_unit=tuning.IMAGE_TORSO_METRES / camera.torso, foot=foot,
                         camera=camera)
    lines = [(Point.LEAD_ANKLE, Point.TRAIL_ANKLE), (Point.LEAD_HIP, Point.TRAIL_HIP),
             (Point.LEAD_SHOULDER, Point.TRAIL_SHOULDER)]
    directions = [d for d in (horizontal_direction(body, *line) for line in lines) if d is not None]
    total = np.sum(directions, axis=0) if directions else np.zeros(3)
    if np.linalg.norm(total) < MIN_TARGET:
        return None
    target = total / np.linalg.norm(total)
    ball = np.cross(target, UP) if right_handed else np.cross(UP, target)
    camera = keep.camera if keep is not None else camera_for_world(target, convention == MEDIAPIPE_WORLD)
    return Reference(
        body=body,
        target=target,
        ball=ball,
        shoulder_angle=float(line_angle(body, Point.LEAD_SHOULDER, Point.TRAIL_SHOULDER, target, ball)),
        hip_angle=float(line_angle(body, Point.LEAD_HIP, Point.TRAIL_HIP, target, ball)),
        metres_per_unit=1.0,
        foot=foot,
        camera=camera,
    )


def refit_camera(ref: Reference, convention: int, forced_view: int) -> Reference:
    """Settle the camera on the address the swing starts from (mirrors fit_camera)."""
    if convention == MEDIAPIPE_IMAGE:
        camera = camera_fit(ref.body, forced_view)
        if camera is None:
            return ref
        return replace(ref, camera=camera, metres_per_unit=tuning.IMAGE_TORSO_METRES / camera.torso)
    return replace(ref, camera=camera_for_world(ref.target, convention == MEDIAPIPE_WORLD))


def blend_body(average: Body, body: Body, alpha: float) -> Body:
    """Move a smoothed pose toward ``body`` by ``alpha`` (mirrors blend_body).

    Points the average has never seen are taken as they are; points this
    frame does not see keep their average.
    """
    seen_both = (average.ok & body.ok)[:, None]
    points = np.where(seen_both, average.points + alpha * (body.points - average.points),
                      np.where(body.ok[:, None], body.points, average.points))
    vis = np.where(body.ok, body.vis, average.vis)
    hands = average.hands + alpha * (body.hands - average.hands)
    return Body(points, average.ok | body.ok, vis, hands, average.usable, average.planar)


# --- KPIs (frame.pyx compute_kpis) ---------------------------------------------------------


def joint_angle(a: FloatArray, b: FloatArray, c: FloatArray, planar: bool = False) -> FloatArray:
    """Angle ABC in degrees (mirrors geometry.angle_at); NaN when either limb has no length.

    In the picture for image landmarks.
    """
    u, v = a - b, c - b
    if planar:
        u, v = u * np.array([1.0, 1.0, 0.0]), v * np.array([1.0, 1.0, 0.0])
    with np.errstate(invalid="ignore"):
        has_length = ((np.linalg.norm(u, axis=-1) >= MIN_ARM)
                      & (np.linalg.norm(v, axis=-1) >= MIN_ARM))
    angle = np.degrees(np.arctan2(np.linalg.norm(np.cross(u, v), axis=-1), np.sum(u * v, axis=-1)))
    return np.where(has_length, angle, np.nan)


def wrap_degrees(angle: FloatArray) -> FloatArray:
    """Wrap into (-180, 180]."""
    return 180.0 - np.mod(180.0 - angle, 360.0)


def joint_kpis(bodies: Body) -> dict[Kpi, FloatArray]:
    """The KPIs that need no address: joint angles and wrist hinge."""
    P = Point
    p = bodies.point
    planar = bodies.planar
    return {
        Kpi.LEAD_ELBOW: joint_angle(p(P.LEAD_SHOULDER), p(P.LEAD_ELBOW), p(P.LEAD_WRIST), planar),
        Kpi.TRAIL_ELBOW: joint_angle(p(P.TRAIL_SHOULDER), p(P.TRAIL_ELBOW), p(P.TRAIL_WRIST), planar),
        Kpi.LEAD_KNEE: joint_angle(p(P.LEAD_HIP), p(P.LEAD_KNEE), p(P.LEAD_ANKLE), planar),
        Kpi.TRAIL_KNEE: joint_angle(p(P.TRAIL_HIP), p(P.TRAIL_KNEE), p(P.TRAIL_ANKLE), planar),
        # 0 when the hand is in line with the forearm
        Kpi.WRIST_HINGE: 180.0 - joint_angle(p(P.LEAD_ELBOW), p(P.LEAD_WRIST), p(P.LEAD_INDEX), planar),
    }


def travel(now: FloatArray, now_foot: FloatArray, then: FloatArray, then_foot: FloatArray) -> FloatArray:
    """How far a point moved since address, relative to a planted foot (mirrors _travel)."""
    return (now - now_foot) - (then - then_foot)


def _foot_points(bodies: Body, ref: Reference) -> tuple[FloatArray, FloatArray]:
    """The planted foot now and at address (NaN if either is unseen)."""
    if ref.foot is None:
        nothing = np.full(bodies.hands.shape, np.nan)
        return nothing, nothing
    return bodies.point(ref.foot), ref.body.point(ref.foot)


def world_address_kpis(bodies: Body, ref: Reference) -> dict[Kpi, FloatArray]:
    """The KPIs against the address of 3-D input: turns, spine, travel, weight shift."""
    P = Point
    shoulder = wrap_degrees(np.degrees(
        line_angle(bodies, P.LEAD_SHOULDER, P.TRAIL_SHOULDER, ref.target, ref.ball)
        - ref.shoulder_angle))
    hip = wrap_degrees(np.degrees(
        line_angle(bodies, P.LEAD_HIP, P.TRAIL_HIP, ref.target, ref.ball) - ref.hip_angle))
    spine = bodies.shoulder_mid - bodies.hip_mid
    a, m = ref.body, ref.metres_per_unit
    foot, address_foot = _foot_points(bodies, ref)
    head = travel(bodies.point(P.HEAD), foot, a.point(P.HEAD), address_foot) * m
    pelvis = travel(bodies.hip_mid, foot, a.hip_mid, address_foot) * m
    hands = travel(bodies.hands, foot, a.hands, address_foot) * m
    stance = (bodies.point(P.LEAD_ANKLE) - bodies.point(P.TRAIL_ANKLE)) @ ref.target
    with np.errstate(invalid="ignore", divide="ignore"):
        # hip centre between the ankles: -1 over the trail ankle, +1 over the lead
        weight = 2.0 * ((bodies.hip_mid - bodies.point(P.TRAIL_ANKLE)) @ ref.target) / stance - 1.0
    weight = np.where((np.abs(stance) > MIN_STANCE) & ~np.isnan(foot[..., 0]), weight, np.nan)
    return {
        Kpi.SHOULDER_TURN: shoulder,
        Kpi.HIP_TURN: hip,
        Kpi.X_FACTOR: shoulder - hip,
        # both + when the spine leans toward the ball / away from the target
        Kpi.SPINE_TILT: np.degrees(np.arctan2(spine @ ref.ball, spine[..., 1])),
        Kpi.SIDE_BEND: np.degrees(np.arctan2(-(spine @ ref.target), spine[..., 1])),
        Kpi.HEAD_SWAY: -(head @ ref.target),
        Kpi.HEAD_LIFT: head[..., 1],
        Kpi.PELVIS_SWAY: -(pelvis @ ref.target),
        Kpi.PELVIS_THRUST: pelvis @ ref.ball,
        Kpi.HAND_HEIGHT: hands[..., 1],
        Kpi.WEIGHT_SHIFT: weight,
    }


def image_address_kpis(body: Body, ref: Reference, right_handed: bool) -> dict[Kpi, float]:
    """The KPIs against the address of one image-landmark frame, each along the axis its view sees.

    The picture's horizontal carries the target line by cos(angle) and the
    ball line by sin(angle) (mirrors _image_kpis).
    """
    P = Point
    cam, a, m = ref.camera, ref.body, ref.metres_per_unit
    handed = 1.0 if right_handed else -1.0
    along_target = cam.target_x * math.cos(cam.angle)
    along_ball = cam.ball_x * math.sin(cam.angle)
    along_target = along_target if abs(along_target) >= MIN_VIEW_COS else math.nan
    along_ball = along_ball if abs(along_ball) >= MIN_VIEW_COS else math.nan

    def line(lead: Point, trail: Point, width: float, tilted: bool) -> float:
        return camera_turn(cam, body.point(lead) - body.point(trail), a.point(lead) - a.point(trail),
                           width, tilted, handed)

    shoulder = line(P.LEAD_SHOULDER, P.TRAIL_SHOULDER, cam.shoulder_width, True)
    hip = line(P.LEAD_HIP, P.TRAIL_HIP, cam.hip_width, False)
    spine = body.shoulder_mid - body.hip_mid
    out = {
        Kpi.SHOULDER_TURN: shoulder,
        Kpi.HIP_TURN: hip,
        Kpi.X_FACTOR: shoulder - hip,
        # the picture's lean mixes tilt and bend: each read with the other at its address value
        Kpi.SPINE_TILT: math.degrees(math.atan2(
            (spine[0] + cam.target_x * math.cos(cam.angle) * SIN_BEND / math.cos(cam.tilt) * spine[1])
            / along_ball, spine[1])),
        Kpi.SIDE_BEND: math.degrees(math.atan2(
            -(spine[0] - cam.ball_x * math.sin(cam.angle) * math.tan(cam.tilt) * spine[1])
            / along_target, spine[1])),
    }
    if ref.foot is None or not body.ok[ref.foot]:
        return out
    foot, address_foot = body.point(ref.foot), a.point(ref.foot)
    head = travel(body.point(P.HEAD), foot, a.point(P.HEAD), address_foot)
    pelvis = travel(body.hip_mid, foot, a.hip_mid, address_foot)
    hands = travel(body.hands, foot, a.hands, address_foot)
    if body.ok[P.HEAD] and a.ok[P.HEAD]:
        out[Kpi.HEAD_SWAY] = -head[0] / along_target * m
        out[Kpi.HEAD_LIFT] = head[1] * m
    out[Kpi.PELVIS_SWAY] = -pelvis[0] / along_target * m
    out[Kpi.PELVIS_THRUST] = pelvis[0] / along_ball * m
    out[Kpi.HAND_HEIGHT] = hands[1] * m
    if body.ok[P.LEAD_ANKLE] and body.ok[P.TRAIL_ANKLE]:
        trail_ankle = body.point(P.TRAIL_ANKLE)
        stance = (body.point(P.LEAD_ANKLE)[0] - trail_ankle[0]) / along_target
        if abs(stance) > MIN_STANCE:
            out[Kpi.WEIGHT_SHIFT] = 2.0 * (body.hip_mid[0] - trail_ankle[0]) / along_target / stance - 1.0
    return out


def frame_kpis(bodies: Body, ref: Reference | None, hand_speed: float | FloatArray,
               right_handed: bool = True, convention: int = WORLD_Y_UP) -> FloatArray:
    """All KPIs of one or many usable frames against one address (mirrors compute_kpis).

    Returns (..., NUM_KPIS); NaN where a point, the address or the view does
    not allow. Image landmarks: one frame at a time, nothing before an address.
    """
    out = np.full((*bodies.usable.shape, NUM_KPIS), np.nan)
    if convention == MEDIAPIPE_IMAGE and ref is None:
        return out
    values = joint_kpis(bodies)
    values[Kpi.HAND_SPEED] = hand_speed
    if ref is not None:
        if convention == MEDIAPIPE_IMAGE:
            values.update(image_address_kpis(bodies, ref, right_handed))
        else:
            values.update(world_address_kpis(bodies, ref))
    for kpi, value in values.items():
        out[..., kpi] = value
    if convention == MEDIAPIPE_IMAGE:
        unmeasured = [k for k in Kpi if k not in ref.camera.measured]
        out[..., unmeasured] = np.nan
    return out


def shoulder_turn(body: Body, ref: Reference, right_handed: bool, convention: int) -> float:
    """The shoulder turn alone: the phase machine's cue that a takeaway began (mirrors shoulder_turn)."""
    if convention != MEDIAPIPE_IMAGE:
        return float(wrap_degrees(math.degrees(
            line_angle(body, Point.LEAD_SHOULDER, Point.TRAIL_SHOULDER, ref.target, ref.ball)
            - ref.shoulder_angle)))
    return camera_turn(ref.camera, body.point(Point.LEAD_SHOULDER) - body.point(Point.TRAIL_SHOULDER),
                       ref.body.point(Point.LEAD_SHOULDER) - ref.body.point(Point.TRAIL_SHOULDER),
                       ref.camera.shoulder_width, True, 1.0 if right_handed else -1.0)


# --- the phase machine (phase.pyx) ---------------------------------------------------------


class Marker(NamedTuple):
    """A frame the machine points back to."""

    frame: int
    t: float
    slot: int


NO_MARKER = Marker(0, math.nan, 0)


class Sample(NamedTuple):
    """The hands' rise and gap at one frame of the phase machine."""

    t: float
    rise: float
    gap: float


NO_SAMPLE = Sample(math.nan, math.nan, math.nan)


@dataclass
class Extremum:
    """A peak or trough of a sampled signal with the samples either side (mirrors phase.pxd).

    ``after`` is the first later sample that did not beat the extreme.
    """

    t: float
    value: float
    before: tuple[float, float]  # (time, value)
    after: tuple[float, float] = (math.nan, math.nan)

    def note_next(self, t: float, value: float) -> None:
        if math.isnan(self.after[0]):
            self.after = (t, value)

    def samples(self) -> tuple[FloatArray, FloatArray] | None:
        """(times, values) of the three samples, or None unless they are in time order."""
        t = np.array([self.before[0], self.t, self.after[0]])
        if not (t[0] < t[1] < t[2]):
            return None
        return t, np.array([self.before[1], self.value, self.after[1]])


def vertex_time(extremum: Extremum, peak: bool) -> float:
    """Vertex of the parabola through an extreme sample and its neighbours (mirrors _vertex_time).

    The hands turn smoothly at the top and bottom out smoothly at impact, so a
    parabola places either between frames; ``peak``: a maximum, else a minimum.
    """
    samples = extremum.samples()
    if samples is None:
        return extremum.t
    t, y = samples
    curvature, slope, _ = np.polyfit(t - extremum.t, y, 2)
    if not (curvature < 0.0 if peak else curvature > 0.0):
        return extremum.t
    return float(np.clip(extremum.t - slope / (2.0 * curvature), t[0], t[2]))


class PhaseMachine:
    """Mirrors phase.pyx: causal phase detection from the hands' path against the address.

    Lengths are in address torso lengths and times in seconds (see tuning.py).
    """

    def __init__(self, right_handed: bool, convention: int, forced_view: int = VIEW_NONE) -> None:
        self.right_handed = right_handed
        self.convention = convention
        self.forced_view = forced_view if convention == MEDIAPIPE_IMAGE else VIEW_NONE
        # MediaPipe's image depth is too noisy to measure distances with
        self.axis_weights = np.array([1.0, 1.0, 0.0 if convention == MEDIAPIPE_IMAGE else 1.0])
        self.reset()

    def reset(self) -> None:
        self.phase = Phase.IDLE
        self.p_position = 0
        self.ref: Reference | None = None
        self.last = NO_MARKER  # last usable frame
        self.last_hands = np.full(3, np.nan)
        self.hands = np.full(3, np.nan)  # grip centre, lightly smoothed against jitter
        self.anchor = NO_MARKER  # when hands and hips settled where they are
        self.anchor_hands = np.full(3, np.nan)
        self.anchor_hips = np.full(3, np.nan)
        self.settled_hands = np.full(3, np.nan)  # hands and hips smoothed for the stillness test
        self.settled_hips = np.full(3, np.nan)
        self.finish_hands = np.full(3, np.nan)
        self.t_phase = math.nan  # when the current phase began
        self.at_address = self.takeaway = self.top = self.impact = self.finish = NO_MARKER
        self.at_address_gap = math.nan  # hands from their address spot at ``at_address``
        self.previous = NO_SAMPLE  # the last frame that measured rise and gap
        self.highest = Extremum(math.nan, math.nan, (math.nan, math.nan))  # rise in the backswing
        self.lowest = Extremum(math.nan, math.inf, (math.nan, math.nan))  # rise near address in the downswing
        self.top_time = math.nan  # sub-frame estimates of the top and impact
        self.impact_time = math.nan
        self.swings = 0
        self.event_phase: Phase | None = None
        self.event = NO_MARKER
        self.swing_done = False
        self.armed = False  # a new address was taken on the last step
        self.refined = 0.0  # the address pose moved toward the last frame by this much
        self.turn = 0.0  # shoulder turn from the address, smoothed over time against jitter

    # geometry against the address, in address torso lengths

    def distance(self, a: FloatArray, b: FloatArray) -> float:
        return float(np.linalg.norm((a - b) * self.axis_weights))

    def hands_rise(self) -> float:
        """Smoothed hands above their address height, in address torso lengths (NaN before an address)."""
        if self.ref is None:
            return math.nan
        return float((self.hands[1] - self.ref.body.hands[1]) / self.ref.body.torso)

    def hands_gap(self) -> float:
        """Smoothed hands from their address spot, in address torso lengths."""
        return self.distance(self.hands, self.ref.body.hands) / float(self.ref.body.torso)

    def hip_travel(self, body: Body) -> float:
        """Ground distance the hips moved over the feet since address (0 when the feet are unseen)."""
        a, foot = self.ref.body, self.ref.foot
        if foot is None or not body.ok[foot]:
            return 0.0
        d = travel(body.hip_mid, body.point(foot), a.hip_mid, a.point(foot)) * np.array([1.0, 0.0, 1.0])
        return 0.0 if np.isnan(d).any() else self.distance(d, np.zeros(3)) / float(a.torso)

    def smooth_hands(self, hands: FloatArray, dt: float) -> None:
        """Follow the grip with a short exponential filter."""
        if dt <= tuning.GAP_MAX_S:
            self.hands = self.hands + (1.0 - math.exp(-dt / tuning.HAND_SMOOTH_S)) * (hands - self.hands)
        else:
            self.hands = hands  # after a gap the old grip says nothing: start again from this frame

    def looks_like_address(self, body: Body) -> bool:
        """Hands low and, where both wrists are clearly seen, together on a grip.

        A wrist hidden behind the other hand is a guess, so only two clearly
        seen wrists can say the hands are apart.
        """
        torso = float(body.torso)
        if (body.hands[1] - body.shoulder_mid[1]) / torso > tuning.HANDS_LOW:
            return False
        seen = body.vis[[Point.LEAD_WRIST, Point.TRAIL_WRIST]] >= tuning.GRIP_SEEN
        if body.ok[Point.LEAD_WRIST] and body.ok[Point.TRAIL_WRIST] and seen.all():
            grip = self.distance(body.point(Point.LEAD_WRIST), body.point(Point.TRAIL_WRIST))
            return grip / torso < tuning.GRIP_MAX
        return True

    @staticmethod
    def arm_level(body: Body, wrist: Point, shoulder: Point, torso: float) -> bool:
        """The arm is at or above parallel: its wrist is level with its shoulder."""
        wrist_y = body.point(wrist)[1] if body.ok[wrist] else body.hands[1]
        return bool(wrist_y >= body.point(shoulder)[1] - tuning.ARM_PARALLEL * torso)

    # transitions

    def enter(self, phase: Phase, at: Marker) -> None:
        self.phase = phase
        self.t_phase = at.t
        self.event_phase = phase
        self.event = at

    def finish_at(self, at: Marker, hands: FloatArray) -> None:
        self.finish = at
        self.finish_hands = hands
        self.p_position = 10
        self.swing_done = True
        self.enter(Phase.FINISH, at)

    def abandon(self, now: Marker, hands: FloatArray) -> None:
        if self.phase == Phase.FOLLOW_THROUGH:
            # the swing was counted at impact: close it rather than lose it
            self.finish_at(now, hands)
        else:
            self.p_position = 0
            self.enter(Phase.IDLE, now)

    def close(self) -> None:
        """End of stream: a swing already past impact finishes at the last usable frame."""
        self.event_phase = None
        self.swing_done = False
        if self.phase in (Phase.IMPACT, Phase.FOLLOW_THROUGH):
            self.finish_at(self.last, self.last_hands)

    def step(self, body: Body, now: Marker, turn: float = math.nan) -> None:
        """Feed one frame (usable or not); ``turn``: its shoulder turn from the address (NaN: unknown).

        The turn tells a takeaway the picture hides: down-the-line the hands
        first move along the camera's axis while the shoulders already turn.
        """
        self.event_phase = None
        self.swing_done = False
        self.armed = False
        self.refined = 0.0
        if self.phase in SWING_PHASES and now.t - self.last.t > tuning.GAP_MAX_S:
            self.abandon(now, body.hands if body.usable else self.last_hands)
        if not body.usable:
            return
        dt = now.t - self.last.t if not math.isnan(self.last.t) else math.inf
        self.last, self.last_hands = now, body.hands
        self.smooth_hands(body.hands, dt)
        torso = float(self.ref.body.torso if self.ref is not None else body.torso)
        self.update_stillness(body, now, torso, dt)
        still_for = now.t - self.anchor.t

        if self.phase == Phase.FINISH:
            if self.distance(body.hands, self.finish_hands) > tuning.FINISH_LEAVE * torso:
                self.p_position = 0
                self.enter(Phase.IDLE, now)
            return
        if self.phase == Phase.IDLE:
            if still_for >= tuning.ADDRESS_STILL_S and self.looks_like_address(body):
                self.arm(body, now)
            return
        if self.hip_travel(body) > tuning.WALKED:
            self.abandon(now, body.hands)
            return
        rise, gap = self.hands_rise(), self.hands_gap()
        previous, self.previous = self.previous, Sample(now.t, rise, gap)
        # smoothed over a fixed time, so a higher frame rate's many noisy samples
        # do not cross the takeaway's turn more often
        if not math.isnan(turn):
            self.turn += (1.0 - math.exp(-dt / tuning.TURN_SMOOTH_S)) * (turn - self.turn)
        turn = self.turn
        if self.phase == Phase.SETUP:
            self.step_setup(body, now, gap, dt, turn)
        elif self.phase == Phase.TAKEAWAY:
            self.step_takeaway(body, now, rise, gap, previous, still_for, turn)
        elif self.phase == Phase.BACKSWING:
            self.step_backswing(body, now, rise, torso, previous)
        elif self.phase in (Phase.TOP_OF_SWING, Phase.DOWNSWING):
            if self.phase == Phase.TOP_OF_SWING:
                self.enter(Phase.DOWNSWING, now)
            self.step_downswing(body, now, rise, gap, torso, previous)
        elif self.phase == Phase.IMPACT:
            self.enter(Phase.FOLLOW_THROUGH, now)
        else:
            self.step_follow_through(body, now, rise, torso, still_for)

    def update_stillness(self, body: Body, now: Marker, torso: float, dt: float) -> None:
        """Re-anchor when hands or hips leave the radius they settled in.

        Both are smoothed first: at 120-240 FPS one jittery or lost-limb frame in
        the 0.3 s of an address would otherwise re-anchor it and the address never arms.
        """
        if dt <= tuning.GAP_MAX_S:
            alpha = 1.0 - math.exp(-dt / tuning.STILL_SMOOTH_S)
            self.settled_hands = self.settled_hands + alpha * (body.hands - self.settled_hands)
            self.settled_hips = self.settled_hips + alpha * (body.hip_mid - self.settled_hips)
        else:  # the first frame, or after a gap
            self.settled_hands, self.settled_hips = body.hands.copy(), body.hip_mid.copy()
        radius = tuning.STILL_RADIUS * torso
        if (math.isnan(self.anchor.t)
                or self.distance(self.settled_hands, self.anchor_hands) > radius
                or self.distance(self.settled_hips, self.anchor_hips) > radius):
            self.anchor_hands, self.anchor_hips = self.settled_hands.copy(), self.settled_hips.copy()
            self.anchor = now

    def arm(self, body: Body, now: Marker) -> None:
        """A stable address: take this pose as the reference and wait for a takeaway (mirrors _arm)."""
        ref = make_reference(body, self.right_handed, self.convention, self.forced_view)
        if ref is None:
            return  # no target line or camera: keep the previous address, if any
        self.ref = ref
        self.armed = True
        self.p_position = 1
        self.at_address, self.at_address_gap = now, 0.0  # the hands define the address spot
        self.turn = 0.0
        self.enter(Phase.SETUP, self.anchor)  # the address began when the golfer settled

    def step_setup(self, body: Body, now: Marker, gap: float, dt: float, turn: float) -> None:
        if gap < tuning.AT_ADDRESS and turn < tuning.ADDRESS_TURN_DEG:
            # still at address: keep refining the address pose
            self.refined = 1.0 - math.exp(-dt / tuning.ADDRESS_SMOOTH_S)
            blended = blend_body(self.ref.body, body, self.refined)
            self.ref = (make_reference(blended, self.right_handed, self.convention, keep=self.ref)
                        or replace(self.ref, body=blended, foot=planted_foot(blended)))
            self.at_address, self.at_address_gap = now, self.hands_gap()
        elif gap > tuning.TAKEAWAY_START or turn > tuning.TAKEAWAY_TURN_DEG:
            # the swing starts from this address: settle the camera on it, once
            self.ref = refit_camera(self.ref, self.convention, self.forced_view)
            if gap > tuning.TAKEAWAY_START:
                self.takeaway = self.takeaway_start(now, gap)
            else:
                self.takeaway = self.at_address  # the turn began where the shoulders left address
            self.enter(Phase.TAKEAWAY, self.takeaway)

    def takeaway_start(self, now: Marker, gap: float) -> Marker:
        """Where the takeaway began, between the last frame at address and now.

        The hands leave address from rest, so their distance grows about as
        the square of time: the start is where the parabola through the
        hands' distance at both frames meets zero, no more than
        TAKEAWAY_BACKTRACK detection spans back and not before the address.
        """
        last, last_gap = self.at_address, self.at_address_gap
        if not (last_gap > 0.0 and gap > last_gap):
            return last
        span = now.t - last.t
        # gap ~ (t - start)^2: sqrt(gap / last_gap) = (now.t - start) / (last.t - start)
        back = min(span / (math.sqrt(gap / last_gap) - 1.0), tuning.TAKEAWAY_BACKTRACK * span)
        back = min(back, last.t - self.t_phase)
        frames_back = math.floor(back / span * (now.frame - last.frame) + 0.5)
        return Marker(last.frame - frames_back, last.t - back, last.slot)

    def step_takeaway(self, body: Body, now: Marker, rise: float, gap: float, previous: Sample,
                      still_for: float, turn: float) -> None:
        if rise > tuning.BACKSWING_RISE:
            self.p_position = 2
            self.top = now
            self.highest = Extremum(now.t, rise, (previous.t, previous.rise))
            self.enter(Phase.BACKSWING, now)
        elif gap < tuning.AT_ADDRESS and turn < tuning.ADDRESS_TURN_DEG:
            self.at_address, self.at_address_gap = now, gap
            self.enter(Phase.SETUP, now)
        elif (still_for >= tuning.ADDRESS_STILL_S and (gap > tuning.READDRESS_GAP or turn < tuning.TAKEAWAY_TURN_DEG)
              and self.looks_like_address(body)):
            # settled again: that "takeaway" was a step, a waggle or a forward press
            self.arm(body, now)
        elif now.t - self.takeaway.t > tuning.TAKEAWAY_MAX_S:
            self.abandon(now, self.last_hands)

    def step_backswing(self, body: Body, now: Marker, rise: float, torso: float,
                       previous: Sample) -> None:
        if self.p_position < 3 and self.arm_level(body, Point.LEAD_WRIST, Point.LEAD_SHOULDER, torso):
            self.p_position = 3
        if rise > self.highest.value:
            # the highest hands so far: the top, until they drop clearly below it
            self.top = now
            self.highest = Extremum(now.t, rise, (previous.t, previous.rise))
            return
        self.highest.note_next(now.t, rise)
        top = self.highest.value
        if top >= tuning.TOP_MIN_RISE and rise < top - tuning.TOP_DROP:
            self.p_position = 4
            self.top_time = vertex_time(self.highest, peak=True)
            self.lowest = Extremum(math.nan, math.inf, (math.nan, math.nan))
            self.enter(Phase.TOP_OF_SWING, self.top)
        elif now.t - self.takeaway.t > tuning.BACKSWING_MAX_S:
            self.abandon(now, self.last_hands)

    def step_downswing(self, body: Body, now: Marker, rise: float, gap: float, torso: float,
                       previous: Sample) -> None:
        lead_arm_level = self.arm_level(body, Point.LEAD_WRIST, Point.LEAD_SHOULDER, torso)
        if self.p_position < 5 and not lead_arm_level:
            self.p_position = 5
        if self.p_position == 5 and rise < tuning.BACKSWING_RISE:
            self.p_position = 6
        lowest = self.lowest
        # Impact: the hands' lowest pass near their address spot. The picture's x is the
        # noisier (hands crossing the body face-on, along the camera axis from behind), their
        # height the surer. A fast pass may leave the zone one frame after its lowest
        # sample: confirming it needs only a lowest pass in it.
        if rise < tuning.IMPACT_ZONE and gap < tuning.IMPACT_NEAR and rise < lowest.value:
            self.impact = now
            self.lowest = Extremum(now.t, rise, (previous.t, previous.rise))
        elif math.isfinite(lowest.value):
            lowest.note_next(now.t, rise)
            if rise > lowest.value + tuning.IMPACT_PASS:
                self.p_position = 7
                self.swings += 1
                self.impact_time = vertex_time(lowest, peak=False)
                self.enter(Phase.IMPACT, self.impact)
                return
        if now.t - self.top.t > tuning.DOWNSWING_MAX_S:
            self.abandon(now, self.last_hands)

    def step_follow_through(self, body: Body, now: Marker, rise: float, torso: float,
                            still_for: float) -> None:
        if self.p_position == 7 and rise > tuning.BACKSWING_RISE:
            self.p_position = 8
        if self.p_position == 8 and self.arm_level(body, Point.TRAIL_WRIST, Point.TRAIL_SHOULDER, torso):
            self.p_position = 9
        if (still_for >= tuning.FINISH_STILL_S
                and self.anchor.t - self.impact.t >= tuning.FINISH_MIN_S):
            self.finish_at(self.anchor, self.anchor_hands)
        elif now.t - self.impact.t > tuning.FOLLOW_MAX_S:
            self.finish_at(now, body.hands)


# --- fault rules (faults.pyx) --------------------------------------------------------------


class HeldPeak:
    """The largest value a metric held for FAULT_HOLD_S (mirrors faults.pxd Held).

    A frame's held value is the (lower) median of the shortest run of frames
    ending at it that spans the hold; a NaN (outside the window, or not
    measurable) breaks the run, so one odd frame never counts on its own.
    """

    def __init__(self) -> None:
        self.value = -math.inf
        self.run: list[tuple[float, float]] = []  # (time, value), newest last

    def track(self, t: float, value: float) -> None:
        if math.isnan(value):
            self.run = []
            return
        self.run = (self.run + [(t, value)])[-HOLD_SAMPLES:]
        spanned, values = len(self.run) == HOLD_SAMPLES, []
        for sample_t, sample_value in reversed(self.run):
            values.append(sample_value)
            if t - sample_t >= tuning.FAULT_HOLD_S - 1e-9:
                spanned = True
                break
        if spanned:
            self.value = max(self.value, sorted(values)[(len(values) - 1) // 2])


def head_movement(k: FloatArray) -> float:
    """The head's travel: along the target line where the view sees it, and up or (half) down."""
    sway, lift = float(k[Kpi.HEAD_SWAY]), float(k[Kpi.HEAD_LIFT])
    sway = 0.0 if math.isnan(sway) else sway
    if lift < 0.0:
        lift *= tuning.HEAD_DIP_WEIGHT
    return math.hypot(sway, lift)


def severity(excess: float, span: float) -> float:
    """0.3 at the limit rising linearly to 1.0 at limit + span."""
    return SEVERITY_AT_LIMIT + (1.0 - SEVERITY_AT_LIMIT) * min(excess / span, 1.0)


class FaultTracker:
    """Mirrors faults.pyx: each rule's metric, held over FAULT_HOLD_S in its phase window."""

    def __init__(self) -> None:
        self.limits = np.zeros(NUM_FAULTS)
        self.spans = np.ones(NUM_FAULTS)
        self.tempo_low, self.tempo_high = math.nan, math.nan
        self.begin(np.full(NUM_KPIS, np.nan))

    def begin(self, address: FloatArray) -> None:
        """A new swing, measured against these address KPIs."""
        self.peaks = [HeldPeak() for _ in range(NUM_FAULTS)]
        self.severity = np.zeros(NUM_FAULTS)
        self.judged = np.zeros(NUM_FAULTS, dtype=bool)
        self.address_spine_tilt = float(address[Kpi.SPINE_TILT])
        self.address_trail_knee = float(address[Kpi.TRAIL_KNEE])
        self.top_wrist_hinge = HeldPeak()  # the hinge set at the top: held peak of the late backswing
        self.top_rise = math.nan

    def at_top(self, top_rise: float) -> None:
        self.top_rise = top_rise

    @staticmethod
    def late_backswing(phase: Phase, p_position: int) -> bool:
        """From the lead arm at parallel (P3) to the top."""
        return (phase == Phase.BACKSWING and p_position >= 3) or phase == Phase.TOP_OF_SWING

    def swing_metrics(self, k: FloatArray, phase: Phase, p_position: int,
                      rise: float) -> dict[Fault, float]:
        """Each rule's metric in this frame, NaN outside the rule's window (but the after-impact rules)."""
        backswing = phase in (Phase.BACKSWING, Phase.TOP_OF_SWING)
        late_backswing = self.late_backswing(phase, p_position)
        downswing = phase in (Phase.DOWNSWING, Phase.IMPACT)
        top_hinge = self.top_wrist_hinge.value if self.top_wrist_hinge.value > -math.inf else math.nan
        if math.isnan(self.top_rise):
            casting_rise = math.nan  # no top yet: no casting window
        else:
            casting_rise = max(tuning.CASTING_TOP_SHARE * self.top_rise, tuning.CASTING_MIN_RISE)
        windows: dict[Fault, tuple[bool, float]] = {
            Fault.SWAY: (phase == Phase.TAKEAWAY or backswing, k[Kpi.PELVIS_SWAY]),
            Fault.SLIDE: (downswing, -k[Kpi.PELVIS_SWAY]),
            Fault.EARLY_EXTENSION: (downswing, k[Kpi.PELVIS_THRUST]),
            Fault.LOSS_OF_POSTURE: (backswing or downswing,
                                    self.address_spine_tilt - k[Kpi.SPINE_TILT]),
            Fault.REVERSE_SPINE: (late_backswing, -k[Kpi.SIDE_BEND]),
            Fault.BENT_LEAD_ARM: (late_backswing, 180.0 - k[Kpi.LEAD_ELBOW]),
            Fault.CASTING: (phase == Phase.DOWNSWING and rise >= casting_rise,
                            top_hinge - k[Kpi.WRIST_HINGE]),
            Fault.HEAD_MOVEMENT: (Phase.TAKEAWAY <= phase <= Phase.IMPACT, head_movement(k)),
            Fault.TRAIL_KNEE_STRAIGHTENING: (backswing,
                                             k[Kpi.TRAIL_KNEE] - self.address_trail_knee),
            Fault.INSUFFICIENT_SHOULDER_TURN: (backswing, k[Kpi.SHOULDER_TURN]),
        }
        return {fault: float(value) if inside else math.nan for fault, (inside, value) in windows.items()}

    @staticmethod
    def after_impact_metrics(k: FloatArray, after_impact: bool, since_impact: float) -> dict[Fault, float]:
        """The rules watching the moments after impact (mirrors faults.pyx _after_impact)."""
        windows: dict[Fault, tuple[bool, float]] = {
            Fault.CHICKEN_WING: (after_impact and since_impact <= tuning.CHICKEN_WING_WINDOW_S,
                                 180.0 - k[Kpi.LEAD_ELBOW]),
            Fault.HANGING_BACK: (after_impact and since_impact <= tuning.HANGING_BACK_WINDOW_S,
                                 k[Kpi.WEIGHT_SHIFT]),
        }
        return {fault: float(value) if inside else math.nan for fault, (inside, value) in windows.items()}

    def track(self, t: float, metrics: dict[Fault, float]) -> None:
        """Feed each rule its metric; a rule whose held peak passes its limit gets a severity."""
        for fault, metric in metrics.items():
            peak = self.peaks[fault]
            peak.track(t, metric)
            if fault in (Fault.INSUFFICIENT_SHOULDER_TURN, Fault.HANGING_BACK):
                continue  # "falls short" rules are judged once, when their window closes
            excess = peak.value - self.limits[fault]
            if excess > 0.0:
                self.severity[fault] = severity(excess, self.spans[fault])

    def step(self, k: FloatArray, t: float, phase: Phase, p_position: int, rise: float,
             since_impact: float) -> None:
        """Feed one usable frame of the swing in progress (mirrors faults_step)."""
        late_backswing = self.late_backswing(phase, p_position)
        self.top_wrist_hinge.track(t, float(k[Kpi.WRIST_HINGE]) if late_backswing else math.nan)
        self.track(t, self.swing_metrics(k, phase, p_position, rise))
        after_impact = phase in (Phase.IMPACT, Phase.FOLLOW_THROUGH)
        self.track(t, self.after_impact_metrics(k, after_impact, since_impact))
        if phase == Phase.FOLLOW_THROUGH and since_impact > tuning.HANGING_BACK_WINDOW_S:
            self.judge_falls_short(Fault.HANGING_BACK)

    def impact_frame(self, k: FloatArray, t: float) -> None:
        """Feed the impact frame itself once impact is confirmed (it was read as downswing)."""
        self.track(t, self.after_impact_metrics(k, True, 0.0))

    def judge_falls_short(self, fault: Fault) -> None:
        """A "did not reach" rule: judged once, when its window has closed."""
        if self.judged[fault]:
            return
        self.judged[fault] = True
        peak = self.peaks[fault].value
        if peak == -math.inf:
            return  # never measured: no verdict
        if peak < self.limits[fault]:
            self.severity[fault] = severity(self.limits[fault] - peak, self.spans[fault])

    def judge_tempo(self, tempo: float) -> None:
        """Distance of the tempo outside its band, as a log ratio."""
        if not tempo > 0.0:
            return
        excess = max(math.log(self.tempo_low / tempo), math.log(tempo / self.tempo_high))
        if excess > 0.0:
            self.severity[Fault.POOR_TEMPO] = severity(excess, self.spans[Fault.POOR_TEMPO])


# --- the session stepper (stepper.pyx Kernel) ----------------------------------------------


@dataclass
class SwingRecord:
    number: int = 0
    takeaway: Marker = NO_MARKER
    top: Marker = NO_MARKER
    impact: Marker = NO_MARKER
    finish: Marker = NO_MARKER
    top_time: float = math.nan  # sub-frame estimates
    impact_time: float = math.nan
    tempo: float = math.nan
    address_kpis: FloatArray = field(default_factory=lambda: np.full(NUM_KPIS, np.nan))
    top_kpis: FloatArray = field(default_factory=lambda: np.full(NUM_KPIS, np.nan))
    impact_kpis: FloatArray = field(default_factory=lambda: np.full(NUM_KPIS, np.nan))
    x_factor: HeldPeak = field(default_factory=HeldPeak)
    camera: Camera = NO_CAMERA  # as settled at the takeaway
    measured: frozenset[Kpi] = frozenset()  # the view's KPIs, and the world landmarks' if seen
    right_handed: bool = True  # the hand the swing was read with


class HandSpeed:
    """Smoothed hand speed in metres per second (mirrors the filter in stepper.pyx _step)."""

    def __init__(self, convention: int) -> None:
        self.speed = 0.0
        self.t_prev = math.nan
        self.hands_prev = np.full(3, np.nan)
        # MediaPipe's image depth is too noisy to count as grip travel
        self.axes = np.array([1.0, 1.0, 0.0 if convention == MEDIAPIPE_IMAGE else 1.0])

    def update(self, hands: FloatArray, t: float, metres_per_unit: float) -> float:
        dt = t - self.t_prev
        if 0.0 < dt <= tuning.GAP_MAX_S:
            travel = (hands - self.hands_prev) * self.axes
            raw = float(np.linalg.norm(travel)) * metres_per_unit / dt
            self.speed += (1.0 - math.exp(-dt / tuning.HAND_SPEED_SMOOTH_S)) * (raw - self.speed)
        else:
            self.speed = 0.0  # first frame, or after a gap
        self.hands_prev, self.t_prev = hands, t
        return self.speed


def _turn_through(k: FloatArray) -> FloatArray:
    """From impact on a turn reads toward the target: the turn through to the finish."""
    k = k.copy()
    k[[Kpi.SHOULDER_TURN, Kpi.HIP_TURN, Kpi.X_FACTOR]] *= -1.0
    return k


class ReferenceKernel:
    """The numpy twin of :class:`stepper.Kernel`: same constructor, same interface.

    Reads each frame from ``ring[slot]`` (and ``world_ring[slot]`` when the
    step says so) and writes its KPIs to ``kpi_ring[slot]`` as float32,
    exactly as the kernel does.
    """

    def __init__(self, ring: NDArray[np.float32], kpi_ring: NDArray[np.float32], convention: int,
                 aspect: float, right_handed: bool, min_visibility: float, limits: NDArray,
                 spans: NDArray, tempo_low: float, tempo_high: float,
                 world_ring: NDArray[np.float32] | None = None, camera_view: int = VIEW_NONE) -> None:
        if ring.ndim != 3 or ring.shape[1:] != landmarks.FRAME_SHAPE:
            raise ValueError("ring must have shape (capacity, 33, 4)")
        if kpi_ring.shape != (ring.shape[0], NUM_KPIS):
            raise ValueError(f"kpi_ring must have shape ({ring.shape[0]}, {NUM_KPIS})")
        if world_ring is not None and world_ring.shape != ring.shape:
            raise ValueError(f"world_ring must have shape ({ring.shape[0]}, 33, 4)")
        if ring.dtype != np.float32 or kpi_ring.dtype != np.float32:
            raise ValueError("ring and kpi_ring must be float32")
        if len(limits) != NUM_FAULTS or len(spans) != NUM_FAULTS:
            raise ValueError(f"limits and spans need {NUM_FAULTS} values")
        if convention not in (WORLD_Y_UP, MEDIAPIPE_WORLD, MEDIAPIPE_IMAGE):
            raise ValueError(f"unknown coordinate convention code {convention}")
        if not VIEW_NONE <= camera_view <= OBLIQUE:
            raise ValueError(f"unknown camera view code {camera_view}")
        self._ring = ring  # not copied: the caller writes frames into it
        self._world_ring = world_ring
        self._kpi_ring = kpi_ring
        self._convention = convention
        self._aspect = float(aspect)
        self._right_handed_configured = bool(right_handed)
        self._min_visibility = float(min_visibility)
        self._machine = PhaseMachine(self._right_handed_configured, convention, camera_view)
        self._faults = FaultTracker()
        self.set_thresholds(limits, spans, tempo_low, tempo_high)
        self.reset()

    @property
    def capacity(self) -> int:
        return self._ring.shape[0]

    def reset(self) -> None:
        """Forget everything about the stream (thresholds and camera view are kept)."""
        self._machine.reset()
        self._right_handed = self._machine.right_handed = self._right_handed_configured
        self._grip, self._world_grip = Grip(), Grip()
        self._world_ref: Reference | None = None
        self._hand_speed = HandSpeed(self._convention)
        self._t_last = -math.inf
        self._t_prev = math.nan  # the last usable frame
        self._record = SwingRecord(right_handed=self._right_handed)
        self._frame_kpis = np.full(NUM_KPIS, np.nan)
        self._faults.begin(np.full(NUM_KPIS, np.nan))

    def set_thresholds(self, limits: NDArray, spans: NDArray, tempo_low: float,
                       tempo_high: float) -> None:
        limits = np.asarray(limits, dtype=np.float64)
        spans = np.asarray(spans, dtype=np.float64)
        if limits.shape != (NUM_FAULTS,) or spans.shape != (NUM_FAULTS,):
            raise ValueError(f"limits and spans need {NUM_FAULTS} values")
        if not (spans > 0.0).all():
            raise ValueError("every span must be positive")
        if not 0.0 < tempo_low < tempo_high:
            raise ValueError("need 0 < tempo_low < tempo_high")
        self._faults.limits = limits.copy()
        self._faults.spans = spans.copy()
        self._faults.tempo_low, self._faults.tempo_high = float(tempo_low), float(tempo_high)

    def step(self, slot: int, frame: int, t: float, world: bool = False) -> int:
        """Analyse the frame in ring[slot] (and world_ring[slot] if ``world``); return step() flags."""
        if not 0 <= slot < self.capacity:
            raise IndexError(f"slot {slot} outside the ring of {self.capacity}")
        if world and self._world_ring is None:
            raise ValueError("this kernel has no world ring")
        m = self._machine
        if not (t > self._t_last) or t == math.inf:
            # a repeated, backwards or non-finite timestamp would break every rate
            self._frame_kpis = np.full(NUM_KPIS, np.nan)
            self._kpi_ring[slot] = np.nan
            m.event_phase, m.swing_done = None, False
            return OUT_OF_ORDER
        self._t_last = t
        alpha = grip_alpha(t - self._t_prev)
        # until the hands are on their way up they rest on the grip, where a guess serves
        hands_floor = (min(tuning.HANDS_GUESSED_MIN, self._min_visibility)
                       if self._machine.phase <= Phase.TAKEAWAY else None)
        body, world_body = self._read(slot, world, hands_floor, alpha)
        flags = 0
        if body.usable:
            flags |= USABLE
            self._hand_speed.update(body.hands, t, self._metres_per_unit(body))
            self._t_prev = t
        turn = math.nan
        if body.usable and m.ref is not None and m.phase in (Phase.SETUP, Phase.TAKEAWAY):
            turn = shoulder_turn(body, m.ref, self._right_handed, self._convention)
        now = Marker(int(frame), float(t), int(slot))
        m.step(body, now, turn)
        if m.armed and self._convention == MEDIAPIPE_IMAGE and other_hand(m.ref.body):
            # a left-handed golfer taken for a right-handed one, or a mirrored video: the swing
            # is read the other way round from this address on (mirrors _step)
            self._other_hand()
            body, world_body = self._read(slot, world, hands_floor, alpha)
            m.arm(body, now)
        elif (m.event_phase == Phase.BACKSWING and self._convention == MEDIAPIPE_IMAGE
              and m.ref.camera.view == FACE_ON and self._toward_target()):
            # face-on only the backswing tells the hand: this swing, from its address, is the other's
            self._swap_hands()
            body, world_body = self._read(slot, world, hands_floor, alpha)
        self._world_address(world_body)

        if body.usable:
            k = frame_kpis(body, m.ref, self._hand_speed.speed, self._right_handed, self._convention)
            if (world_body is not None and self._world_ref is not None and m.ref is not None
                    and math.sin(m.ref.camera.angle) >= tuning.Z_MIN_SIN):
                # World landmarks turn the lines where the picture's turn leans on z
                # (tuning.WORLD_KPIS); they never stand in for an axis the view cannot see.
                w = frame_kpis(world_body, self._world_ref, 0.0, self._right_handed, MEDIAPIPE_WORLD)
                for kpi in WORLD_KPIS & m.ref.camera.measured:
                    if not math.isnan(w[kpi]):
                        k[kpi] = w[kpi]
            if m.phase == Phase.IDLE:
                k[list(ADDRESS_KPIS)] = np.nan
            elif m.phase >= Phase.IMPACT:
                k = _turn_through(k)
            self._frame_kpis = k
        else:
            self._frame_kpis = np.full(NUM_KPIS, np.nan)
        self._kpi_ring[slot] = self._frame_kpis.astype(np.float32)

        # the KPIs of top and impact candidates are kept as they are seen (mirrors _step)
        if m.top.t == t and m.phase == Phase.BACKSWING:
            self._record.top_kpis = self._frame_kpis.copy()
        if m.impact.t == t and m.phase == Phase.DOWNSWING:
            self._record.impact_kpis = self._frame_kpis.copy()
        if m.event_phase is not None:
            flags |= PHASE_BEGAN
            self._on_phase(m.event_phase)
        if body.usable and m.phase in SWING_PHASES:
            # the rules read turns away from the target, as in the backswing
            k = _turn_through(self._frame_kpis) if m.phase >= Phase.IMPACT else self._frame_kpis
            self._faults.step(k, t, m.phase, m.p_position, m.hands_rise(), t - m.impact.t)
            in_x_factor_window = Phase.BACKSWING <= m.phase <= Phase.IMPACT
            self._record.x_factor.track(t, k[Kpi.X_FACTOR] if in_x_factor_window else math.nan)
        return self._after_machine(flags)

    @property
    def right_handed(self) -> bool:
        """The hand the golfer is read with: the configured one until an address says otherwise."""
        return self._right_handed

    def _toward_target(self) -> bool:
        """The hands went toward the target side of the picture (tuning.HANDEDNESS_BACKSWING)."""
        m = self._machine
        return bool((m.hands[0] - m.ref.body.hands[0]) * m.ref.camera.target_x
                    > tuning.HANDEDNESS_BACKSWING * float(m.ref.body.torso))

    def _other_hand(self) -> None:
        """Read the golfer with the other hand from now on (mirrors _other_hand)."""
        self._right_handed = self._machine.right_handed = not self._right_handed
        self._grip, self._world_grip = Grip(), Grip()

    def _swap_hands(self) -> None:
        """Read the swing in progress the other way round, from its address on (mirrors _swap_hands)."""
        m = self._machine
        self._other_hand()
        m.ref = make_reference(swap_sides(m.ref.body), self._right_handed, self._convention, m.forced_view)
        if self._world_ref is not None:
            self._world_ref = make_reference(swap_sides(self._world_ref.body), self._right_handed,
                                             MEDIAPIPE_WORLD)
        self._begin_swing()

    def _read(self, slot: int, world: bool, hands_floor: float | None,
              alpha: float) -> tuple[Body, Body | None]:
        """The slot's image body, and its usable world body or None."""
        body = read_body(self._ring[slot], self._convention, self._aspect, self._right_handed,
                         self._min_visibility, self._grip, alpha, hands_floor)
        world_body = None
        if world and self._convention == MEDIAPIPE_IMAGE:
            world_body = read_body(self._world_ring[slot], MEDIAPIPE_WORLD, 1.0, self._right_handed,
                                   self._min_visibility, self._world_grip, alpha, hands_floor)
            world_body = world_body if world_body.usable else None
        return body, world_body

    def _world_address(self, world_body: Body | None) -> None:
        """Keep the world landmarks' address in step with the image one."""
        m = self._machine
        if m.armed:
            self._world_ref = (None if world_body is None else
                               make_reference(world_body, self._right_handed, MEDIAPIPE_WORLD))
        elif m.refined > 0.0 and world_body is not None and self._world_ref is not None:
            blended = blend_body(self._world_ref.body, world_body, m.refined)
            self._world_ref = (make_reference(blended, self._right_handed, MEDIAPIPE_WORLD,
                                              keep=self._world_ref)
                               or replace(self._world_ref, body=blended, foot=planted_foot(blended)))

    def close(self) -> int:
        """End of stream: finish a swing that is past impact. Returns step() flags."""
        self._machine.close()
        return self._after_machine(0)

    def _metres_per_unit(self, body: Body) -> float:
        if self._machine.ref is not None:
            return self._machine.ref.metres_per_unit
        if self._convention == MEDIAPIPE_IMAGE:
            return tuning.IMAGE_TORSO_METRES / float(body.torso)
        return 1.0

    def _after_machine(self, flags: int) -> int:
        m = self._machine
        if m.swing_done:
            if m.event_phase == Phase.FINISH:
                flags |= PHASE_BEGAN  # also when close() finished the swing
            self._faults.judge_falls_short(Fault.HANGING_BACK)
            self._record.finish = m.finish
            flags |= SWING_ENDED
        if (self._faults.severity > 0.0).any():
            flags |= HAS_FAULTS
        return flags

    def _begin_swing(self) -> None:
        """A swing's record starts from its address (mirrors _begin_swing)."""
        m, record = self._machine, self._record
        record.address_kpis = frame_kpis(m.ref.body, m.ref, 0.0, self._right_handed, self._convention)
        self._faults.begin(record.address_kpis)
        record.x_factor = HeldPeak()
        record.takeaway = m.takeaway
        record.tempo = math.nan
        record.camera = m.ref.camera
        record.measured = m.ref.camera.measured
        record.right_handed = self._right_handed

    def _on_phase(self, phase: Phase) -> None:
        m, record = self._machine, self._record
        if phase == Phase.TAKEAWAY:
            self._begin_swing()
        elif phase == Phase.TOP_OF_SWING:
            record.top, record.top_time = m.top, m.top_time
            self._faults.at_top(m.highest.value)
        elif phase == Phase.DOWNSWING:
            self._faults.judge_falls_short(Fault.INSUFFICIENT_SHOULDER_TURN)
        elif phase == Phase.IMPACT:
            self._faults.impact_frame(record.impact_kpis, m.impact.t)
            record.impact_kpis = _turn_through(record.impact_kpis)  # it was read in the downswing
            record.impact, record.impact_time = m.impact, m.impact_time
            record.number = m.swings
            downswing = m.impact_time - m.top_time
            record.tempo = (m.top_time - m.takeaway.t) / downswing if downswing > 0 else math.nan
            self._faults.judge_tempo(record.tempo)

    # --- results of the last step ---------------------------------------------------------

    @property
    def phase(self) -> int:
        return int(self._machine.phase)

    @property
    def p_position(self) -> int:
        return self._machine.p_position

    @property
    def swings(self) -> int:
        """Swings counted so far (at impact)."""
        return self._machine.swings

    @property
    def has_address(self) -> bool:
        return self._machine.ref is not None

    @property
    def camera_view(self) -> int:
        """The view code of the address in force (0 before an address)."""
        return self._machine.ref.camera.view if self._machine.ref is not None else VIEW_NONE

    def camera(self) -> dict[str, float] | None:
        """The address's camera as plain values, or None before an address."""
        ref = self._machine.ref
        return None if ref is None else camera_dict(ref.camera, ref.camera.measured)

    @property
    def event(self) -> tuple[int, int, float] | None:
        """(phase, frame, timestamp) of the phase that began on the last step, or None."""
        m = self._machine
        if m.event_phase is None:
            return None
        return (int(m.event_phase), m.event.frame, m.event.t)

    def kpis(self) -> FloatArray:
        """The last step's KPIs as a float64 array (NaN = not measurable)."""
        return self._frame_kpis.copy()

    def severities(self, out: NDArray[np.float64]) -> None:
        """Copy the current swing's fault severities (0 = not seen) into ``out``."""
        if out.shape != (NUM_FAULTS,):
            raise ValueError(f"out must have shape ({NUM_FAULTS},)")
        out[:] = self._faults.severity

    def fault_severity(self, fault: int) -> float:
        if not 0 <= fault < NUM_FAULTS:
            raise IndexError(f"fault {fault} outside 0..{NUM_FAULTS - 1}")
        return float(self._faults.severity[fault])

    def swing_record(self) -> dict[str, object]:
        """The swing that ended on the last step, as plain Python values."""
        r = self._record
        peak = r.x_factor.value
        return {
            "number": r.number,
            "takeaway": (r.takeaway.frame, r.takeaway.t),
            "top": (r.top.frame, r.top_time),
            "impact": (r.impact.frame, r.impact_time),
            "finish": (r.finish.frame, r.finish.t),
            "tempo": r.tempo,
            "right_handed": r.right_handed,
            "address_kpis": r.address_kpis.tolist(),
            "top_kpis": r.top_kpis.tolist(),
            "impact_kpis": r.impact_kpis.tolist(),
            "peak_x_factor": peak if peak > -math.inf else math.nan,
            "severities": self._faults.severity.tolist(),
            "metrics": [p.value if p.value > -math.inf else math.nan for p in self._faults.peaks],
            "camera": camera_dict(r.camera, r.measured),
        }


def camera_dict(camera: Camera, measured: frozenset[Kpi]) -> dict[str, float]:
    """A camera as stepper.Kernel reports it: view code, degrees, sides and the measured KPI bits."""
    return {"view": camera.view, "angle": math.degrees(camera.angle), "target_x": camera.target_x,
            "ball_x": camera.ball_x, "tilt": math.degrees(camera.tilt),
            "measured": sum(1 << kpi for kpi in measured)}
