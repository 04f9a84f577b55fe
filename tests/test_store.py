"""The SessionStore contract, held by both stores alike; the SQLite file's schema and migrations."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import msgspec
import pytest

from swingsync_fast.analyzer import SwingSummary
from swingsync_fast.server.protocol import StreamConfig
from swingsync_fast.server.registry import new_record
from swingsync_fast.server.sqlite_store import SCHEMA_VERSION, SQLiteSessionStore, SchemaTooNew, connect, migrate
from swingsync_fast.server.store import (
    MemorySessionStore,
    RecordedFrame,
    SessionState,
    StoredFeedback,
    StoredMessage,
    StoredSwing,
    open_store,
)


def _summary(index: int, sway: float | None = 0.05) -> SwingSummary:
    return SwingSummary(
        swing_index=index, takeaway_frame=10 * index, top_frame=10 * index + 3, impact_frame=10 * index + 5,
        finish_frame=10 * index + 9, takeaway_time=index, top_time=index + 0.8, impact_time=index + 1.07,
        finish_time=index + 2.0, backswing_s=0.8, downswing_s=0.27, follow_through_s=0.93,
        tempo_ratio=2.96, peak_x_factor=40.0 + index, kpis_address={"shoulder_turn": 0.0},
        kpis_top={"shoulder_turn": 90.0, "hip_turn": None}, kpis_impact={"spine_tilt": 30.0}, faults=[],
        fault_metrics={"SWAY": sway},
    )


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    made = MemorySessionStore() if request.param == "memory" else SQLiteSessionStore(tmp_path / "s.db")
    asyncio.run(made.open())
    yield made
    asyncio.run(made.close())


def run(coro):
    return asyncio.run(coro)


def test_records_members_and_visibility(store):
    async def scenario():
        now = time.time()
        a = new_record("alice", StreamConfig(club_used="7 iron"), SessionState.CREATED, now, ["coach"])
        b = new_record("alice", StreamConfig(), SessionState.ACTIVE, now + 1)
        c = new_record("bob", StreamConfig(), SessionState.ACTIVE, now + 2)
        for r in (a, b, c):
            await store.add(r)
        with pytest.raises(KeyError):
            await store.add(a)
        got = await store.get(a.session_id)
        assert got == a and got.config.club_used == "iron"
        ended = msgspec.structs.replace(b, state=SessionState.ENDED, ended_at=now + 5, end_reason="client_ended")
        await store.save(ended)
        assert await store.get(b.session_id) == ended
        assert [r.session_id for r in await store.visible_to("alice", False, 10)] == [b.session_id, a.session_id]
        assert [r.session_id for r in await store.visible_to("coach", False, 10)] == [a.session_id]
        assert len(await store.visible_to("root", True, 10)) == 3
        assert [r.session_id for r in await store.user_sessions("alice", None, 10)] == [b.session_id, a.session_id]
        assert [r.session_id for r in await store.user_sessions("alice", "coach", 10)] == [a.session_id]
        assert await store.user_sessions("alice", "bob", 10) == []
        assert await store.delete(c.session_id) and not await store.delete(c.session_id)
        assert await store.get(c.session_id) is None
        with pytest.raises(KeyError):
            await store.save(c)

    run(scenario())


def test_swings_feedback_frames_and_messages(store):
    async def scenario():
        now = time.time()
        a = new_record("alice", StreamConfig(), SessionState.ACTIVE, now, ["coach"])
        b = new_record("alice", StreamConfig(club_used="PW"), SessionState.ACTIVE, now + 1)
        await store.add(a)
        await store.add(b)
        for i in (1, 2, 3):
            store.add_swing(StoredSwing(session_id=a.session_id, user_id="alice", club="driver",
                                        ended_at=now + i, summary=_summary(i)))
        store.add_swing(StoredSwing(session_id=b.session_id, user_id="alice", club="wedge",
                                    ended_at=now + 10, summary=_summary(1, sway=None)))
        store.add_swing(StoredSwing(session_id="no-such-session", user_id="alice", club="driver",
                                    ended_at=now, summary=_summary(9)))  # dropped, never raised
        store.add_feedback(StoredFeedback(session_id=a.session_id, swing_index=2, feedback_id="f1",
                                          source="offline", text="Keep your hips still.", created_at=now))
        frame = RecordedFrame(7, 0.25, bytes(range(256)) * 2 + bytes(16))
        store.add_frames(a.session_id, [frame, RecordedFrame(8, 0.5, frame.keypoints)])
        await store.add_message(StoredMessage(session_id=a.session_id, sender="coach", type="coaching_tip",
                                              sent_at=now, body=msgspec.Raw(b'{"type":"coaching_tip"}')))
        with pytest.raises(KeyError):
            await store.add_message(StoredMessage(session_id="nope", sender="x", type="t", sent_at=now,
                                                  body=msgspec.Raw(b"{}")))
        swings = await store.swings(a.session_id)
        assert [s.summary for s in swings] == [_summary(1), _summary(2), _summary(3)]
        assert [s.summary.swing_index for s in await store.user_swings("alice", None, 10)] == [1, 3, 2, 1]
        assert [s.club for s in await store.user_swings("alice", None, 2)] == ["wedge", "driver"]
        assert [s.summary.swing_index for s in await store.user_swings("alice", None, 10, club="driver")] == [3, 2, 1]
        assert len(await store.user_swings("alice", "coach", 10)) == 3
        assert await store.user_swings("alice", "bob", 10) == []
        assert [f.text for f in await store.feedback(a.session_id)] == ["Keep your hips still."]
        assert await store.frames(a.session_id) == [frame, RecordedFrame(8, 0.5, frame.keypoints)]
        assert await store.frames(b.session_id) == []
        messages = await store.messages(a.session_id, 5)
        assert [(m.sender, bytes(m.body)) for m in messages] == [("coach", b'{"type":"coaching_tip"}')]
        await store.delete(a.session_id)
        assert await store.swings(a.session_id) == [] and await store.feedback(a.session_id) == []
        assert await store.frames(a.session_id) == [] and await store.messages(a.session_id, 5) == []

    run(scenario())


def test_sqlite_keeps_everything_across_reopen_and_ends_orphaned_sessions(tmp_path):
    path = tmp_path / "s.db"

    async def first() -> tuple[str, str]:
        store = SQLiteSessionStore(path)
        await store.open()
        live = new_record("alice", StreamConfig(), SessionState.ACTIVE, time.time())
        live.started_at = live.created_at
        waiting = new_record("alice", StreamConfig(), SessionState.CREATED, time.time())
        await store.add(live)
        await store.add(waiting)
        store.add_swing(StoredSwing(session_id=live.session_id, user_id="alice", club="driver",
                                    ended_at=live.created_at + 3, summary=_summary(1)))
        await store.close()  # flushes the queued swing
        return live.session_id, waiting.session_id

    async def second(live_id: str, waiting_id: str) -> None:
        store = SQLiteSessionStore(path)
        await store.open()
        assert store.recovered == 1
        record = await store.get(live_id)
        assert (record.state, record.end_reason) == (SessionState.ENDED, "server_restart")
        assert record.ended_at == (await store.swings(live_id))[0].ended_at  # its last known swing
        assert (await store.get(waiting_id)).state is SessionState.CREATED  # still attachable
        await store.close()

    run(second(*run(first())))


def test_a_version_1_file_is_migrated_and_its_data_kept(tmp_path):
    path = tmp_path / "v1.db"
    conn = connect(path)
    assert migrate(conn, target=1) == 1
    record = new_record("alice", StreamConfig(), SessionState.ENDED, 1000.0)
    old_summary = msgspec.json.encode(_summary(1)).replace(b',"fault_metrics":{"SWAY":0.05}', b"")
    assert b"fault_metrics" not in old_summary  # as version 1 servers wrote it
    conn.execute("INSERT INTO sessions VALUES (?, 'alice', 'ended', 1000, NULL, NULL, NULL, ?)",
                 (record.session_id, msgspec.json.encode(record).decode()))
    conn.execute("INSERT INTO swings (session_id, user_id, swing_index, ended_at, club, summary) "
                 "VALUES (?, 'alice', 1, 1001, 'driver', ?)", (record.session_id, old_summary.decode()))
    assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}.isdisjoint({"frames"})
    conn.close()

    async def scenario():
        store = SQLiteSessionStore(path)
        await store.open()
        assert await store.get(record.session_id) == record
        (swing,) = await store.swings(record.session_id)
        assert swing.summary.fault_metrics == {} and swing.summary.peak_x_factor == 41.0
        store.add_frames(record.session_id, [RecordedFrame(0, 0.0, bytes(528))])  # the version 2 table
        assert len(await store.frames(record.session_id)) == 1
        await store.close()

    run(scenario())
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


def test_a_file_from_a_newer_server_is_refused(tmp_path):
    path = tmp_path / "new.db"
    conn = connect(path)
    migrate(conn)
    conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(SchemaTooNew, match=f"schema version {SCHEMA_VERSION + 1}"):
        run(SQLiteSessionStore(path).open())


@pytest.mark.parametrize("url, kind", [("memory://", MemorySessionStore), ("sqlite:///x.db", SQLiteSessionStore)])
def test_database_url(url, kind):
    assert type(open_store(url)) is kind
    assert open_store("sqlite:////tmp/abs.db").path.as_posix() == "/tmp/abs.db"


@pytest.mark.parametrize("url", ["postgres://db/x", "sqlite://", "swingsync.db"])
def test_a_database_url_we_cannot_open_is_refused(url):
    with pytest.raises(ValueError, match="DATABASE_URL"):
        open_store(url)
