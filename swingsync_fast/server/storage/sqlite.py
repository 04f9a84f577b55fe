"""The session store in a SQLite file: WAL, one writer thread, batched commits, a versioned schema.

Every statement runs on the ``SQLiteWriter`` thread, never on the event
loop. Session records and messages are awaited (committed when the call
returns); swings, frames and feedback texts are queued and commit within
``flush_interval_s``. WAL with ``synchronous=NORMAL``: a commit survives the
process being killed (it is in the WAL file); only a power cut can take the
last ones.

Statements and rows are shared with the PostgreSQL store (``sql``).

Several processes on one machine may share the file (see ``store`` for the
heartbeat rule): every transaction begins ``IMMEDIATE``, taking the file's
write lock at once, so two writers queue on ``busy_timeout`` instead of one
failing to upgrade a read. They take turns, a batch each: PostgreSQL serves
many writers better.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import sqlite3
import time
from pathlib import Path

from . import sql
from .base import Liveness, SchemaTooNew, beat_forever, log_orphans_ended, new_server_id
from .records import RecordedFrame, SessionRecord, StoredFeedback, StoredMessage, StoredSwing
from .sql import qmark
from .sqlite_writer import SQLiteWriter

logger = logging.getLogger("swingsync_fast.server")

# MIGRATIONS[n] takes a file from version n to n + 1. Append, never edit a released one.
MIGRATIONS: tuple[str, ...] = (
    # 1: sessions, their members, coaching messages, swings, feedback texts
    """
    CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL,
        end_reason TEXT,
        record TEXT NOT NULL
    );
    CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
    CREATE INDEX sessions_by_state ON sessions (state);
    CREATE TABLE session_members (
        session_id TEXT NOT NULL REFERENCES sessions ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        PRIMARY KEY (session_id, user_id)
    );
    CREATE INDEX members_by_user ON session_members (user_id);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions ON DELETE CASCADE,
        sender TEXT NOT NULL,
        type TEXT NOT NULL,
        sent_at REAL NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX messages_by_session ON messages (session_id, id);
    CREATE TABLE swings (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        swing_index INTEGER NOT NULL,
        ended_at REAL NOT NULL,
        club TEXT NOT NULL,
        summary TEXT NOT NULL
    );
    CREATE INDEX swings_by_session ON swings (session_id, swing_index);
    CREATE INDEX swings_by_user ON swings (user_id, ended_at);
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions ON DELETE CASCADE,
        swing_index INTEGER NOT NULL,
        feedback_id TEXT NOT NULL,
        source TEXT NOT NULL,
        created_at REAL NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX feedback_by_session ON feedback (session_id, id);
    """,
    # 2: recorded frames (sessions started with record_frames)
    """
    CREATE TABLE frames (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions ON DELETE CASCADE,
        frame_index INTEGER NOT NULL,
        timestamp REAL NOT NULL,
        keypoints BLOB NOT NULL
    );
    CREATE INDEX frames_by_session ON frames (session_id, id);
    """,
    # 3: several processes on one file: each server's heartbeat, the server streaming a session
    """
    CREATE TABLE servers (
        server_id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at REAL NOT NULL,
        beat_at REAL NOT NULL
    );
    ALTER TABLE sessions ADD COLUMN server_id TEXT;
    CREATE INDEX sessions_active_by_server ON sessions (server_id) WHERE state = 'active';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    """The file's version; 0 for a new file."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return 0 if row is None else int(row[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the file up to ``target``, one migration per transaction; the version reached.

    Each step reads the version under the write lock (``BEGIN IMMEDIATE``), so of several processes
    starting together one migrates and the others then find the work done."""
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(conn)
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"the database is at schema version {version}; this server knows up to {SCHEMA_VERSION}")
            if version >= target:
                conn.execute("COMMIT")
                return version
            for statement in filter(str.strip, MIGRATIONS[version].split(";")):
                conn.execute(statement)
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version VALUES (?)", (version + 1,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        logger.info("database: migrated to schema version %d", version + 1)


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, foreign keys on."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


class SQLiteSessionStore:
    def __init__(
        self, path: str | Path, *, flush_interval_s: float = 0.25, liveness: Liveness = Liveness(),
        server_id: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.server_id = server_id or new_server_id()
        self.liveness = liveness
        self._writer = SQLiteWriter(self._open, flush_interval_s)
        self._started_at = time.time()
        self._heartbeat: asyncio.Task[None] | None = None
        self.recovered = 0  # sessions of servers that stopped beating, ended by this one

    def _open(self) -> sqlite3.Connection:
        conn = connect(self.path)
        try:
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    async def open(self) -> None:
        self._writer.start()
        log_orphans_ended(await self._beat())
        self._heartbeat = asyncio.get_running_loop().create_task(
            beat_forever(self._beat, self.liveness.heartbeat_s), name="swingsync-sqlite-heartbeat")

    async def _beat(self) -> int:
        def work(conn: sqlite3.Connection) -> int:
            now = time.time()
            conn.execute(
                "INSERT INTO servers VALUES (?, ?, ?, ?, ?) ON CONFLICT (server_id) DO UPDATE SET beat_at = ?",
                (self.server_id, socket.gethostname(), os.getpid(), self._started_at, now, now))
            return _end_orphans(conn, now - self.liveness.server_timeout_s)

        ended = await self._writer.call(work)
        self.recovered += ended
        return ended

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
            # Gone for good: the next beat of any other process ends what this one left active.
            await self._writer.call(lambda conn: conn.execute(_q(sql.FORGET_SERVER), (self.server_id,)))
        await self._writer.close()

    # ---------------------------------------------------------------- session records

    async def add(self, record: SessionRecord) -> None:
        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(_q(sql.INSERT_SESSION), sql.session_row(record, self.server_id))
            except sqlite3.IntegrityError:
                raise KeyError(f"session {record.session_id} already exists") from None
            _set_members(conn, record)

        await self._writer.call(work)

    async def get(self, session_id: str) -> SessionRecord | None:
        records = await self._records(_q(sql.GET_SESSION), (session_id,))
        return records[0] if records else None

    async def save(self, record: SessionRecord) -> None:
        def work(conn: sqlite3.Connection) -> None:
            if conn.execute(_q(sql.UPDATE_SESSION), sql.session_row(record, self.server_id)).rowcount == 0:
                raise KeyError(f"session {record.session_id} does not exist")
            _set_members(conn, record)

        await self._writer.call(work)

    async def delete(self, session_id: str) -> bool:
        return await self._writer.call(
            lambda conn: conn.execute(_q(sql.DELETE_SESSION), (session_id,)).rowcount > 0)

    async def visible_to(self, user_id: str, is_admin: bool, limit: int) -> list[SessionRecord]:
        if is_admin:
            return await self._records(_q(sql.ALL_SESSIONS), (limit,))
        return await self._records(_q(sql.VISIBLE_SESSIONS), (user_id, limit))

    async def user_sessions(self, user_id: str, viewer: str | None, limit: int) -> list[SessionRecord]:
        query, args = sql.of_user("SELECT record FROM sessions", user_id, viewer)
        return await self._records(_q(f"{query} ORDER BY created_at DESC LIMIT ${len(args) + 1}"), (*args, limit))

    async def _records(self, query: str, args: tuple[object, ...]) -> list[SessionRecord]:
        return [sql.decode_record(raw) for raw, in await self._fetch(query, args)]

    async def _fetch(self, query: str, args: tuple[object, ...]) -> list[tuple[object, ...]]:
        return await self._writer.call(lambda conn: conn.execute(query, args).fetchall())

    # ---------------------------------------------------------------- coaching messages

    async def add_message(self, message: StoredMessage) -> None:
        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(_q(sql.INSERT_MESSAGE), sql.message_row(message))
            except sqlite3.IntegrityError:
                raise KeyError(f"session {message.session_id} does not exist") from None

        await self._writer.call(work)

    async def messages(self, session_id: str, limit: int) -> list[StoredMessage]:
        if limit <= 0:
            return []
        return sql.messages_from(session_id, await self._fetch(_q(sql.LAST_MESSAGES), (session_id, limit)))

    # ---------------------------------------------------------------- queued writes

    def add_swing(self, swing: StoredSwing) -> None:
        self._writer.submit(lambda conn: conn.execute(_q(sql.INSERT_SWING), sql.swing_row(swing)))

    def add_frames(self, session_id: str, frames: list[RecordedFrame]) -> None:
        self._writer.submit(
            lambda conn: conn.executemany(_q(sql.INSERT_FRAME), sql.frame_rows(session_id, frames)))

    def add_feedback(self, feedback: StoredFeedback) -> None:
        self._writer.submit(lambda conn: conn.execute(_q(sql.INSERT_FEEDBACK), sql.feedback_row(feedback)))

    # ---------------------------------------------------------------- history

    async def swings(self, session_id: str) -> list[StoredSwing]:
        return sql.swings_from(await self._fetch(_q(sql.SESSION_SWINGS), (session_id,)))

    async def user_swings(
        self, user_id: str, viewer: str | None, limit: int, club: str | None = None
    ) -> list[StoredSwing]:
        query, args = sql.of_user(sql.SWINGS, user_id, viewer, club)
        query = _q(f"{query} ORDER BY ended_at DESC, id DESC LIMIT ${len(args) + 1}")
        return sql.swings_from(await self._fetch(query, (*args, limit)))

    async def feedback(self, session_id: str) -> list[StoredFeedback]:
        return sql.feedback_from(await self._fetch(_q(sql.FEEDBACK), (session_id,)))

    async def frames(self, session_id: str) -> list[RecordedFrame]:
        return sql.frames_from(await self._fetch(_q(sql.FRAMES), (session_id,)))


_q = functools.cache(qmark)  # each shared statement with SQLite's parameters, made once


def _set_members(conn: sqlite3.Connection, record: SessionRecord) -> None:
    conn.execute(_q(sql.DELETE_MEMBERS), (record.session_id,))
    conn.executemany(_q(sql.INSERT_MEMBER), sql.member_rows(record))


def _end_orphans(conn: sqlite3.Connection, stale_before: float) -> int:
    """End the active sessions of servers not heard from since ``stale_before``; forget those servers."""
    rows = sql.orphan_rows(conn.execute(_q(sql.ORPHANS), (stale_before,)).fetchall())
    conn.executemany(_q(sql.END_ORPHAN), rows)
    conn.execute(_q(sql.FORGET_SERVERS), (stale_before,))
    return len(rows)
