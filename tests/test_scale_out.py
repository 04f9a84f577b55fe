"""Scale-out: server processes meeting over Redis, each a real ``python -m swingsync_fast serve``.

Two servers on different ports stand for two machines: they share the
machine's Redis (on a database of the test's own, so channels are the
test's alone) and one SQLite file, both started before any session. A
student streams into one, the coach watches on the other. The outage test
runs the pair on a ``redis-server`` of its own and kills it mid-session.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from live_server import close_code, recv, recv_until, send, start
from redis_servers import OwnRedis, machine_redis_db, needs_redis, own_redis, reachable  # noqa: F401 (a fixture)
from server_process import ServerProcess
from test_server_coaching import coaching_session, member, next_of
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import connect

from swingsync_fast.server.stream.limits import USER_BURST_S, USER_PERIOD_S
from swingsync_fast.simulator import SwingSpec, simulate

USER_RATE = 40  # SWINGSYNC_USER_FRAMES_PER_SECOND on both servers
FPS = 30.0
# uvicorn drains on SIGTERM, then raises the signal again for the default handler: -SIGTERM is a clean stop.
STOPPED = (0, -signal.SIGTERM)


def _env(redis_url: str, database: Path) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{database}",
        # Per connection the limit is out of the way; per user it holds across both servers.
        "SWINGSYNC_FRAMES_PER_SECOND": "1000",
        "SWINGSYNC_FRAME_BURST": "1000",
        "SWINGSYNC_USER_FRAMES_PER_SECOND": str(USER_RATE),
        "SWINGSYNC_MONITOR_INTERVAL_S": "0.2",
    }


def _pair(workdir: Path, redis_url: str) -> tuple[ServerProcess, ServerProcess]:
    """Both started before any session, one after the other: the first creates the shared database."""
    env = _env(redis_url, workdir / "shared.db")
    a = ServerProcess(workdir, env, name="a")
    try:
        a.wait_ready()
    except BaseException:
        a.stop()
        raise
    b = ServerProcess(workdir, env, name="b")
    try:
        return a, b.wait_ready()
    except BaseException:
        a.stop()
        b.stop()
        raise


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    if not reachable("127.0.0.1", 6379):
        pytest.skip(needs_redis.kwargs["reason"])
    a, b = _pair(tmp_path_factory.mktemp("two-machines"), machine_redis_db())
    try:
        _until(lambda: _hear_each_other(a, b), 30)
        yield a, b
    finally:
        codes = a.stop(), b.stop()  # both, whatever the first says
    assert set(codes) <= set(STOPPED), codes


@pytest.fixture(scope="module")
def swings():
    return simulate([SwingSpec()], fps=FPS, seed=3)


def _until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def _processes(server: ServerProcess) -> list[dict]:
    url = f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/monitor/root?token={server.token('root', 'admin')}"
    with connect(url, open_timeout=10) as ws:
        return recv(ws)["data"]["processes"]


def _hear_each_other(a: ServerProcess, b: ServerProcess) -> bool:
    """Each lists the other among the processes it has heard (anything else on that Redis aside)."""
    on_a, on_b = _processes(a), _processes(b)
    return on_b[0]["process_id"] in {p["process_id"] for p in on_a} and \
        on_a[0]["process_id"] in {p["process_id"] for p in on_b}


def _frame(index: int, t: float, keypoints) -> dict:  # type: ignore[no-untyped-def]
    return {"frame_index": index, "timestamp": t, "keypoints": keypoints.ravel().tolist()}


class Student(threading.Thread):
    """Streams the simulated swings at 30 FPS on one main socket and keeps every reply."""

    def __init__(self, server: ServerProcess, user: str, stream, config: dict,  # type: ignore[no-untyped-def]
                 frames: int | None = None) -> None:
        super().__init__(daemon=True)
        self.server, self.user, self.stream, self.config = server, user, stream, config
        self.frames = frames or len(stream.frame_indices)  # the stream repeats to make up as many
        self.streamed_s = 0.0
        self.session: dict | None = None
        self.sent = 0
        self.results: list[dict] = []
        self.summaries: list[dict] = []
        self.feedback: list[dict] = []
        self.errors: list[dict] = []
        self.started = threading.Event()

    def run(self) -> None:
        with connect(self.server.ws_url(self.user, self.server.token(self.user)), max_queue=None) as ws:
            self.session = start(ws, {"frame_layout": "compact", **self.config})
            self.started.set()
            frames = list(zip(self.stream.frame_indices.tolist(), self.stream.keypoints))
            begin = time.monotonic()
            for n in range(self.frames):
                index, keypoints = frames[n % len(frames)]
                due = begin + n / FPS
                time.sleep(max(0.0, due - time.monotonic()))
                send(ws, "frame_data", _frame(n, n / FPS, keypoints))
                self.sent += 1
                self._read(ws, 0.0)
            self.streamed_s = time.monotonic() - begin
            send(ws, "end_session")
            self._read(ws, 5.0, until="session_ended")

    def _read(self, ws, timeout: float, until: str | None = None) -> None:  # type: ignore[no-untyped-def]
        while True:
            try:
                message = recv(ws, timeout)
            except TimeoutError:
                return
            kind, data = message["type"], message.get("data")
            {"analysis_result": self.results, "swing_summary": self.summaries, "feedback": self.feedback,
             "error": self.errors}.get(kind, []).append(data)
            if kind == until:
                return


# --------------------------------------------------------------------------- two machines


def test_a_student_on_one_machine_and_the_coach_on_the_other_meet(pair, swings):
    a, b = pair
    sid = coaching_session(b, "coach-x", ["stu-x"])  # made on B, found on A through the shared database
    with member(b, sid, "coach-x", "coach", mirror_fps=10) as coach:
        with member(a, sid, "stu-x") as student_room:
            # Each side's snapshot shows the other, though on another process.
            online = {p["user_id"]: p["online"] for p in student_room.snapshot["participants"]}
            assert online == {"coach-x": True, "stu-x": True}
            joined = next_of(coach, "participant_joined")
            assert (joined["user_id"], joined["role"]) == ("stu-x", "player")

            student = Student(a, "stu-x", swings, {"coaching_session_id": sid, "feedback_threshold": 0.0})
            student.start()
            assert student.started.wait(10)
            # A coach joining on B while the student streams on A sees the stream.
            with member(b, sid, "coach-x", "coach") as second:
                assert second.snapshot["streaming"] == [{"user_id": "stu-x",
                                                         "session_id": student.session["session_id"]}]
            send(coach, "coaching_tip", {"tip": "Hold the finish", "target_user": "stu-x"})
            tip = next_of(student_room, "coaching_tip")
            assert (tip["tip"], tip["from_user"]) == ("Hold the finish", "coach-x")

            mirrored, summaries, feedback = [], [], []
            student.join(60)
            assert not student.is_alive()
            deadline = time.monotonic() + 20
            answers = sum(f["done"] for f in student.feedback)
            while (len(summaries) < len(student.summaries) or sum(f["done"] for f in feedback) < answers
                   or not mirrored or mirrored[-1]["frame_index"] < student.sent - 4):
                assert time.monotonic() < deadline, (len(summaries), len(feedback), len(mirrored))
                message = recv(coach)
                {"analysis_result": mirrored, "swing_summary": summaries,
                 "feedback": feedback}.get(message["type"], []).append(message["data"])
        left = next_of(coach, "participant_left")
        assert left["user_id"] == "stu-x"

    own = {r["frame_index"]: r for r in student.results}
    assert len(own) == student.sent and len(student.summaries) == 1 and not student.errors
    # Results mirrored from A to B, thinned to 10 a second, tagged and equal to the student's own.
    assert len(mirrored) >= student.sent // 3 - 3
    for m in mirrored:
        assert m["user_id"] == "stu-x" and m["session_id"] == student.session["session_id"]
        assert (m["swing_phase"], m["p_position"]) == (own[m["frame_index"]]["swing_phase"],
                                                       own[m["frame_index"]]["p_position"])
    assert summaries == [{**s, "user_id": "stu-x", "session_id": student.session["session_id"]}
                         for s in student.summaries]
    assert answers >= 1 and [f["feedback"] for f in feedback] == [f["feedback"] for f in student.feedback]
    assert {f["user_id"] for f in feedback} == {"stu-x"}


def test_deleting_a_coaching_session_closes_its_sockets_on_every_machine(pair):
    a, b = pair
    sid = coaching_session(a, "coach-z", ["stu-z"])
    with member(b, sid, "stu-z") as far:  # nobody in the room on A, where it is deleted
        response = a.http.delete(f"/api/v1/stream/sessions/{sid}", headers=a.auth("coach-z", "coach"))
        assert response.status_code == 204
        assert close_code(far)[0] == 1000


def test_a_users_rate_limit_holds_across_both_machines(pair, swings):
    a, b = pair
    one = Student(a, "greedy", swings, {"feedback_mode": "disabled"}, frames=240)
    other = Student(b, "greedy", swings, {"feedback_mode": "disabled"}, frames=240)
    one.start()
    other.start()
    one.join(60)
    other.join(60)
    elapsed = max(one.streamed_s, other.streamed_s)
    analysed = len(one.results) + len(other.results)
    # 2 x 30 FPS (480 frames in 8 s) against 40 a second for the user: each server refuses its share
    # of the excess. Allowed: the rate, plus half a second's burst on each server, plus the first
    # exchange period when neither knows of the other.
    assert one.sent + other.sent == 480
    assert analysed <= USER_RATE * (elapsed + 2 * USER_BURST_S + 2 * USER_PERIOD_S) + 5
    assert analysed >= 0.75 * USER_RATE * elapsed  # and the user gets about all of it, not half
    for student in (one, other):
        assert any(e["code"] == "rate_limited" and "every server" in e["message"] for e in student.errors)
    # Alone, the same user at 30 FPS is under the limit: nothing refused.
    alone = Student(b, "greedy", swings, {"feedback_mode": "disabled"}, frames=60)
    alone.run()
    assert len(alone.results) == alone.sent and not alone.errors


def test_the_monitor_and_metrics_show_every_process_and_the_total(pair, swings):
    a, b = pair
    student = Student(a, "counted", swings, {"feedback_mode": "disabled"})
    student.run()
    url = f"ws://127.0.0.1:{b.port}/api/v1/stream/ws/monitor/root?token={b.token('root', 'admin')}"
    with connect(url, open_timeout=10) as ws:
        deadline = time.monotonic() + 10
        while True:  # B hears A's figures within a second
            data = recv_until(ws, "performance_metrics")[0]["data"]
            pids = {p["pid"] for p in data["processes"]}
            if {a.process.pid, b.process.pid} <= pids and \
                    sum(p["frames_processed"] for p in data["processes"]) == data["frames_processed"] >= student.sent:
                break
            assert time.monotonic() < deadline, data
    assert data["processes"][0]["pid"] == b.process.pid  # this process first
    assert data["frames_received"] == sum(p["frames_received"] for p in data["processes"])
    assert {p["bus_state"] for p in data["processes"]} == {"connected"}
    text = b.http.get("/metrics").text
    samples = [line for line in text.splitlines() if line.startswith("swingsync_frames_analysed_total{")]
    assert len(samples) >= 2 and all('process="' in line for line in samples)
    assert "swingsync_bus_connected{" in text


def test_one_session_streams_on_one_machine_at_a_time(pair):
    a, b = pair
    created = a.http.post("/api/v1/stream/sessions", json={"session_name": "one"}, headers=a.auth("twice"))
    session_id = created.json()["session_id"]
    with connect(a.ws_url("twice", a.token("twice")), max_queue=None) as first:
        send(first, "start_session", {"session_id": session_id})
        recv_until(first, "session_started")
        time.sleep(0.5)  # B hears A's pulse (every 0.2 s)
        with connect(b.ws_url("twice", b.token("twice")), max_queue=None) as second:
            send(second, "start_session", {"session_id": session_id})
            error = next_of(second, "error")
    assert error["code"] == "session_busy" and "another server process" in error["message"]


def test_a_users_sockets_are_counted_on_both_machines(pair):
    a, b = pair
    with ExitStack() as stack:
        for server in (a, a, a, b, b):  # five: the limit
            stack.enter_context(connect(server.ws_url("many", server.token("many")), open_timeout=10))
        time.sleep(0.6)  # each has heard the other's pulse (every 0.2 s)
        for server, there in ((a, 2), (b, 3)):  # three sockets on A, two on B
            with pytest.raises(InvalidStatus) as refused:
                connect(server.ws_url("many", server.token("many")), open_timeout=10)
            response = refused.value.response
            assert response.status_code == 429
            assert f"{there} of them on other server processes" in json.loads(response.body)["data"]["message"]


# --------------------------------------------------------------------------- Redis goes away


def test_a_redis_outage_keeps_students_streaming_and_tells_the_coach(own_redis: OwnRedis, tmp_path, swings):
    a, b = _pair(tmp_path, own_redis.url)
    try:
        _until(lambda: _hear_each_other(a, b), 30)
        sid = coaching_session(b, "coach-o", ["stu-o"])
        with member(b, sid, "coach-o", "coach", mirror_fps=5) as coach:
            student = Student(a, "stu-o", swings, {"coaching_session_id": sid, "feedback_mode": "disabled"},
                              frames=360)
            student.start()
            assert next_of(coach, "analysis_result", 10)["user_id"] == "stu-o"

            own_redis.stop()
            status, _ = recv_until(coach, "bus_status", 10)
            assert status["data"]["connected"] is False
            during = len(student.results)
            time.sleep(1.5)
            assert len(student.results) > during + 20  # the student's own analysis flows on

            own_redis.start()
            status, _ = recv_until(coach, "bus_status", 15)
            assert status["data"]["connected"] is True
            resumed = next_of(coach, "analysis_result", 10)  # coaching across the machines resumes
            assert resumed["user_id"] == "stu-o"
            student.join(60)
        assert len(student.results) == student.sent and not student.errors
        metrics = a.http.get("/metrics").text
        disconnects = [line for line in metrics.splitlines() if line.startswith("swingsync_bus_disconnects_total{")]
        assert any(float(line.split()[-1]) >= 1 for line in disconnects)

        # A process that dies: its members leave the room on the others once its roster expires.
        with member(a, sid, "stu-o") as near, member(b, sid, "coach-o", "coach"):
            assert next_of(near, "participant_joined")["user_id"] == "coach-o"
            b.process.kill()
            assert next_of(near, "participant_left", 10)["user_id"] == "coach-o"
    finally:
        codes = a.stop(), b.stop()  # both, whatever the first says
    assert codes[0] in STOPPED and codes[1] in (*STOPPED, -signal.SIGKILL), codes


# --------------------------------------------------------------------------- workers


def test_workers_need_redis(tmp_path):
    server = ServerProcess(tmp_path, {"REDIS_URL": ""}, workers=2)
    try:
        assert server.process.wait(30) == 2
    finally:
        server.stop()
    assert "--workers 2 needs REDIS_URL" in server.log()


@needs_redis
def test_workers_share_a_port_and_a_dead_one_is_replaced(tmp_path):
    # A fresh SQLite file: the first worker creates it alone, then the other starts.
    server = ServerProcess(tmp_path, {"REDIS_URL": machine_redis_db(), "DATABASE_URL": f"sqlite:///{tmp_path}/w.db"},
                           workers=2)
    try:
        server.wait_ready()
        _until(lambda: len(_pids_if_reachable(server)) == 2, 20)
        victim = min(_pids_if_reachable(server))
        os.kill(victim, signal.SIGKILL)
        # A new worker takes its place; the dead one's figures expire.
        _until(lambda: (lambda now: len(now) == 2 and victim not in now)(_pids_if_reachable(server)), 30)
    finally:
        assert server.stop() == 0
    assert "starting another" in server.log()


def _pids_if_reachable(server: ServerProcess) -> set[int]:
    """The pids of the server's workers that the monitor lists, or none while a connection lands on the
    socket of the worker just killed."""
    try:
        listed = {p["pid"] for p in _processes(server)}
    except (OSError, WebSocketException):  # refused, reset or cut mid-handshake
        return set()
    return {pid for pid in listed if _parent(pid) == server.process.pid}


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None  # gone, or on another machine
    return int(stat[stat.rindex(b")") + 2:].split()[1])
