"""Server-side per-frame budget: decode -> ring slot -> kernel -> encode, in every layout.

What is timed is ``Connection.receive``, the exact code the socket loop runs
for a message (rate limit, decode, write into the analyser's slot, commit,
encode the reply), minus the socket itself. Budgets (medians) are asserted
here, never in tests/. Run with ``make bench``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from time import perf_counter_ns

import msgspec
import numpy as np
import pytest

from swingsync_fast.landmarks import LANDMARK_NAMES
from swingsync_fast.server.auth import Principal, Role
from swingsync_fast.server.stream.connection import Connection
from swingsync_fast.server.stream.limits import UserBudget
from swingsync_fast.server.protocol.stream import RAW_HEADER, RAW_MAGIC
from swingsync_fast.server.sessions import Sessions
from swingsync_fast.server.settings import Settings
from swingsync_fast.server.storage.postgres import PostgresSessionStore
from swingsync_fast.server.storage.sqlite import SQLiteSessionStore
from swingsync_fast.server.storage.base import SessionStore
from swingsync_fast.server.storage.memory import MemorySessionStore
from swingsync_fast.simulator import random_swing_spec, simulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import postgres  # noqa: E402  (tests/postgres.py: a database of the run's own)
from postgres import pg_database  # noqa: E402, F401  (a fixture)

SEED_JSON_BUDGET_S = 50e-6
COMPACT_BUDGET_S = 15e-6
ROUNDS = 20000


@pytest.fixture(scope="module")
def stream():
    rng = np.random.default_rng(3)
    specs = [random_swing_spec(rng, club="driver") for _ in range(3)]
    return simulate(specs, club="driver", fps=30.0, noise_m=0.004, seed=3)


def _seed(i: int, t: float, frame: np.ndarray) -> str:
    keypoints = {
        name: {"x": x, "y": y, "z": z, "visibility": v}
        for name, (x, y, z, v) in zip(LANDMARK_NAMES, frame.tolist())
    }
    return json.dumps({"type": "frame_data", "data": {"frame_index": i, "timestamp": t, "keypoints": keypoints}})


def _compact(i: int, t: float, frame: np.ndarray) -> str:
    data = {"frame_index": i, "timestamp": t, "keypoints": frame.ravel().tolist()}
    return json.dumps({"type": "frame_data", "data": data})


def _raw(i: int, t: float, frame: np.ndarray) -> bytes:
    return RAW_HEADER.pack(RAW_MAGIC, i, t) + frame.astype("<f4").tobytes()


def _msgpack(i: int, t: float, frame: np.ndarray) -> bytes:
    data = {"frame_index": i, "timestamp": t, "keypoints": frame.ravel().tolist()}
    return msgspec.msgpack.encode({"type": "frame_data", "data": data})


LAYOUTS = {
    # name: (frame encoder, the reply layout the session asks for, budget)
    "seed_json": (_seed, "seed", SEED_JSON_BUDGET_S),
    "compact_json": (_compact, "compact", COMPACT_BUDGET_S),
    "binary_raw_float32": (_raw, "binary", COMPACT_BUDGET_S),
    "binary_msgpack": (_msgpack, "binary", COMPACT_BUDGET_S),
}


class _Streamer:
    """A connection with a live session, replaying the stream; a new session each time round."""

    def __init__(self, payloads: list, layout: str, store: SessionStore | None = None, record: bool = False,
                 user_budget: UserBudget | None = None) -> None:
        settings = Settings(secret_key="bench" * 8, frames_per_second=1e9, frame_burst=10**9)
        self.loop = asyncio.new_event_loop()
        self.store = store or MemorySessionStore()
        self.loop.run_until_complete(self.store.open())
        self.sessions = Sessions(self.store)
        self.conn = Connection(Principal("bench", Role.PLAYER), settings, self.sessions, None, perf_counter_ns(),
                               user_budget)
        config = {"frame_layout": layout, "record_frames": record, "baseline": {}}
        self.start = json.dumps({"type": "start_session", "data": {"config": config}})
        self.payloads = payloads
        self.k = -1
        self.replies = 0
        self.controls = 0  # start_session and end_session messages sent between runs of the stream

    def _restart(self) -> None:
        if self.conn.session is not None:
            self.conn.receive('{"type": "end_session"}', perf_counter_ns())
            self.loop.run_until_complete(self.conn.run_control())
            self.controls += 1
        self.conn.receive(self.start, perf_counter_ns())
        self.controls += 1
        self.loop.run_until_complete(self.conn.run_control())
        assert self.conn.session is not None, self.conn.outbox
        self.conn.outbox.clear()

    def setup(self):
        self.k += 1
        i = self.k % len(self.payloads)
        if i == 0:
            self._restart()
        return (self.payloads[i],), {}

    def receive(self, payload) -> None:
        reply = self.conn.receive(payload, perf_counter_ns())
        if reply is not None:
            self.replies += 1
        if self.conn.outbox:
            self.conn.outbox.clear()


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_frame_decode_analyse_encode(benchmark, stream, name):
    encode, layout, budget = LAYOUTS[name]
    payloads = [
        encode(i, t, frame)
        for i, t, frame in zip(stream.frame_indices.tolist(), stream.timestamps.tolist(), stream.keypoints)
    ]
    streamer = _Streamer(payloads, layout)
    benchmark.extra_info["message_bytes"] = len(payloads[0])
    benchmark.pedantic(streamer.receive, setup=streamer.setup, rounds=ROUNDS, warmup_rounds=500)
    # Every frame was analysed and answered: nothing was dropped, skipped or rejected.
    assert streamer.replies == ROUNDS + 500
    assert benchmark.stats.stats.median <= budget


@pytest.mark.parametrize("record", [False, True], ids=["swings", "swings_and_frames"])
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_frame_with_history(benchmark, stream, tmp_path, request, kind, record):
    """The seed path with a database: each swing's summary (and with record_frames, each frame) is
    queued, for SQLite to the writer thread, which commits them while the frames are timed; for
    PostgreSQL to the store's queue, written when the loop runs (each session's end here)."""
    payloads = [
        _seed(i, t, frame)
        for i, t, frame in zip(stream.frame_indices.tolist(), stream.timestamps.tolist(), stream.keypoints)
    ]
    if kind == "sqlite":
        make = lambda: SQLiteSessionStore(tmp_path / "bench.db")  # noqa: E731
    else:
        url = postgres.create_schema(request.getfixturevalue("pg_database"))
        make = lambda: PostgresSessionStore(url)  # noqa: E731
    store = make()
    streamer = _Streamer(payloads, "seed", store, record)
    benchmark.pedantic(streamer.receive, setup=streamer.setup, rounds=ROUNDS, warmup_rounds=500)
    streamer.loop.run_until_complete(store.close())
    swings = asyncio.run(_count_swings(make()))
    benchmark.extra_info["swings_written"] = swings
    assert streamer.replies == ROUNDS + 500 and swings >= 60
    assert benchmark.stats.stats.median <= SEED_JSON_BUDGET_S


def test_frame_with_a_user_budget(benchmark, stream):
    """The seed path with the per-user limit on (SWINGSYNC_USER_FRAMES_PER_SECOND): one more counter
    a frame, against this process's share of the user's rate."""
    payloads = [
        _seed(i, t, frame)
        for i, t, frame in zip(stream.frame_indices.tolist(), stream.timestamps.tolist(), stream.keypoints)
    ]
    budget = UserBudget(1e9)  # never refilled here: it must not run out
    streamer = _Streamer(payloads, "seed", user_budget=budget)
    benchmark.pedantic(streamer.receive, setup=streamer.setup, rounds=ROUNDS, warmup_rounds=500)
    # Every message took one of the user's tokens: the frames, and the start_session and
    # end_session that open a new session each time the stream runs out (not timed).
    assert streamer.replies == ROUNDS + 500 and streamer.controls > 0
    assert budget.demand == ROUNDS + 500 + streamer.controls
    assert benchmark.stats.stats.median <= SEED_JSON_BUDGET_S


async def _count_swings(store: SessionStore) -> int:
    await store.open()
    try:
        return len(await store.user_swings("bench", None, 10**6))
    finally:
        await store.close()
