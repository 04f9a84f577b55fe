"""The server's small parts on their own, with a hand-driven clock: exact edges the socket tests cannot pin."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import msgspec
import numpy as np
import pytest

from swingsync_fast.landmarks import LANDMARK_NAMES
from swingsync_fast.server.auth import KeyFileError, load_or_create_key
from swingsync_fast.server.stream.latency import BOUNDS_US, LatencyHistogram
from swingsync_fast.server.stream.limits import NS, Admission, BadMessageRun, FloodGuard, RateLimiter
from swingsync_fast.server.stream.codec import FrameError, RawFrameReader
from swingsync_fast.server.protocol.stream import RAW_HEADER, RAW_MAGIC, RAW_WORLD_MAGIC, StreamConfig
from swingsync_fast.server.stream.session import RECOVER_AFTER_FRAMES, StreamSession
from swingsync_fast.server.settings import Settings
from swingsync_fast.server.storage.memory import MemorySessionStore
from swingsync_fast.server.storage.records import SessionRecord, SessionState, StoredMessage

MS = NS // 1000


def test_histogram_quantiles_come_from_the_buckets():
    h = LatencyHistogram()
    assert h.summary().count == 0 and h.quantile(0.5) is None
    for us in [12] * 50 + [45] * 45 + [900] * 5:
        h.record(us * 1000)
    s = h.summary()
    assert s.count == 100 and s.max_us == 900.0 and s.mean_us == pytest.approx((600 + 2025 + 4500) / 100, abs=0.1)
    assert 10 < s.p50_us <= 15  # inside the 10-15 us bucket
    assert 40 < s.p95_us <= 50
    assert 800 < s.p99_us <= 900  # capped by the largest value seen
    other = LatencyHistogram()
    other.record(2_000_000_000)  # beyond the last bound
    h.merge(other)
    assert h.count == 101 and h.summary().max_us == 2_000_000.0
    assert h.quantile(1.0) == 2_000_000.0 and len(h.counts) == len(BOUNDS_US) + 1
    with pytest.raises(ValueError):
        h.quantile(1.5)


def test_token_bucket_allows_the_burst_then_the_rate():
    limiter = RateLimiter(60, 90, flood_window_s=1.0, flood_windows=3, now_ns=0)
    assert [limiter.admit(0) for _ in range(90)] == [Admission.ADMITTED] * 90
    assert limiter.admit(0) is Admission.DROPPED_WARN
    assert limiter.admit(1) is Admission.DROPPED  # warned already this second
    assert limiter.admit(NS // 60 + 1) is Admission.ADMITTED  # one token back after 1/60 s
    assert limiter.admit(NS // 60 + 2) is Admission.DROPPED
    later = NS + NS // 120  # 59 and a half intervals after the last admitted message
    refilled = [limiter.admit(later) for _ in range(60)]
    assert refilled.count(Admission.ADMITTED) == 59
    assert refilled[59] is Admission.DROPPED_WARN  # a second after the last warning: warn again
    assert limiter.dropped == 4
    # A long quiet spell refills to the burst, not beyond.
    quiet = 100 * NS
    assert sum(limiter.admit(quiet) is Admission.ADMITTED for _ in range(200)) == 90


def test_flood_needs_consecutive_flooded_windows():
    guard = FloodGuard(threshold=3, window_s=1.0, windows=3, now_ns=0)
    assert not any(guard.dropped(0) for _ in range(10))  # window 0 flooded
    assert not any(guard.dropped(NS) for _ in range(3))  # window 1 flooded
    assert not guard.dropped(2 * NS) and not guard.dropped(2 * NS)
    assert guard.dropped(2 * NS)  # window 2: the third in a row
    fresh = FloodGuard(threshold=3, window_s=1.0, windows=2, now_ns=0)
    assert not any(fresh.dropped(0) for _ in range(3))
    assert not any(fresh.dropped(2 * NS) for _ in range(3))  # a gap (window 1 quiet) breaks the run
    assert fresh.dropped(3 * NS + 1) is False and fresh.dropped(3 * NS + 2) is False
    assert fresh.dropped(3 * NS + 3) is True
    light = FloodGuard(threshold=3, window_s=1.0, windows=2, now_ns=0)
    assert not any(light.dropped(k * NS) for k in range(20))  # one drop a window is no flood


def test_bad_message_run_resets_on_a_good_one():
    run = BadMessageRun(3)
    assert (run.bad(), run.bad()) == (False, False)
    run.good()
    assert (run.bad(), run.bad(), run.bad()) == (False, False, True)
    assert run.total == 5


def _session(**config) -> StreamSession:
    record = SessionRecord(session_id="s", user_id="u", session_name="", config=StreamConfig(**config),
                           state=SessionState.ACTIVE, created_at=0.0)
    return StreamSession(record, config.get("frame_layout", "seed"))  # type: ignore[arg-type]


def test_session_degrades_over_target_and_recovers_after_calm_frames():
    session = _session(target_latency_ms=2.0)
    session.sent(1 * MS)
    assert not session.degraded
    session.sent(3 * MS)
    assert session.degraded
    for _ in range(RECOVER_AFTER_FRAMES - 1):
        session.sent(1 * MS)
    session.sent(int(1.5 * MS))  # under the target but not calm: the count starts again
    assert session.degraded
    for _ in range(RECOVER_AFTER_FRAMES):
        session.sent(1 * MS)
    assert not session.degraded
    assert session.latency.count == 2 + 2 * RECOVER_AFTER_FRAMES


def test_settings_from_environment():
    settings = Settings.from_env({
        "SECRET_KEY": "s3cret", "SWINGSYNC_MAX_CONNECTIONS_PER_USER": "2", "SWINGSYNC_IDLE_TIMEOUT_S": "1.5",
        "SWINGSYNC_DEV_NO_AUTH": "yes", "SWINGSYNC_KEY_FILE": "/tmp/k",
    })
    assert settings.secret_key == "s3cret" and settings.max_connections_per_user == 2
    assert settings.idle_timeout_s == 1.5 and settings.dev_no_auth is True and settings.key_file == Path("/tmp/k")
    with pytest.raises(ValueError, match="SWINGSYNC_FRAME_BURST"):
        Settings.from_env({"SWINGSYNC_FRAME_BURST": "lots"})
    with pytest.raises(ValueError, match="SWINGSYNC_DEV_NO_AUTH"):
        Settings.from_env({"SWINGSYNC_DEV_NO_AUTH": "perhaps"})
    with pytest.raises(ValueError, match="idle_timeout_s"):
        Settings(idle_timeout_s=0)


def test_key_file_is_created_owner_only_and_reused(tmp_path):
    path = tmp_path / "key"
    key, created = load_or_create_key(path)
    assert created and len(key) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == (key, False)
    os.chmod(path, 0o640)
    with pytest.raises(KeyFileError, match="open to other users"):
        load_or_create_key(path)
    os.chmod(path, 0o600)
    path.write_text("short")
    with pytest.raises(KeyFileError, match="no usable key"):
        load_or_create_key(path)


def test_memory_store_keeps_a_bounded_number_of_ended_sessions():
    asyncio.run(_store_scenario())


async def _store_scenario() -> None:
    store = MemorySessionStore(ended_kept=2)
    records = [SessionRecord(session_id=str(i), user_id="u", session_name="", config=StreamConfig(),
                             state=SessionState.CREATED, created_at=float(i)) for i in range(4)]
    for r in records:
        await store.add(r)
    for r in records[:3]:
        r.state = SessionState.ENDED
        await store.save(r)
    assert await store.get("0") is None and await store.get("1") is not None  # oldest ended went
    assert [r.session_id for r in await store.visible_to("u", False, 10)] == ["3", "2", "1"]
    assert await store.visible_to("someone", False, 10) == []
    assert await store.delete("3") and not await store.delete("3")


def test_memory_store_keeps_each_sessions_last_messages_in_order():
    asyncio.run(_messages_scenario())


async def _messages_scenario() -> None:
    store = MemorySessionStore(messages_kept=3)
    await store.add(SessionRecord(session_id="c", user_id="coach", session_name="", config=StreamConfig(),
                                  state=SessionState.CREATED, created_at=0.0))
    for i in range(5):
        body = msgspec.json.encode({"type": "coaching_tip", "data": {"tip": f"tip {i}"}})
        await store.add_message(StoredMessage(session_id="c", sender="coach", type="coaching_tip",
                                              sent_at=float(i), body=msgspec.Raw(body)))
    kept = await store.messages("c", 50)
    assert [m.sent_at for m in kept] == [2.0, 3.0, 4.0]  # the last three, oldest first
    assert [m.sent_at for m in await store.messages("c", 2)] == [3.0, 4.0]
    assert msgspec.json.decode(kept[-1].body)["data"]["tip"] == "tip 4"
    assert await store.messages("unknown", 50) == []
    with pytest.raises(KeyError):
        await store.add_message(StoredMessage(session_id="gone", sender="x", type="coaching_tip",
                                              sent_at=0.0, body=msgspec.Raw(b"{}")))
    await store.delete("c")
    assert await store.messages("c", 50) == []


def _raw_frame(keypoints: np.ndarray, index: int = 3, t: float = 0.5) -> bytes:
    return RAW_HEADER.pack(RAW_MAGIC, index, t) + keypoints.astype("<f4").tobytes()


@pytest.mark.parametrize(
    "where, value, accepted",
    [
        ((0, 0), 1000.0, True), ((0, 1), -1000.0, True), ((4, 3), 0.0, True), ((4, 3), 1.0, True),
        ((0, 0), 1000.0001, False), ((9, 2), -1000.5, False), ((4, 3), 1.0001, False), ((4, 3), -0.01, False),
        ((4, 3), -0.0, False), ((2, 1), np.nan, False), ((2, 3), np.nan, False), ((5, 0), np.inf, False),
        ((5, 2), -np.inf, False),
    ],
)
def test_raw_frames_are_range_checked_exactly(where, value, accepted):
    reader = RawFrameReader()
    slot = np.zeros((33, 4), np.float32)
    keypoints = np.full((33, 4), 0.5, np.float32)
    keypoints[where] = value
    world = np.zeros((33, 4), np.float32)
    if accepted:
        assert reader.read_into(slot, _raw_frame(keypoints), world) == (3, 0.5, False)
        assert np.array_equal(slot, keypoints)
    else:
        with pytest.raises(FrameError) as caught:
            reader.read_into(slot, _raw_frame(keypoints), world)
        name = LANDMARK_NAMES[where[0]]
        assert str(caught.value).startswith(f"{name}.{('x', 'y', 'z', 'visibility')[where[1]]}")


def test_raw_frame_headers_are_checked():
    reader, slot, frame = RawFrameReader(), np.zeros((33, 4), np.float32), np.zeros((33, 4), np.float32)
    body = frame.astype("<f4").tobytes()
    for header, words in [
        (RAW_HEADER.pack(RAW_MAGIC, 1, -0.5), "timestamp"),
        (RAW_HEADER.pack(RAW_MAGIC, 1, np.nan), "timestamp"),
        (RAW_HEADER.pack(RAW_MAGIC, 2**31, 1.0), "frame_index"),
        (RAW_HEADER.pack(b"SSF9", 1, 1.0), "starts with"),
        (RAW_HEADER.pack(RAW_WORLD_MAGIC, 1, 1.0), "1072 bytes"),  # world frames carry both sets
    ]:
        with pytest.raises(FrameError, match=words):
            reader.read_into(slot, header + body, frame)
    with pytest.raises(FrameError, match="544 bytes"):
        reader.read_into(slot, RAW_HEADER.pack(RAW_MAGIC, 1, 1.0) + body + b"\0", frame)


def test_raw_world_frames_fill_both_slots_and_check_both():
    reader, slot, world = RawFrameReader(), np.zeros((33, 4), np.float32), np.zeros((33, 4), np.float32)
    image = np.full((33, 4), 0.5, np.float32)
    metres = np.full((33, 4), -0.25, np.float32)
    metres[:, 3] = 0.9
    payload = RAW_HEADER.pack(RAW_WORLD_MAGIC, 7, 1.5) + image.astype("<f4").tobytes() + metres.astype("<f4").tobytes()
    assert reader.read_into(slot, payload, world) == (7, 1.5, True)
    assert np.array_equal(slot, image) and np.array_equal(world, metres)
    metres[12, 1] = np.nan
    bad = RAW_HEADER.pack(RAW_WORLD_MAGIC, 8, 1.6) + image.astype("<f4").tobytes() + metres.astype("<f4").tobytes()
    with pytest.raises(FrameError, match="^world right_shoulder.y"):
        reader.read_into(slot, bad, world)


def test_the_feedback_lanes_settings_are_its_config_fields_with_feedback_in_front():
    from swingsync_fast.feedback.lane import LaneConfig

    fields = set(Settings.__struct_fields__)
    assert [name for name in LaneConfig.__struct_fields__ if f"feedback_{name}" not in fields] == ["recent_swings"]
