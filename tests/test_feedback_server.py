"""Feedback end to end: a real server, a websockets client streaming simulated swings, a local Gemini.

The server's google-genai client points at ``fake_gemini.FakeGemini`` through
the settings' base URL; timeouts are short so failures fall back quickly.
"""

from __future__ import annotations

import time

import msgspec
import pytest
from fake_gemini import Fail, FakeGemini, Reply
from live_server import LiveServer, recv, send, settings_for_tests, start
from swings import FAULTED_THEN_CLEAN, driver_swings
from websockets.exceptions import ConnectionClosed


KEY = "test-gemini-key"
PIECES = ("Your hips ", "drift back. ", "Turn them ", "instead.")


@pytest.fixture(scope="module")
def gemini():
    fake = FakeGemini().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def server(gemini, serve_module):
    return serve_module(
        frames_per_second=1e6, frame_burst=10**6,
        gemini_api_key=KEY, gemini_base_url=gemini.base_url,
        feedback_first_piece_timeout_s=0.5, feedback_total_timeout_s=2.0, feedback_retry_backoff_s=0.01,
        feedback_rate_per_minute=600.0, feedback_rate_burst=100,
    )


@pytest.fixture
def fake(gemini):
    gemini.reset(Reply(PIECES, delay_s=0.01))
    return gemini


@pytest.fixture(scope="module")
def frames():
    """Three driver swings: sway + casting, early extension, then a clean one."""
    stream = driver_swings(5, FAULTED_THEN_CLEAN, noise_m=0.003)
    return [
        {"frame_index": i, "timestamp": t, "keypoints": [round(v, 5) for v in frame.ravel().tolist()]}
        for i, t, frame in zip(stream.frame_indices.tolist(), stream.timestamps.tolist(), stream.keypoints)
    ]


def _stream(ws, frames) -> None:
    for frame in frames:
        send(ws, "frame_data", frame)


def _collect(ws, done, timeout: float = 10.0) -> list[dict]:
    """Messages in arrival order until ``done(messages)`` holds."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while not done(seen):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            kinds = [m["type"] for m in seen if m["type"] != "analysis_result"]
            raise AssertionError(f"not done in {timeout} s; non-result messages: {kinds}")
        seen.append(recv(ws, remaining))
    return seen


def _feedback(messages: list[dict]) -> list[dict]:
    return [m["data"] for m in messages if m["type"] == "feedback"]


def _finished(messages: list[dict]) -> list[dict]:
    return [f for f in _feedback(messages) if f["done"]]


def _answer(messages: list[dict], feedback_id: str) -> str:
    return "".join(f["feedback"] for f in _feedback(messages) if f["feedback_id"] == feedback_id)


def _summaries(messages: list[dict]) -> list[dict]:
    return [m["data"] for m in messages if m["type"] == "swing_summary"]


def _lane_stats(server) -> dict:
    return server.http.get("/api/v1/stream/system/stats", headers=server.auth("root", "admin")).json()["feedback"]


# --------------------------------------------------------------------------- triggers


def test_feedback_follows_the_swing_summary(server, fake, frames):
    with server.socket("fb-1") as ws:
        session = start(ws, {"club_used": "Driver", "frame_layout": "compact", "feedback_threshold": 0.5})
        _stream(ws, frames)
        # Swings 1 and 2 have faults over the threshold; the clean swing 3 gets none.
        messages = _collect(ws, lambda seen: len(_summaries(seen)) == 3 and len(_finished(seen)) == 2)
    summaries = _summaries(messages)
    assert [max((f["severity"] for f in s["faults"]), default=0) >= 0.5 for s in summaries] == [True, True, False]
    finished = _finished(messages)
    assert [f["swing_index"] for f in finished] == [1, 2]
    for done in finished:
        pieces = [f for f in _feedback(messages) if f["feedback_id"] == done["feedback_id"]]
        assert [p["feedback"] for p in pieces] == [*PIECES, ""]
        assert {p["source"] for p in pieces} == {"gemini"} and {p["session_id"] for p in pieces} == {session["session_id"]}
        # Every piece comes after the summary of the swing it is about.
        summary_at = next(i for i, m in enumerate(messages)
                          if m["type"] == "swing_summary" and m["data"]["swing_index"] == done["swing_index"])
        first_at = next(i for i, m in enumerate(messages)
                        if m["type"] == "feedback" and m["data"]["feedback_id"] == done["feedback_id"])
        assert summary_at < first_at
    prompts = [r.prompt for r in fake.requests]
    assert len(prompts) == 2 and "club driver" in prompts[0] and "SWAY" in prompts[0]


def test_request_feedback_for_a_chosen_swing_and_the_latest(server, fake, frames):
    with server.socket("fb-2") as ws:
        send(ws, "request_feedback")
        assert recv(ws)["data"]["code"] == "no_session"
        start(ws, {"club_used": "7 iron", "skill_level": "beginner", "enable_instant_feedback": False,
                   "frame_layout": "compact"})
        send(ws, "request_feedback")
        error = recv(ws)["data"]
        assert error["code"] == "no_swing" and "no swing has ended" in error["message"]
        _stream(ws, frames)
        _collect(ws, lambda seen: len(_summaries(seen)) == 3)
        send(ws, "request_feedback", {"swing_index": 1})
        first = _collect(ws, lambda seen: len(_finished(seen)) == 1)
        send(ws, "request_feedback", {})  # the latest swing
        latest = _collect(ws, lambda seen: len(_finished(seen)) == 1)
        send(ws, "request_feedback", {"swing_index": 9})
        missing = _collect(ws, lambda seen: any(m["type"] == "error" for m in seen))[-1]["data"]
        send(ws, "request_feedback", {"swing_index": 0})
        invalid = _collect(ws, lambda seen: any(m["type"] == "error" for m in seen))[-1]["data"]
    assert _finished(first)[0]["swing_index"] == 1 and _answer(first, _finished(first)[0]["feedback_id"]) == "".join(PIECES)
    assert _finished(latest)[0]["swing_index"] == 3
    assert missing["code"] == "no_swing" and "it has swings 1 to 3" in missing["message"]
    assert invalid["code"] == "invalid_message" and "swing_index" in invalid["message"]
    assert [("swing 1 of the session" in r.prompt, "swing 3 of the session" in r.prompt) for r in fake.requests] == [
        (True, False), (False, True)]
    assert all("skill level beginner, club iron" in r.prompt and "The player asked" in r.prompt for r in fake.requests)


def test_disabled_mode_sends_none(server, fake, frames):
    before = _lane_stats(server)["requested"]
    with server.socket("fb-3") as ws:
        start(ws, {"feedback_mode": "disabled", "feedback_threshold": 0.0, "frame_layout": "compact"})
        _stream(ws, frames)
        send(ws, "request_feedback", {"swing_index": 1})
        messages = _collect(ws, lambda seen: any(m["type"] == "error" for m in seen))
        send(ws, "end_session")
        messages += _collect(ws, lambda seen: any(m["type"] == "session_ended" for m in seen))
        time.sleep(0.3)  # anything the lane were to send would be here by now
        send(ws, "ping")
        messages += _collect(ws, lambda seen: any(m["type"] == "pong" for m in seen))
    assert len(_summaries(messages)) == 3 and _feedback(messages) == []
    assert [m["data"]["code"] for m in messages if m["type"] == "error"] == ["feedback_disabled"]
    assert _lane_stats(server)["requested"] == before and fake.requests == []


def test_binary_sessions_get_feedback_as_messagepack(server, fake, frames):
    with server.socket("fb-4") as ws:
        ws.send(msgspec.msgpack.encode({"type": "start_session", "data": {"config": {"enable_instant_feedback": False}}}))
        assert recv(ws)["data"]["frame_layout"] == "binary"
        _stream(ws, frames)
        _collect(ws, lambda seen: len(_summaries(seen)) == 3)
        ws.send(msgspec.msgpack.encode({"type": "request_feedback", "data": {"swing_index": 2}}))
        raw = []
        while not raw or not msgspec.msgpack.decode(raw[-1])["data"].get("done"):
            raw.append(ws.recv(timeout=5))  # the last frames' results may still be ahead of it
    assert all(isinstance(r, bytes) for r in raw)
    pieces = [m for m in map(msgspec.msgpack.decode, raw) if m["type"] == "feedback"]
    assert [p["data"]["feedback"] for p in pieces] == [*PIECES, ""] and pieces[0]["data"]["swing_index"] == 2


# --------------------------------------------------------------------------- failure, cancellation, figures


def test_a_failing_model_still_coaches_the_player(server, fake, frames):
    fake.default = Fail(503, "overloaded")
    with server.socket("fb-5") as ws:
        start(ws, {"enable_instant_feedback": False, "frame_layout": "compact", "skill_level": "advanced"})
        _stream(ws, frames)
        _collect(ws, lambda seen: len(_summaries(seen)) == 3)
        send(ws, "request_feedback", {"swing_index": 2})
        messages = _collect(ws, lambda seen: len(_finished(seen)) == 1)
    pieces = _feedback(messages)
    assert {p["source"] for p in pieces} == {"offline"}
    text = "".join(p["feedback"] for p in pieces)
    assert text.startswith("Swing 2: early extension") and "Cue: " in text and "Drill: " in text
    assert len(fake.requests) == 3  # two retries of the 503 first


def test_closing_the_socket_cancels_in_flight_work(server, fake, frames):
    fake.default = Reply(tuple(f"word{i} " for i in range(40)), delay_s=0.1)  # 4 s of pieces
    before = _lane_stats(server)
    with server.socket("fb-6") as ws:
        start(ws, {"enable_instant_feedback": False, "frame_layout": "compact"})
        _stream(ws, frames)
        _collect(ws, lambda seen: len(_summaries(seen)) == 3)
        send(ws, "request_feedback", {"swing_index": 1})
        _collect(ws, lambda seen: len(_feedback(seen)) == 2)
    closed = time.monotonic()
    fake.wait_for(lambda: fake.requests[0].client_gone, timeout=2)
    assert time.monotonic() - closed < 1.0
    server.wait_until(lambda: server.runtime.feedback.stats().in_flight == 0)
    after = _lane_stats(server)
    assert after["cancelled"] == before["cancelled"] + 1 and after["completed"] == before["completed"]


def test_system_stats_carry_the_lane_figures(server, fake, frames):
    with server.socket("fb-7") as ws:
        start(ws, {"enable_instant_feedback": False, "frame_layout": "compact"})
        _stream(ws, frames)
        _collect(ws, lambda seen: len(_summaries(seen)) == 3)
        send(ws, "request_feedback")
        _collect(ws, lambda seen: len(_finished(seen)) == 1)
    stats = _lane_stats(server)
    assert stats["provider"] == "gemini" and stats["model"] == "gemini-2.5-flash"
    assert {"queued", "in_flight", "completed", "fallbacks", "timeouts", "time_to_first_piece", "breaker"} <= set(stats)
    assert stats["completed"] >= 1 and stats["from_model"] >= 1 and stats["in_flight"] == 0
    first = stats["time_to_first_piece"]["gemini"]
    assert first["count"] >= 1 and 0 < first["p50_ms"] < 2000
    assert stats["breaker"]["state"] == "closed"


def test_without_an_api_key_no_network_is_touched(fake, frames, monkeypatch):
    """No GEMINI_API_KEY: OfflineCoach answers, even with google-genai's base URL variable pointing at a live server."""
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.base_url)
    live = LiveServer(settings_for_tests(frames_per_second=1e6, frame_burst=10**6)).start()
    try:
        with live.socket("fb-8") as ws:
            start(ws, {"frame_layout": "compact", "feedback_mode": "batch"})
            _stream(ws, frames)
            first = _collect(ws, lambda seen: len(_summaries(seen)) == 3 and len(_finished(seen)) >= 1)
            send(ws, "request_feedback", {"swing_index": 3})
            messages = _collect(ws, lambda seen: any(f["swing_index"] == 3 for f in _finished(seen)))
        stats = live.runtime.feedback.stats()
    finally:
        live.stop()
    (clean,) = [f for f in _finished(messages) if f["swing_index"] == 3]
    # Offline answers are instant, yet still come after their swing's summary.
    for done in _finished(first):
        summary_at = next(i for i, m in enumerate(first)
                          if m["type"] == "swing_summary" and m["data"]["swing_index"] == done["swing_index"])
        feedback_at = next(i for i, m in enumerate(first)
                           if m["type"] == "feedback" and m["data"]["feedback_id"] == done["feedback_id"])
        assert summary_at < feedback_at
    assert clean["source"] == "offline" and clean["feedback"].startswith("Swing 3: clean")
    assert stats.provider == "offline" and stats.fallbacks == 0
    assert fake.connections == 0 and fake.requests == []


def test_feedback_after_end_session_still_arrives(server, fake, frames):
    fake.default = Reply(PIECES, delay_s=0.05)
    with server.socket("fb-9") as ws:
        start(ws, {"enable_instant_feedback": False, "frame_layout": "compact"})
        _stream(ws, frames)
        _collect(ws, lambda seen: len(_summaries(seen)) == 3)
        send(ws, "request_feedback", {"swing_index": 2})
        send(ws, "end_session")
        messages = _collect(ws, lambda seen: len(_finished(seen)) == 1)
        try:
            ws.close()
        except ConnectionClosed:
            pass
    assert any(m["type"] == "session_ended" for m in messages)
    assert "".join(f["feedback"] for f in _feedback(messages)) == "".join(PIECES)
