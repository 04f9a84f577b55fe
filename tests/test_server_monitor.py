"""The monitor socket and /metrics against a real server: figures match the frames sent.

A server of its own, so the system-wide counts are exactly this module's frames.
"""

from __future__ import annotations

import json

import pytest
from live_server import LiveServer, recv, recv_until, seed_frame, send, start
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from swingsync_fast.simulator import SwingSpec, simulate


SERVER_SETTINGS = dict(frames_per_second=1e6, frame_burst=10**6, monitor_interval_s=0.2)  # the module's server (conftest.server)


@pytest.fixture(scope="module")
def stream():
    return simulate([SwingSpec()], fps=30.0, seed=2)


def monitor_url(server: LiveServer, user: str, role: str, **params: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"token": server.token(user, role), **params}.items())
    return f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/monitor/{user}?{query}"


def metrics_until(ws, done, timeout: float = 10.0) -> dict:
    while True:
        message = recv(ws, timeout)
        assert message["type"] == "performance_metrics", message
        if done(message["data"]):
            return message["data"]


def stream_frames(ws, stream, count: int) -> None:
    frames = list(zip(stream.frame_indices.tolist(), stream.timestamps.tolist(), stream.keypoints))[:count]
    for index, t, frame in frames:
        send(ws, "frame_data", seed_frame(index, t, frame))
    for _ in range(count):
        while recv(ws)["type"] != "analysis_result":
            pass


def test_monitor_figures_match_the_frames_sent(server, stream):
    with connect(monitor_url(server, "mona", "player", interval=0.1), open_timeout=10) as own, \
            connect(monitor_url(server, "root", "admin"), open_timeout=10) as admin, \
            connect(monitor_url(server, "nosy", "player"), open_timeout=10) as other:
        first = metrics_until(own, lambda d: True)
        assert first["scope"] == "user" and first["user_id"] == "mona" and first["interval_s"] == 0.1
        assert first["frames_processed"] == 0 and first["sessions"] == []
        with server.socket("mona") as ws:
            session = start(ws, {"frame_layout": "compact"})
            stream_frames(ws, stream, 150)
            send(ws, "frame_data", {"frame_index": 1, "timestamp": 0.0, "keypoints": [0.0] * 132})  # refused
            assert recv_until(ws, "error")[0]["data"]["code"] == "out_of_order"
            mine = metrics_until(own, lambda d: d["frames_rejected"] == 1)
            system = metrics_until(admin, lambda d: d["frames_rejected"] == 1)
            theirs = metrics_until(other, lambda d: True)
    assert mine["frames_processed"] == mine["frames_received"] == mine["kpis_calculated"] == 150
    assert mine["active_sessions"] == 1 and mine["active_connections"] == 1
    [figures] = mine["sessions"]
    assert figures["session_id"] == session["session_id"] and figures["frames_processed"] == 150
    latencies = [mine[k] for k in ("p50_latency_ms", "p95_latency_ms", "p99_latency_ms", "max_latency_ms")]
    assert all(v is not None and v > 0 for v in latencies) and latencies == sorted(latencies)
    assert 0 < mine["average_latency_ms"] <= mine["max_latency_ms"]
    assert mine["feedback"] is None and mine["watchers"] is None  # system figures are for admins

    assert system["scope"] == "system" and system["user_id"] is None and system["interval_s"] == 0.2
    assert system["frames_processed"] == system["frames_received"] == 150
    assert system["watchers"] == 3 and system["active_connections"] == 1
    assert system["feedback"]["provider"] == "offline" and system["sessions"] is None
    assert theirs["frames_processed"] == 0 and theirs["sessions"] == []


def test_monitor_refuses_others_and_bad_intervals(server):
    with pytest.raises(InvalidStatus) as caught:
        with connect(monitor_url(server, "mona", "player").replace("/monitor/mona", "/monitor/root"), open_timeout=5):
            pass
    assert caught.value.response.status_code == 403
    for interval in ("0.01", "61", "soon"):
        with pytest.raises(InvalidStatus) as caught:
            with connect(monitor_url(server, "mona", "player", interval=interval), open_timeout=5):
                pass
        assert caught.value.response.status_code == 422
        assert json.loads(caught.value.response.body)["data"]["code"] == "invalid_request"
    with connect(monitor_url(server, "mona", "player", interval=60), open_timeout=5) as ws:
        assert recv(ws)["type"] == "performance_metrics"
        ws.send(json.dumps({"type": "ping"}))
        assert recv(ws)["type"] == "pong"
        ws.send(json.dumps({"type": "frame_data"}))
        assert recv(ws)["data"]["code"] == "unknown_type"


def test_metrics_parse_with_prometheus_clients_parser(server):
    stats = server.http.get("/api/v1/stream/system/stats", headers=server.auth("root", "admin")).json()
    response = server.http.get("/metrics")  # no token
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    value = {s.name: s.value for f in families.values() for s in f.samples}
    assert value["swingsync_frames_analysed_total"] == stats["frames_analysed"] > 0
    assert value["swingsync_frames_received_total"] == stats["frames_received"]
    assert value["swingsync_frames_rejected_total"] == stats["frames_rejected"]
    assert value["swingsync_kpis_calculated_total"] == stats["kpis_calculated"]
    assert value["swingsync_sessions_started_total"] == stats["sessions_started"]
    assert value["swingsync_connections"] == 0 and value["swingsync_feedback_breaker_state"] == 0
    latency = families["swingsync_frame_latency_seconds"]
    assert latency.type == "histogram"
    buckets = [(float(s.labels["le"]), s.value) for s in latency.samples if s.name.endswith("_bucket")]
    counts = [count for _, count in buckets]
    assert counts == sorted(counts) and buckets[-1] == (float("inf"), stats["latency"]["count"])
    assert value["swingsync_frame_latency_seconds_count"] == stats["latency"]["count"]
    mean_s = value["swingsync_frame_latency_seconds_sum"] / stats["latency"]["count"]
    assert mean_s * 1e6 == pytest.approx(stats["latency"]["mean_us"], abs=0.1)


def test_metrics_can_be_switched_off(serve):
    live = serve(metrics_enabled=False)
    response = live.http.get("/metrics")
    assert response.status_code == 404 and response.json()["data"]["code"] == "not_found"
