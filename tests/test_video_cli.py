"""``python -m swingsync_fast video``: real clips posed with MediaPipe, analysed here and over a real server.

The command runs as a user runs it, in a process of its own; the server is a
real uvicorn on 127.0.0.1 in this process. Skips without the ``video`` extra,
and the real-clip tests without ``../shared/realdata``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import numpy as np
import pytest

from swingsync_fast import SwingSummary
from swingsync_fast.pictures import MOMENTS, moment_frames

cv2 = pytest.importorskip("cv2", reason="OpenCV comes with the `video` extra (make test installs it)")
pytest.importorskip("mediapipe", reason="MediaPipe Pose is the `video` extra (make test installs it)")
from swingsync_fast.video.stills import StillRing  # noqa: E402  (needs OpenCV)

ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT_S = 120


def video_cli(*args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "swingsync_fast", "video", *map(str, args)],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env, cwd=ROOT)


def events(run: subprocess.CompletedProcess) -> list[dict]:
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


def of_type(found: list[dict], kind: str) -> list[dict]:
    return [e["data"] for e in found if e["type"] == kind]


def write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def read_video(path: Path) -> tuple[list[np.ndarray], float]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, fps


@pytest.fixture(scope="module")
def swing1(realdata_dir) -> Path:
    return realdata_dir / "video" / "swing1.mp4"


@pytest.fixture(scope="module")
def local_run(swing1, tmp_path_factory) -> tuple[list[dict], Path]:
    """swing1 analysed here, with every event as JSON and the annotated video written."""
    out = tmp_path_factory.mktemp("video") / "annotated.mp4"
    return events(video_cli(swing1, "--local", "--json", "--out", out)), out


# --------------------------------------------------------------------------- here


def test_a_real_swing_is_found_measured_and_coached_here(local_run):
    found, _ = local_run
    phases = [e["phase"] for e in of_type(found, "swing_event")]
    assert phases[-7:] == ["setup", "takeaway", "backswing", "top_of_swing", "downswing", "impact",
                           "follow_through"]
    (swing,) = [msgspec.convert(s, SwingSummary) for s in of_type(found, "swing_summary")]
    assert swing.camera.view == "down_the_line"  # swing1 is filmed from behind the player
    assert swing.takeaway_frame < swing.top_frame < swing.impact_frame < swing.finish_frame < 155
    assert 80.0 <= swing.kpis_top["shoulder_turn"] <= 110.0
    assert 2.5 <= swing.tempo_ratio <= 4.0
    (coaching,) = of_type(found, "feedback")
    assert coaching["swing_index"] == 1 and coaching["source"] == "offline" and coaching["feedback"]
    ended = of_type(found, "video_ended")[0]
    assert (ended["frames"], ended["frames_with_person"], ended["swings"]) == (155, 155, 1)
    assert (ended["width"], ended["height"], ended["fps"]) == (360, 640, 30.0)  # from the file
    # phases, swings and coaching come in the order they happen; video_ended is last
    kinds = [e["type"] for e in found]
    assert kinds.index("swing_summary") > kinds.index("swing_event") and kinds[-1] == "video_ended"
    assert kinds.index("feedback") > kinds.index("swing_summary")


def test_a_phone_s_slow_motion_clip_is_timed_as_filmed(realdata_dir):
    """new_swing.mp4 is 240 FPS played at 30: at face value its backswing lasts 6 s and no swing
    is found; the video command finds the factor from the swing, as `analyze` and the page do."""
    found = events(video_cli("--local", "--json", "--no-progress", realdata_dir / "video" / "new_swing.mp4"))
    (swing,) = [msgspec.convert(s, SwingSummary) for s in of_type(found, "swing_summary")]
    assert swing.slow_motion == 8.0
    assert 0.2 <= swing.downswing_s <= 0.4 and abs(swing.top_frame - 256) <= 3 and abs(swing.impact_frame - 329) <= 3


def test_the_annotated_video_is_the_clip_with_the_analysis_drawn_on_it(local_run, swing1):
    _, out = local_run
    drawn, fps = read_video(out)
    original, original_fps = read_video(swing1)
    assert len(drawn) == len(original) == 155 and fps == original_fps
    assert drawn[0].shape == original[0].shape == (640, 360, 3)
    # the text panel (top left) and the skeleton (on the golfer, below the panel) change every
    # frame; the far corner is left as it was, up to the two encoders' own losses
    changed = [np.abs(d.astype(int) - o.astype(int)).mean(axis=2) > 40 for d, o in zip(drawn, original)]
    assert all(c[:60, :120].mean() > 0.02 for c in changed)
    assert all(c[200:].mean() > 0.005 for c in changed)
    assert all(c[-60:, -60:].mean() < 0.005 for c in changed)


def test_the_people_readable_lines_say_phases_swing_and_coaching(swing1):
    run = video_cli(swing1, "--local", "--max-frames", "150", "--progress")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert any("top of swing" in line for line in lines)
    assert any(line.startswith("swing 1: ") and "camera down the line" in line for line in lines)
    assert any(line.startswith("coaching on swing 1 (offline): Swing 1:") for line in lines)
    assert lines[-1].endswith("150 frames, a person in 150, 1 swing(s)")
    assert "150/150 frames" in run.stderr and "100%" in run.stderr  # the progress bar, on stderr
    assert "Traceback" not in run.stderr and "W0000" not in run.stderr  # MediaPipe's set-up logs are muffled


# --------------------------------------------------------------------------- over a server


def test_streamed_to_a_real_server_the_swings_are_the_ones_found_here(serve, local_run, swing1, tmp_path):
    live = serve()
    found = events(video_cli(swing1, "--url", f"ws://127.0.0.1:{live.port}", "--token", live.token("golfer"),
                             "--fast", "--json", "--pictures", tmp_path / "pictures"))
    here, out = local_run
    # the same pictures as here, in the directory asked for
    pictures = of_type(found, "video_ended")[0]["pictures"]
    assert [Path(p).parent for p in pictures] == [tmp_path / "pictures"] * 4
    assert [Path(p).read_bytes() for p in pictures] == [
        (out.with_name("annotated-pictures") / Path(p).name).read_bytes() for p in pictures]
    assert of_type(found, "video_ended")[0]["pictures_stored"] == 4
    # the same float32 frames, analysed by the same kernel: the same swings, to the last digit
    assert of_type(found, "swing_summary") == of_type(here, "swing_summary")
    assert [e["phase"] for e in of_type(found, "swing_event")] == [e["phase"] for e in of_type(here, "swing_event")]
    (coaching,) = of_type(found, "feedback")
    assert coaching["swing_index"] == 1 and coaching["feedback"].startswith("Swing 1:")
    session = of_type(found, "video_ended")[0]["session"]
    assert (session["frames_received"], session["frames_analysed"], session["swings"]) == (155, 155, 1)
    # the server keeps the swing with the session, as for any live client
    url = f"/api/v1/stream/sessions/{session['session_id']}/swings"
    live.wait_until(lambda: len(live.http.get(url, headers=live.auth("golfer")).json()["swings"]) == 1)
    (stored,) = live.http.get(url, headers=live.auth("golfer")).json()["swings"]
    assert stored["summary"] == of_type(found, "swing_summary")[0]
    # and its pictures, sent by the command as the page sends its own
    assert stored["pictures"] == list(MOMENTS)
    for p in pictures:
        moment = Path(p).stem.split("-")[1]
        got = live.http.get(f"/api/v1/stream/sessions/{session['session_id']}/swings/1/pictures/{moment}",
                            headers=live.auth("golfer"))
        assert got.content == Path(p).read_bytes()


def test_streaming_keeps_the_videos_own_pace(serve, swing1):
    live = serve()
    found = events(video_cli(swing1, "--url", f"ws://127.0.0.1:{live.port}", "--token", live.token("golfer"),
                             "--max-frames", "45", "--json"))
    session = of_type(found, "video_ended")[0]["session"]
    assert session["frames_received"] == 45
    assert session["duration_s"] >= 44 / 30 * 0.95  # 45 frames of a 30 FPS clip span 1.47 s


def test_a_refused_token_is_a_clear_error(serve, swing1):
    live = serve()
    run = video_cli(swing1, "--url", f"ws://127.0.0.1:{live.port}", "--token", live.token("golfer", key="x" * 48),
                    "--max-frames", "5")
    assert run.returncode == 1
    assert "refused the socket: HTTP 401 bad_signature" in run.stderr
    assert "Traceback" not in run.stderr


def test_no_server_there_is_a_clear_error(swing1, unused_port):
    run = video_cli(swing1, "--url", f"ws://127.0.0.1:{unused_port}", "--user", "golfer", "--max-frames", "5")
    assert run.returncode == 1
    assert "cannot reach the server" in run.stderr and "Traceback" not in run.stderr


# --------------------------------------------------------------------------- bad input


def test_a_video_with_nobody_in_it_says_so(tmp_path):
    rng = np.random.default_rng(3)
    frames = [np.full((240, 320, 3), 90, np.uint8) + rng.integers(0, 8, (240, 320, 3), dtype=np.uint8)
              for _ in range(20)]
    blank = write_video(tmp_path / "empty_range.mp4", frames)
    run = video_cli(blank, "--local", "--json")
    assert run.returncode == 2
    assert f"no person found in {blank} (20 frames)" in run.stderr
    assert "Traceback" not in run.stderr
    assert of_type([json.loads(line) for line in run.stdout.splitlines()], "swing_summary") == []


def test_a_corrupt_file_is_a_clear_error(tmp_path):
    corrupt = tmp_path / "swing.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64)
    run = video_cli(corrupt, "--local")
    assert run.returncode == 2
    assert f"cannot read {corrupt}" in run.stderr and "corrupt" in run.stderr
    assert "Traceback" not in run.stderr and "moov atom" not in run.stderr  # FFmpeg's own noise is kept quiet


def test_a_missing_file_is_a_clear_error(tmp_path):
    run = video_cli(tmp_path / "nowhere.mp4", "--local")
    assert run.returncode == 2
    assert "no such video file" in run.stderr and "Traceback" not in run.stderr


def test_a_file_or_a_camera_is_needed(tmp_path):
    run = video_cli("--local")
    assert run.returncode == 2 and "give a FILE or --camera N" in run.stderr


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_each_swing_s_key_positions_are_written_beside_the_annotated_video(local_run, swing1):
    found, out = local_run
    (swing,) = [msgspec.convert(s, SwingSummary) for s in of_type(found, "swing_summary")]
    ended = of_type(found, "video_ended")[0]
    directory = out.with_name("annotated-pictures")
    assert ended["pictures"] == [str(directory / f"swing1-{m}.jpg") for m in MOMENTS]
    frames, _ = read_video(swing1)
    for moment, frame in moment_frames(swing).items():
        picture = cv2.imread(str(directory / f"swing1-{moment}.jpg"))
        assert picture.shape == (240, 135, 3)  # 360x640, the long side shrunk to 240
        # the clip's frame at that number, shrunk alike, is the nearest of the four
        distances = {m: np.abs(cv2.resize(frames[f], (135, 240), interpolation=cv2.INTER_AREA).astype(float)
                               - picture).mean() for m, f in moment_frames(swing).items()}
        assert min(distances, key=distances.get) == moment, distances


def test_a_camera_s_ring_keeps_the_last_frames_thumbnails_for_a_swing_s_pictures():
    ring = StillRing(size=5)
    for index in range(10):
        ring.add(index, np.full((480, 640, 3), index * 20, np.uint8))
    stills = ring.stills(3, {"address": 4, "top": 6, "impact": 8, "finish": 9})
    assert [s.moment for s in stills] == ["top", "impact", "finish"]  # frame 4 has left the ring
    for still, index in zip(stills, (6, 8, 9)):
        image = cv2.imdecode(np.frombuffer(still.jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (180, 240, 3) and abs(image.mean() - index * 20) < 2
