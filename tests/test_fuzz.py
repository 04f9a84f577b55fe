"""Fuzzing a real server (issue 16): hypothesis-made messages on every socket and layout, and
schemathesis against /openapi.json.

Sockets: each generated message is sent as JSON text and as MessagePack, on a main socket in each
frame layout (and raw float32 frames of random bytes), on a coaching and a monitor socket. Whatever
it is, the server answers in the protocol or not at all: the socket stays open (a run of bad
messages may close it with 1007, never 1011), and the server logs no error.

REST: schemathesis' own checks (no 5xx, documented statuses, content types and response schemas,
valid data accepted, invalid data refused) over every operation. ``POST /api/v1/analyze`` is
spared "valid data accepted" (its frames must be in time order, which no JSON Schema can say)
and the coverage phase (see below).

Skips without hypothesis or schemathesis (``pip install -e '.[test]'``). Seeded, so a failure
comes back the same way.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from live_server import recv, start
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from swingsync_fast.catalog import FAULT_IDS
from swingsync_fast.landmarks import LANDMARK_NAMES
from swingsync_fast.server.protocol.stream import RAW_FRAME_BYTES, RAW_MAGIC

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install -e '.[test]')")
st = hypothesis.strategies

SERVER_SETTINGS = dict(frames_per_second=1e6, frame_burst=10**6, max_bad_messages=10**6)
EXAMPLES = 200  # per socket and layout: the whole module stays under a minute

# ---------------------------------------------------------------------------- messages

# Numbers a client might send, good and bad (JSON cannot carry NaN or inf; MessagePack can).
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 0.5, 1e3, 1e10, 2**31, 2**63]),
)
text = st.one_of(st.text(max_size=40), st.sampled_from(["", "driver", "7 iron", "pro", "SWAY", "x" * 300]))
anything = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)
landmark = st.fixed_dictionaries({"x": numbers, "y": numbers, "z": numbers, "visibility": numbers})
keypoints = st.one_of(
    st.dictionaries(st.sampled_from(LANDMARK_NAMES + ("nose_tip",)), landmark, max_size=34),
    st.lists(numbers, min_size=0, max_size=140),
    anything,
)
config = st.fixed_dictionaries({}, optional={
    "session_name": text, "club_used": text, "skill_level": text, "handedness": text,
    "coordinate_system": st.sampled_from(["world_y_up", "mediapipe_world", "mediapipe_image", "x"]),
    "analysis_frequency": numbers, "feedback_threshold": numbers, "target_latency_ms": numbers,
    "image_aspect": numbers, "frame_layout": st.sampled_from(["seed", "compact", "binary", "x"]),
    "record_frames": anything, "baseline": st.dictionaries(st.sampled_from(FAULT_IDS + ("X",)), numbers),
    "coaching_session_id": text, "user_id": text,
})


def envelope(kind: str, data: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.fixed_dictionaries({"type": st.just(kind), "data": data}),
                     st.fixed_dictionaries({"type": st.just(kind)}))


main_messages = st.one_of(
    envelope("start_session", st.fixed_dictionaries({}, optional={"config": config, "session_id": text})),
    envelope("start_streaming_session", st.fixed_dictionaries({}, optional={"config": config})),
    envelope("frame_data", st.fixed_dictionaries({"frame_index": numbers, "timestamp": numbers,
                                                  "keypoints": keypoints},
                                                 optional={"world_keypoints": keypoints})),
    envelope("end_session", anything),
    envelope("ping", anything),
    envelope("request_feedback", st.fixed_dictionaries({}, optional={"swing_index": numbers})),
    st.fixed_dictionaries({"type": text, "data": anything}),
    anything,
)
coaching_messages = st.one_of(
    envelope("coaching_tip", st.fixed_dictionaries({"tip": text}, optional={
        "priority": text, "target_user": text})),
    envelope("drill_suggestion", st.fixed_dictionaries({"drill_name": text}, optional={
        "description": text, "duration_minutes": numbers, "target_user": text})),
    envelope("coaching_frame_update", st.fixed_dictionaries({}, optional={
        "frame_index": numbers, "swing_index": numbers, "student_id": text})),
    envelope("ping", anything),
    anything,
)
raw_frames = st.one_of(
    st.binary(min_size=RAW_FRAME_BYTES, max_size=RAW_FRAME_BYTES).map(lambda b: RAW_MAGIC + b[4:]),
    st.binary(max_size=64).map(lambda b: RAW_MAGIC + b),
)


def as_json(message: object) -> str | None:
    try:
        return json.dumps(message, allow_nan=False)
    except (ValueError, OverflowError):
        return None  # NaN or inf: JSON has no way to say them (a client sending "NaN" is tested elsewhere)


def as_msgpack(message: object) -> bytes | None:
    try:
        return msgspec.msgpack.encode(message)
    except (OverflowError, TypeError):
        return None


# ---------------------------------------------------------------------------- the server's side


class Errors(logging.Handler):
    """Every ERROR the server logs (an exception it did not expect)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def errors():
    handler = Errors()
    loggers = [logging.getLogger(name) for name in ("swingsync_fast", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


def _alive(ws) -> None:
    """The socket still answers a ping (after everything queued before it)."""
    ws.send(json.dumps({"type": "ping"}))
    while recv(ws)["type"] != "pong":
        pass


def _drain(ws) -> None:
    try:
        while True:
            ws.recv(timeout=0.005)
    except TimeoutError:
        pass


def _fuzz(ws, strategy, encoders, errors: Errors) -> None:
    @hypothesis.settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(strategy)
    def one(message: object) -> None:
        for encode in encoders:
            payload = encode(message)
            if payload is not None:
                ws.send(payload)
        _drain(ws)

    try:
        one()
        _alive(ws)
    except ConnectionClosed as exc:
        raise AssertionError(f"the server closed the socket: {exc.rcvd}") from None
    assert not errors.records, [r.getMessage() for r in errors.records]


@pytest.mark.parametrize("layout", ["seed", "compact", "binary"])
def test_the_main_socket_answers_any_message_in_any_layout(server, errors, layout):
    with server.socket(f"fuzz-{layout}") as ws:
        start(ws, {"frame_layout": layout})
        _fuzz(ws, main_messages, [as_json, as_msgpack], errors)


def test_the_main_socket_answers_any_raw_frame(server, errors):
    with server.socket("fuzz-raw") as ws:
        ws.send(msgspec.msgpack.encode({"type": "start_session", "data": {"config": {"frame_layout": "binary"}}}))
        assert recv(ws)["type"] == "session_started"
        _fuzz(ws, raw_frames, [lambda b: b], errors)


def test_the_main_socket_answers_any_message_before_a_session(server, errors):
    with server.socket("fuzz-none") as ws:
        _fuzz(ws, main_messages, [as_json, as_msgpack], errors)


def test_the_coaching_socket_answers_any_message(server, errors):
    created = server.http.post("/api/v1/stream/sessions", json={"participants": ["fuzz-stu"]},
                               headers=server.auth("fuzz-coach", "coach"))
    sid = created.json()["session_id"]
    url = (f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/coaching/{sid}"
           f"?user_id=fuzz-coach&token={server.token('fuzz-coach', 'coach')}")
    with connect(url, open_timeout=10, max_queue=None) as ws:
        assert recv(ws)["type"] == "session_state"
        _fuzz(ws, coaching_messages, [as_json, as_msgpack], errors)


def test_the_monitor_socket_answers_any_message(server, errors):
    url = f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/monitor/fuzz-m?token={server.token('fuzz-m')}"
    with connect(url, open_timeout=10, max_queue=None) as ws:
        _fuzz(ws, main_messages, [as_json], errors)


# ---------------------------------------------------------------------------- REST


ST = shutil.which("st", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(ST is None, reason="schemathesis is not installed (pip install -e '.[test]')")
@pytest.mark.parametrize(("operations", "excluded", "examples"), [
    (["--exclude-path", "/api/v1/analyze", "--exclude-path", "/api/v1/analyze/video"], [], 25),
    # Uploads are big: no coverage phase (its thousands of boundary cases of the config's fields
    # are run on POST /api/v1/stream/sessions, which takes the same config).
    (["--include-path", "/api/v1/analyze", "--phases", "examples,fuzzing,stateful"], ["positive_data_acceptance"], 25),
    # A schema says "binary", not "a video a person is in": those bytes are refused (415, 422).
    (["--include-path", "/api/v1/analyze/video", "--phases", "examples,fuzzing,stateful"],
     ["positive_data_acceptance"], 25),
])
def test_the_rest_api_is_what_openapi_json_says(server, tmp_path, operations, excluded, examples):
    token = server.token("fuzz-admin", "admin")
    command = [ST, "run", f"http://127.0.0.1:{server.port}/openapi.json", "-H", f"Authorization: Bearer {token}",
               "--max-examples", str(examples), "--seed", "16", "--generation-deterministic", "--no-color",
               "--workers", "1", *operations]
    if excluded:
        command += ["--exclude-checks", ",".join(excluded)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    assert "No issues found" in done.stdout or "passed" in done.stdout, done.stdout[-3000:]
