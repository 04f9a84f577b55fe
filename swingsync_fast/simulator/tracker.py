"""How MediaPipe Pose gets a filmed golfer wrong: the error model of its image and world landmarks.

Figures from real clips (../shared/realdata/real-view-fingerprint.md): steady landmarks jitter
about 0.0005 image units in x and y; z is on a stretched scale (its spread over the body 3.3-4.6
times the x spread) with white noise ~0.01 and a slow drift (nose z sd ~0.07 over a second);
landmarks the body hides get a low visibility and a guessed position drawn toward what hides
them; now and then a frame goes bad (a limb swaps sides, or the whole body drops out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..landmarks import LANDMARK_INDEX, LANDMARK_NAMES, NUM_LANDMARKS
from .camera import Camera, hip_centred, to_image
from .occlusion import PairHiding, hidden_by_body

__all__ = ["PoseErrors", "TrackedPose", "track"]


@dataclass(frozen=True)
class PoseErrors:
    """MediaPipe-like landmark errors; the defaults follow the real clips' fingerprint."""

    image_jitter: float = 0.0005  # sd of x and y of a steady landmark, image units
    z_stretch: tuple[float, float] = (3.6, 4.6)  # per-clip factor on the true depth (range drawn from)
    z_stretch_wobble: float = 0.08  # slow relative wander of that factor
    z_posture: float = 0.5  # share of the stretch that follows the forward bend (see _bend_factor)
    z_noise: float = 0.01  # white, in x units
    # Slow z wander in x units: mostly the whole body at once (the nose's z wanders ~0.07 over
    # a second), far less between two landmarks (a line's z difference: 0.01-0.024 at address
    # in our real down-the-line clips), so a line's depth change stays readable.
    z_drift: float = 0.07
    z_drift_landmark: float = 0.012
    drift_s: float = 0.3  # correlation time of the slow wanders
    world_noise_m: float = 0.012  # sd of world x and y
    world_depth_noise_m: float = 0.025  # sd of world z: depth is what a monocular model knows least
    visible: float = 0.95  # visibility of a landmark in plain view
    hidden: float = 0.12  # visibility of a fully hidden one
    hidden_pull: float = 0.6  # share of the way a fully hidden landmark is guessed toward what hides it
    hidden_wander_m: float = 0.03  # sd of a fully hidden landmark's slowly wandering guess
    hidden_wander_s: float = 1.0  # its correlation time
    hidden_leg: float = 0.5  # a leg behind the other still reads well (real: lead knee 0.6-0.8 down-the-line)
    # Crowding: hands still on the grip at address (MediaPipe loses the trail wrist and elbow, is unsure
    # of the lead wrist), the hand behind the other on the grip, limbs on the far side of the body.
    crowding: PairHiding = PairHiding(address_trail_wrist=0.8, address_lead_wrist=0.35, address_trail_elbow=0.7,
                                      far_limbs=0.5, far_trunk=0.2, far_shoulder_pull=0.45, far_hip_pull=0.3,
                                      far_side_depth_m=0.3)
    outside_frame_visibility: float = 0.3  # factor on a landmark that left the image
    bad_frame_rate: float = 0.004  # per frame: a limb swaps sides or the whole body drops out


@dataclass(frozen=True)
class TrackedPose:
    image: np.ndarray  # (N, 33, 3) MediaPipe image landmarks
    world: np.ndarray  # (N, 33, 3) MediaPipe world landmarks, metres
    visibility: np.ndarray  # (N, 33), shared by both
    bad_frames: np.ndarray  # (N,) bool


def _slow(rng: np.random.Generator, n: int, shape: tuple[int, ...], sd: float, tau_s: float, fps: float) -> np.ndarray:
    """A smooth stationary wander of standard deviation ``sd`` and correlation time ~``tau_s``, n frames.

    Two low-pass passes over white noise: MediaPipe filters its landmarks in time, so even a
    guessed point moves smoothly from frame to frame (a single pass would jitter at every frame).
    """
    a = float(np.exp(-1.0 / (max(tau_s, 1e-3) * fps)))
    warm = int(np.ceil(5 * tau_s * fps))  # start in the stationary state
    out = rng.normal(0.0, 1.0, (n + warm, *shape))
    for _ in range(2):
        for i in range(1, len(out)):
            out[i] = a * out[i - 1] + (1.0 - a) * out[i]
    out = out[warm:]
    # The stationary sd of two cascaded passes, to scale to ``sd``.
    gain = (1.0 - a) ** 2 * np.sqrt((1.0 + a * a) / (1.0 - a * a) ** 3)
    return out * (sd / gain)


# Visibility in plain view, relative to `visible`: real clips read legs and trunk best, hands worst.
_CLEAR = np.array([0.92 if any(p in n for p in ("wrist", "pinky", "index", "thumb")) else
                   0.97 if "elbow" in n else 1.02 for n in LANDMARK_NAMES])
_IS_LEG = np.array([any(p in name for p in ("knee", "ankle", "heel", "foot")) for name in LANDMARK_NAMES])
# MediaPipe is sure of the face and trunk even where the body hides them (real down-the-line: the
# far shoulder and hip read 0.99-1.0): their positions are still guessed, their visibility stays.
_IS_CORE = np.array([i <= 10 or name.endswith(("_shoulder", "_hip")) for i, name in enumerate(LANDMARK_NAMES)])
_LIMBS = {
    "arm": ("elbow", "wrist", "pinky", "index", "thumb"),
    "leg": ("knee", "ankle", "heel", "foot_index"),
}
_SWAPS = {
    limb: tuple(np.array([LANDMARK_INDEX[f"{side}_{p}"] for p in parts]) for side in ("left", "right"))
    for limb, parts in _LIMBS.items()
}


def _bad_frames(points: np.ndarray, visibility: np.ndarray, rate: float,
                rng: np.random.Generator) -> np.ndarray:
    """Spoil a few short runs of frames in place; returns which frames went bad."""
    n = len(points)
    bad = np.zeros(n, dtype=bool)
    for start in np.flatnonzero(rng.random(n) < rate):
        run = slice(start, min(n, start + int(rng.integers(1, 4))))
        bad[run] = True
        if rng.random() < 0.6:
            # The classic left/right confusion: one pair of limbs changes sides for a moment.
            left, right = _SWAPS["arm" if rng.random() < 0.6 else "leg"]
            points[run, left], points[run, right] = points[run, right].copy(), points[run, left].copy()
            visibility[run] *= rng.uniform(0.6, 0.9)
        else:
            # The whole body lost: a shrunken, shifted, low-confidence guess.
            centre = points[run].mean(axis=1, keepdims=True)
            points[run] = centre + 0.7 * (points[run] - centre) + rng.normal(0.0, 0.08, points[run].shape)
            visibility[run] = rng.uniform(0.02, 0.3, visibility[run].shape)
    return bad


def _bend_factor(camera_points: np.ndarray, camera: Camera, share: float) -> np.ndarray:
    """1 at an address bend (37 deg), less as the golfer stands up.

    MediaPipe's z is learned, not measured: in the real clips its spread over the body falls from
    4.2-4.6 x spread at address to 2.4-3.3 at the upright finish, in both views.
    """
    up = camera.axes[:, 1]  # the golfer frame's up, along the camera's axes

    def mid(part: str) -> np.ndarray:
        left, right = LANDMARK_INDEX[f"left_{part}"], LANDMARK_INDEX[f"right_{part}"]
        return 0.5 * (camera_points[:, left] + camera_points[:, right])

    spine = mid("shoulder") - mid("hip")
    cos_bend = np.clip(spine @ up / np.linalg.norm(spine, axis=-1), -1.0, 1.0)
    bend = np.sqrt(1.0 - cos_bend**2)  # sine of the bend from upright
    return (1.0 - share) + share * bend / np.sin(np.radians(37.0))


def track(camera_points: np.ndarray, camera: Camera, aspect: float, handedness: str, body_scale: float,
          grip_gap_m: float, fps: float, errors: PoseErrors, rng: np.random.Generator) -> TrackedPose:
    """What MediaPipe returns for the true body ``camera_points`` (metres along the camera's axes)."""
    n = len(camera_points)
    hiding = hidden_by_body(camera_points, body_scale, handedness, errors.crowding, grip_gap_m, fps)
    hidden = hiding.degree[..., None]
    # A hidden landmark is guessed: drawn toward what hides it, wandering slowly (MediaPipe smooths in time).
    wander = _slow(rng, n, (NUM_LANDMARKS, 3), errors.hidden_wander_m * body_scale, errors.hidden_wander_s, fps)
    drawn = errors.hidden_pull * hiding.pull[..., None] * (hiding.anchor - camera_points)
    # The face and trunk keep their depth: real down-the-line clips show the far shoulder's and
    # hip's z at the body's own proportions (hip to shoulder line depth about 0.6 at address).
    drawn[:, _IS_CORE, 2] = 0.0
    wander[:, _IS_CORE, 2] = 0.0
    guessed = camera_points + drawn + hidden**2 * wander  # a half-hidden point is mostly still seen

    clear = np.clip(errors.visible * _CLEAR + _slow(rng, n, (NUM_LANDMARKS,), 0.03, 0.5, fps), 0.0, 0.995)
    floor = np.where(_IS_LEG, errors.hidden_leg, errors.hidden)
    degree = np.where(_IS_CORE, 0.0, hiding.degree)
    visibility = clear * (1.0 - degree) + floor * degree
    visibility = visibility + degree * rng.normal(0.0, 0.05, visibility.shape)
    true_image = to_image(camera_points, camera, aspect)
    outside = np.any((true_image[..., :2] < 0.0) | (true_image[..., :2] > 1.0), axis=-1)
    visibility = np.where(outside, visibility * errors.outside_frame_visibility, visibility)
    visibility = np.clip(visibility, 0.0, 1.0)
    bad = _bad_frames(guessed, visibility, errors.bad_frame_rate, rng)

    world_noise = np.array([errors.world_noise_m, errors.world_noise_m, errors.world_depth_noise_m])
    world = hip_centred(guessed + rng.normal(0.0, 1.0, guessed.shape) * world_noise)

    image = to_image(guessed, camera, aspect)
    image[..., :2] += rng.normal(0.0, errors.image_jitter, (n, NUM_LANDMARKS, 2))
    stretch = rng.uniform(*errors.z_stretch) * (1.0 + _slow(rng, n, (1,), errors.z_stretch_wobble, errors.drift_s, fps))
    stretch = stretch * _bend_factor(camera_points, camera, errors.z_posture)[:, None]
    drift = (_slow(rng, n, (1,), errors.z_drift, errors.drift_s, fps)
             + _slow(rng, n, (NUM_LANDMARKS,), errors.z_drift_landmark, errors.drift_s, fps))
    image[..., 2] = stretch * image[..., 2] + drift + rng.normal(0.0, errors.z_noise, (n, NUM_LANDMARKS))
    return TrackedPose(image, world, visibility, bad)
