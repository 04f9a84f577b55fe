"""Slow motion: the time base of a stream, given by the client or found from its first swing.

Phones film at 120 or 240 FPS and play at 30, so media time runs 4 or 8
times slower than the swing. The analysis times a swing in real seconds.
"""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from live_server import recv_until, send, start

from swingsync_fast import SessionConfig, analyze_recording
from swingsync_fast.__main__ import main
from swingsync_fast.evaluation import REAL_CLIP_ASPECT
from swingsync_fast.recordings import read_keypoint_csv
from swingsync_fast.server.protocol.stream import RAW_HEADER, RAW_MAGIC
from swingsync_fast.simulator import random_swing_spec, simulate
from swingsync_fast.timebase import DOWNSWING_S, SlowMotionSearch, new_analyzer

SERVER_SETTINGS = dict(frames_per_second=1e6, frame_burst=10**6)
CONTAINER_FPS = 30.0  # what the phone's slow-motion files say they play at


def image_config(**fields) -> SessionConfig:
    return SessionConfig(coordinate_system="mediapipe_image", image_aspect=REAL_CLIP_ASPECT, **fields)


def media_times(frames: np.ndarray) -> np.ndarray:
    return (frames - frames[0]) / CONTAINER_FPS


@pytest.fixture(scope="module")
def new_swing(realdata_dir):
    """The real 240 FPS phone clip of a full swing, as its file plays it (30 FPS)."""
    return read_keypoint_csv(realdata_dir / "new_swing.csv.gz")


def test_the_slow_motion_phone_clip_at_face_value_loses_its_swing(new_swing):
    """The bug: read at the file's 30 FPS the backswing lasts 'too long' and the swing is dropped."""
    recording = analyze_recording(new_swing.keypoints, media_times(new_swing.frames), image_config(),
                                  frame_indices=new_swing.frames)
    assert recording.swings == []
    assert "top_of_swing" not in {f.swing_phase for f in recording.frames}


@pytest.mark.parametrize("slow_motion", ["auto", 8.0])
def test_the_slow_motion_phone_clip_gives_one_full_swing_when_told_or_left_to_find_it(new_swing, slow_motion):
    recording = analyze_recording(new_swing.keypoints, media_times(new_swing.frames),
                                  image_config(slow_motion=slow_motion), frame_indices=new_swing.frames)
    (swing,) = recording.swings
    assert swing.slow_motion == 8.0
    assert swing.takeaway_frame < swing.top_frame < swing.impact_frame < swing.finish_frame
    assert DOWNSWING_S[0] <= swing.downswing_s <= DOWNSWING_S[1]
    assert 0.5 <= swing.backswing_s <= 2.0  # a real backswing, not 8 s of media time
    # every phase of a full swing when told; left to find it, the phases from impact on
    phases = {f.swing_phase for f in recording.frames}
    if slow_motion == "auto":
        decided = next(f.frame_index for f in recording.frames if f.event and f.event.phase == "impact")
        assert swing.impact_frame - 8 <= decided <= swing.impact_frame + 8
        assert {"setup", "backswing", "follow_through"} <= phases
    else:
        assert {"setup", "backswing", "top_of_swing", "downswing", "follow_through"} <= phases
    # times stay on the file's clock, durations are real
    assert swing.top_time == pytest.approx(media_times(new_swing.frames)[swing.top_frame], abs=1 / CONTAINER_FPS)
    assert swing.downswing_s == pytest.approx((swing.impact_time - swing.top_time) / 8.0)


@pytest.mark.parametrize(("name", "factor"), [("swing1", 1.0), ("swing3", 8.0), ("swing4", 8.0)])
def test_the_factor_found_is_the_clips_and_the_top_lands_on_the_label(realdata_dir, name, factor):
    data = read_keypoint_csv(realdata_dir / f"{name}_labeled.csv.gz")
    recording = analyze_recording(data.keypoints, media_times(data.frames), image_config(slow_motion="auto"),
                                  frame_indices=data.frames)
    (swing,) = recording.swings
    assert swing.slow_motion == factor
    slack = 3 * round(factor)  # three frames at 30 FPS of real time
    assert abs(swing.top_frame - data.labels.index("Downswing")) <= slack


def test_a_clip_that_starts_mid_swing_finds_nothing_rather_than_a_swing_no_golfer_makes(realdata_dir):
    data = read_keypoint_csv(realdata_dir / "swing5_labeled.csv.gz")
    recording = analyze_recording(data.keypoints, media_times(data.frames), image_config(slow_motion="auto"),
                                  frame_indices=data.frames)
    assert recording.swings == []


@pytest.mark.parametrize("factor", [1, 4, 8])
def test_a_simulated_swing_filmed_fast_and_played_at_30_is_timed_as_filmed(factor):
    rng = np.random.default_rng(factor)
    stream = simulate([random_swing_spec(rng, club="driver")], club="driver", fps=30.0 * factor,
                      noise_m=0.003, seed=factor)
    played = stream.timestamps * factor  # each frame shown 1/30 s
    truth = analyze_recording(stream.keypoints, stream.timestamps, SessionConfig(),
                              frame_indices=stream.frame_indices).swings
    found = analyze_recording(stream.keypoints, played, SessionConfig(slow_motion="auto"),
                              frame_indices=stream.frame_indices).swings
    assert len(truth) == len(found) == 1
    assert found[0].slow_motion == factor
    assert (found[0].top_frame, found[0].impact_frame) == (truth[0].top_frame, truth[0].impact_frame)
    assert found[0].downswing_s == pytest.approx(truth[0].downswing_s)


def test_slow_motion_is_auto_or_a_factor_from_1_to_32():
    assert isinstance(new_analyzer(SessionConfig(slow_motion="auto")), SlowMotionSearch)
    for bad in (0.5, 64.0, float("nan"), "fast"):
        with pytest.raises((ValueError, msgspec.ValidationError)):
            msgspec.convert({"slow_motion": bad}, SessionConfig)


def test_analyze_finds_the_slow_motion_and_says_so(realdata_dir, capsys):
    assert main(["analyze", str(realdata_dir / "new_swing.csv.gz"), "--aspect", "0.5625"]) == 0
    out = capsys.readouterr().out
    assert "1 swing(s); slow motion found: 8x (240 FPS filmed)" in out
    assert main(["analyze", str(realdata_dir / "new_swing.csv.gz"), "--aspect", "0.5625",
                 "--capture-fps", "240"]) == 0
    assert "1 swing(s) at 8x slow motion" in capsys.readouterr().out
    assert main(["analyze", str(realdata_dir / "new_swing.csv.gz"), "--aspect", "0.5625",
                 "--slow-motion", "1"]) == 0
    assert "0 swing(s)" in capsys.readouterr().out


def test_the_socket_finds_the_slow_motion_of_a_stream(server, new_swing):
    with server.socket("sam") as ws:
        start(ws, {"coordinate_system": "mediapipe_image", "image_aspect": REAL_CLIP_ASPECT,
                   "slow_motion": "auto", "frame_layout": "compact"})
        for index, t, frame in zip(new_swing.frames.tolist(), media_times(new_swing.frames).tolist(),
                                   new_swing.keypoints):
            ws.send(RAW_HEADER.pack(RAW_MAGIC, index, t) + frame.astype("<f4").tobytes())
        send(ws, "end_session")
        _, replies = recv_until(ws, "session_ended", timeout=30)
    summaries = [m["data"] for m in replies if m["type"] == "swing_summary"]
    expected = analyze_recording(new_swing.keypoints, media_times(new_swing.frames),
                                 image_config(slow_motion="auto"), frame_indices=new_swing.frames).swings
    assert len(summaries) == len(expected) == 1
    assert summaries[0]["slow_motion"] == 8.0
    assert (summaries[0]["top_frame"], summaries[0]["impact_frame"]) == (expected[0].top_frame,
                                                                       expected[0].impact_frame)


# --------------------------------------------------------------------------- the same file, the same answer


@pytest.mark.parametrize("name", ["new_swing", "swing1_labeled"])
def test_analyze_gives_the_same_answer_for_the_same_file(realdata_dir, capsys, name):
    path = str(realdata_dir / f"{name}.csv.gz")
    outputs = []
    for _ in range(2):
        assert main(["analyze", path, "--aspect", "0.5625"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and "1 swing(s)" in outputs[0]


def test_a_recording_analysed_twice_is_identical_frame_by_frame(new_swing):
    runs = [analyze_recording(new_swing.keypoints, media_times(new_swing.frames), image_config(slow_motion="auto"),
                              frame_indices=new_swing.frames) for _ in range(2)]
    assert msgspec.json.encode(runs[0]) == msgspec.json.encode(runs[1])


def test_every_result_of_a_search_carries_its_kpis_the_decision_frame_too(new_swing):
    search = new_analyzer(image_config(slow_motion="auto"))
    results = [search.push(i, t, frame) for i, t, frame in
               zip(new_swing.frames.tolist(), media_times(new_swing.frames).tolist(), new_swing.keypoints)]
    assert search.slow_motion == 8.0
    decided = next(n for n, r in enumerate(results) if r.event and r.event.phase == "impact")
    assert all(r.kpis is not None for r in results)
    # the frame the factor is found on reads the chosen analyser's KPIs: a turn well past address
    assert results[decided].kpis["shoulder_turn"] is not None and abs(results[decided].kpis["shoulder_turn"]) > 10


def test_a_slow_real_time_downswing_is_not_taken_for_slow_motion():
    """A beginner's 0.5 s downswing at real time would be a pro's 0.25 s at 2x: real time wins."""
    from dataclasses import replace

    rng = np.random.default_rng(5)
    spec = replace(random_swing_spec(rng, club="iron"), backswing_s=1.2, tempo_ratio=2.4)  # 0.5 s down
    stream = simulate([spec], club="iron", noise_m=0.003, seed=5)
    truth = analyze_recording(stream.keypoints, stream.timestamps, SessionConfig(),
                              frame_indices=stream.frame_indices).swings
    found = analyze_recording(stream.keypoints, stream.timestamps, SessionConfig(slow_motion="auto"),
                              frame_indices=stream.frame_indices).swings
    assert len(truth) == len(found) == 1 and 0.4 < truth[0].downswing_s <= 0.6
    assert found[0].slow_motion == 1.0
    assert found[0].downswing_s == pytest.approx(truth[0].downswing_s)
