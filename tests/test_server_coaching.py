"""Coaching sessions end to end: a real server, a coach and students on real ``websockets`` clients.

Coaching sessions are made over REST with ``httpx``; students stream on the
main socket with ``coaching_session_id``; coaches and students meet on the
coaching socket.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest
from live_server import LiveServer, close_code, recv, recv_until, seed_frame, send, start
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from swingsync_fast.simulator import SwingSpec, simulate

SESSIONS = "/api/v1/stream/sessions"


SERVER_SETTINGS = dict(frames_per_second=1e6, frame_burst=10**6, slow_consumer_s=1.0, outlet_queue=64)  # the module's server (conftest.server)


@pytest.fixture(scope="module")
def stream():
    return simulate([SwingSpec()], fps=30.0, seed=1)


def _frames(stream):
    return zip(stream.frame_indices.tolist(), stream.timestamps.tolist(), stream.keypoints)


def coaching_session(server: LiveServer, coach: str, participants: list[str]) -> str:
    response = server.http.post(SESSIONS, json={"session_name": "lesson", "participants": participants},
                                headers=server.auth(coach, "coach"))
    assert response.status_code == 201, response.text
    return response.json()["session_id"]


def coaching_url(server: LiveServer, session_id: str, user: str, role: str, **params: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"user_id": user, "token": server.token(user, role), **params}.items())
    return f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/coaching/{session_id}?{query}"


@contextmanager
def member(server: LiveServer, session_id: str, user: str, role: str = "player", **params: object):
    """A joined member, its session_state already read."""
    with connect(coaching_url(server, session_id, user, role, **params), open_timeout=10, max_queue=None) as ws:
        state = recv(ws)
        assert state["type"] == "session_state", state
        ws.snapshot = state["data"]  # type: ignore[attr-defined]
        yield ws


def refused(url: str) -> tuple[int, dict]:
    with pytest.raises(InvalidStatus) as caught:
        with connect(url, open_timeout=5):
            pass
    return caught.value.response.status_code, json.loads(caught.value.response.body)


def next_of(ws, type_: str, timeout: float = 5.0) -> dict:
    return recv_until(ws, type_, timeout)[0]["data"]


# --------------------------------------------------------------------------- who may join


def test_a_coach_and_a_student_meet(server):
    sid = coaching_session(server, "coach-a", ["stu-a"])
    with member(server, sid, "coach-a", "coach") as coach:
        assert coach.snapshot["owner"] == "coach-a" and coach.snapshot["role"] == "coach"
        assert coach.snapshot["participants"] == [
            {"user_id": "coach-a", "role": "coach", "online": True},
            {"user_id": "stu-a", "role": None, "online": False},
        ]
        assert coach.snapshot["history"] == 0 and coach.snapshot["latest_swing"] is None
        with member(server, sid, "stu-a") as student:
            assert {p["user_id"]: p["online"] for p in student.snapshot["participants"]} == {"coach-a": True, "stu-a": True}
            joined = next_of(coach, "participant_joined")
            assert joined["user_id"] == "stu-a" and joined["role"] == "player"
        left = next_of(coach, "participant_left")
        assert left["user_id"] == "stu-a"


def test_a_stranger_is_refused(server):
    sid = coaching_session(server, "coach-b", ["stu-b"])
    status, body = refused(coaching_url(server, sid, "mallory", "player"))
    assert status == 404 and body["data"]["code"] == "session_not_found"
    status, body = refused(coaching_url(server, "no-such-session", "coach-b", "coach"))
    assert status == 404
    # The token's user must be the one named in ?user_id=.
    url = coaching_url(server, sid, "stu-b", "player").replace("user_id=stu-b", "user_id=coach-b")
    assert refused(url)[0] == 403
    assert refused(f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/coaching/{sid}?user_id=stu-b")[0] == 401
    status, body = refused(coaching_url(server, sid, "coach-b", "coach", mirror_fps=31))
    assert status == 422 and "mirror_fps" in body["data"]["message"]
    # An admin may look in.
    with member(server, sid, "root", "admin") as admin:
        assert admin.snapshot["role"] == "admin"


def test_start_session_checks_the_coaching_session(server):
    sid = coaching_session(server, "coach-c", ["stu-c"])
    with server.socket("outsider") as ws:
        send(ws, "start_session", {"config": {"coaching_session_id": sid}})
        error = next_of(ws, "error")
        assert error["code"] == "coaching_session_not_found" and sid in error["message"]
        send(ws, "start_session", {"config": {"coaching_session_id": "nope"}})
        assert next_of(ws, "error")["code"] == "coaching_session_not_found"
    with server.socket("stu-c") as ws:
        assert start(ws, {"coaching_session_id": sid})["config"]["coaching_session_id"] == sid


# --------------------------------------------------------------------------- mirroring


def test_mirrored_results_summaries_and_feedback_reach_the_coach(server, stream):
    sid = coaching_session(server, "coach-d", ["stu-d"])
    with member(server, sid, "coach-d", "coach", mirror_fps=10) as coach, server.socket("stu-d") as ws:
        session = start(ws, {"coaching_session_id": sid, "feedback_threshold": 0.0, "frame_layout": "compact"})
        sent = {}
        for index, t, frame in _frames(stream):
            sent[index] = frame
            send(ws, "frame_data", {"frame_index": index, "timestamp": t, "keypoints": frame.ravel().tolist()})
        own_results, own_summary, own_feedback = {}, None, []
        while not own_feedback or not own_feedback[-1]["done"] or len(own_results) < len(sent):
            message = recv(ws)
            if message["type"] == "analysis_result":
                own_results[message["data"]["frame_index"]] = message["data"]
            elif message["type"] == "swing_summary":
                own_summary = message["data"]
            elif message["type"] == "feedback":
                own_feedback.append(message["data"])
        mirrored, summary, feedback = [], None, []
        last = max(sent)
        while not feedback or not feedback[-1]["done"] or not mirrored or mirrored[-1]["frame_index"] < last - 2:
            message = recv(coach)
            if message["type"] == "analysis_result":
                mirrored.append(message["data"])
            elif message["type"] == "swing_summary":
                summary = message["data"]
            elif message["type"] == "feedback":
                feedback.append(message["data"])
        # A coach who joins now sees the swing in the snapshot, and who streams.
        with member(server, sid, "coach-d", "coach") as late:
            latest, streaming = late.snapshot["latest_swing"], late.snapshot["streaming"]
    assert streaming == [{"user_id": "stu-d", "session_id": session["session_id"]}]
    assert own_summary is not None and len(own_results) == len(sent)
    # Thinned to 10 a second of the student's 30 FPS: every third frame, in order.
    indices = [m["frame_index"] for m in mirrored]
    assert len(indices) >= len(sent) // 3 - 1 and indices == sorted(indices)
    assert all(0.09 <= b - a <= 0.11 for a, b in zip((m["timestamp"] for m in mirrored),
                                                      (m["timestamp"] for m in mirrored[1:])))
    for m in mirrored:
        assert m["user_id"] == "stu-d" and m["session_id"] == session["session_id"]
        own = own_results[m["frame_index"]]
        assert (m["swing_phase"], m["p_position"], m["usable"]) == (own["swing_phase"], own["p_position"], own["usable"])
        assert [f["fault_id"] for f in m["detected_faults"]] == [f[0] for f in own["detected_faults"]]
        np.testing.assert_allclose(np.array(m["keypoints"]), sent[m["frame_index"]], atol=6e-5)
        kpis = [m["kpis"][name] for name in session["kpi_names"]]
        assert [v is None for v in kpis] == [v is None for v in own["kpis"]]
        np.testing.assert_allclose([v for v in kpis if v is not None], [v for v in own["kpis"] if v is not None],
                                   atol=1e-3)
    assert summary == {**own_summary, "user_id": "stu-d", "session_id": session["session_id"]}
    assert [f["feedback"] for f in feedback] == [f["feedback"] for f in own_feedback]
    assert {f["user_id"] for f in feedback} == {"stu-d"}
    assert latest == summary


def test_nothing_is_mirrored_to_students(server, stream):
    sid = coaching_session(server, "coach-e", ["stu-e", "stu-e2"])
    with member(server, sid, "coach-e", "coach") as coach:
        with member(server, sid, "stu-e2") as other, server.socket("stu-e") as ws:
            start(ws, {"coaching_session_id": sid, "feedback_mode": "disabled"})
            for index, t, frame in _frames(stream):
                send(ws, "frame_data", seed_frame(index, t, frame))
            next_of(coach, "swing_summary")  # the coach saw the swing
            coach.close()
            left, before = recv_until(other, "participant_left")
    assert before == [] and left["data"]["user_id"] == "coach-e"


# --------------------------------------------------------------------------- messages


def test_tips_drills_and_frame_updates_arrive_intact(server):
    sid = coaching_session(server, "coach-f", ["stu-f", "stu-f2"])
    with member(server, sid, "coach-f", "coach") as coach, member(server, sid, "stu-f") as one, \
            member(server, sid, "stu-f2") as two:
        for ws in (coach, coach, one):
            recv_until(ws, "participant_joined")
        tip = {"tip": "Feel the weight in your trail heel — «à la» Hogan", "target_user": None, "priority": "high"}
        send(coach, "coaching_tip", tip)
        got = [next_of(ws, "coaching_tip") for ws in (coach, one, two)]
        assert all(g == {**tip, "from_user": "coach-f", "sent_at": got[0]["sent_at"]} for g in got)
        assert abs(got[0]["sent_at"] - time.time()) < 5

        drill = {"drill_name": "Pump drill", "description": "Three pumps to waist height, then swing",
                 "duration_minutes": 10, "target_user": "stu-f2"}
        send(coach, "drill_suggestion", drill)
        for ws in (coach, two):
            assert next_of(ws, "drill_suggestion") == {**drill, "from_user": "coach-f", "sent_at": pytest.approx(
                time.time(), abs=5)}
        # stu-f was not the target: the next thing it hears is the frame update everyone gets.
        send(two, "coaching_frame_update", {"frame_index": 120, "student_id": "stu-f2"})
        for ws in (coach, one, two):
            update = recv(ws)
            assert update["type"] == "coaching_frame_update"
            assert update["data"] == {"frame_index": 120, "swing_index": None, "student_id": "stu-f2",
                                      "from_user": "stu-f2", "sent_at": pytest.approx(time.time(), abs=5)}

        send(one, "coaching_tip", {"tip": "students cannot tip"})
        error = next_of(one, "error")
        assert error["code"] == "forbidden" and "coaching_tip" in error["message"]
        send(coach, "coaching_tip", {"tip": "hi", "target_user": "mallory"})
        assert next_of(coach, "error")["code"] == "not_a_member"
        send(coach, "coaching_frame_update", {})
        assert next_of(coach, "error")["code"] == "invalid_message"
        send(coach, "coaching_tip", {"tip": ""})
        assert next_of(coach, "error")["code"] == "invalid_message"
        send(coach, "chat", {"text": "?"})
        assert next_of(coach, "error")["code"] == "unknown_type"
        coach.send("not json")
        assert next_of(coach, "error")["code"] == "malformed_message"
        send(coach, "ping")
        assert recv(coach)["type"] == "pong"


def test_a_late_joiner_gets_the_last_50_messages(server, stream):
    sid = coaching_session(server, "coach-g", ["stu-g"])
    with member(server, sid, "coach-g", "coach") as coach:
        for i in range(54):
            send(coach, "coaching_tip", {"tip": f"tip {i}", "target_user": "stu-g" if i % 2 else None})
        send(coach, "coaching_frame_update", {"swing_index": 1})
        for _ in range(55):
            recv(coach)
    with member(server, sid, "stu-g") as late:
        assert late.snapshot["history"] == 50 and late.snapshot["frame"]["swing_index"] == 1
        history = [recv(late) for _ in range(50)]
    assert [m["data"].get("tip") for m in history] == [f"tip {i}" for i in range(5, 54)] + [None]
    assert history[-1]["type"] == "coaching_frame_update"
    # The coach's tips reach the student's feedback too (the offline coach quotes the latest).
    with server.socket("stu-g") as ws:
        start(ws, {"coaching_session_id": sid, "feedback_threshold": 0.0})
        for index, t, frame in _frames(stream):
            send(ws, "frame_data", seed_frame(index, t, frame))
        text = ""
        while True:
            message = recv(ws)
            if message["type"] == "feedback":
                text += message["data"]["feedback"]
                if message["data"]["done"]:
                    break
    assert "tip 53" in text


def test_deleting_the_coaching_session_closes_its_sockets(server):
    sid = coaching_session(server, "coach-h", ["stu-h"])
    with member(server, sid, "stu-h") as student:
        assert server.http.delete(f"{SESSIONS}/{sid}", headers=server.auth("coach-h", "coach")).status_code == 204
        code, _ = close_code(student)
    assert code == 1000


# --------------------------------------------------------------------------- broadcast that never stalls


TIPS = 2400  # ~4.8 MB: far more than a stuck socket's buffers below its queue (about 96 KiB), so its queue fills


def stuck_member(server: LiveServer, session_id: str, user: str, role: str):
    """A member that will stop reading: a tiny receive buffer, and a client that pauses after one message."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", server.port))
    return connect(coaching_url(server, session_id, user, role), sock=raw, max_queue=1, open_timeout=10)


def test_a_stalled_consumer_does_not_delay_the_others(server):
    """One member stops reading; tips keep reaching the others in order and at once, and the stalled
    one is closed with 1013 once its oldest queued message is over 1 s old (slow_consumer_s)."""
    sid = coaching_session(server, "coach-i", ["stu-i", "stuck-i"])
    closed_before = server.runtime.registry.broadcast.slow_closed
    with stuck_member(server, sid, "stuck-i", "player") as stuck, member(server, sid, "coach-i", "coach") as coach, \
            member(server, sid, "stu-i") as student:
        received: dict[str, list[tuple[str, float]]] = {"coach": [], "student": []}

        def read(ws, into: list[tuple[str, float]]) -> None:
            while len(into) < TIPS:
                message = recv(ws, 10)
                if message["type"] == "coaching_tip":
                    into.append((message["data"]["tip"], time.time() - message["data"]["sent_at"]))

        readers = [threading.Thread(target=read, args=(ws, received[name]), daemon=True)
                   for name, ws in (("coach", coach), ("student", student))]
        for reader in readers:
            reader.start()
        filler = "x" * 1990
        for i in range(TIPS):
            send(coach, "coaching_tip", {"tip": f"{i:04d} {filler}"})
            if i % 20 == 19:
                time.sleep(0.01)
        for reader in readers:
            reader.join(30)
        server.wait_until(lambda: server.runtime.registry.broadcast.slow_closed > closed_before, timeout=10)
        # It reads again: what the socket buffers held, then the close frame.
        code, _ = close_code(stuck, timeout=15)
    assert code == 1013
    expected = [f"{i:04d} {filler}" for i in range(TIPS)]
    for name, got in received.items():
        assert [tip for tip, _ in got] == expected, name
        worst = max(delay for _, delay in got)
        assert worst < 2.0, f"{name}: worst delay {worst:.3f} s"  # generous; the figure is in bench/RESULTS.md
    stats = server.http.get("/api/v1/stream/system/stats", headers=server.auth("root", "admin")).json()
    assert stats["slow_consumers_closed"] >= 1 and stats["broadcast_dropped"] >= 1
