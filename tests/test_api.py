"""The public API's contract: configuration, thresholds, input checks, bad frames."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from swingsync_fast import LiveAnalyzer, SessionConfig, Thresholds, analyze_recording
from swingsync_fast.catalog import FAULT_IDS, KPI_NAMES, PHASES


@pytest.mark.parametrize(
    "word, family",
    [("Driver", "driver"), ("3 Wood", "wood"), ("4 hybrid", "wood"), ("7 Iron", "iron"),
     ("Pitching Wedge", "wedge"), ("PW", "wedge")],
)
def test_club_names_map_to_families(word, family):
    assert SessionConfig(club_used=word).club_used == family


def test_config_decodes_seed_fields_and_rejects_bad_values():
    config = msgspec.json.decode(
        b'{"user_id":"u1","session_name":"range","club_used":"Driver","skill_level":"Advanced",'
        b'"feedback_mode":"streaming","analysis_frequency":1,"feedback_threshold":0.6,'
        b'"enable_real_time_kpis":true,"enable_instant_feedback":true,"target_latency_ms":100}',
        type=SessionConfig,
    )
    assert (config.club_used, config.skill_level, config.handedness) == ("driver", "advanced", "right")
    for bad in (
        b'{"club_used":"putter"}',
        b'{"skill_level":"legend"}',
        b'{"handedness":"both"}',
        b'{"coordinate_system":"ecef"}',
        b'{"analysis_frequency":0}',
        b'{"feedback_threshold":1.5}',
    ):
        with pytest.raises(msgspec.ValidationError):
            msgspec.json.decode(bad, type=SessionConfig)


def test_thresholds_loosen_for_beginners_and_tighten_for_professionals():
    beginner = Thresholds.for_player("iron", "beginner")
    pro = Thresholds.for_player("iron", "professional")
    for fault_id in ("SWAY", "HEAD_MOVEMENT", "LOSS_OF_POSTURE", "BENT_LEAD_ARM"):
        assert beginner.limits[fault_id] > pro.limits[fault_id]
    assert beginner.limits["INSUFFICIENT_SHOULDER_TURN"] < pro.limits["INSUFFICIENT_SHOULDER_TURN"]
    assert beginner.tempo_low < pro.tempo_low < pro.tempo_high < beginner.tempo_high
    driver, wedge = Thresholds.for_player("driver", "intermediate"), Thresholds.for_player("wedge", "intermediate")
    assert driver.limits["INSUFFICIENT_SHOULDER_TURN"] > wedge.limits["INSUFFICIENT_SHOULDER_TURN"]
    assert driver.limits["SWAY"] > wedge.limits["SWAY"]


def test_baseline_moves_limits_within_bounds():
    base = Thresholds.for_player("iron", "intermediate")
    steady = Thresholds.for_player("iron", "intermediate", {"SWAY": 0.0, "INSUFFICIENT_SHOULDER_TURN": 100.0})
    limited = Thresholds.for_player("iron", "intermediate", {"SWAY": 0.5, "INSUFFICIENT_SHOULDER_TURN": 40.0})
    assert steady.limits["SWAY"] == pytest.approx(0.8 * base.limits["SWAY"])
    assert limited.limits["SWAY"] == pytest.approx(1.25 * base.limits["SWAY"])
    # half a span (12.5 deg) short of the player's usual 100 deg, but never past the bounds
    turn = base.limits["INSUFFICIENT_SHOULDER_TURN"]
    assert steady.limits["INSUFFICIENT_SHOULDER_TURN"] == pytest.approx(min(100.0 - 12.5, 1.25 * turn))
    assert limited.limits["INSUFFICIENT_SHOULDER_TURN"] == pytest.approx(0.8 * turn)
    with pytest.raises(ValueError, match="unknown fault"):
        Thresholds.for_player("iron", "intermediate", {"SLICE": 1.0})


def test_push_checks_shape():
    analyzer = LiveAnalyzer()
    with pytest.raises(ValueError, match="shape"):
        analyzer.push(0, 0.0, np.zeros((33, 3), np.float32))


def _standing_frame() -> np.ndarray:
    """A plausible upright body in metres, y up, all landmarks visible."""
    frame = np.zeros((33, 4), np.float32)
    frame[:, 3] = 1.0
    frame[:, 1] = 1.0
    frame[0, :3] = (0.0, 1.65, 0.05)
    for left, right, y, x in ((11, 12, 1.45, 0.2), (13, 14, 1.15, 0.25), (15, 16, 0.9, 0.25),
                              (19, 20, 0.82, 0.25), (23, 24, 0.95, 0.12), (25, 26, 0.5, 0.12),
                              (27, 28, 0.08, 0.14)):
        frame[left, :3] = (x, y, 0.0)
        frame[right, :3] = (-x, y, 0.0)
    return frame


@pytest.mark.parametrize(
    "spoil",
    [
        lambda f: f.__setitem__((11, 0), np.nan),
        lambda f: f.__setitem__((23, 1), np.inf),
        lambda f: f.__setitem__((24, 2), -np.inf),
        lambda f: f.__setitem__((12, 0), 1e30),
        lambda f: f.__setitem__((slice(None), slice(0, 3)), 0.0),  # every limb zero-length
        lambda f: f.__setitem__((slice(11, 13), slice(0, 3)), 0.5),  # shoulders on one point
        lambda f: f.__setitem__((slice(None), 3), 0.1),  # nothing visible
        lambda f: f.__setitem__((slice(15, 17), 3), 0.0),  # no hands
    ],
)
def test_bad_frames_are_unusable_and_the_stream_carries_on(spoil):
    analyzer = LiveAnalyzer()
    good = _standing_frame()
    assert analyzer.push(0, 0.0, good).usable
    bad = good.copy()
    spoil(bad)
    result = analyzer.push(1, 1 / 30, bad)
    assert not result.usable
    assert all(v is None for v in result.kpis.values())
    assert result.swing_phase in PHASES
    assert analyzer.push(2, 2 / 30, good).usable


def test_single_hidden_wrist_keeps_the_frame_usable():
    analyzer = LiveAnalyzer()
    frame = _standing_frame()
    frame[15, 3] = 0.0
    result = analyzer.push(0, 0.0, frame)
    assert result.usable
    assert result.kpis["lead_elbow"] is None
    shoulder, elbow, wrist = frame[12, :3], frame[14, :3], frame[16, :3]
    u, v = shoulder - elbow, wrist - elbow
    expected = np.degrees(np.arccos(u @ v / np.linalg.norm(u) / np.linalg.norm(v)))
    assert result.kpis["trail_elbow"] == pytest.approx(expected, abs=1e-3)


def test_out_of_order_or_repeated_timestamps_are_refused():
    analyzer = LiveAnalyzer()
    frame = _standing_frame()
    assert analyzer.push(0, 1.0, frame).usable
    assert not analyzer.push(1, 1.0, frame).usable
    assert not analyzer.push(2, 0.5, frame).usable
    assert not analyzer.push(3, math.nan, frame).usable
    assert analyzer.push(4, 1.1, frame).usable


def test_still_address_arms_setup_and_ring_wraps():
    analyzer = LiveAnalyzer(capacity=16)
    frame = _standing_frame()
    frame[15, :3] = (0.02, 0.85, 0.3)  # hands together in front: a grip
    frame[16, :3] = (-0.02, 0.85, 0.3)
    phases = [analyzer.push(i, i / 30, frame).swing_phase for i in range(60)]
    assert phases[0] == "idle"
    assert phases[-1] == "setup"
    first_setup = phases.index("setup")
    assert 8 <= first_setup <= 11  # 0.3 s of stillness at 30 FPS
    result = analyzer.push(60, 2.0, frame)
    assert set(result.kpis) == set(KPI_NAMES)
    assert result.kpis["shoulder_turn"] == pytest.approx(0.0, abs=1e-4)


def test_analyze_recording_validates_input():
    with pytest.raises(ValueError, match=r"\(N, 33, 4\)"):
        analyze_recording(np.zeros((5, 33, 3)), np.arange(5.0))
    with pytest.raises(ValueError, match="timestamp"):
        analyze_recording(np.zeros((5, 33, 4)), np.arange(4.0))
    recording = analyze_recording(np.zeros((5, 33, 4)), np.arange(5.0))
    assert [f.usable for f in recording.frames] == [False] * 5
    assert recording.swings == []


def test_fault_catalog_matches_kernel_order():
    limits, spans = Thresholds.for_player("driver", "intermediate").arrays()
    assert len(limits) == len(spans) == len(FAULT_IDS) == 13
