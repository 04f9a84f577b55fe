"""POST /api/v1/analyze/video and GET /api/v1/jobs/{job_id} on a real server: pose in its process pool.

Real uploads over HTTP (httpx multipart), the real clip ``swing1.mp4`` where
``../shared/realdata`` is here; generated videos for the rest. Skips without
the ``video`` extra.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import numpy as np
import pytest

from live_server import recv

cv2 = pytest.importorskip("cv2", reason="OpenCV comes with the `video` extra (make test installs it)")
pytest.importorskip("mediapipe", reason="MediaPipe Pose is the `video` extra (make test installs it)")

ROOT = Path(__file__).resolve().parents[1]
JOB_TIMEOUT_S = 120


def upload(live, user: str, path: Path, name: str | None = None, content_type: str = "video/mp4", **fields):
    with path.open("rb") as f:
        return live.http.post("/api/v1/analyze/video", files={"file": (name or path.name, f, content_type)},
                              data=fields, headers=live.auth(user))


def wait_for_job(live, user: str, job_id: str) -> tuple[dict, list[tuple[str, float]]]:
    """The finished job, and the (state, fraction) seen on the way."""
    seen = []
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        answer = live.http.get(f"/api/v1/jobs/{job_id}", headers=live.auth(user))
        assert answer.status_code == 200, answer.text
        job = answer.json()
        seen.append((job["state"], job["fraction"]))
        if job["state"] in ("done", "failed"):
            return job, seen
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {JOB_TIMEOUT_S} s; last {seen[-3:]}")


def nobody_video(path: Path, frames: int = 20, size: tuple[int, int] = (240, 320), fps: float = 30.0) -> Path:
    rng = np.random.default_rng(5)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size[1], size[0]))
    for _ in range(frames):
        writer.write(np.full((*size, 3), 100, np.uint8) + rng.integers(0, 8, (*size, 3), dtype=np.uint8))
    writer.release()
    return path


@pytest.fixture(scope="module")
def swing1(realdata_dir) -> Path:
    return realdata_dir / "video" / "swing1.mp4"


def test_an_uploaded_swing_is_posed_in_the_pool_and_gives_the_swing_the_socket_would(serve, swing1, tmp_path):
    live = serve(database_url=f"sqlite:///{tmp_path / 'history.db'}")
    answer = upload(live, "golfer", swing1)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["state"] == "queued" and answer.headers["location"] == f"/api/v1/jobs/{job['job_id']}"
    assert (job["video"]["width"], job["video"]["height"], job["video"]["frame_count"]) == (360, 640, 155)
    done, seen = wait_for_job(live, "golfer", job["job_id"])
    assert done["state"] == "done", done["error"]
    assert (done["frames_posed"], done["frames_with_person"], done["fraction"]) == (155, 155, 1.0)
    # progress was seen on the way, and only ever went forward
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions)
    assert any(state == "running" and 0 < f < 1 for state, f in seen)
    # the same swing, to the digit, as the video command streaming the same clip to the socket
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    streamed = subprocess.run(
        [sys.executable, "-m", "swingsync_fast", "video", str(swing1), "--url", f"ws://127.0.0.1:{live.port}",
         "--token", live.token("golfer-live"), "--fast", "--json"],
        capture_output=True, text=True, timeout=JOB_TIMEOUT_S, env=env, cwd=ROOT)
    assert streamed.returncode == 0, streamed.stderr
    socket_swings = [e["data"] for e in map(json.loads, streamed.stdout.splitlines()) if e["type"] == "swing_summary"]
    assert len(socket_swings) == 1
    assert done["swings"] == socket_swings
    # kept in the history as an ended session, with its swings and its posed frames for replay
    session = live.http.get(f"/api/v1/stream/sessions/{done['session_id']}", headers=live.auth("golfer")).json()
    assert (session["state"], session["end_reason"], session["session_name"]) == ("ended", "video_upload",
                                                                                 "video swing1.mp4")
    stored = live.http.get(f"/api/v1/stream/sessions/{done['session_id']}/swings", headers=live.auth("golfer"))
    assert [s["summary"] for s in stored.json()["swings"]] == done["swings"]
    recording = live.http.get(f"/api/v1/stream/sessions/{done['session_id']}/recording",
                              headers=live.auth("golfer"))
    assert recording.status_code == 200
    frames = msgspec.msgpack.decode(recording.content)["frames"]
    assert [f[0] for f in frames] == list(range(155))  # the video's frame numbers
    assert all(len(f[2]) == 33 * 4 * 4 for f in frames)
    # nobody else sees it
    assert live.http.get(f"/api/v1/stream/sessions/{done['session_id']}",
                         headers=live.auth("someone-else")).status_code == 404


def test_only_the_owner_reads_a_job(serve, tmp_path):
    live = serve()
    job = upload(live, "owner", nobody_video(tmp_path / "range.mp4")).json()
    other = live.http.get(f"/api/v1/jobs/{job['job_id']}", headers=live.auth("someone-else"))
    assert other.status_code == 404 and other.json()["data"]["code"] == "not_found"
    assert live.http.get(f"/api/v1/jobs/{job['job_id']}").status_code == 401  # no token
    assert live.http.get("/api/v1/jobs/" + "0" * 32, headers=live.auth("owner")).status_code == 404


def test_an_upload_needs_a_token(serve, tmp_path):
    live = serve()
    path = nobody_video(tmp_path / "range.mp4")
    with path.open("rb") as f:
        answer = live.http.post("/api/v1/analyze/video", files={"file": ("range.mp4", f, "video/mp4")})
    assert answer.status_code == 401


def test_a_video_with_nobody_in_it_fails_its_job_saying_so_on_the_owners_socket_too(serve, tmp_path):
    live = serve()
    with live.socket("golfer") as mine, live.socket("someone-else") as theirs:
        job = upload(live, "golfer", nobody_video(tmp_path / "range.mp4")).json()
        pushed = [recv(mine, timeout=JOB_TIMEOUT_S)]
        while pushed[-1]["data"]["state"] not in ("done", "failed"):
            pushed.append(recv(mine, timeout=JOB_TIMEOUT_S))
        assert {m["type"] for m in pushed} == {"video_job"}
        assert {m["data"]["job_id"] for m in pushed} == {job["job_id"]}
        assert pushed[0]["data"]["state"] == "queued"
        fractions = [m["data"]["fraction"] for m in pushed[:-1]]
        assert fractions == sorted(fractions)
        with pytest.raises(TimeoutError):  # another user's socket hears nothing of it
            recv(theirs, timeout=0.5)
    done, _ = wait_for_job(live, "golfer", job["job_id"])
    assert done == pushed[-1]["data"]
    assert done["state"] == "failed"
    assert done["error"] == {"code": "no_person", "message": "no person found in the video (20 frames)"}
    assert done["swings"] is None and done["session_id"] is None


def test_a_corrupt_file_is_refused_at_once(serve, tmp_path):
    live = serve()
    corrupt = tmp_path / "swing.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64)
    answer = upload(live, "golfer", corrupt)
    assert answer.status_code == 422
    assert answer.json()["data"]["code"] == "unreadable_video"


def test_a_video_longer_than_the_limit_is_refused(serve, tmp_path):
    live = serve(max_video_seconds=0.5)
    answer = upload(live, "golfer", nobody_video(tmp_path / "long.mp4", frames=30))  # 1 s
    assert answer.status_code == 413
    assert answer.json()["data"]["code"] == "video_too_long" and "1.0 s long" in answer.json()["data"]["message"]


def test_a_file_bigger_than_the_limit_is_refused(serve, tmp_path):
    live = serve(max_video_bytes=2048)
    answer = upload(live, "golfer", nobody_video(tmp_path / "big.mp4"))
    assert answer.status_code == 413 and answer.json()["data"]["code"] == "too_large"


def test_only_video_files_are_taken(serve, tmp_path):
    live = serve()
    text = tmp_path / "notes.txt"
    text.write_text("not a video")
    answer = upload(live, "golfer", text, content_type="text/plain")
    assert answer.status_code == 415 and answer.json()["data"]["code"] == "unsupported_media_type"
    no_file = live.http.post("/api/v1/analyze/video", data={"club_used": "driver"}, files={"other": ("x", b"1")},
                             headers=live.auth("golfer"))
    assert no_file.status_code == 422 and "field `file`" in no_file.json()["data"]["message"]
    bad_club = upload(live, "golfer", nobody_video(tmp_path / "range.mp4"), club_used="putter")
    assert bad_club.status_code == 422 and bad_club.json()["data"]["code"] == "invalid_config"


def test_a_full_queue_answers_429_with_retry_after(serve, tmp_path):
    live = serve(video_workers=1, video_queue=1)
    long_nobody = nobody_video(tmp_path / "range.mp4", frames=150)
    first = upload(live, "golfer", long_nobody)
    second = upload(live, "golfer", long_nobody)
    assert (first.status_code, second.status_code) == (202, 202)  # one posing, one waiting
    third = upload(live, "other-golfer", long_nobody)
    assert third.status_code == 429, third.text
    assert third.json()["data"]["code"] == "queue_full"
    assert int(third.headers["retry-after"]) >= 1
    # once the queue has room, uploads are taken again
    for answer in (first, second):
        wait_for_job(live, "golfer", answer.json()["job_id"])
    assert upload(live, "other-golfer", long_nobody).status_code == 202


def test_a_server_stopping_ends_the_jobs_it_is_posing(serve, tmp_path):
    live = serve()
    job = upload(live, "golfer", nobody_video(tmp_path / "range.mp4", frames=600)).json()  # 20 s of video
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while live.http.get(f"/api/v1/jobs/{job['job_id']}", headers=live.auth("golfer")).json()["state"] != "running":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.1)
    jobs = live.runtime.video_jobs
    live.stop()
    assert not live._thread.is_alive()  # the half-posed video did not hold the shutdown
    ended = jobs.get(job["job_id"])
    assert ended.state.value == "failed" and ended.error.code == "server_shutdown"
    assert not ended.path.exists()  # the upload's file is gone with it
