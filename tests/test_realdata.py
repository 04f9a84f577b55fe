"""The analysis on real MediaPipe keypoints from phone video, against hand labels."""

from __future__ import annotations

import numpy as np
import pytest

from swingsync_fast.evaluation import (
    REAL_CLIP_FPS as CLIP_FPS,
    analyse_labelled_clip as analyse,
    event_timeline,
    label_agreement,
    real_agreement_markdown,
)


def first_frame(labels: list[str], label: str) -> int:
    return labels.index(label)


@pytest.mark.parametrize("name", ["swing1", "swing3", "swing4"])
def test_one_swing_with_top_and_impact_near_the_labels(realdata_dir, name):
    data, recording = analyse(realdata_dir, name)
    assert len(recording.swings) == 1
    swing = recording.swings[0]
    # Labels put the downswing's first frame just after the top and the
    # follow-through's first frame just after impact. Allow GolfDB's
    # tolerance scaled to the clip's rate, and two frames more for the labels.
    slack = max(1, round(CLIP_FPS[name] / 30.0)) * 3
    top_label = first_frame(data.labels, "Downswing")
    impact_label = first_frame(data.labels, "Follow-through")
    assert abs(swing.top_frame - top_label) <= slack
    assert abs(swing.impact_frame - impact_label) <= 2 * slack
    assert swing.top_frame < swing.impact_frame


@pytest.mark.parametrize("name", ["swing1", "swing3", "swing4"])
def test_phase_timeline_agrees_with_labels(realdata_dir, name):
    data, recording = analyse(realdata_dir, name)
    agreement = label_agreement(event_timeline(recording.frames), data.labels)
    agree = sum(a for a, _ in agreement.values())
    total = sum(n for _, n in agreement.values())
    assert agree / total >= 0.85, agreement
    for label in ("Backswing", "Downswing", "Follow-through"):
        a, n = agreement[label]
        assert a / n >= 0.7, (label, agreement)


def test_clip_starting_mid_takeaway_is_not_counted(realdata_dir):
    """swing5 starts after the takeaway began: with no address there is no swing to count."""
    data, recording = analyse(realdata_dir, "swing5")
    assert data.labels[0] == "Takeaway"
    assert recording.swings == []


def test_frames_are_usable_exactly_when_the_core_is_seen(realdata_dir):
    """Hands hidden behind the head in the follow-through make frames unusable; nothing else does.

    Until the backswing a wrist guessed at HANDS_GUESSED_MIN or better places the grip.
    """
    from swingsync_fast.kernels.tuning import HANDS_GUESSED_MIN

    before_backswing = {"idle", "setup", "takeaway"}
    for name in CLIP_FPS:
        data, recording = analyse(realdata_dir, name)
        assert len(recording.frames) == len(data.keypoints)
        visibility = data.keypoints[:, :, 3]
        core = visibility[:, [11, 12, 23, 24]].min(axis=1) >= 0.5
        wrist = visibility[:, [15, 16]].max(axis=1)
        usable = np.array([f.usable for f in recording.frames])
        # the floor follows the phase the frame arrives in: the one the previous frame left
        arrived_in = ["idle"] + [f.swing_phase for f in recording.frames[:-1]]
        guessed = np.isin(arrived_in, list(before_backswing)) & (wrist >= HANDS_GUESSED_MIN)
        assert np.array_equal(usable, core & ((wrist >= 0.5) | guessed)), name


def test_agreement_table_covers_every_clip(realdata_dir):
    table = real_agreement_markdown(realdata_dir)
    assert all(f"| {name} |" in table for name in CLIP_FPS)


@pytest.mark.parametrize("name", ["swing3", "swing4"])
def test_slow_motion_stamped_at_the_container_rate_still_counts_one_swing(realdata_dir, name):
    """A client that sends slow-motion media time (8x too slow) still gets its swing."""
    from swingsync_fast import SessionConfig, analyze_recording
    from swingsync_fast.evaluation import REAL_CLIP_ASPECT
    from swingsync_fast.recordings import read_keypoint_csv

    data = read_keypoint_csv(realdata_dir / f"{name}_labeled.csv.gz")
    config = SessionConfig(coordinate_system="mediapipe_image", image_aspect=REAL_CLIP_ASPECT)
    recording = analyze_recording(data.keypoints, data.frames / 30.0, config, frame_indices=data.frames)
    assert len(recording.swings) == 1
    assert abs(recording.swings[0].top_frame - data.labels.index("Downswing")) <= 24


@pytest.mark.parametrize("name", ["swing1", "swing3", "swing4"])
def test_a_sound_swing_filmed_down_the_line_reads_like_one(realdata_dir, name):
    """What a coach sees on these clips: a camera behind the player, a full shoulder
    turn, the head nearly still, no strong fault, and a turn that never goes negative
    at the finish. (Looked at frame by frame: three tidy swings.)"""
    _, recording = analyse(realdata_dir, name)
    swing = recording.swings[0]
    assert swing.camera.view == "down_the_line"
    assert 75.0 <= swing.camera.angle_deg <= 90.0
    assert 80.0 <= swing.kpis_top["shoulder_turn"] <= 110.0
    assert 0.0 < swing.kpis_top["hip_turn"] < swing.kpis_top["shoulder_turn"]
    assert abs(swing.kpis_top["head_lift"]) <= 0.05
    # a camera behind the player cannot see along the target line
    assert swing.kpis_top["pelvis_sway"] is None and swing.kpis_top["head_sway"] is None
    assert swing.camera.unmeasured["pelvis_sway"] == "down_the_line"
    assert [f.fault_id for f in swing.faults if f.severity >= 0.5] == []
    finish = [f.kpis["shoulder_turn"] for f in recording.frames
              if f.swing_phase in ("follow_through", "finish") and f.kpis and f.kpis["shoulder_turn"] is not None]
    assert finish and min(finish) > -10.0
