"""History against real servers on a real SQLite file (and, for durability, a real PostgreSQL
database): restart, SIGKILL, two processes sharing one database, access, progress, baseline,
batch analysis and replay."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from live_server import LiveServer, recv, recv_until, seed_frame, send, settings_for_tests, start
from server_process import ServerProcess

import msgspec

from swings import CLEAN_THEN_FAULTED, driver_swings

from swingsync_fast.analyzer import SwingSummary
from swingsync_fast.baseline import MIN_SWINGS, baseline_from
from swingsync_fast.server.recording import read_recording
from swingsync_fast.thresholds import Thresholds

SESSIONS = "/api/v1/stream/sessions"
FAST = {"frames_per_second": 1e6, "frame_burst": 10**6}


@pytest.fixture(scope="module")
def stream():
    """Three driver swings, two with injected faults, noisy."""
    return driver_swings(11, CLEAN_THEN_FAULTED)


def _frames(stream):
    return list(zip(stream.frame_indices.tolist(), stream.timestamps.tolist(), stream.keypoints))


@pytest.fixture(scope="module")
def server(tmp_path_factory, serve_module):
    db = tmp_path_factory.mktemp("db") / "history.db"
    return serve_module(database_url=f"sqlite:///{db}", max_analyze_frames=1000, **FAST)


def _stream_session(ws, stream, config: dict | None = None) -> tuple[str, list[dict], list[dict]]:
    """Start, stream every frame (seed layout), end: the session id, swing summaries, all messages."""
    session_id = start(ws, config)["session_id"]
    for index, t, frame in _frames(stream):
        send(ws, "frame_data", seed_frame(index, t, frame))
    send(ws, "end_session")
    _, replies = recv_until(ws, "session_ended", timeout=30)
    return session_id, [m["data"] for m in replies if m["type"] == "swing_summary"], replies


def _stored(live: LiveServer | ServerProcess, session_id: str, user: str, role: str = "player") -> httpx.Response:
    return live.http.get(f"{SESSIONS}/{session_id}/swings", headers=live.auth(user, role))


def _record(live: LiveServer | ServerProcess, session_id: str, user: str) -> dict:
    return live.http.get(f"{SESSIONS}/{session_id}", headers=live.auth(user)).json()


# --------------------------------------------------------------------------- durability


def test_a_restart_keeps_sessions_swings_and_feedback(database_url, stream):
    settings = settings_for_tests(database_url=database_url, **FAST)
    first = LiveServer(settings).start()
    try:
        with first.socket("rosa") as ws:
            session_id, summaries, messages = _stream_session(ws, stream, {"feedback_threshold": 0.0})
            # Feedback asked for before end_session may also arrive after session_ended.
            pieces: dict[str, list[str]] = {}
            done: dict[str, int] = {}
            try:
                while True:
                    message = messages.pop(0) if messages else recv(ws, timeout=2)
                    if message["type"] == "feedback":
                        data = message["data"]
                        pieces.setdefault(data["feedback_id"], []).append(data["feedback"])
                        if data["done"]:
                            done[data["feedback_id"]] = data["swing_index"]
            except TimeoutError:
                pass
    finally:
        first.stop()
    assert len(summaries) == 3 and done, "the session produced swings and feedback"

    second = LiveServer(settings).start()
    try:
        record = second.http.get(f"{SESSIONS}/{session_id}", headers=second.auth("rosa")).json()
        assert (record["state"], record["end_reason"]) == ("ended", "client_ended")
        assert record["stats"]["swings"] == 3
        swings = _stored(second, session_id, "rosa").json()["swings"]
        assert [s["summary"] for s in swings] == summaries
        stored_feedback = {f["feedback_id"]: (s["swing_index"], f["text"]) for s in swings for f in s["feedback"]}
        assert stored_feedback == {fid: (done[fid], "".join(pieces[fid]).strip()) for fid in done}
        listed = second.http.get("/api/v1/users/rosa/sessions", headers=second.auth("rosa")).json()
        assert [s["session_id"] for s in listed["sessions"]] == [session_id]
    finally:
        second.stop()


def _environment(database_url: str, **settings: object) -> dict[str, str]:
    """A server process's environment, as an operator would set it."""
    return {"DATABASE_URL": database_url, **{f"SWINGSYNC_{k.upper()}": str(v) for k, v in settings.items()}}


def test_sigkill_mid_session_keeps_every_swing_completed_a_second_earlier(database_url, tmp_path, stream):
    proc = ServerProcess(tmp_path, _environment(database_url, frames_per_second=100000, frame_burst=100000),
                         name="killed").wait_ready()
    try:
        summaries: list[tuple[float, dict]] = []
        with proc.socket("kim") as ws:
            session_id = start(ws)["session_id"]
            frames = iter(_frames(stream))
            for index, t, frame in frames:  # lockstep, until two swings have ended
                send(ws, "frame_data", seed_frame(index, t, frame))
                _, before = recv_until(ws, "analysis_result")
                summaries += [(time.monotonic(), m["data"]) for m in before if m["type"] == "swing_summary"]
                if len(summaries) == 2:
                    break
            # The session goes on (into the third swing) for over a second, then the process dies.
            until = time.monotonic() + 1.2
            for index, t, frame in frames:
                send(ws, "frame_data", seed_frame(index, t, frame))
                recv_until(ws, "analysis_result")
                time.sleep(1 / 30)
                if time.monotonic() > until:
                    break
            killed_at = time.monotonic()
            proc.kill()
    finally:
        proc.kill()
    assert all(killed_at - at >= 1.0 for at, _ in summaries)

    # The killed server's heartbeat is fresh: the new one ends its session once it has been
    # silent for database_server_timeout_s (1 s here).
    after = LiveServer(settings_for_tests(database_url=database_url, database_heartbeat_s=0.2,
                                          database_server_timeout_s=1.0)).start()
    try:
        after.wait_until(lambda: _record(after, session_id, "kim")["state"] == "ended", timeout=10)
        record = _record(after, session_id, "kim")
        assert record["end_reason"] == "server_restart"
        stored = [s["summary"] for s in _stored(after, session_id, "kim").json()["swings"]]
        assert stored[:2] == [data for _, data in summaries]
    finally:
        after.stop()


def test_two_processes_share_one_database_and_leave_each_others_live_sessions_alone(database_url, tmp_path, stream):
    """Two server processes on one database, each streaming its own player: the second starting
    does not end the first's live session, and every swing is read back complete from either."""
    frames = _frames(stream)
    half = len(frames) // 2
    one = ServerProcess(tmp_path, _environment(database_url, **FAST), name="one").wait_ready()
    two = None
    try:
        with one.socket("ines") as ws:
            ines_id = start(ws)["session_id"]
            for index, t, frame in frames[:half]:
                send(ws, "frame_data", seed_frame(index, t, frame))
            first, _ = recv_until(ws, "swing_summary", timeout=30)  # streaming, and writing history
            two = ServerProcess(tmp_path, _environment(database_url, **FAST), name="two").wait_ready()
            assert _record(two, ines_id, "ines")["state"] == "active"
            with two.socket("joel") as other:
                joel_id, joel_swings, _ = _stream_session(other, stream)
            for index, t, frame in frames[half:]:
                send(ws, "frame_data", seed_frame(index, t, frame))
            send(ws, "end_session")
            _, rest = recv_until(ws, "session_ended", timeout=30)
        ines_swings = [first["data"]] + [m["data"] for m in rest if m["type"] == "swing_summary"]
        assert len(ines_swings) == len(joel_swings) == 3
        for server in (one, two):
            for user, session_id, swings in (("ines", ines_id, ines_swings), ("joel", joel_id, joel_swings)):
                record = _record(server, session_id, user)
                assert (record["state"], record["end_reason"]) == ("ended", "client_ended")
                assert [s["summary"] for s in _stored(server, session_id, user).json()["swings"]] == swings
            listed = server.http.get("/api/v1/users/ines/sessions", headers=server.auth("ines")).json()
            assert [s["session_id"] for s in listed["sessions"]] == [ines_id]
    finally:
        one.stop()
        if two is not None:
            two.stop()


# --------------------------------------------------------------------------- who may read


@pytest.fixture(scope="module")
def shared(server, stream):
    """A session of alma's, created over REST with coach-cruz as a member, streamed and recorded."""
    created = server.http.post(SESSIONS, headers=server.auth("alma"),
                               json={"participants": ["coach-cruz"], "record_frames": True})
    session_id = created.json()["session_id"]
    with server.socket("alma") as ws:
        send(ws, "start_session", {"session_id": session_id})
        recv_until(ws, "session_started")
        for index, t, frame in _frames(stream):
            send(ws, "frame_data", seed_frame(index, t, frame))
        send(ws, "end_session")
        _, replies = recv_until(ws, "session_ended", timeout=30)
    with server.socket("alma") as ws:  # a second session the coach is not part of
        private_id, _, _ = _stream_session(ws, stream)
    return session_id, private_id, [m["data"] for m in replies if m["type"] == "swing_summary"]


READERS = [("alma", "player"), ("coach-cruz", "coach"), ("root", "admin")]
STRANGERS = [("mallory", "player"), ("coach-other", "coach")]


@pytest.mark.parametrize("user, role", READERS)
def test_owner_coach_and_admin_read_a_sessions_swings_and_recording(server, shared, user, role):
    session_id, _, summaries = shared
    swings = _stored(server, session_id, user, role)
    assert swings.status_code == 200
    assert [s["summary"] for s in swings.json()["swings"]] == summaries
    recording = server.http.get(f"{SESSIONS}/{session_id}/recording", headers=server.auth(user, role))
    assert recording.status_code == 200 and recording.headers["content-type"] == "application/msgpack"


@pytest.mark.parametrize("user, role", STRANGERS)
def test_others_cannot_see_a_sessions_swings_or_recording(server, shared, user, role):
    session_id, _, _ = shared
    for path in ("swings", "recording"):
        response = server.http.get(f"{SESSIONS}/{session_id}/{path}", headers=server.auth(user, role))
        assert response.status_code == 404 and response.json()["data"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["sessions", "progress"])
def test_a_players_pages_show_a_coach_only_the_sessions_they_share(server, shared, path):
    session_id, private_id, summaries = shared
    url = f"/api/v1/users/alma/{path}"
    own = server.http.get(url, headers=server.auth("alma")).json()
    coach = server.http.get(url, headers=server.auth("coach-cruz", "coach")).json()
    admin = server.http.get(url, headers=server.auth("root", "admin")).json()
    assert own == admin
    if path == "sessions":
        assert {s["session_id"] for s in own["sessions"]} == {session_id, private_id}
        assert [s["session_id"] for s in coach["sessions"]] == [session_id]
    else:
        assert own["swings"] == 2 * len(summaries) and own["sessions"] == 2
        assert coach["swings"] == len(summaries) and {p["session_id"] for p in coach["points"]} == {session_id}
    for user, role in STRANGERS:
        denied = server.http.get(url, headers=server.auth(user, role))
        assert denied.status_code == 403 and denied.json()["data"]["code"] == "forbidden"


@pytest.mark.parametrize("path", [
    f"{SESSIONS}/x/swings", f"{SESSIONS}/x/recording", "/api/v1/users/alma/sessions", "/api/v1/users/alma/progress",
])
def test_history_needs_a_token(server, path):
    response = server.http.get(path)
    assert response.status_code == 401 and response.json()["data"]["code"] == "missing_token"


def test_progress_counts_faults_and_trends_kpis(server, shared):
    session_id, _, summaries = shared
    progress = server.http.get("/api/v1/users/alma/progress", headers=server.auth("coach-cruz", "coach")).json()
    faults = {f["fault_id"]: f for f in progress["faults"]}
    for fault_id, trend in faults.items():
        hit = sum(any(f["fault_id"] == fault_id for f in s["faults"]) for s in summaries)
        assert trend["swings"] == hit and trend["rate"] == round(hit / len(summaries), 4)
    tempo = next(k for k in progress["kpis"] if k["name"] == "tempo_ratio")
    values = [s["tempo_ratio"] for s in summaries]
    assert tempo["swings"] == len(values) and tempo["mean"] == pytest.approx(sum(values) / len(values), abs=1e-3)
    assert [p["swing_index"] for p in progress["points"]] == [s["swing_index"] for s in summaries]
    assert server.http.get("/api/v1/users/alma/progress?club=Sand+Wedge",
                           headers=server.auth("alma")).json()["swings"] == 0


# --------------------------------------------------------------------------- baseline


def test_the_fault_limits_adapt_to_the_players_stored_swings(server, stream):
    with server.socket("steady-sid") as ws:
        first = start(ws)
        assert server.runtime.sessions.live_session(first["session_id"]).record.baseline == {}  # no history yet
        send(ws, "end_session")
        recv_until(ws, "session_ended")
        for _ in range(2):
            _stream_session(ws, stream)
        history = _stored_summaries(server, "steady-sid")
        assert len(history) >= MIN_SWINGS
        session_id = start(ws)["session_id"]
        live = server.runtime.sessions.live_session(session_id)
        expected = baseline_from(history)
        assert expected and live.record.baseline == expected
        assert live.analyzer.thresholds == Thresholds.for_player("driver", "intermediate", expected)
        assert live.analyzer.thresholds != Thresholds.for_player("driver", "intermediate")
        shown = server.http.get(f"{SESSIONS}/{session_id}", headers=server.auth("steady-sid")).json()
        assert shown["baseline"] == pytest.approx(expected)
        send(ws, "end_session")
        recv_until(ws, "session_ended")


def _stored_summaries(server: LiveServer, user: str) -> list[SwingSummary]:
    points = server.http.get(f"/api/v1/users/{user}/sessions", headers=server.auth(user)).json()["sessions"]
    summaries = []
    for session in sorted(points, key=lambda s: s["created_at"]):
        for swing in _stored(server, session["session_id"], user).json()["swings"]:
            summaries.append(msgspec.convert(swing["summary"], SwingSummary))
    return summaries


# --------------------------------------------------------------------------- batch


@pytest.mark.parametrize("shape", ["seed", "compact"])
def test_batch_analysis_gives_the_live_sockets_swings(server, stream, shape):
    user = f"batch-{shape}"  # fresh: live and batch both run with no personal baseline (fewer than 5 swings)
    with server.socket(user) as ws:
        _, live, _ = _stream_session(ws, stream, {"club_used": "Driver", "skill_level": "advanced"})
    frames = [seed_frame(i, t, f) if shape == "seed" else
              {"frame_index": i, "timestamp": t, "keypoints": f.ravel().tolist()} for i, t, f in _frames(stream)]
    body = {"club_used": "Driver", "skill_level": "advanced", "handedness": "right",
            "coordinate_system": "world_y_up", "frames": frames, "feedback": True}
    response = server.http.post("/api/v1/analyze", headers=server.auth(user), json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert len(live) == 3 and result["swings"] == live
    assert result["frames_received"] == result["frames_analysed"] == len(frames) and result["baseline"] == {}
    assert [f["swing_index"] for f in result["feedback"]] == [1, 2, 3]
    assert all(f["text"] and f["source"] == "offline" for f in result["feedback"])


def test_batch_analysis_honours_analysis_frequency_like_the_socket(server, stream):
    with server.socket("batch-every") as ws:
        _, live, _ = _stream_session(ws, stream, {"analysis_frequency": 2})
    frames = [seed_frame(i, t, f) for i, t, f in _frames(stream)]
    result = server.http.post("/api/v1/analyze", headers=server.auth("batch-every"),
                              json={"analysis_frequency": 2, "frames": frames}).json()
    assert result["swings"] == live and result["frames_analysed"] == (len(frames) + 1) // 2


def test_batch_input_is_bounded_and_checked(server, stream):
    frame = seed_frame(0, 0.0, stream.keypoints[0])
    too_many = [dict(frame, frame_index=i, timestamp=i / 30) for i in range(1001)]
    response = server.http.post("/api/v1/analyze", headers=server.auth("bo"), json={"frames": too_many})
    assert response.status_code == 413 and response.json()["data"] == {
        "code": "too_many_frames", "message": "an upload may hold at most 1000 frames, this one has 1001"}
    backwards = [dict(frame, timestamp=1.0), dict(frame, frame_index=1, timestamp=0.5)]
    response = server.http.post("/api/v1/analyze", headers=server.auth("bo"), json={"frames": backwards})
    assert response.status_code == 422 and response.json()["data"]["code"] == "out_of_order"
    assert "frames[1].timestamp 0.5" in response.json()["data"]["message"]
    response = server.http.post("/api/v1/analyze", headers=server.auth("bo"), json={"club_used": "putter", "frames": [frame]})
    assert response.status_code == 422 and "putter" in response.json()["data"]["message"]
    assert server.http.post("/api/v1/analyze", json={"frames": [frame]}).status_code == 401


# --------------------------------------------------------------------------- record and replay


def test_replaying_a_recording_reproduces_the_live_analysis(server, shared, stream, tmp_path):
    session_id, _, live = shared
    file = tmp_path / "alma.swingsync"
    file.write_bytes(server.http.get(f"{SESSIONS}/{session_id}/recording", headers=server.auth("alma")).content)
    recording = read_recording(file)
    assert recording.session_id == session_id and recording.config.baseline == {}
    assert len(recording.frames) == len(stream.timestamps)
    done = subprocess.run(
        [sys.executable, "-m", "swingsync_fast", "replay", str(file), "--url", f"ws://127.0.0.1:{server.port}",
         "--token", server.token("alma"), "--fast", "--json"],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent)
    assert done.returncode == 0, done.stderr
    replayed = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(live) == 3 and replayed == live
    assert "3 swing(s)" in done.stderr
