"""Key-position pictures: the JPEG check, every store alike, and a real server's upload, GET and PUT.

The upload runs the real clip ``swing1.mp4`` (skipped where ``../shared/realdata``
is absent); the PUT path streams simulated swings over the socket as the page does.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from live_server import recv_until, seed_frame, send, start

from swings import CLEAN_THEN_FAULTED, driver_swings

from swingsync_fast.pictures import MAX_PICTURE_BYTES, MOMENTS, PictureRefused, jpeg_size, moment_frames
from swingsync_fast.server.protocol.stream import StreamConfig
from swingsync_fast.server.sessions import new_record
from swingsync_fast.server.storage.records import SessionState, StoredPicture

cv2 = pytest.importorskip("cv2", reason="OpenCV comes with the `video` extra (make test installs it)")

SESSIONS = "/api/v1/stream/sessions"
FAST = {"frames_per_second": 1e6, "frame_burst": 10**6}


def jpeg(width: int, height: int, quality: int = 80, seed: int = 0, noise: int = 8) -> bytes:
    """A picture-like JPEG: a gradient with a little noise (``seed`` makes each one different)."""
    ramp = np.linspace(0, 200, width, dtype=np.float32)[None, :, None] + np.zeros((height, 1, 3), np.float32)
    image = (ramp + np.random.default_rng(seed).integers(0, noise + 1, (height, width, 3))).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def picture_url(session_id: str, swing_index: int, moment: str) -> str:
    return f"{SESSIONS}/{session_id}/swings/{swing_index}/pictures/{moment}"


# --------------------------------------------------------------------------- the JPEG check


def test_a_jpeg_is_read_for_its_size_and_anything_else_is_refused():
    assert jpeg_size(jpeg(135, 240)) == (135, 240)
    assert jpeg_size(jpeg(480, 270)) == (480, 270)
    ok, progressive = cv2.imencode(".jpg", np.zeros((90, 160, 3), np.uint8), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert jpeg_size(progressive.tobytes()) == (160, 90)
    ok, png = cv2.imencode(".png", np.zeros((10, 10, 3), np.uint8))
    for data, code in [(png.tobytes(), "not_jpeg"), (b"", "not_jpeg"), (jpeg(100, 100)[:-200], "not_jpeg"),
                       (b"\xff\xd8\xff\xda\x00\x02\xff\xd9", "not_jpeg"),  # image data before any frame header
                       (jpeg(481, 100), "picture_too_big"), (jpeg(100, 600), "picture_too_big"),
                       (b"\xff\xd8" + b"\x00" * MAX_PICTURE_BYTES + b"\xff\xd9", "too_large")]:
        with pytest.raises(PictureRefused) as refused:
            jpeg_size(data)
        assert refused.value.code == code


def test_the_address_is_the_frame_before_the_takeaway(tmp_path):
    from swingsync_fast.analyzer import SwingSummary

    summary = SwingSummary(
        swing_index=1, takeaway_frame=40, top_frame=70, impact_frame=80, finish_frame=100, takeaway_time=0,
        top_time=1, impact_time=1.3, finish_time=2, backswing_s=1, downswing_s=0.3, follow_through_s=0.7,
        tempo_ratio=3.3, peak_x_factor=None, kpis_address={}, kpis_top={}, kpis_impact={}, faults=[])
    assert moment_frames(summary) == {"address": 39, "top": 70, "impact": 80, "finish": 100}


# --------------------------------------------------------------------------- every store


def test_pictures_are_stored_by_swing_and_moment_replaced_and_deleted_with_their_session(store):
    async def scenario():
        now = time.time()
        a = new_record("alice", StreamConfig(), SessionState.ACTIVE, now)
        await store.add(a)

        def picture(swing_index, moment, data):
            return StoredPicture(session_id=a.session_id, swing_index=swing_index, moment=moment, width=135,
                                 height=240, created_at=now, jpeg=data)

        first, second, third = jpeg(135, 240, seed=1), jpeg(135, 240, seed=2), jpeg(135, 240, seed=3)
        await store.put_picture(picture(2, "finish", first))
        await store.put_picture(picture(2, "address", second))
        await store.put_picture(picture(1, "top", first))
        await store.put_picture(picture(2, "finish", third))  # replaces
        assert await store.picture_moments(a.session_id) == {1: ["top"], 2: ["address", "finish"]}
        got = await store.picture(a.session_id, 2, "finish")
        assert got == picture(2, "finish", third)
        assert await store.picture(a.session_id, 2, "top") is None
        with pytest.raises(KeyError):
            await store.put_picture(StoredPicture(session_id="no-such-session", swing_index=1, moment="top",
                                                  width=1, height=1, created_at=now, jpeg=first))
        assert await store.delete(a.session_id)
        assert await store.picture(a.session_id, 2, "finish") is None
        assert await store.picture_moments(a.session_id) == {}

    async def whole():
        await store.open()
        try:
            await scenario()
        finally:
            await store.close()

    asyncio.run(whole())


# --------------------------------------------------------------------------- a real server: an upload


def test_an_uploaded_swing_has_four_pictures_its_owner_may_read(serve, realdata_dir, database_url):
    pytest.importorskip("mediapipe", reason="MediaPipe Pose is the `video` extra (make test installs it)")
    from test_video_upload import upload, wait_for_job

    clip = realdata_dir / "video" / "swing1.mp4"
    live = serve(database_url=database_url)  # SQLite and PostgreSQL
    answer = upload(live, "golfer", clip)
    assert answer.status_code == 202, answer.text
    done, _ = wait_for_job(live, "golfer", answer.json()["job_id"])
    assert done["state"] == "done", done["error"]
    session_id = done["session_id"]
    (swing,) = live.http.get(f"{SESSIONS}/{session_id}/swings", headers=live.auth("golfer")).json()["swings"]
    assert swing["pictures"] == list(MOMENTS)
    n = swing["swing_index"]
    frames = moment_frames_of(swing["summary"])
    capture = cv2.VideoCapture(str(clip))
    for moment in MOMENTS:
        got = live.http.get(picture_url(session_id, n, moment), headers=live.auth("golfer"))
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        image = cv2.imdecode(np.frombuffer(got.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (240, 135, 3)  # the 360x640 clip, its long side shrunk to 240
        # the frame the summary names: closer to it than to the swing's other moments' frames
        capture.set(cv2.CAP_PROP_POS_FRAMES, frames[moment])
        ok, original = capture.read()
        assert ok
        small = cv2.resize(original, (135, 240), interpolation=cv2.INTER_AREA).astype(float)
        assert np.abs(image.astype(float) - small).mean() < 6
    capture.release()
    for other, role in [("someone-else", "player"), ("a-coach", "coach")]:
        refused = live.http.get(picture_url(session_id, n, "top"), headers=live.auth(other, role))
        assert refused.status_code == 404
    assert live.http.get(picture_url(session_id, n, "top")).status_code == 401
    assert live.http.get(picture_url(session_id, n, "top"), headers=live.auth("root", "admin")).status_code == 200
    assert live.http.get(picture_url(session_id, n, "backswing"), headers=live.auth("golfer")).status_code == 404
    assert live.http.get(picture_url(session_id, n + 1, "top"), headers=live.auth("golfer")).status_code == 404


def moment_frames_of(summary: dict) -> dict[str, int]:
    from swingsync_fast.analyzer import SwingSummary
    import msgspec

    return moment_frames(msgspec.convert(summary, SwingSummary))


# --------------------------------------------------------------------------- a real server: the page's PUT


@pytest.fixture(scope="module")
def streamed(serve_module, tmp_path_factory):
    """A live server on SQLite, and a session of three simulated swings streamed by ``player``."""
    db = tmp_path_factory.mktemp("db") / "history.db"
    live = serve_module(database_url=f"sqlite:///{db}", **FAST)
    stream = driver_swings(11, CLEAN_THEN_FAULTED)
    with live.socket("player") as ws:
        session_id = start(ws)["session_id"]
        for index, t, frame in zip(stream.frame_indices.tolist(), stream.timestamps.tolist(), stream.keypoints):
            send(ws, "frame_data", seed_frame(index, t, frame))
        send(ws, "end_session")
        _, replies = recv_until(ws, "session_ended", timeout=30)
    swings = [m["data"] for m in replies if m["type"] == "swing_summary"]
    assert len(swings) == 3
    return live, session_id, swings


def test_the_player_puts_a_picture_of_a_live_swing_and_reads_it_back(streamed):
    live, session_id, swings = streamed
    n = swings[1]["swing_index"]
    data = jpeg(240, 135, seed=7)
    put = live.http.put(picture_url(session_id, n, "impact"), content=data,
                        headers={**live.auth("player"), "content-type": "image/jpeg"})
    assert put.status_code == 204, put.text
    got = live.http.get(picture_url(session_id, n, "impact"), headers=live.auth("player"))
    assert got.status_code == 200 and got.content == data
    listed = live.http.get(f"{SESSIONS}/{session_id}/swings", headers=live.auth("player")).json()["swings"]
    assert {s["swing_index"]: s["pictures"] for s in listed} == {
        swings[0]["swing_index"]: [], n: ["impact"], swings[2]["swing_index"]: []}


@pytest.mark.parametrize("body, content_type, status, code", [
    ("png", "image/jpeg", 422, "not_jpeg"),
    ("jpeg", "image/png", 415, "unsupported_media_type"),
    ("huge", "image/jpeg", 413, "too_large"),
    ("wide", "image/jpeg", 422, "picture_too_big"),
])
def test_a_picture_that_is_not_a_small_jpeg_is_refused(streamed, body, content_type, status, code):
    live, session_id, swings = streamed
    n = swings[0]["swing_index"]
    data = {"png": cv2.imencode(".png", np.zeros((20, 20, 3), np.uint8))[1].tobytes(),
            "jpeg": jpeg(100, 100),
            "huge": jpeg(470, 470, quality=100, seed=3, noise=255),
            "wide": jpeg(640, 360)}[body]
    answer = live.http.put(picture_url(session_id, n, "top"), content=data,
                           headers={**live.auth("player"), "content-type": content_type})
    assert answer.status_code == status and answer.json()["data"]["code"] == code, answer.text
    assert live.http.get(picture_url(session_id, n, "top"), headers=live.auth("player")).status_code == 404


def test_only_the_player_puts_and_only_on_a_swing_and_moment_that_exist(streamed):
    live, session_id, swings = streamed
    n = swings[2]["swing_index"]
    data = jpeg(135, 240)

    def put(user, role="player", swing_index=n, moment="finish"):
        return live.http.put(picture_url(session_id, swing_index, moment), content=data,
                             headers={**live.auth(user, role), "content-type": "image/jpeg"})

    assert put("intruder").status_code == 404  # cannot see the session at all
    assert put("root", "admin").status_code == 403  # may read it, is not its player
    assert put("player", swing_index=99).json()["data"]["code"] == "no_swing"
    assert put("player", moment="backswing").status_code == 404
    assert live.http.put(picture_url(session_id, n, "finish"), content=data,
                         headers={"content-type": "image/jpeg"}).status_code == 401
    assert live.http.get(picture_url(session_id, n, "finish"), headers=live.auth("player")).status_code == 404
