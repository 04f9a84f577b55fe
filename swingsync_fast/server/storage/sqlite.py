"""The session store in a SQLite file: WAL, one writer thread, batched commits, a versioned schema.

Every statement runs on the ``SQLiteWriter`` thread, never on the event
loop. Session records and messages are awaited (committed when the call
returns); swings, frames and feedback texts are queued and commit within
``flush_interval_s``. WAL with ``synchronous=NORMAL``: a commit survives the
process being killed (it is in the WAL file); only a power cut can take the
last ones.

What the store does is ``sql.SQLSessionStore``'s; this driver runs its statements.

Several processes on one machine may share the file (see ``base`` for the
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
    # 4: key-position pictures of swings, one per (swing, moment)
    """
    CREATE TABLE pictures (
        session_id TEXT NOT NULL REFERENCES sessions ON DELETE CASCADE,
        swing_index INTEGER NOT NULL,
        moment TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        created_at REAL NOT NULL,
        jpeg BLOB NOT NULL,
        PRIMARY KEY (session_id, swing_index, moment)
    );
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


class SQLiteSessionStore(sql.SQLSessionStore):
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

    # ---------------------------------------------------------------- the driver

    async def _fetch(self, query: str, args: tuple[object, ...]) -> list[tuple[object, ...]]:
        statement = _q(query)
        return await self._writer.call(lambda conn: conn.execute(statement, args).fetchall())

    async def _run(self, steps: list[sql.Step]) -> list[int]:
        # The writer runs each call in a savepoint: an exception here undoes the steps before it.
        def work(conn: sqlite3.Connection) -> list[int]:
            changed = []
            for step in steps:
                try:
                    if isinstance(step.args, list):
                        conn.executemany(_q(step.statement), step.args)
                        changed.append(-1)
                        continue
                    count = conn.execute(_q(step.statement), step.args).rowcount
                except sqlite3.IntegrityError as exc:
                    raise sql.RowRefused(str(exc)) from None
                if step.must_change and count == 0:
                    raise sql.NoRowChanged(step.statement)
                changed.append(count)
            return changed

        return await self._writer.call(work)

    def _enqueue(self, write: sql.Queued) -> None:
        def work(conn: sqlite3.Connection) -> None:
            statement, rows = sql.rows_of(write)  # encoded on the writer thread, off the frame path
            conn.executemany(_q(statement), rows)

        self._writer.submit(work)


_q = functools.cache(qmark)  # each shared statement with SQLite's parameters, made once


def _end_orphans(conn: sqlite3.Connection, stale_before: float) -> int:
    """End the active sessions of servers not heard from since ``stale_before``; forget those servers."""
    rows = sql.orphan_rows(conn.execute(_q(sql.ORPHANS), (stale_before,)).fetchall())
    conn.executemany(_q(sql.END_ORPHAN), rows)
    conn.execute(_q(sql.FORGET_SERVERS), (stale_before,))
    return len(rows)
