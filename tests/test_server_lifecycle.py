"""Sockets over time: idle timeout, dead peers, graceful shutdown; and the CLI's serve and token."""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import jwt
import numpy as np
import pytest
from live_server import LiveServer, close_code, recv, seed_frame, send, settings_for_tests, start
from websockets.sync.client import connect

from swingsync_fast.simulator import random_swing_spec, simulate

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def swing():
    stream = simulate([random_swing_spec(np.random.default_rng(4))], fps=30.0, noise_m=0.003, seed=4)
    return stream


def test_an_idle_socket_is_closed_with_4408_after_its_session_is_ended(serve, swing):
    live = serve(idle_timeout_s=0.6)
    with live.socket("ida") as ws:
        session_id = start(ws)["session_id"]
        send(ws, "frame_data", seed_frame(0, 0.0, swing.keypoints[0]))
        recv(ws)
        began = time.monotonic()
        code, messages = close_code(ws, timeout=5)
        waited = time.monotonic() - began
    assert code == 4408 and 0.5 <= waited < 3
    assert [m["type"] for m in messages] == ["error", "session_ended"]
    assert messages[0]["data"]["code"] == "idle_timeout"
    assert messages[1]["data"] == {**messages[1]["data"], "session_id": session_id, "reason": "idle_timeout"}
    record = live.http.get(f"/api/v1/stream/sessions/{session_id}", headers=live.auth("ida")).json()
    assert record["state"] == "ended" and record["end_reason"] == "idle_timeout"


def test_a_socket_that_keeps_talking_is_not_idle(serve):
    live = serve(idle_timeout_s=0.6)
    with live.socket("ivan") as ws:
        for _ in range(6):  # 1.2 s in all, two idle timeouts' worth
            time.sleep(0.2)
            send(ws, "ping")
            assert recv(ws)["type"] == "pong"


def _raw_handshake(live: LiveServer, user: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never answers anything."""
    sock = socket.create_connection(("127.0.0.1", live.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /api/v1/stream/ws/{user}?token={live.token(user)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert sock.recv(4096).startswith(b"HTTP/1.1 101")
    return sock


def test_a_peer_that_stops_answering_pings_is_reaped(serve):
    live = serve(ping_interval_s=0.2, ping_timeout_s=0.2)
    dead = _raw_handshake(live, "zombie")
    try:
        live.wait_until(lambda: len(live.runtime.registry.connections) == 1)
        with live.socket("alive") as ws:  # a real client answers the pings and stays
            live.wait_until(lambda: "zombie" not in live.runtime.registry.by_user, timeout=5)
            send(ws, "ping")
            assert recv(ws)["type"] == "pong"
            assert set(live.runtime.registry.by_user) == {"alive"}
    finally:
        dead.close()


def test_graceful_shutdown_drains_sessions_and_closes_with_1001(swing):
    live = LiveServer(settings_for_tests(frames_per_second=1e6, frame_burst=10**6)).start()
    truth = swing.swings[0]
    try:  # stopped here, not by a fixture: the stop is what is tested
        sid = live.http.post("/api/v1/stream/sessions", json={"participants": ["pia"]},
                             headers=live.auth("coach-q", "coach")).json()["session_id"]
        coaching = f"ws://127.0.0.1:{live.port}/api/v1/stream/ws/coaching/{sid}?token={live.token('coach-q', 'coach')}"
        monitor = f"ws://127.0.0.1:{live.port}/api/v1/stream/ws/monitor/root?token={live.token('root', 'admin')}"
        with live.socket("pia") as streaming, live.socket("quinn") as idle, \
                connect(coaching, max_queue=None) as coach, connect(monitor, max_queue=None) as watcher:
            start(streaming, {"club_used": "driver"})
            # Stream up to a little past impact, short of the finish: a swing in progress.
            for index, t, frame in zip(swing.frame_indices.tolist(), swing.timestamps.tolist(), swing.keypoints):
                if index > truth.impact_frame + 6:
                    break
                send(streaming, "frame_data", seed_frame(index, t, frame))
            send(streaming, "ping")
            while recv(streaming)["type"] != "pong":  # every frame has been answered
                pass
            stopper = threading.Thread(target=live.stop)
            stopper.start()
            code, last = close_code(streaming, timeout=10)
            idle_code, _ = close_code(idle, timeout=10)
            watcher_codes = [close_code(ws, timeout=10)[0] for ws in (coach, watcher)]
            stopper.join(15)
    finally:
        if live._thread.is_alive():
            live.stop()
    assert code == 1001 and idle_code == 1001 and watcher_codes == [1001, 1001]
    kinds = [m["type"] for m in last]
    assert kinds[-1] == "session_ended" and last[-1]["data"]["reason"] == "server_shutdown"
    # The swing past impact was summarised on the way out, not lost.
    assert "swing_summary" in kinds
    summary = next(m["data"] for m in last if m["type"] == "swing_summary")
    assert abs(summary["impact_frame"] - truth.impact_frame) <= 3


# --------------------------------------------------------------------------- the CLI


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "swingsync_fast", *args], cwd=cwd, env=env or _env(), capture_output=True,
        text=True, timeout=60,
    )


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY" and not k.startswith("SWINGSYNC_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def test_serve_makes_an_owner_only_key_token_reuses_it_and_sigterm_closes_with_1001(tmp_path):
    env = _env()
    process = subprocess.Popen(
        [sys.executable, "-m", "swingsync_fast", "serve", "--port", "0", "--log-level", "warning"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    watchdog = threading.Timer(60, process.kill)  # a server that hangs fails the test, not the suite
    watchdog.start()
    try:
        banner = []
        for line in process.stdout:
            banner.append(line)
            if "get a token" in line:
                break
        text = "".join(banner)
        port = int(re.search(r"listening on http://127\.0\.0\.1:(\d+)", text).group(1))
        # a command that works from where the server runs (this test's Python, by its path)
        assert f"{sys.executable} -m swingsync_fast token USER --role player" in text
        assert f"web app     : http://127.0.0.1:{port}/app/" in text
        assert ".secret_key (created, owner-only)" in text

        key_file = tmp_path / ".secret_key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        minted = _cli("token", "alice", "--role", "coach", cwd=tmp_path, env=env)
        assert minted.returncode == 0, minted.stderr
        token = minted.stdout.strip()
        claims = jwt.decode(token, key_file.read_text().strip(), algorithms=["HS256"])
        assert claims["sub"] == "alice" and claims["role"] == "coach" and claims["exp"] > time.time()

        with connect(f"ws://127.0.0.1:{port}/api/v1/stream/ws/alice?token={token}", open_timeout=10) as ws:
            send(ws, "start_session", {"config": {}})
            assert recv(ws)["type"] == "session_started"
            process.send_signal(signal.SIGTERM)
            code, last = close_code(ws, timeout=15)
        assert code == 1001 and last[-1]["type"] == "session_ended"
        process.wait(timeout=15)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
        process.stdout.close()


def test_token_refuses_a_key_file_others_can_read(tmp_path):
    (tmp_path / ".secret_key").write_text("k" * 64)
    os.chmod(tmp_path / ".secret_key", 0o644)
    result = _cli("token", "bob", cwd=tmp_path)
    assert result.returncode == 2 and "chmod 600" in result.stderr
    served = _cli("serve", "--port", "0", cwd=tmp_path)
    assert served.returncode == 2 and "open to other users" in served.stderr


def test_token_with_secret_key_from_the_environment(tmp_path):
    env = {**_env(), "SECRET_KEY": "from-the-environment-" + "z" * 20}
    result = _cli("token", "carl", "--role", "admin", "--ttl", "60", cwd=tmp_path, env=env)
    claims = jwt.decode(result.stdout.strip(), env["SECRET_KEY"], algorithms=["HS256"])
    assert claims["role"] == "admin" and claims["exp"] - claims["iat"] == 60
    assert claims["sub"] == "carl" and not (tmp_path / ".secret_key").exists()
