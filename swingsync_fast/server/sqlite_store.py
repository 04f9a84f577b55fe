"""The session store in a SQLite file: WAL, one writer thread, batched commits, a versioned schema.

Every statement runs on the ``SQLiteWriter`` thread, never on the event
loop. Session records and messages are awaited (committed when the call
returns); swings, frames and feedback texts are queued and commit within
``flush_interval_s``. WAL with ``synchronous=NORMAL``: a commit survives the
process being killed (it is in the WAL file); only a power cut can take the
last ones.

Rows keep each object's wire JSON plus the columns that queries filter and
sort on, so reading back gives exactly what the client was sent.

Several processes on one machine may share the file (see ``store`` for the
heartbeat rule): every transaction begins ``IMMEDIATE``, taking the file's
write lock at once, so two writers queue on ``busy_timeout`` instead of one
failing to upgrade a read. They take turns, a batch each: PostgreSQL serves
many writers better.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
import time
from pathlib import Path

import msgspec

from ..analyzer import SwingSummary
from .sqlite_writer import SQLiteWriter
from .store import (
    Liveness,
    RecordedFrame,
    SchemaTooNew,
    SessionRecord,
    SessionState,
    StoredFeedback,
    StoredMessage,
    StoredSwing,
    beat_forever,
    ended_as_orphan,
    log_orphans_ended,
    new_server_id,
)

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
    """Bring the file up to ``target``, one migration per transaction; the version reached."""
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"the database is at schema version {version}; this server knows up to {SCHEMA_VERSION}"
        )
    while version < target:
        script = MIGRATIONS[version]
        conn.execute("BEGIN")
        try:
            for statement in filter(str.strip, script.split(";")):
                conn.execute(statement)
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version VALUES (?)", (version + 1,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version += 1
        logger.info("database: migrated to schema version %d", version)
    return version


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, foreign keys on."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


_record_json = msgspec.json.Encoder().encode
_decode_record = msgspec.json.Decoder(SessionRecord).decode
_decode_summary = msgspec.json.Decoder(SwingSummary).decode


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
            await self._writer.call(
                lambda conn: conn.execute("DELETE FROM servers WHERE server_id = ?", (self.server_id,)))
        await self._writer.close()

    # ---------------------------------------------------------------- session records

    async def add(self, record: SessionRecord) -> None:
        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             self._session_row(record))
            except sqlite3.IntegrityError:
                raise KeyError(f"session {record.session_id} already exists") from None
            _set_members(conn, record)

        await self._writer.call(work)

    async def get(self, session_id: str) -> SessionRecord | None:
        def work(conn: sqlite3.Connection) -> SessionRecord | None:
            row = conn.execute("SELECT record FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
            return None if row is None else _decode_record(row[0])

        return await self._writer.call(work)

    async def save(self, record: SessionRecord) -> None:
        def work(conn: sqlite3.Connection) -> None:
            row = self._session_row(record)
            cursor = conn.execute(
                "UPDATE sessions SET user_id = ?, state = ?, created_at = ?, started_at = ?, ended_at = ?, "
                "end_reason = ?, server_id = ?, record = ? WHERE session_id = ?", (*row[1:], row[0]))
            if cursor.rowcount == 0:
                raise KeyError(f"session {record.session_id} does not exist")
            _set_members(conn, record)

        await self._writer.call(work)

    def _session_row(self, record: SessionRecord) -> tuple[object, ...]:
        """The sessions row in ``_SESSION_COLUMNS`` order; an active one streams on this server."""
        server_id = self.server_id if record.state is SessionState.ACTIVE else None
        return (record.session_id, record.user_id, record.state.value, record.created_at, record.started_at,
                record.ended_at, record.end_reason, server_id, _record_json(record).decode())

    async def delete(self, session_id: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,)).rowcount > 0

        return await self._writer.call(work)

    async def visible_to(self, user_id: str, is_admin: bool, limit: int) -> list[SessionRecord]:
        if is_admin:
            sql, args = "SELECT record FROM sessions ORDER BY created_at DESC LIMIT ?", (limit,)
        else:
            sql = ("SELECT record FROM sessions WHERE user_id = ? OR session_id IN "
                   "(SELECT session_id FROM session_members WHERE user_id = ?) ORDER BY created_at DESC LIMIT ?")
            args = (user_id, user_id, limit)
        return await self._records(sql, args)

    async def user_sessions(self, user_id: str, viewer: str | None, limit: int) -> list[SessionRecord]:
        sql, args = _of_user("SELECT record FROM sessions", user_id, viewer)
        return await self._records(sql + " ORDER BY created_at DESC LIMIT ?", (*args, limit))

    async def _records(self, sql: str, args: tuple[object, ...]) -> list[SessionRecord]:
        def work(conn: sqlite3.Connection) -> list[SessionRecord]:
            return [_decode_record(row[0]) for row in conn.execute(sql, args)]

        return await self._writer.call(work)

    # ---------------------------------------------------------------- coaching messages

    async def add_message(self, message: StoredMessage) -> None:
        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO messages (session_id, sender, type, sent_at, body) VALUES (?, ?, ?, ?, ?)",
                    (message.session_id, message.sender, message.type, message.sent_at, bytes(message.body).decode()))
            except sqlite3.IntegrityError:
                raise KeyError(f"session {message.session_id} does not exist") from None

        await self._writer.call(work)

    async def messages(self, session_id: str, limit: int) -> list[StoredMessage]:
        def work(conn: sqlite3.Connection) -> list[StoredMessage]:
            rows = conn.execute(
                "SELECT sender, type, sent_at, body FROM messages WHERE session_id = ? ORDER BY id DESC LIMIT ?",
                (session_id, limit)).fetchall()
            return [StoredMessage(session_id=session_id, sender=sender, type=type_, sent_at=sent_at,
                                  body=msgspec.Raw(body.encode()))
                    for sender, type_, sent_at, body in reversed(rows)]

        return await self._writer.call(work) if limit > 0 else []

    # ---------------------------------------------------------------- queued writes

    def add_swing(self, swing: StoredSwing) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO swings (session_id, user_id, swing_index, ended_at, club, summary) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (swing.session_id, swing.user_id, swing.summary.swing_index, swing.ended_at, swing.club,
                 _record_json(swing.summary)))

        self._writer.submit(work)

    def add_frames(self, session_id: str, frames: list[RecordedFrame]) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO frames (session_id, frame_index, timestamp, keypoints) VALUES (?, ?, ?, ?)",
                [(session_id, f.frame_index, f.timestamp, f.keypoints) for f in frames])

        self._writer.submit(work)

    def add_feedback(self, feedback: StoredFeedback) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO feedback (session_id, swing_index, feedback_id, source, created_at, text) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (feedback.session_id, feedback.swing_index, feedback.feedback_id, feedback.source,
                 feedback.created_at, feedback.text))

        self._writer.submit(work)

    # ---------------------------------------------------------------- history

    async def swings(self, session_id: str) -> list[StoredSwing]:
        return await self._swings(f"{_SWINGS} WHERE session_id = ? ORDER BY swing_index, id", (session_id,))

    async def user_swings(
        self, user_id: str, viewer: str | None, limit: int, club: str | None = None
    ) -> list[StoredSwing]:
        sql, args = _of_user(_SWINGS, user_id, viewer)
        if club is not None:
            sql, args = sql + " AND club = ?", (*args, club)
        return await self._swings(sql + " ORDER BY ended_at DESC, id DESC LIMIT ?", (*args, limit))

    async def _swings(self, sql: str, args: tuple[object, ...]) -> list[StoredSwing]:
        def work(conn: sqlite3.Connection) -> list[StoredSwing]:
            return [StoredSwing(session_id=session_id, user_id=user_id, club=club, ended_at=ended_at,
                                summary=_decode_summary(summary))
                    for session_id, user_id, club, ended_at, summary in conn.execute(sql, args)]

        return await self._writer.call(work)

    async def feedback(self, session_id: str) -> list[StoredFeedback]:
        def work(conn: sqlite3.Connection) -> list[StoredFeedback]:
            rows = conn.execute(
                "SELECT swing_index, feedback_id, source, text, created_at FROM feedback "
                "WHERE session_id = ? ORDER BY id", (session_id,))
            return [StoredFeedback(session_id=session_id, swing_index=swing_index, feedback_id=feedback_id,
                                   source=source, text=text, created_at=created_at)
                    for swing_index, feedback_id, source, text, created_at in rows]

        return await self._writer.call(work)

    async def frames(self, session_id: str) -> list[RecordedFrame]:
        def work(conn: sqlite3.Connection) -> list[RecordedFrame]:
            rows = conn.execute(
                "SELECT frame_index, timestamp, keypoints FROM frames WHERE session_id = ? ORDER BY id",
                (session_id,))
            return [RecordedFrame(frame_index, timestamp, bytes(keypoints)) for frame_index, timestamp, keypoints in rows]

        return await self._writer.call(work)


_SWINGS = "SELECT session_id, user_id, club, ended_at, summary FROM swings"
_SESSION_COLUMNS = "session_id, user_id, state, created_at, started_at, ended_at, end_reason, server_id, record"


def _of_user(select: str, user_id: str, viewer: str | None) -> tuple[str, tuple[object, ...]]:
    """``select`` narrowed to ``user_id``'s rows, and to sessions ``viewer`` is a member of."""
    if viewer is None:
        return select + " WHERE user_id = ?", (user_id,)
    return (select + " WHERE user_id = ? AND session_id IN "
            "(SELECT session_id FROM session_members WHERE user_id = ?)", (user_id, viewer))


def _set_members(conn: sqlite3.Connection, record: SessionRecord) -> None:
    conn.execute("DELETE FROM session_members WHERE session_id = ?", (record.session_id,))
    conn.executemany("INSERT OR IGNORE INTO session_members VALUES (?, ?)",
                     [(record.session_id, member) for member in record.participants])


def _end_orphans(conn: sqlite3.Connection, stale_before: float) -> int:
    """End the active sessions of servers not heard from since ``stale_before``; forget those servers."""
    rows = conn.execute(
        "SELECT session_id, record, (SELECT MAX(ended_at) FROM swings WHERE swings.session_id = sessions.session_id) "
        "FROM sessions WHERE state = 'active' AND (server_id IS NULL OR server_id NOT IN "
        "(SELECT server_id FROM servers WHERE beat_at >= ?))", (stale_before,)).fetchall()
    for session_id, raw, last_swing in rows:
        record = ended_as_orphan(_decode_record(raw), last_swing)
        conn.execute("UPDATE sessions SET state = ?, ended_at = ?, end_reason = ?, server_id = NULL, record = ? "
                     "WHERE session_id = ?",
                     (record.state.value, record.ended_at, record.end_reason, _record_json(record).decode(),
                      session_id))
    conn.execute("DELETE FROM servers WHERE beat_at < ?", (stale_before,))
    return len(rows)
