"""Hostile input and hostile clients, against a real server on 127.0.0.1 (issue 16).

Each test plays what an attacker tried from outside: it sends the hostile
thing, then checks that the server answered as the protocol says and that
the socket, its session and the process live on.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time

import msgspec
import numpy as np
import pytest
from live_server import recv, recv_until, seed_frame, send, start
from server_process import ServerProcess
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from swingsync_fast.server.storage.base import Liveness
from swingsync_fast.server.storage.sqlite import SQLiteSessionStore
from swingsync_fast.simulator import SwingSpec, simulate

SESSIONS = "/api/v1/stream/sessions"
SERVER_SETTINGS = dict(frames_per_second=1e6, frame_burst=10**6)


def nested_json(depth: int) -> str:
    """``{"type":"ping","data":{"x": [[[...]]]}}``: about 2 KB at depth 1000."""
    return '{"type":"ping","data":{"x":' + "[" * depth + "]" * depth + "}}"


def nested_msgpack(depth: int) -> bytes:
    """The same ping in MessagePack: fixarrays of one element, innermost nil."""
    head = msgspec.msgpack.encode({"type": "ping", "data": {"x": None}})
    return head[:-1] + b"\x91" * depth + b"\xc0"


@pytest.fixture(scope="module")
def frames():
    stream = simulate([SwingSpec()], fps=30.0, seed=3)
    return list(zip(stream.frame_indices.tolist(), stream.timestamps.tolist(), stream.keypoints))


def _assert_malformed(ws) -> dict:
    reply = recv(ws)
    assert reply["type"] == "error", reply
    assert reply["data"]["code"] == "malformed_message", reply
    assert "nested too deeply" in reply["data"]["message"]
    return reply


# --------------------------------------------------------------------------- item 1: nesting


def test_deep_json_on_the_main_socket_is_an_error_and_the_session_lives_on(server, frames):
    with server.socket("deep-a") as ws:
        session = start(ws)
        index, stamp, frame = frames[0]
        send(ws, "frame_data", seed_frame(index, stamp, frame))
        assert recv_until(ws, "analysis_result")[0]["data"]["frame_index"] == index
        ws.send(nested_json(1000))
        _assert_malformed(ws)
        deep_keypoints = '{"type":"frame_data","data":{"frame_index":1,"timestamp":1.0,"keypoints":' + \
            "[" * 30_000 + "]" * 30_000 + "}}"
        ws.send(deep_keypoints)
        _assert_malformed(ws)
        index, stamp, frame = frames[1]
        send(ws, "frame_data", seed_frame(index, stamp, frame))
        assert recv_until(ws, "analysis_result")[0]["data"]["frame_index"] == index
        send(ws, "ping")
        assert recv_until(ws, "pong")[0]["type"] == "pong"
        live = server.http.get(f"{SESSIONS}/{session['session_id']}/stats", headers=server.auth("deep-a")).json()
        assert live["state"] == "active", live


def test_deep_msgpack_on_the_main_socket_is_an_error(server):
    with server.socket("deep-b") as ws:
        ws.send(nested_msgpack(60_000))
        reply = recv(ws)  # a binary message is answered in MessagePack
        assert reply["type"] == "error" and reply["data"]["code"] == "malformed_message", reply
        ws.send(msgspec.msgpack.encode({"type": "ping"}))
        assert recv(ws)["type"] == "pong"


def test_deep_json_on_the_monitor_socket_is_an_error(server):
    url = f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/monitor/deep-m?token={server.token('deep-m')}"
    with connect(url, open_timeout=10, max_queue=None) as ws:
        ws.send(nested_json(1000))
        reply, _ = recv_until(ws, "error")
        assert reply["data"]["code"] == "malformed_message", reply
        ws.send(json.dumps({"type": "ping"}))
        assert recv_until(ws, "pong")[0]["type"] == "pong"


def test_deep_json_on_the_coaching_socket_is_an_error(server):
    created = server.http.post(SESSIONS, json={"session_name": "lesson", "participants": ["deep-s"]},
                               headers=server.auth("deep-c", "coach"))
    assert created.status_code == 201, created.text
    sid = created.json()["session_id"]
    url = (f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/coaching/{sid}"
           f"?user_id=deep-c&token={server.token('deep-c', 'coach')}")
    with connect(url, open_timeout=10, max_queue=None) as ws:
        assert recv(ws)["type"] == "session_state"
        ws.send(nested_json(1000))
        reply, _ = recv_until(ws, "error")
        assert reply["data"]["code"] == "malformed_message", reply
        ws.send(json.dumps({"type": "ping"}))
        assert recv_until(ws, "pong")[0]["type"] == "pong"


@pytest.mark.parametrize("path", [SESSIONS, "/api/v1/analyze"])
def test_deep_json_over_rest_is_a_400_in_the_error_envelope(server, path):
    body = '{"session_name":"deep","x":' + "[" * 1000 + "]" * 1000 + "}"  # an unknown field is skipped, by recursion
    response = server.http.post(path, content=body, headers={**server.auth("deep-r"),
                                                             "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "error"
    assert response.json()["data"]["code"] == "malformed_message"
    assert server.http.get("/health").status_code == 200


def test_a_deep_array_inside_an_uploaded_frame_is_a_400(server):
    frame = {"frame_index": 0, "timestamp": 0.0, "keypoints": np.zeros(132).tolist()}
    body = json.dumps({"frames": [frame]})[:-3] + ', "note": ' + "[" * 5000 + "]" * 5000 + "}]}"
    response = server.http.post("/api/v1/analyze", content=body, headers=server.auth("deep-r"))
    assert response.status_code == 400, response.text
    assert response.json()["data"]["code"] == "malformed_message"


# --------------------------------------------------------------------------- item 3: unbounded sessions


@pytest.mark.parametrize(("field", "longest"), [("session_name", 200), ("club_used", 64), ("skill_level", 64),
                                                 ("user_id", 128)])
def test_free_text_in_a_session_config_is_bounded_over_rest(server, field, longest):
    word = {"club_used": "driver", "skill_level": "beginner"}.get(field, "x")  # padded with spaces, trimmed
    too_long, at_most = word.ljust(longest + 1), word.ljust(longest)
    response = server.http.post(SESSIONS, json={field: too_long}, headers=server.auth("long-a", "admin"))
    assert response.status_code == 422, response.text
    assert response.json()["data"]["code"] == "invalid_config"
    assert f"length <= {longest}" in response.json()["data"]["message"]
    response = server.http.post(SESSIONS, json={field: at_most}, headers=server.auth("long-a", "admin"))
    assert response.status_code == 201, response.text


def test_a_long_session_name_on_the_socket_is_an_invalid_config(server):
    with server.socket("long-b") as ws:
        send(ws, "start_session", {"config": {"session_name": "n" * 60_000}})
        reply = recv(ws)
        assert reply["type"] == "error" and reply["data"]["code"] == "invalid_config", reply
        assert "length <= 200" in reply["data"]["message"]
        assert start(ws, {"session_name": "n" * 200})["session_name"] == "n" * 200


def test_unstarted_sessions_per_user_are_capped(serve):
    live = serve(max_unstarted_sessions_per_user=3)
    owner = live.auth("cap-a")
    made = [live.http.post(SESSIONS, json={}, headers=owner) for _ in range(3)]
    assert [r.status_code for r in made] == [201, 201, 201]
    refused = live.http.post(SESSIONS, json={}, headers=owner)
    assert refused.status_code == 429, refused.text
    assert refused.json()["data"]["code"] == "too_many_sessions"
    assert live.http.post(SESSIONS, json={}, headers=live.auth("cap-b")).status_code == 201  # per user
    # Starting one frees its place, and so does deleting one.
    with live.socket("cap-a") as ws:
        send(ws, "start_session", {"session_id": made[0].json()["session_id"]})
        assert recv_until(ws, "session_started")[0]["data"]["session_id"] == made[0].json()["session_id"]
        assert live.http.post(SESSIONS, json={}, headers=owner).status_code == 201
        assert live.http.post(SESSIONS, json={}, headers=owner).status_code == 429
        assert live.http.delete(f"{SESSIONS}/{made[1].json()['session_id']}", headers=owner).status_code == 204
        assert live.http.post(SESSIONS, json={}, headers=owner).status_code == 201


def test_unstarted_sessions_expire_in_a_sqlite_file_and_free_their_place(serve, tmp_path):
    live = serve(database_url=f"sqlite:///{tmp_path / 'expiry.db'}", max_unstarted_sessions_per_user=1,
                 unstarted_session_ttl_s=0.5, unstarted_sweep_interval_s=0.1)
    owner = live.auth("exp-a")
    made = live.http.post(SESSIONS, json={"session_name": "left"}, headers=owner)
    assert made.status_code == 201
    assert live.http.post(SESSIONS, json={}, headers=owner).status_code == 429
    url = f"{SESSIONS}/{made.json()['session_id']}"
    live.wait_until(lambda: live.http.get(url, headers=owner).json()["state"] == "ended", timeout=10)
    record = live.http.get(url, headers=owner).json()
    assert record["end_reason"] == "expired"
    assert live.http.post(SESSIONS, json={}, headers=owner).status_code == 201


# --------------------------------------------------------------------------- item 4: tokens in logs, tickets


def _ticket(live, user: str, role: str = "player") -> str:
    response = live.http.post("/api/v1/stream/tickets", headers=live.auth(user, role))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["user_id"] == user and 0 < body["expires_in_s"] <= 30
    return body["ticket"]


def _refused(url: str) -> tuple[int, str]:
    with pytest.raises(InvalidStatus) as caught:
        with connect(url, open_timeout=5):
            pass
    response = caught.value.response
    return response.status_code, json.loads(response.body)["data"]["code"]


def test_a_ticket_opens_one_socket_once(server):
    ticket = _ticket(server, "tick-a")
    url = f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/tick-a?ticket={ticket}"
    with connect(url, open_timeout=10) as ws:
        assert start(ws)["user_id"] == "tick-a"
    assert _refused(url) == (401, "ticket_used")
    assert _refused(url.replace(ticket, ticket[:-4] + "AAAA")) == (401, "ticket_invalid")
    assert _refused(url.replace(ticket, "not-a-ticket")) == (401, "ticket_invalid")
    other = _ticket(server, "tick-b")
    assert _refused(url.replace(ticket, other)) == (403, "wrong_user")  # a ticket names its user
    # A ticket is no token: REST refuses it.
    fresh = _ticket(server, "tick-a")
    assert server.http.get("/api/v1/me", params={"token": fresh}).json()["data"]["code"] == "invalid_token"
    assert server.http.post("/api/v1/stream/tickets").status_code == 401  # buying one takes a token


def test_tickets_open_the_monitor_and_coaching_sockets(server):
    monitor = f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/monitor/tick-m?ticket={_ticket(server, 'tick-m')}"
    with connect(monitor, open_timeout=10) as ws:
        assert recv(ws)["type"] == "performance_metrics"
    created = server.http.post(SESSIONS, json={"participants": ["tick-s"]}, headers=server.auth("tick-c", "coach"))
    sid = created.json()["session_id"]
    coaching = (f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/coaching/{sid}"
                f"?user_id=tick-c&ticket={_ticket(server, 'tick-c', 'coach')}")
    with connect(coaching, open_timeout=10) as ws:
        assert recv(ws)["data"]["role"] == "coach"


def test_a_ticket_expires(serve):
    live = serve(ticket_ttl_s=0.3)
    ticket = _ticket(live, "tick-e")
    time.sleep(1.5)  # past the ticket's exp, which JWTs keep in whole seconds at the verifier
    url = f"ws://127.0.0.1:{live.port}/api/v1/stream/ws/tick-e?ticket={ticket}"
    assert _refused(url) == (401, "ticket_expired")


def test_the_log_of_a_real_server_never_holds_a_token_or_ticket(tmp_path):
    server = ServerProcess(tmp_path, {"DATABASE_URL": "memory://"}).wait_ready()
    try:
        token = server.token("logged")
        with connect(f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/logged?token={token}", open_timeout=10) as ws:
            start(ws)
        assert server.http.get("/api/v1/me", params={"token": token}).status_code == 200
        assert server.http.get("/api/v1/me", params={"access_token": token, "token": token}).status_code == 200
        ticket = server.http.post("/api/v1/stream/tickets", headers=server.auth("logged")).json()["ticket"]
        with connect(f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/monitor/logged?ticket={ticket}",
                     open_timeout=10) as ws:
            recv(ws)
        assert _refused(f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/logged?token={token}x")[0] == 401
    finally:
        server.stop()
    log = server.log()
    assert "WebSocket /api/v1/stream/ws/logged?token=[redacted]" in log, log
    assert "GET /api/v1/me?token=[redacted]" in log, log
    assert "ticket=[redacted]" in log and "access_token=[redacted]" in log, log
    assert token not in log and ticket not in log
    assert token.split(".")[2] not in log  # not even the signature alone


# --------------------------------------------------------------------------- item 5: what a crash loses


def test_a_sigkilled_server_keeps_every_recorded_frame_older_than_the_bound_and_the_stats(tmp_path, frames):
    """45 frames: a full batch of 30 and 15 the session held. Killed twice the bound after the last
    frame, the database has all 45, and the session, ended by the next store to open, its stats."""
    db = tmp_path / "crash.db"
    server = ServerProcess(tmp_path, {"DATABASE_URL": f"sqlite:///{db}", "SWINGSYNC_STATS_CHECKPOINT_S": "0.1"})
    server.wait_ready()
    try:
        with server.socket("crash-a") as ws:
            session_id = start(ws, {"record_frames": True})["session_id"]
            for index, stamp, frame in frames[:45]:
                send(ws, "frame_data", seed_frame(index, stamp, frame))
                recv_until(ws, "analysis_result")
                time.sleep(1 / 60)
            time.sleep(2 * 0.25)  # twice the documented bound (database_flush_interval_s)
            server.kill()  # SIGKILL, the socket still open
    finally:
        server.kill()

    async def read_back():
        store = SQLiteSessionStore(db, liveness=Liveness(heartbeat_s=0.1, server_timeout_s=0.3))
        await asyncio.sleep(0.4)  # the killed server's heartbeat goes stale
        await store.open()  # ends its active session (server_restart)
        try:
            return await store.get(session_id), await store.frames(session_id)
        finally:
            await store.close()

    record, stored = asyncio.run(read_back())
    assert [f.frame_index for f in stored] == [index for index, _, _ in frames[:45]]
    assert record.state.value == "ended" and record.end_reason == "server_restart"
    assert record.stats is not None and record.stats.frames_received == 45
    assert record.stats.frames_analysed == 45


# --------------------------------------------------------------------------- item 2: a request's head


HEAD_LIMITS = dict(max_header_bytes=4096, max_headers=20, header_timeout_s=0.5, max_handshaking=3)


def _raw(live) -> socket.socket:
    return socket.create_connection(("127.0.0.1", live.port), timeout=10)


def _answer(sock: socket.socket) -> tuple[int, dict]:
    """Read until the server closes: its status and JSON body."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def test_headers_past_the_size_limit_get_431_and_the_connection_closes(serve):
    live = serve(**HEAD_LIMITS)
    with _raw(live) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 6000)
        status, body = _answer(sock)
    assert (status, body["data"]["code"]) == (431, "headers_too_large")
    upgrade = (b"GET /api/v1/stream/ws/u HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Big: ")
    with _raw(live) as sock:
        sock.sendall(upgrade + b"a" * 6000 + b"\r\n\r\n")
        status, body = _answer(sock)
    assert (status, body["data"]["code"]) == (431, "headers_too_large")
    assert live.http.get("/health", headers={"X-Fine": "a" * 3000}).status_code == 200


def test_too_many_headers_get_431(serve):
    live = serve(**HEAD_LIMITS)
    with _raw(live) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(30)) + b"\r\n")
        status, body = _answer(sock)
    assert (status, body["data"]["code"]) == (431, "too_many_headers")
    assert live.http.get("/health", headers={f"X-{i}": "1" for i in range(10)}).status_code == 200


@pytest.mark.parametrize("trickle", [False, True])
def test_an_unfinished_request_gets_408(serve, trickle):
    live = serve(**HEAD_LIMITS)
    with _raw(live) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        if trickle:  # slowloris: a byte now and then restarts nothing
            try:
                for _ in range(20):
                    time.sleep(0.1)
                    sock.sendall(b"X")
            except OSError:
                pass
        status, body = _answer(sock)
    assert (status, body["data"]["code"]) == (408, "request_timeout")


def test_an_unfinished_second_request_on_a_kept_alive_connection_gets_408(serve):
    live = serve(**HEAD_LIMITS)
    with _raw(live) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /health HTTP/1.1\r\nHo")
        status, body = _answer(sock)
    assert (status, body["data"]["code"]) == (408, "request_timeout")


def test_connections_still_sending_their_request_are_capped(serve):
    live = serve(**{**HEAD_LIMITS, "header_timeout_s": 30.0})
    slow = [_raw(live) for _ in range(3)]
    try:
        for sock in slow:
            sock.sendall(b"GET /health HTTP/1.1\r\n")
        time.sleep(0.2)
        with _raw(live) as sock:
            status, body = _answer(sock)
        assert (status, body["data"]["code"]) == (503, "server_busy")
        slow.pop().close()
        live.wait_until(lambda: _health(live) == 200)
    finally:
        for sock in slow:
            sock.close()


def _health(live) -> int:
    try:
        with _raw(live) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return int(sock.recv(65536).split(b" ")[1])
    except (OSError, IndexError, ValueError):
        return 0


def _rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_real_server_holds_its_memory_under_header_floods(tmp_path):
    """Twenty clients each pushing a 2 MB header at a real ``serve``: each is refused early; the
    process's memory grows by less than what one such header would take if it were read whole."""
    server = ServerProcess(tmp_path, {"DATABASE_URL": "memory://"}).wait_ready()
    try:
        before = _rss_kib(server.process.pid)
        floods = [_raw(server) for _ in range(20)]
        chunk = b"a" * 65536
        for sock in floods:
            try:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ")
                for _ in range(32):
                    sock.sendall(chunk)
            except OSError:  # refused and closed mid-send: what should happen
                pass
        after = _rss_kib(server.process.pid)
        assert server.http.get("/health").status_code == 200
        for sock in floods:
            sock.close()
    finally:
        server.stop()
    assert after - before < 2 * 1024, (before, after)
    assert "headers_too_large" in server.log()


# --------------------------------------------------------------------------- item 6: OpenAPI and the server agree


def _document(server) -> dict:
    return server.http.get("/openapi.json").json()


def test_options_on_every_documented_path_allows_each_documented_method(server):
    for path, operations in _document(server)["paths"].items():
        url = path.replace("{session_id}", "abc").replace("{user_id}", "opt-a")
        response = server.http.options(url, headers=server.auth("opt-a"))
        if path.startswith("/app") or response.status_code == 404:  # the static app answers for itself
            continue
        assert response.status_code == 405, (path, response.text)
        allowed = {m.strip().lower() for m in response.headers["allow"].split(",")}
        assert set(operations) <= allowed, (path, allowed)


@pytest.mark.parametrize("path", [SESSIONS, "/api/v1/users/lim-a/sessions", "/api/v1/users/lim-a/progress"])
def test_a_limit_out_of_range_is_a_documented_422(server, path):
    response = server.http.get(path, params={"limit": 10**6}, headers=server.auth("lim-a"))
    assert response.status_code == 422 and response.json()["data"]["code"] == "invalid_request"
    template = path.replace("lim-a", "{user_id}")
    assert "422" in _document(server)["paths"][template]["get"]["responses"]


def test_a_whole_float_is_a_whole_number_as_json_schema_says(server):
    document = _document(server)
    props = document["components"]["schemas"]["CreateSessionRequest"]["properties"]
    assert props["analysis_frequency"]["multipleOf"] == 1  # a whole number, 2.0 as well as 2
    made = server.http.post(SESSIONS, json={"analysis_frequency": 2.0}, headers=server.auth("int-a"))
    assert made.status_code == 201, made.text
    assert made.json()["config"]["analysis_frequency"] == 2
    for wrong in (2.5, "2", True, 0, 241):
        refused = server.http.post(SESSIONS, json={"analysis_frequency": wrong}, headers=server.auth("int-a"))
        assert refused.status_code == 422, wrong
    assert server.http.post(SESSIONS, json={"record_frames": 0}, headers=server.auth("int-a")).status_code == 422


def test_the_club_query_pattern_is_what_the_server_accepts(server):
    operation = _document(server)["paths"]["/api/v1/users/{user_id}/progress"]["get"]
    club = next(p for p in operation["parameters"] if p["name"] == "club")
    assert "422" in operation["responses"]
    for word in ["7 Iron", "PW", "Driver", "3-wood", "x", "pwx", "Hybrid 4", ""]:
        response = server.http.get("/api/v1/users/club-a/progress", params={"club": word},
                                   headers=server.auth("club-a"))
        documented = re.search(club["schema"]["pattern"], word) is not None
        assert (response.status_code == 200) == documented, (word, response.status_code, response.text)


# --------------------------------------------------------------------------- item 7: consumers that stop reading

# Pings far off: only the 1013 can close the socket.
STALL_SETTINGS = dict(slow_consumer_s=1.0, ping_interval_s=600.0, ping_timeout_s=600.0)
TCP_ESTABLISHED = 1  # tcpi_state, the first byte of Linux's TCP_INFO


def _tcp_state(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]


def _non_reader(live, path: str) -> socket.socket:
    """A WebSocket client with a 4 KiB receive buffer that reads its handshake's answer and then nothing."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", live.port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += sock.recv(1)  # a byte at a time: nothing after the head is read
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _slow_closed(live) -> int:
    stats = live.http.get("/api/v1/stream/system/stats", headers=live.auth("root", "admin")).json()
    return stats["slow_consumers_closed"]


@pytest.mark.parametrize("buffer_bytes", [None, 2**20], ids=["default_buffers", "1_MiB_buffers"])
def test_a_monitor_that_stops_reading_is_closed_with_1013_and_reset(serve, buffer_bytes):
    """A monitor at 10 messages a second whose client never reads: once its receive buffer is full,
    what the server has written for it goes unacknowledged, its oldest message ages, and it is
    closed as too slow (counted), then reset, since it will not take the close frame either;
    nothing of it is left on the server. The wait counts from the first byte the client's TCP did
    not take, so socket buffers far bigger than the default change nothing: what they would take
    at this rate would last minutes."""
    extra = {} if buffer_bytes is None else {"outlet_send_buffer_bytes": buffer_bytes}
    live = serve(**STALL_SETTINGS, **extra)
    with _non_reader(live, f"/api/v1/stream/ws/monitor/w?interval=0.1&token={live.token('w')}") as sock:
        live.wait_until(lambda: _slow_closed(live) == 1, timeout=30)
        live.wait_until(lambda: _tcp_state(sock) != TCP_ESTABLISHED, timeout=10)
        with pytest.raises(ConnectionResetError):
            while sock.recv(65536):  # what its buffer held; then the reset, no orderly end
                pass
    live.wait_until(lambda: not live.runtime.registry.watchers)

