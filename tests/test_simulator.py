"""The simulated golfer: skeleton, events, coordinate systems, degradations and injected faults."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from swingsync_fast.catalog import FAULT_IDS
from swingsync_fast.landmarks import LANDMARK_INDEX as LM
from swingsync_fast.landmarks import LANDMARK_NAMES
from swingsync_fast.simulator import (
    DEFAULT_SHOULDER_TURN_DEG,
    SwingSpec,
    random_swing_spec,
    simulate,
)

UP = np.array([0.0, 1.0, 0.0])
BONES = [
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"), ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"), ("left_ankle", "left_heel"), ("right_ankle", "right_foot_index"),
    ("left_wrist", "left_index"), ("right_wrist", "right_pinky"), ("left_ear", "right_ear"), ("nose", "left_eye"),
]


def _points(stream) -> np.ndarray:
    return stream.keypoints[..., :3].astype(np.float64)


def _get(points: np.ndarray, name: str) -> np.ndarray:
    return points[:, LM[name]]


def _angle(a: np.ndarray, joint: np.ndarray, c: np.ndarray) -> np.ndarray:
    u, v = a - joint, c - joint
    cos = np.sum(u * v, -1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _hands(points: np.ndarray) -> np.ndarray:
    return 0.5 * (_get(points, "left_wrist") + _get(points, "right_wrist"))


def _horizontal_unit(v: np.ndarray) -> np.ndarray:
    v = v * np.array([1.0, 0.0, 1.0])
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _measure(stream, i: int = 0) -> dict[str, float]:
    """The table's quantity for every fault, the analyser's way, from world_y_up frames (no drops)."""
    p = _points(stream)
    truth = stream.swings[i]
    start, top, impact = truth.takeaway_frame, truth.top_frame, truth.impact_frame
    a = start - 2  # still address
    lead, trail = ("left", "right") if stream.handedness == "right" else ("right", "left")
    t = _horizontal_unit(_get(p, f"{lead}_ankle")[a] - _get(p, f"{trail}_ankle")[a])  # toward the target
    f = np.cross(t, UP) if stream.handedness == "right" else np.cross(UP, t)  # toward the ball
    hips = 0.5 * (_get(p, "left_hip") + _get(p, "right_hip"))
    spine = 0.5 * (_get(p, "left_shoulder") + _get(p, "right_shoulder")) - hips
    tilt = np.degrees(np.arctan2(spine @ f, spine[:, 1]))
    side_bend = np.degrees(np.arctan2(-(spine @ t), spine[:, 1]))
    line = _get(p, f"{lead}_shoulder") - _get(p, f"{trail}_shoulder")
    turn = np.degrees(np.unwrap(np.arctan2(line @ f, line @ t)))
    lead_elbow = _angle(_get(p, f"{lead}_shoulder"), _get(p, f"{lead}_elbow"), _get(p, f"{lead}_wrist"))
    hinge = 180.0 - _angle(_get(p, f"{lead}_elbow"), _get(p, f"{lead}_wrist"), _get(p, f"{lead}_index"))
    trail_knee = _angle(_get(p, f"{trail}_hip"), _get(p, f"{trail}_knee"), _get(p, f"{trail}_ankle"))
    nose = _get(p, "nose") - _get(p, "nose")[a]
    hand_y = _hands(p)[:, 1]
    half_down = top + int(np.argmax(hand_y[top:impact] < 0.5 * (hand_y[top] + hand_y[a])))
    trail_ankle = _get(p, f"{trail}_ankle")[a]
    stance = (_get(p, f"{lead}_ankle")[a] - trail_ankle) @ t
    after = slice(impact, impact + int(round(0.1 * stream.fps)) + 1)
    return {
        "SWAY": float(np.max(-(hips[start : top + 1] - hips[a]) @ t)),
        "SLIDE": float((hips[impact] - hips[a]) @ t),
        "EARLY_EXTENSION": float(np.max((hips[top : impact + 1] - hips[a]) @ f)),
        "LOSS_OF_POSTURE": float(min(tilt[a] - tilt[top], tilt[a] - tilt[impact])),
        "REVERSE_SPINE": float(side_bend[top]),
        "INSUFFICIENT_SHOULDER_TURN": float(np.max(turn[start:impact] - turn[a])),
        "CHICKEN_WING": float(np.max(lead_elbow[after])),
        "CHICKEN_WING_MIN": float(np.min(lead_elbow[after])),
        "BENT_LEAD_ARM": float(lead_elbow[top]),
        "CASTING": float(hinge[half_down]),
        "HEAD_MOVEMENT": float(np.max(np.hypot(nose[start : impact + 1] @ t, nose[start : impact + 1, 1]))),
        "TRAIL_KNEE_STRAIGHTENING": float(np.max(trail_knee[start : top + 1] - trail_knee[a])),
        "HANGING_BACK": float(2.0 * ((hips[impact] - trail_ankle) @ t) / stance - 1.0),
        "POOR_TEMPO": (top - start) / (impact - top),
    }


# (clean low, clean high), (injected low, injected high) at fault_strength 1, driver.
RANGES = {
    "SWAY": ((-1.0, 0.03), (0.15, 0.20)),
    "SLIDE": ((0.04, 0.08), (0.22, 0.28)),
    "EARLY_EXTENSION": ((-1.0, 0.02), (0.10, 0.14)),
    "LOSS_OF_POSTURE": ((-90.0, 4.0), (16.0, 22.0)),
    "REVERSE_SPINE": ((5.0, 12.0), (-15.0, -10.0)),
    "INSUFFICIENT_SHOULDER_TURN": ((90.0, 100.0), (50.0, 58.0)),
    "CHICKEN_WING": ((165.0, 180.0), (110.0, 130.0)),
    "BENT_LEAD_ARM": ((165.0, 178.0), (120.0, 135.0)),
    "CASTING": ((75.0, 180.0), (20.0, 35.0)),
    "HEAD_MOVEMENT": ((0.0, 0.04), (0.15, 0.20)),
    "TRAIL_KNEE_STRAIGHTENING": ((-90.0, 5.0), (20.0, 90.0)),
    "HANGING_BACK": ((0.15, 0.35), (-0.25, -0.10)),
    "POOR_TEMPO": ((2.6, 3.8), (1.5, 6.0)),
}


def _in(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


@pytest.fixture(scope="module")
def clean_driver():
    return simulate([SwingSpec()], fps=60.0, seed=11)


def test_bone_lengths_are_constant_over_a_session():
    rng = np.random.default_rng(1)
    stream = simulate([random_swing_spec(rng, club="iron") for _ in range(2)], club="iron", fps=30.0, seed=2)
    p = _points(stream)
    for a, b in BONES:
        length = np.linalg.norm(_get(p, a) - _get(p, b), axis=-1)
        assert np.ptp(length) / length.mean() < 0.01, (a, b)


def test_joints_stay_within_their_limits():
    rng = np.random.default_rng(2)
    specs = [random_swing_spec(rng, faults=frozenset({fault})) for fault in ("CHICKEN_WING", "BENT_LEAD_ARM")]
    p = _points(simulate([SwingSpec(), *specs], fps=30.0, seed=3))
    for side in ("left", "right"):
        elbow = _angle(_get(p, f"{side}_shoulder"), _get(p, f"{side}_elbow"), _get(p, f"{side}_wrist"))
        knee = _angle(_get(p, f"{side}_hip"), _get(p, f"{side}_knee"), _get(p, f"{side}_ankle"))
        assert 40.0 <= elbow.min() and elbow.max() <= 180.0
        assert 110.0 <= knee.min() and knee.max() <= 180.0
    # Feet on or above the floor, head above the hips.
    assert p[:, LM["left_ankle"] :, 1].min() > 0.0
    assert np.all(_get(p, "nose")[:, 1] > _get(p, "left_hip")[:, 1])


@pytest.mark.parametrize("club", ["driver", "wedge"])
def test_events_match_the_hand_path(club):
    rng = np.random.default_rng(5)
    specs = [random_swing_spec(rng, club=club) for _ in range(3)]
    stream = simulate(specs, club=club, fps=60.0, seed=4)
    hands = _hands(_points(stream))
    assert len(stream.swings) == 3
    for spec, truth in zip(specs, stream.swings):
        assert truth.takeaway_frame < truth.top_frame < truth.impact_frame < truth.finish_frame
        address = hands[truth.takeaway_frame - 1]
        assert np.linalg.norm(hands[truth.takeaway_frame + 1] - address) > 0  # the hands are moving
        backswing = slice(truth.takeaway_frame, truth.impact_frame)
        top = truth.takeaway_frame + int(np.argmax(hands[backswing, 1]))
        assert abs(top - truth.top_frame) <= 1
        downswing = slice(truth.top_frame + 3, truth.finish_frame)
        impact = truth.top_frame + 3 + int(np.argmin(np.linalg.norm(hands[downswing] - address, axis=1)))
        assert abs(impact - truth.impact_frame) <= 1
        tempo = (truth.top_frame - truth.takeaway_frame) / (truth.impact_frame - truth.top_frame)
        assert tempo == pytest.approx(spec.tempo_ratio, rel=0.10)
        assert truth.tempo_ratio == spec.tempo_ratio
        assert truth.faults == frozenset()


def test_address_waggle_is_small_and_finish_is_held_still():
    specs = [SwingSpec(address_s=1.5, finish_hold_s=1.0)] * 3
    stream = simulate(specs, fps=60.0, seed=8)
    hands = _hands(_points(stream))
    waggles = []
    for truth in stream.swings:
        address = hands[truth.takeaway_frame - int(1.4 * 60) : truth.takeaway_frame]
        waggles.append(np.linalg.norm(address - address[-1], axis=1).max())
        finish = hands[truth.finish_frame : truth.finish_frame + int(0.9 * 60)]
        assert np.linalg.norm(finish - finish[0], axis=1).max() < 0.01
    assert max(waggles) < 0.03
    assert max(waggles) > 0.01  # this seed does waggle


def test_kinematic_sequence_in_the_downswing():
    rng = np.random.default_rng(6)
    specs = [random_swing_spec(rng) for _ in range(2)]
    stream = simulate(specs, fps=240.0, seed=5)
    p = _points(stream)
    for truth in stream.swings:
        window = slice(truth.top_frame, truth.impact_frame + 1)

        def turn_speed(lead: str, trail: str) -> np.ndarray:
            line = _get(p, lead) - _get(p, trail)
            return np.abs(np.gradient(np.unwrap(np.arctan2(line[:, 2], line[:, 0]))))[window]

        pelvis = np.argmax(turn_speed("left_hip", "right_hip"))
        thorax = np.argmax(turn_speed("left_shoulder", "right_shoulder"))
        hands = np.argmax(np.linalg.norm(np.gradient(_hands(p), axis=0), axis=1)[window])
        assert pelvis < thorax < hands
        speed = np.linalg.norm(np.gradient(_hands(p), axis=0), axis=1) * stream.fps
        assert 5.5 < speed[truth.impact_frame] < 9.5


def test_clean_driver_looks_like_a_golf_swing(clean_driver):
    p = _points(clean_driver)
    truth = clean_driver.swings[0]
    a, top, impact, finish = truth.takeaway_frame - 2, truth.top_frame, truth.impact_frame, truth.finish_frame
    hands = _hands(p)
    assert 0.72 < hands[a, 1] < 0.85
    assert 1.5 < hands[top, 1] < 1.8
    assert np.linalg.norm(_get(p, "left_ankle")[a] - _get(p, "right_ankle")[a]) == pytest.approx(0.45, abs=0.02)
    knee = _angle(_get(p, "left_hip"), _get(p, "left_knee"), _get(p, "left_ankle"))
    assert 148 < knee[a] < 162
    trail_elbow = _angle(_get(p, "right_shoulder"), _get(p, "right_elbow"), _get(p, "right_wrist"))
    assert 70 < trail_elbow[top] < 110
    hinge = 180 - _angle(_get(p, "left_elbow"), _get(p, "left_wrist"), _get(p, "left_index"))
    assert 10 <= hinge[a] <= 20 and 85 <= hinge[top] <= 95 and 10 <= hinge[impact] <= 22
    # Finish: weight over the lead foot, trail heel up, turned past the target.
    hips = 0.5 * (_get(p, "left_hip") + _get(p, "right_hip"))
    assert np.linalg.norm((hips[finish] - _get(p, "left_ankle")[finish]) * [1, 0, 1]) < 0.06
    assert _get(p, "right_heel")[finish, 1] > _get(p, "right_heel")[a, 1] + 0.1


@functools.cache
def _clean_measure(club: str, handedness: str) -> dict[str, float]:
    return _measure(simulate([SwingSpec()], club=club, handedness=handedness, fps=60.0, seed=9))


@pytest.mark.parametrize("club, handedness", [("driver", "right"), ("iron", "left")])
@pytest.mark.parametrize("fault", FAULT_IDS)
def test_each_fault_moves_its_own_measure(fault, club, handedness):
    clean = _clean_measure(club, handedness)
    stream = simulate([SwingSpec(faults=frozenset({fault}))], club=club, handedness=handedness, fps=60.0,
                      seed=FAULT_IDS.index(fault))
    faulty = _measure(stream)
    assert stream.swings[0].faults == frozenset({fault})
    (clean_range, fault_range) = RANGES[fault]
    if fault == "INSUFFICIENT_SHOULDER_TURN":
        clean_range = (DEFAULT_SHOULDER_TURN_DEG[club] - 2, DEFAULT_SHOULDER_TURN_DEG[club] + 2)
    if fault == "POOR_TEMPO":
        assert min(abs(faulty[fault] / 1.5 - 1), abs(faulty[fault] / 6.0 - 1)) < 0.1
        assert stream.swings[0].tempo_ratio in (1.5, 6.0)
    else:
        assert _in(faulty[fault], fault_range), faulty[fault]
    assert _in(clean[fault], clean_range), clean[fault]
    if fault == "CHICKEN_WING":
        assert faulty["CHICKEN_WING_MIN"] >= 110 and clean["CHICKEN_WING_MIN"] >= 165


def test_clean_swing_stays_inside_every_clean_range(clean_driver):
    measured = _measure(clean_driver)
    for fault, (clean_range, _) in RANGES.items():
        if fault != "INSUFFICIENT_SHOULDER_TURN":
            assert _in(measured[fault], clean_range), (fault, measured[fault])


def test_fault_strength_interpolates():
    measures = [
        _measure(simulate([SwingSpec(faults=frozenset({"SWAY"}), fault_strength=s)], fps=60.0, seed=3))["SWAY"]
        for s in (0.0, 0.5, 1.0)
    ]
    assert measures[1] == pytest.approx(0.5 * (measures[0] + measures[2]), abs=0.01)


def _chirality(points: np.ndarray) -> np.ndarray:
    """Triple product (shoulder line, spine, face), whose sign flips in a mirror image."""
    hips = 0.5 * (_get(points, "left_hip") + _get(points, "right_hip"))
    shoulders = 0.5 * (_get(points, "left_shoulder") + _get(points, "right_shoulder"))
    line = _get(points, "left_shoulder") - _get(points, "right_shoulder")
    return np.sum(np.cross(line, shoulders - hips) * (_get(points, "nose") - shoulders), axis=-1)


def _same_chirality(a: np.ndarray, b: np.ndarray) -> bool:
    """The two skeletons have the same handedness wherever it is clear (the face off the shoulder plane)."""
    ca, cb = _chirality(a), _chirality(b)
    clear = np.abs(ca) > 0.1 * np.abs(ca).max()
    return clear.mean() > 0.8 and bool(np.all(np.sign(ca[clear]) == np.sign(cb[clear])))


def _rigid_fit(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Rotation, scale and RMS residual of the best similarity transform source -> target."""
    s, t = source - source.mean(0), target - target.mean(0)
    u, sigma, vt = np.linalg.svd(s.T @ t)
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.diag([1.0, 1.0, d])
    rotation = (u @ fix @ vt).T
    scale = np.sum(sigma * np.diag(fix)) / np.sum(s * s)
    residual = np.sqrt(np.mean(np.sum((scale * s @ rotation.T - t) ** 2, axis=1)))
    return rotation, scale, residual


def test_mediapipe_world_is_a_hip_centred_rigid_copy():
    world = simulate([SwingSpec()], seed=21)
    camera = simulate([SwingSpec()], seed=21, coordinate_system="mediapipe_world")
    assert camera.image_aspect == 1.0 and camera.swings == world.swings
    cp, wp = _points(camera), _points(world)
    hip_mid = 0.5 * (_get(cp, "left_hip") + _get(cp, "right_hip"))
    assert np.abs(hip_mid).max() < 1e-5
    for frame in range(0, len(wp), 7):
        dw = np.linalg.norm(wp[frame][:, None] - wp[frame][None], axis=-1)
        dc = np.linalg.norm(cp[frame][:, None] - cp[frame][None], axis=-1)
        assert np.abs(dw - dc).max() < 1e-4
    # Read the analyser's way (x, -y, -z) it is a proper rotation of the world: not a mirror image.
    frame = world.swings[0].top_frame
    rotation, scale, residual = _rigid_fit(wp[frame], cp[frame] * [1, -1, -1])
    assert np.linalg.det(rotation) > 0 and scale == pytest.approx(1.0, abs=1e-4) and residual < 1e-4
    assert _same_chirality(wp, cp * [1, -1, -1])
    # Image y points down: the head is above (smaller y than) the feet.
    assert np.all(_get(cp, "nose")[:, 1] < _get(cp, "left_ankle")[:, 1])


@pytest.mark.parametrize("handedness", ["right", "left"])
def test_mediapipe_image_frames_the_golfer(handedness):
    world = simulate([SwingSpec()], seed=22, handedness=handedness)
    image = simulate([SwingSpec()], seed=22, handedness=handedness, coordinate_system="mediapipe_image")
    assert image.image_aspect == pytest.approx(9 / 16)
    truth = image.swings[0]
    swing = image.keypoints[truth.takeaway_frame - 30 : truth.finish_frame + 30, :, :3]
    assert swing[..., :2].min() >= 0.0 and swing[..., :2].max() <= 1.0
    height = swing[:, :, 1].max(axis=1) - swing[:, :, 1].min(axis=1)
    assert 0.5 < height.mean() < 0.85
    # The analyser's reading (x a, -y, -z a) is the world up to scale and a little perspective.
    a = image.image_aspect
    ip, wp = _points(image), _points(world)
    for frame in (truth.takeaway_frame - 2, truth.top_frame, truth.finish_frame):
        rotation, scale, residual = _rigid_fit(wp[frame], ip[frame] * [a, -1, -a])
        assert np.linalg.det(rotation) > 0 and residual < 0.05 * scale
    assert _same_chirality(wp, ip * [a, -1, -a])
    assert np.all(_get(ip, "nose")[:, 1] < _get(ip, "left_ankle")[:, 1])


def test_left_handed_is_the_mirror_image_in_a_right_handed_world():
    right = simulate([SwingSpec()], seed=31)
    left = simulate([SwingSpec()], seed=31, handedness="left")
    assert left.swings == right.swings
    swap = [LM[n.replace("left", "@").replace("right", "left").replace("@", "right")] for n in LANDMARK_NAMES]
    rp, lp = _points(right), _points(left)[:, swap]  # relabelled: lead and trail line up
    for frame in range(0, len(rp), 11):
        dr = np.linalg.norm(rp[frame][:, None] - rp[frame][None], axis=-1)
        dl = np.linalg.norm(lp[frame][:, None] - lp[frame][None], axis=-1)
        assert np.abs(dr - dl).max() < 1e-4
    # The same body, reflected: no rotation takes one onto the other.
    assert _rigid_fit(rp[right.swings[0].top_frame], lp[right.swings[0].top_frame])[2] > 0.05
    # ...but it is the motion that is mirrored, not the world: the golfer's left is still their left.
    assert _same_chirality(_points(right), _points(left))
    assert left.handedness == "left"
    for stream, lead, trail, sign in ((right, "left", "right", 1.0), (left, "right", "left", -1.0)):
        p, a = _points(stream), stream.swings[0].takeaway_frame - 2
        target = _horizontal_unit(_get(p, f"{lead}_ankle")[a] - _get(p, f"{trail}_ankle")[a])
        ball = _horizontal_unit(_get(p, "nose")[a] - 0.5 * (_get(p, "left_hip") + _get(p, "right_hip"))[a])
        # Right-handed: ball = target x up; left-handed: up x target, in the same right-handed world.
        assert sign * np.cross(target, UP) @ ball > 0.9
        # Through the backswing the lead shoulder turns toward the ball for both.
        line = _get(p, f"{lead}_shoulder") - _get(p, f"{trail}_shoulder")
        assert (line[stream.swings[0].top_frame] @ ball) > 0.2


def test_drops_jitter_occlusion_and_noise_statistics():
    specs = [SwingSpec()] * 3
    base = simulate(specs, fps=30.0, seed=41)
    stream = simulate(specs, fps=30.0, seed=41, drop_rate=0.2, occlusion=0.2, noise_m=0.01, timestamp_jitter_s=0.01)
    n = len(base.frame_indices)
    kept = len(stream.frame_indices) / n
    assert 0.75 < kept < 0.85
    assert stream.frame_indices[0] == 0 and np.all(np.diff(stream.frame_indices) >= 1)
    assert np.all(np.diff(stream.timestamps) > 0)
    assert np.all(np.isfinite(stream.keypoints))
    visibility = stream.keypoints[..., 3]
    occluded = (visibility < 0.5).any(axis=1)
    assert 0.16 < occluded.mean() < 0.24
    dropout = (visibility < 0.3).all(axis=1)
    assert 0.02 < dropout.sum() / occluded.sum() < 0.2
    assert visibility[~occluded].min() >= 0.9 and visibility.max() <= 1.0
    clear = ~occluded
    error = _points(stream)[clear] - _points(base)[stream.frame_indices][clear]
    assert np.std(error) == pytest.approx(0.01, rel=0.1)
    assert np.array_equal(base.timestamps, np.arange(n) / 30.0)


def test_same_seed_same_stream_other_seed_other_stream():
    kwargs = dict(fps=30.0, noise_m=0.005, occlusion=0.05, drop_rate=0.05, timestamp_jitter_s=0.002)
    a = simulate([SwingSpec(), SwingSpec()], seed=7, **kwargs)
    b = simulate([SwingSpec(), SwingSpec()], seed=7, **kwargs)
    c = simulate([SwingSpec(), SwingSpec()], seed=8, **kwargs)
    assert np.array_equal(a.keypoints, b.keypoints) and np.array_equal(a.timestamps, b.timestamps)
    assert a.swings == b.swings
    assert a.keypoints.shape != c.keypoints.shape or not np.array_equal(a.keypoints, c.keypoints)
    assert a.keypoints.dtype == np.float32 and a.timestamps.dtype == np.float64
    assert a.frame_indices.dtype == np.int64


def test_walking_between_swings_moves_the_golfer():
    def address_hips(stream):
        p = _points(stream)
        hips = 0.5 * (_get(p, "left_hip") + _get(p, "right_hip"))
        return [hips[s.takeaway_frame - 2] for s in stream.swings]

    walked = address_hips(simulate([SwingSpec()] * 2, seed=51))
    stayed = address_hips(simulate([SwingSpec()] * 2, seed=51, walk_between=False))
    assert 0.45 < np.linalg.norm(walked[1] - walked[0]) < 1.05
    assert np.linalg.norm(stayed[1] - stayed[0]) < 0.02


def test_random_swing_spec_ranges():
    rng = np.random.default_rng(0)
    for _ in range(50):
        spec = random_swing_spec(rng, club="wedge", faults=frozenset({"SWAY"}), fault_strength=0.5)
        assert 2.6 <= spec.tempo_ratio <= 3.8 and 0.70 <= spec.backswing_s <= 1.05
        assert 1.0 <= spec.address_s <= 1.6 and 0.8 <= spec.finish_hold_s <= 1.5
        assert abs(spec.shoulder_turn_deg - DEFAULT_SHOULDER_TURN_DEG["wedge"]) <= 5
        assert spec.faults == frozenset({"SWAY"}) and spec.fault_strength == 0.5


@pytest.mark.parametrize(
    "kwargs",
    [dict(club="putter"), dict(handedness="both"), dict(coordinate_system="pixels"), dict(fps=0.0)],
)
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        simulate([SwingSpec()], **kwargs)
    with pytest.raises(ValueError):
        simulate([SwingSpec(faults=frozenset({"SHANK"}))])
