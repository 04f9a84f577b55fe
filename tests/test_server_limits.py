"""Limits over a real socket: frame rate, floods, message size, connections per user and in total.

The server runs the issue's defaults (60 frames/s, burst 90, 64 KiB, 5 sockets
a user) except a shorter flood window and a small total cap, so the tests
stay quick.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import ExitStack

import pytest
from live_server import LiveServer, close_code, recv, recv_until, send, start
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from swingsync_fast.simulator import SwingSpec, simulate

TOTAL_CAP = 8


SERVER_SETTINGS = dict(flood_window_s=0.5, flood_windows=3, max_connections=TOTAL_CAP)  # the module's server (conftest.server)


@pytest.fixture(autouse=True)
def no_sockets_left(server):
    """Each test starts with no socket of an earlier one still registered."""
    server.wait_until(lambda: not server.runtime.registry.connections)


@pytest.fixture(scope="module")
def compact_frames():
    stream = simulate([SwingSpec()], fps=30.0, seed=2)
    return [
        '{"type":"frame_data","data":{"frame_index":%d,"timestamp":%r,"keypoints":%s}}'
        % (i, t, str(frame.ravel().tolist()))
        for i, t, frame in zip(stream.frame_indices.tolist(), stream.timestamps.tolist(), stream.keypoints)
    ]


def test_defaults_are_the_issues(server):
    settings = server.settings
    assert (settings.frames_per_second, settings.frame_burst) == (60.0, 90)
    assert settings.max_message_bytes == 64 * 1024 and settings.max_bad_messages == 50
    assert settings.max_connections_per_user == 5


def test_frames_over_the_rate_are_dropped_with_one_warning_a_second(server, compact_frames):
    sent = 300
    with server.socket("rita") as ws:
        start(ws, {"frame_layout": "compact"})
        began = time.monotonic()
        for text in compact_frames[:sent]:
            ws.send(text)
        elapsed = time.monotonic() - began
        time.sleep(0.1)  # a few tokens back, so end_session is not dropped too
        send(ws, "end_session")
        ended, replies = recv_until(ws, "session_ended", timeout=10)
    results = [r for r in replies if r["type"] == "analysis_result"]
    warnings = [r for r in replies if r["type"] == "error"]
    assert {w["data"]["code"] for w in warnings} == {"rate_limited"}
    assert 1 <= len(warnings) <= 1 + math.floor(elapsed)
    # The burst (less the token start_session took), plus what refilled while the frames came in.
    assert 89 <= len(results) <= 89 + math.ceil(60 * (elapsed + 0.05)) + 1
    assert ended["data"]["frames_received"] == len(results)
    # The first 89 frames are all analysed: drops are the excess, not random frames.
    assert [r["data"]["frame_index"] for r in results[:89]] == list(range(89))


def test_a_sustained_flood_closes_with_1008(server, compact_frames):
    with server.socket("sam") as ws:
        start(ws, {"frame_layout": "compact"})
        began = time.monotonic()
        template = compact_frames[0].replace('"frame_index":0,"timestamp":0.0', '"frame_index":%d,"timestamp":%r')
        assert "%d" in template
        k = 0
        with pytest.raises(ConnectionClosed) as closed:
            while time.monotonic() - began < 10:
                k += 1  # fresh, increasing timestamps: every admitted frame is a good one
                ws.send(template % (k, k / 1000))
        flooded_for = time.monotonic() - began
        received = []
        try:
            while True:
                received.append(recv(ws, 1))
        except ConnectionClosed:
            pass
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    # Three flooded half-second windows in a row: the flood outlasted one whole window.
    assert flooded_for > 0.5
    codes = [m["data"]["code"] for m in received if m["type"] == "error"]
    assert codes[-1] == "flood" and "rate_limited" in codes


def test_a_message_over_64_kib_gets_an_error_and_the_socket_lives(server):
    with server.socket("tina") as ws:
        ws.send('{"type": "ping", "data": {"pad": "' + "x" * (64 * 1024) + '"}}')
        error = recv(ws)["data"]
        assert error["code"] == "message_too_large" and "65536" in error["message"]
        ws.send(b"\x00" * (65 * 1024))
        assert recv(ws)["data"]["code"] == "message_too_large"
        send(ws, "ping")
        assert recv(ws)["type"] == "pong"


def test_a_message_past_the_protocol_cap_closes_with_1009(server):
    with server.socket("tina", max_size=None) as ws:
        ws.send(b"\x00" * (16 * 64 * 1024 + 1))
        code, _ = close_code(ws)
    assert code == 1009


def _refusal(server: LiveServer, user: str) -> tuple[int, str]:
    with pytest.raises(InvalidStatus) as caught:
        with connect(server.ws_url(user, server.token(user)), open_timeout=5):
            pass
    response = caught.value.response
    return response.status_code, json.loads(response.body)["data"]["code"]


def test_five_sockets_per_user(server):
    with ExitStack() as stack:
        sockets = [stack.enter_context(server.socket("uma")) for _ in range(5)]
        assert _refusal(server, "uma") == (429, "too_many_connections")
        with server.socket("victor") as other:  # another user is not affected
            send(other, "ping")
            assert recv(other)["type"] == "pong"
        sockets[0].close()
        server.wait_until(lambda: len(server.runtime.registry.by_user.get("uma", ())) == 4)
        with server.socket("uma") as again:
            send(again, "ping")
            assert recv(again)["type"] == "pong"


def test_total_socket_cap(server):
    with ExitStack() as stack:
        for i in range(TOTAL_CAP):
            stack.enter_context(server.socket(f"crowd-{i}"))
        assert _refusal(server, "one-too-many") == (503, "server_full")
        stats = server.http.get("/api/v1/stream/system/stats", headers=server.auth("root", "admin")).json()
        assert stats["connections"] == TOTAL_CAP and stats["connections_refused"] >= 1
