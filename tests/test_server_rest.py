"""REST endpoints and authentication, against a real server with httpx and websockets clients."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest
from live_server import SECRET, LiveServer, recv, recv_until, seed_frame, send, settings_for_tests, start
from starlette.routing import Route
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from swingsync_fast.simulator import SwingSpec, simulate

SESSIONS = "/api/v1/stream/sessions"


SERVER_SETTINGS = dict(frames_per_second=1e6, frame_burst=10**6)  # the module's server (conftest.server)


@pytest.fixture(scope="module")
def frames():
    stream = simulate([SwingSpec()], fps=30.0, seed=1)
    return list(zip(stream.frame_indices.tolist(), stream.timestamps.tolist(), stream.keypoints))


def _denied(server: LiveServer, url: str, **kwargs) -> tuple[int, dict]:
    """Try to open a socket; return the HTTP status and error body of the refusal."""
    with pytest.raises(InvalidStatus) as caught:
        with connect(url, open_timeout=5, **kwargs):
            pass
    response = caught.value.response
    return response.status_code, json.loads(response.body)


# --------------------------------------------------------------------------- auth on the socket


def test_socket_without_a_token_is_refused_with_401(server):
    status, body = _denied(server, server.ws_url("alice"))
    assert status == 401 and body == {"type": "error", "data": {
        "code": "missing_token",
        "message": "send a token as ?token= or Authorization: Bearer, or a ticket as ?ticket="}}


def test_socket_with_another_users_token_is_refused_with_403(server):
    status, body = _denied(server, server.ws_url("alice", server.token("mallory")))
    assert status == 403 and body["data"]["code"] == "wrong_user"
    assert "mallory" in body["data"]["message"]


def test_socket_with_a_token_signed_by_another_key_is_refused(server):
    forged = server.token("alice", key="some-other-key-" + "x" * 40)
    status, body = _denied(server, server.ws_url("alice", forged))
    assert status == 401 and body["data"]["code"] == "bad_signature"


def test_socket_with_an_expired_token_is_refused(server):
    expired = jwt.encode({"sub": "alice", "role": "player", "exp": int(time.time()) - 5}, SECRET, algorithm="HS256")
    status, body = _denied(server, server.ws_url("alice", expired))
    assert status == 401 and body["data"]["code"] == "token_expired"


@pytest.mark.parametrize(
    "claims, words",
    [
        ({"sub": "alice", "role": "superuser"}, "role"),
        ({"sub": "alice"}, "role"),
        ({"role": "player"}, "sub"),
    ],
)
def test_socket_with_bad_claims_is_refused(server, claims, words):
    token = jwt.encode({**claims, "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    status, body = _denied(server, server.ws_url("alice", token))
    assert status == 401 and body["data"]["code"] == "invalid_token" and words in body["data"]["message"]


def test_socket_garbage_token_and_none_algorithm_are_refused(server):
    assert _denied(server, server.ws_url("alice", "not.a.jwt"))[1]["data"]["code"] == "invalid_token"
    unsigned = jwt.encode({"sub": "alice", "role": "admin", "exp": int(time.time()) + 60}, None, algorithm="none")
    assert _denied(server, server.ws_url("alice", unsigned))[0] == 401


def test_socket_accepts_a_bearer_header_as_well_as_the_query(server):
    headers = {"Authorization": f"Bearer {server.token('alice')}"}
    with connect(server.ws_url("alice"), additional_headers=headers, open_timeout=5) as ws:
        send(ws, "ping")
        assert recv(ws)["type"] == "pong"


# --------------------------------------------------------------------------- auth on REST


@pytest.mark.parametrize(
    "method, path",
    [("POST", SESSIONS), ("GET", SESSIONS), ("GET", SESSIONS + "/x"), ("DELETE", SESSIONS + "/x"),
     ("GET", SESSIONS + "/x/stats"), ("GET", "/api/v1/stream/system/stats"), ("GET", "/streaming/status")],
)
def test_every_rest_call_but_health_needs_a_token(server, method, path):
    response = server.http.request(method, path)
    assert response.status_code == 401
    assert response.json()["data"]["code"] == "missing_token"
    assert response.headers["www-authenticate"] == "Bearer"
    expired = jwt.encode({"sub": "a", "role": "player", "exp": int(time.time()) - 1}, SECRET, algorithm="HS256")
    response = server.http.request(method, path, headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and response.json()["data"]["code"] == "token_expired"


def test_health_needs_no_token_and_status_reports_the_server(server):
    assert server.http.get("/health").json() == {"status": "ok"}
    status = server.http.get("/streaming/status", params={"token": server.token("bob")}).json()
    assert status["status"] == "running" and status["auth"] == "jwt"
    assert status["frame_layouts"] == ["seed", "compact", "binary"]
    assert status["limits"]["max_message_bytes"] == 64 * 1024


# --------------------------------------------------------------------------- sessions


def test_create_then_stream_into_a_rest_session(server, frames):
    created = server.http.post(SESSIONS, headers=server.auth("carol"),
                               json={"session_name": "lesson", "club_used": "Pitching Wedge",
                                     "analysis_frequency": 1, "participants": ["coach-dan"]})
    assert created.status_code == 201
    record = created.json()
    session_id = record["session_id"]
    assert created.headers["location"] == f"{SESSIONS}/{session_id}"
    assert record["state"] == "created" and record["config"]["club_used"] == "wedge"
    assert record["user_id"] == "carol" and record["participants"] == ["coach-dan"]

    with server.socket("carol") as ws:
        send(ws, "start_session", {"session_id": session_id})
        started = recv(ws)["data"]
        assert started["session_id"] == session_id and started["config"]["club_used"] == "wedge"
        for index, t, frame in frames[:20]:
            send(ws, "frame_data", seed_frame(index, t, frame))
            recv_until(ws, "analysis_result")

        live = server.http.get(f"{SESSIONS}/{session_id}", headers=server.auth("carol")).json()
        assert live["state"] == "active" and live["stats"]["frames_analysed"] == 20
        stats = server.http.get(f"{SESSIONS}/{session_id}/stats", headers=server.auth("carol")).json()
        assert stats["state"] == "active"
        latency = stats["stats"]["latency"]
        assert latency["count"] == 20 and 0 < latency["p50_us"] <= latency["p95_us"] <= latency["p99_us"]

        # The coach is a participant: may look, may not delete.
        coach = server.auth("coach-dan", "coach")
        assert server.http.get(f"{SESSIONS}/{session_id}", headers=coach).status_code == 200
        assert server.http.get(f"{SESSIONS}/{session_id}/stats", headers=coach).status_code == 200
        forbidden = server.http.delete(f"{SESSIONS}/{session_id}", headers=coach)
        assert forbidden.status_code == 403 and forbidden.json()["data"]["code"] == "forbidden"
        # Strangers do not even learn it exists.
        stranger = server.auth("eve")
        assert server.http.get(f"{SESSIONS}/{session_id}", headers=stranger).status_code == 404
        assert server.http.get(f"{SESSIONS}/{session_id}/stats", headers=stranger).status_code == 404
        assert server.http.delete(f"{SESSIONS}/{session_id}", headers=stranger).status_code == 404
        # Admins see it.
        assert server.http.get(f"{SESSIONS}/{session_id}", headers=server.auth("root", "admin")).status_code == 200

        # A second socket cannot attach a session that is streaming.
        with server.socket("carol") as other:
            send(other, "start_session", {"session_id": session_id})
            assert recv(other)["data"]["code"] == "session_busy"

        send(ws, "end_session")
        ended = recv_until(ws, "session_ended")[0]["data"]
        assert ended["frames_analysed"] == 20

    final = server.http.get(f"{SESSIONS}/{session_id}", headers=server.auth("carol")).json()
    assert final["state"] == "ended" and final["end_reason"] == "client_ended"
    assert final["stats"]["frames_analysed"] == 20 and final["stats"]["latency"]["count"] == 20
    with server.socket("carol") as ws:
        send(ws, "start_session", {"session_id": session_id})
        assert recv(ws)["data"]["code"] == "session_ended"
        send(ws, "start_session", {"session_id": "does-not-exist"})
        assert recv(ws)["data"]["code"] == "session_not_found"


def test_list_shows_own_and_participating_sessions_newest_first(server):
    owner, coach = server.auth("frank"), server.auth("coach-gina", "coach")
    first = server.http.post(SESSIONS, headers=owner, json={}).json()["session_id"]
    second = server.http.post(SESSIONS, headers=owner, json={"participants": ["coach-gina"]}).json()["session_id"]
    mine = [s["session_id"] for s in server.http.get(SESSIONS, headers=owner).json()["sessions"]]
    assert mine[:2] == [second, first]
    watched = [s["session_id"] for s in server.http.get(SESSIONS, headers=coach).json()["sessions"]]
    assert watched == [second]
    assert [s["session_id"] for s in server.http.get(
        SESSIONS, headers=owner, params={"limit": 1}).json()["sessions"]] == [second]
    assert server.http.get(SESSIONS, headers=owner, params={"limit": 0}).status_code == 422
    admin = [s["session_id"] for s in server.http.get(SESSIONS, headers=server.auth("root", "admin")).json()["sessions"]]
    assert {first, second} <= set(admin)


def test_create_validates_the_config_and_the_owner(server):
    bad = server.http.post(SESSIONS, headers=server.auth("hank"), json={"club_used": "putter"})
    assert bad.status_code == 422 and bad.json()["data"]["code"] == "invalid_config"
    assert "putter" in bad.json()["data"]["message"]
    assert server.http.post(SESSIONS, headers=server.auth("hank"), content=b"{oops").status_code == 422
    other = server.http.post(SESSIONS, headers=server.auth("hank"), json={"user_id": "ivy"})
    assert other.status_code == 403 and other.json()["data"]["code"] == "wrong_user"
    for_ivy = server.http.post(SESSIONS, headers=server.auth("root", "admin"), json={"user_id": "ivy"})
    assert for_ivy.status_code == 201 and for_ivy.json()["user_id"] == "ivy"
    huge = server.http.post(SESSIONS, headers=server.auth("hank"), content=b" " * (65 * 1024))
    assert huge.status_code == 413 and huge.json()["data"]["code"] == "too_large"


def test_delete_ends_a_live_session_and_tells_its_socket(server, frames):
    with server.socket("judy") as ws:
        session_id = start(ws)["session_id"]
        index, t, frame = frames[0]
        send(ws, "frame_data", seed_frame(index, t, frame))
        recv(ws)
        deleted = server.http.delete(f"{SESSIONS}/{session_id}", headers=server.auth("judy"))
        assert deleted.status_code == 204
        ended = recv(ws)
        assert ended["type"] == "session_ended" and ended["data"]["reason"] == "deleted"
        send(ws, "frame_data", seed_frame(*frames[1][:2], frames[1][2]))
        assert recv(ws)["data"]["code"] == "no_session"  # the socket lives on, the session is gone
    assert server.http.get(f"{SESSIONS}/{session_id}", headers=server.auth("judy")).status_code == 404


def test_system_stats_are_for_admins_and_count_everything(server, frames):
    assert server.http.get("/api/v1/stream/system/stats", headers=server.auth("kim")).status_code == 403
    before = server.http.get("/api/v1/stream/system/stats", headers=server.auth("root", "admin")).json()
    with server.socket("kim") as ws:
        start(ws)
        for index, t, frame in frames[:10]:
            send(ws, "frame_data", seed_frame(index, t, frame))
            recv_until(ws, "analysis_result")
        during = server.http.get("/api/v1/stream/system/stats", headers=server.auth("root", "admin")).json()
        assert during["sessions_active"] >= 1 and during["connections"] >= 1
        assert during["frames_analysed"] == before["frames_analysed"] + 10
    server.wait_until(lambda: server.runtime.sessions.live == {})
    after = server.http.get("/api/v1/stream/system/stats", headers=server.auth("root", "admin")).json()
    assert after["frames_analysed"] == before["frames_analysed"] + 10  # kept after the session ended
    assert after["latency"]["count"] == before["latency"]["count"] + 10
    assert after["latency"]["p99_us"] >= after["latency"]["p50_us"] > 0


def test_unknown_paths_and_methods_answer_in_the_error_envelope(server):
    missing = server.http.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["data"]["code"] == "not_found"
    wrong = server.http.put(SESSIONS, headers=server.auth("leo"))
    assert wrong.status_code == 405 and wrong.json()["data"]["code"] == "method_not_allowed"


def test_openapi_describes_every_rest_endpoint(server):
    document = server.http.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    routes: dict[str, set[str]] = {}
    for route in server.app.routes:
        if isinstance(route, Route) and route.path != "/openapi.json":
            routes.setdefault(route.path, set()).update(m.lower() for m in route.methods if m != "HEAD")
    assert {path: set(ops) for path, ops in paths.items()} == routes
    assert {SESSIONS + "/{session_id}/swings", "/api/v1/users/{user_id}/progress", "/api/v1/analyze"} <= set(paths)
    assert set(paths[SESSIONS]) == {"post", "get"} and set(paths[SESSIONS + "/{session_id}"]) == {"get", "delete"}
    schemas = document["components"]["schemas"]
    assert {"SessionRecord", "SessionStats", "SystemStats", "CreateSessionRequest"} <= set(schemas)


def test_me_names_the_tokens_user_and_role_and_refuses_a_bad_token(server):
    assert server.http.get("/api/v1/me", headers=server.auth("mia", "coach")).json() == {
        "user_id": "mia", "role": "coach"}
    forged = server.http.get("/api/v1/me", headers={"Authorization": f"Bearer {server.token('mia', key='k' * 40)}"})
    assert forged.status_code == 401 and forged.json()["data"]["code"] == "bad_signature"


# --------------------------------------------------------------------------- the development switch


def test_dev_switch_lets_calls_in_without_a_token_but_still_checks_given_ones():
    live = LiveServer(settings_for_tests(dev_no_auth=True)).start()
    try:
        with connect(live.ws_url("anyone"), open_timeout=5) as ws:
            send(ws, "ping")
            assert recv(ws)["type"] == "pong"
        assert live.http.get("/streaming/status").json()["auth"] == "disabled"
        assert live.http.get("/api/v1/stream/system/stats").status_code == 200
        forged = live.token("anyone", key="wrong-key-" + "y" * 40)
        assert _denied(live, live.ws_url("anyone", forged))[1]["data"]["code"] == "bad_signature"
    finally:
        live.stop()


def test_a_plain_http_client_gets_the_denial_body(server):
    response = httpx.get(f"http://127.0.0.1:{server.port}/api/v1/stream/ws/alice",
                         headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                  "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert response.status_code == 401 and response.json()["data"]["code"] == "missing_token"


def test_the_root_sends_a_person_to_the_web_app(server):
    response = server.http.get("/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/app/"
    landed = server.http.get("/", follow_redirects=True)
    assert landed.status_code == 200 and "SwingSync" in landed.text and str(landed.url).endswith("/app/")
