"""The SessionStore contract, held by every store alike (memory, SQLite, PostgreSQL); schemas and
migrations; several processes sharing one database; a PostgreSQL outage."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec
import pytest

from swingsync_fast.analyzer import SwingSummary
from swingsync_fast.server.protocol.figures import SessionStats
from swingsync_fast.server.protocol.stream import StreamConfig
from swingsync_fast.server.sessions import new_record
from swingsync_fast.server.storage import postgres as pg_store
from swingsync_fast.server.storage.postgres import PostgresSessionStore
from swingsync_fast.server.storage.sqlite import SCHEMA_VERSION, migrate
from swingsync_fast.server.storage.sqlite import SQLiteSessionStore, connect
from swingsync_fast.server.storage.base import Liveness, SchemaTooNew
from swingsync_fast.server.storage.memory import MemorySessionStore
from swingsync_fast.server.storage.records import (
    RecordedFrame,
    SessionState,
    StoredFeedback,
    StoredMessage,
    StoredSwing,
)
from swingsync_fast.server.storage.url import open_store, redacted
from swingsync_fast.server.stream.latency import LatencyHistogram


def _summary(index: int, sway: float | None = 0.05) -> SwingSummary:
    return SwingSummary(
        swing_index=index, takeaway_frame=10 * index, top_frame=10 * index + 3, impact_frame=10 * index + 5,
        finish_frame=10 * index + 9, takeaway_time=index, top_time=index + 0.8, impact_time=index + 1.07,
        finish_time=index + 2.0, backswing_s=0.8, downswing_s=0.27, follow_through_s=0.93,
        tempo_ratio=2.96, peak_x_factor=40.0 + index, kpis_address={"shoulder_turn": 0.0},
        kpis_top={"shoulder_turn": 90.0, "hip_turn": None}, kpis_impact={"spine_tilt": 30.0}, faults=[],
        fault_metrics={"SWAY": sway},
    )


def _store_at(url: str, **options):
    """A store of the kind ``url`` names, for tests that open several on one database."""
    if url.startswith("sqlite:///"):
        return SQLiteSessionStore(url.removeprefix("sqlite:///"), **options)
    return PostgresSessionStore(url, **options)


def run(coro):
    return asyncio.run(coro)


def run_open(store, scenario) -> None:
    async def whole():
        await store.open()
        try:
            await scenario()
        finally:
            await store.close()

    run(whole())


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

    run_open(store, scenario)


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
        body = b'{"type":"coaching_tip", "data":{"tip":"Turn","priority":"high"}}'  # replayed byte for byte
        await store.add_message(StoredMessage(session_id=a.session_id, sender="coach", type="coaching_tip",
                                              sent_at=now, body=msgspec.Raw(body)))
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
        assert [(m.sender, bytes(m.body)) for m in messages] == [("coach", body)]
        await store.delete(a.session_id)
        assert await store.swings(a.session_id) == [] and await store.feedback(a.session_id) == []
        assert await store.frames(a.session_id) == [] and await store.messages(a.session_id, 5) == []

    run_open(store, scenario)


def test_unstarted_sessions_are_counted_per_user_and_expire_unless_coaching_is_in_use(store):
    async def scenario():
        now = time.time()
        old = new_record("ann", StreamConfig(), SessionState.CREATED, now - 100)
        lesson = new_record("ann", StreamConfig(), SessionState.CREATED, now - 100, ["stu"])
        fresh = new_record("ann", StreamConfig(), SessionState.CREATED, now)
        started = new_record("ann", StreamConfig(), SessionState.ACTIVE, now - 100)
        other = new_record("ben", StreamConfig(), SessionState.CREATED, now - 100)
        for record in (old, lesson, fresh, started, other):
            await store.add(record)
        await store.add_message(StoredMessage(session_id=lesson.session_id, sender="ann", type="coaching_tip",
                                              sent_at=now - 5, body=msgspec.Raw(b"{}")))
        assert await store.unstarted_count("ann") == 3
        assert await store.unstarted_count("ben") == 1
        assert await store.unstarted_count("nobody") == 0
        assert await store.expire_unstarted(now - 50, now) == 2  # old and other; lesson had a tip since
        for record, state in ((old, "ended"), (other, "ended"), (lesson, "created"), (fresh, "created"),
                              (started, "active")):
            kept = await store.get(record.session_id)
            assert kept.state.value == state, (record.session_id, kept)
        expired = await store.get(old.session_id)
        assert expired.end_reason == "expired" and expired.ended_at == now
        assert await store.unstarted_count("ann") == 2
        assert await store.expire_unstarted(now - 50, now) == 0

    run_open(store, scenario)


def test_a_checkpoint_updates_an_active_session_and_never_an_ended_one(store):
    async def scenario():
        now = time.time()
        live = new_record("cat", StreamConfig(), SessionState.ACTIVE, now)
        done = new_record("cat", StreamConfig(), SessionState.ENDED, now)
        await store.add(live)
        await store.add(done)
        figures = SessionStats(frames_received=7, frames_analysed=7, frames_skipped=0, frames_rejected=0,
                               frames_degraded=0, kpis_calculated=7, swings=0, faults_detected=0, duration_s=0.2,
                               latency=LatencyHistogram().summary())
        store.checkpoint(msgspec.structs.replace(live, stats=figures))
        store.checkpoint(msgspec.structs.replace(done, state=SessionState.ACTIVE, stats=figures))
        kept = await store.get(live.session_id)  # a read sees every queued write before it
        assert kept.state is SessionState.ACTIVE and kept.stats == figures
        ended = await store.get(done.session_id)
        assert ended.state is SessionState.ENDED and ended.stats is None

    run_open(store, scenario)


def test_everything_is_kept_across_reopen_and_a_closed_servers_sessions_are_ended(database_url):
    async def first() -> tuple[str, str]:
        store = _store_at(database_url)
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
        store = _store_at(database_url)
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


@pytest.mark.parametrize("url, kind", [
    ("memory://", MemorySessionStore), ("sqlite:///x.db", SQLiteSessionStore),
    ("postgresql://postgres@127.0.0.1:5432/swingsync", PostgresSessionStore),
    ("postgres://u:pw@db.example/swingsync", PostgresSessionStore),
])
def test_database_url(url, kind):
    assert type(open_store(url)) is kind
    assert open_store("sqlite:////tmp/abs.db").path.as_posix() == "/tmp/abs.db"


@pytest.mark.parametrize("url", ["mysql://db/x", "postgresql://", "sqlite://", "swingsync.db"])
def test_a_database_url_we_cannot_open_is_refused(url):
    with pytest.raises(ValueError, match="DATABASE_URL"):
        open_store(url)


def test_a_url_is_logged_without_its_password():
    assert redacted("postgresql://app:s3cret@db:5432/swings") == "postgresql://app:***@db:5432/swings"
    assert redacted("sqlite:///./swingsync.db") == "sqlite:///./swingsync.db"


# --------------------------------------------------------------------------- several processes, one database


def test_a_live_servers_sessions_are_left_alone_and_a_silent_ones_ended(database_url):
    """Two stores on one database stand for two processes; ``quiet`` never beats after opening,
    as if it had been killed; ``watcher`` beats often and trusts a silent server for 0.5 s."""

    async def scenario():
        quiet = _store_at(database_url, liveness=Liveness(heartbeat_s=3600, server_timeout_s=7200))
        watcher = _store_at(database_url, liveness=Liveness(heartbeat_s=0.05, server_timeout_s=0.5))
        await quiet.open()
        now = time.time()
        theirs = new_record("ana", StreamConfig(), SessionState.ACTIVE, now)
        theirs.started_at = now
        await quiet.add(theirs)
        quiet.add_swing(StoredSwing(session_id=theirs.session_id, user_id="ana", club="driver",
                                    ended_at=now + 2, summary=_summary(1)))
        await quiet.get(theirs.session_id)  # the swing is committed
        await watcher.open()  # the quiet server beat a moment ago: alive
        mine = new_record("ben", StreamConfig(), SessionState.ACTIVE, now)
        await watcher.add(mine)
        assert (await watcher.get(theirs.session_id)).state is SessionState.ACTIVE
        assert watcher.recovered == 0
        deadline = time.monotonic() + 10
        while (await watcher.get(theirs.session_id)).state is SessionState.ACTIVE:
            assert time.monotonic() < deadline, "the silent server's session was never ended"
            await asyncio.sleep(0.05)
        record = await watcher.get(theirs.session_id)
        assert (record.end_reason, record.ended_at) == ("server_restart", now + 2)  # at its last swing
        assert watcher.recovered == 1
        assert (await watcher.get(mine.session_id)).state is SessionState.ACTIVE  # its own: untouched
        await watcher.close()
        await quiet.close()

    run(scenario())


def test_processes_starting_together_migrate_once(database_url):
    async def scenario():
        stores = [_store_at(database_url) for _ in range(3)]  # each migrates on its own connection
        await asyncio.gather(*(s.open() for s in stores))
        if database_url.startswith("sqlite:///"):
            conn = sqlite3.connect(database_url.removeprefix("sqlite:///"))
            versions = conn.execute("SELECT version FROM schema_version").fetchall()
            servers = conn.execute("SELECT count(*) FROM servers").fetchone()[0]
            conn.close()
            assert versions == [(SCHEMA_VERSION,)]
        else:
            conn = await asyncpg.connect(database_url)
            versions = await conn.fetch("SELECT version FROM schema_version")
            servers = await conn.fetchval("SELECT count(*) FROM servers")
            await conn.close()
            assert [tuple(v) for v in versions] == [(pg_store.SCHEMA_VERSION,)]
        assert servers == 3
        await asyncio.gather(*(s.close() for s in stores))

    run(scenario())


def test_sqlite_and_postgresql_end_at_one_schema(tmp_path, pg_url):
    """Each driver keeps its own migrations (each has released databases to bring forward), so the
    two are held to the same tables and columns here, which the one SQL store's statements use."""
    lite = connect(tmp_path / "s.db")
    migrate(lite)
    tables = [name for (name,) in lite.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    in_sqlite = {(table, row[1]) for table in tables for row in lite.execute(f"PRAGMA table_info({table})")}
    lite.close()

    async def columns() -> set[tuple[str, str]]:
        store = PostgresSessionStore(pg_url)
        await store.open()
        await store.close()
        conn = await asyncpg.connect(pg_url)
        try:
            rows = await conn.fetch("SELECT table_name, column_name FROM information_schema.columns "
                                    "WHERE table_schema = current_schema()")
        finally:
            await conn.close()
        return {(row["table_name"], row["column_name"]) for row in rows}

    assert run(columns()) == in_sqlite


def test_a_postgres_database_from_a_newer_server_is_refused(pg_url):
    async def scenario():
        await (store := PostgresSessionStore(pg_url)).open()
        await store.close()
        conn = await asyncpg.connect(pg_url)
        await conn.execute("UPDATE schema_version SET version = $1", pg_store.SCHEMA_VERSION + 1)
        await conn.close()
        with pytest.raises(SchemaTooNew, match=f"schema version {pg_store.SCHEMA_VERSION + 1}"):
            await PostgresSessionStore(pg_url).open()

    run(scenario())


# --------------------------------------------------------------------------- a PostgreSQL outage


class Cable:
    """A TCP relay to PostgreSQL that the test can cut (every connection dropped, new ones hung up
    on at once) and mend: a real outage as the client sees one, without touching the server."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.cut = False
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_writer}

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except OSError:
                pass
            finally:
                sink.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    def sever(self) -> None:
        self.cut = True
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.sever()
        self._server.close()
        await self._server.wait_closed()


def test_an_outage_keeps_queued_writes_within_the_limit_and_writes_them_when_the_database_is_back(pg_url):
    parts = urlsplit(pg_url)

    async def scenario():
        cable = Cable((parts.hostname, parts.port or 5432))
        port = await cable.start()
        store = PostgresSessionStore(urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}")),
                                     flush_interval_s=0.02, queue_limit=4)
        await store.open()
        now = time.time()
        record = new_record("cleo", StreamConfig(), SessionState.ACTIVE, now)
        await store.add(record)

        def swing(i: int) -> StoredSwing:
            return StoredSwing(session_id=record.session_id, user_id="cleo", club="iron", ended_at=now + i,
                               summary=_summary(i))

        cable.sever()
        for i in (1, 2, 3):
            store.add_swing(swing(i))  # returns at once: queued
        await asyncio.sleep(0.3)  # the flusher has tried, failed and kept them
        assert store.queued == 3 and store.dropped == 0
        with pytest.raises(Exception) as failed:  # an awaited call fails; it does not hang
            await asyncio.wait_for(store.get(record.session_id), 30)
        assert not isinstance(failed.value, asyncio.TimeoutError)
        for i in (4, 5):
            store.add_swing(swing(i))  # the fifth finds the queue full
        assert (store.queued, store.dropped) == (4, 1)
        cable.cut = False  # mended: new connections get through
        assert [s.summary.swing_index for s in await store.swings(record.session_id)] == [1, 2, 3, 4]
        assert store.queued == 0
        await store.close()
        await cable.close()

    run(scenario())
