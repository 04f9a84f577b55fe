"""Real video through MediaPipe Pose in Python, image and world landmarks together, analysed.

The browser page sends both from one pose call; this is the same input, made
offline (``swingsync_fast.pose``). Skips without the real clips or the
``video`` extra.
"""

from __future__ import annotations

import numpy as np
import pytest

from swingsync_fast import SessionConfig, analyze_recording
from swingsync_fast.evaluation import REAL_CLIP_ASPECT, REAL_CLIP_FPS

pytest.importorskip("mediapipe", reason="MediaPipe Pose is the `video` extra (make test installs it)")


@pytest.fixture(scope="module")
def swing1(realdata_dir):
    from swingsync_fast.pose import pose_video

    return pose_video(realdata_dir / "video" / "swing1.mp4")


def test_posing_a_video_gives_image_and_world_landmarks_of_every_frame(swing1, realdata_dir):
    from swingsync_fast.recordings import read_keypoint_csv

    image, world = swing1
    labelled = read_keypoint_csv(realdata_dir / "swing1_labeled.csv.gz")
    assert image.shape == world.shape == (len(labelled.keypoints), 33, 4)
    assert np.isfinite(image).all()  # a person in every frame of this clip
    # world landmarks are metres around the hips; image ones are normalised
    assert np.abs(world[:, :, :3]).max() < 1.5 and 0.0 <= image[:, :, 0].min() < image[:, :, 0].max() <= 1.0


@pytest.mark.parametrize("with_world", [False, True], ids=["image", "image+world"])
def test_a_sound_swing_filmed_from_behind_reads_plausibly(swing1, with_world):
    image, world = swing1
    config = SessionConfig(coordinate_system="mediapipe_image", image_aspect=REAL_CLIP_ASPECT)
    times = np.arange(len(image)) / REAL_CLIP_FPS["swing1"]
    recording = analyze_recording(image, times, config, world_keypoints=world if with_world else None)
    assert len(recording.swings) == 1
    swing = recording.swings[0]
    assert swing.camera.view == "down_the_line"
    assert 80.0 <= swing.kpis_top["shoulder_turn"] <= 110.0
    assert 0.0 < swing.kpis_top["hip_turn"] < swing.kpis_top["shoulder_turn"]
    assert swing.kpis_top["pelvis_sway"] is None  # a camera behind the player cannot see it
    assert [f.fault_id for f in swing.faults if f.severity >= 0.5] == []
    assert 2.5 <= swing.tempo_ratio <= 4.0


@pytest.mark.parametrize("configured", ["right", "left"])
def test_a_left_handed_swing_is_read_left_handed_whatever_the_setting(realdata_dir, configured):
    """swing6 is filmed from behind a golfer who faces the picture's left: a left-handed swing
    (or a mirrored video of a right-handed one). Set as right-handed it read face-on, turned
    -70 deg, with four strong faults; the address alone says which hand it is."""
    from swingsync_fast.pose import pose_video

    image, world = pose_video(realdata_dir / "video" / "swing6.mp4")
    config = SessionConfig(coordinate_system="mediapipe_image", image_aspect=REAL_CLIP_ASPECT,
                           handedness=configured)
    recording = analyze_recording(image, np.arange(len(image)) / 29.97, config)
    assert len(recording.swings) == 1
    swing = recording.swings[0]
    assert (swing.camera.view, swing.camera.handedness) == ("down_the_line", "left")
    # frame by frame: the club leaves the ball at 41-43, is highest at 62-63, meets it at 70-71
    assert 40 <= swing.takeaway_frame <= 44 and 61 <= swing.top_frame <= 64 and 69 <= swing.impact_frame <= 72
    assert 80.0 <= swing.kpis_top["shoulder_turn"] <= 120.0
    assert 0.0 < swing.kpis_top["hip_turn"] < swing.kpis_top["shoulder_turn"]
    assert [f.fault_id for f in swing.faults if f.severity >= 0.5] in ([], ["POOR_TEMPO"])  # a quick 2.2:1
