"""The session store in PostgreSQL (asyncpg): one database shared by several processes or machines.

Awaited calls run on a connection of a small pool. Queued writes (swings,
recorded frames, feedback texts) never wait: they join a bounded in-memory
queue that one background task writes in a single transaction at most
``flush_interval_s`` after the first of them arrived. An awaited call first
waits until everything queued before it is committed, so it sees those
writes, as with SQLite.

An outage (the server down or unreachable) never blocks the event loop:
asyncpg is asynchronous and every connect, acquire and statement has a
timeout. Queued writes stay queued and the flush is retried with a growing
pause (up to ``MAX_RETRY_S``), so a restart or fail-over of the database
loses nothing. The queue holds at most ``queue_limit`` writes: beyond that a
new write is dropped, counted in ``dropped`` and logged once per outage —
keeping the oldest keeps whole swings and the start of each recording, and
memory stays bounded however long the outage lasts. Awaited calls fail with
the connection's error (the caller answers the client); they do not wait for
the database to come back.

A row the database refuses (its session deleted meanwhile) is dropped alone,
logged and counted; the rest of its batch is written.

The schema is versioned in ``schema_version`` and migrated forward under an
advisory lock, so processes starting together migrate once. Session records
and swing summaries are ``jsonb`` (queryable); a coaching message's body is
``json``, which keeps the text exactly as it was sent, for replay.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import asyncpg

from . import sql
from .base import Liveness, SchemaTooNew, beat_forever, log_orphans_ended, new_server_id

logger = logging.getLogger("swingsync_fast.server")

POOL_SIZE = 4
CONNECT_TIMEOUT_S = 5.0  # also the wait for a free pooled connection
COMMAND_TIMEOUT_S = 10.0
MAX_RETRY_S = 5.0  # the longest pause between two tries to write the queue during an outage
_MIGRATION_LOCK = 0x5157_494E_4753  # pg_advisory_xact_lock key: "SWINGS"
_NOW = "extract(epoch FROM clock_timestamp())::float8"  # the database's clock: one for every machine

# MIGRATIONS[n] takes a database from version n to n + 1. Append, never edit a released one.
MIGRATIONS: tuple[str, ...] = (
    # 1: sessions and members, coaching messages, swings, feedback, recorded frames, server heartbeats
    """
    CREATE TABLE sessions (
        session_id text PRIMARY KEY,
        user_id text NOT NULL,
        state text NOT NULL,
        created_at double precision NOT NULL,
        started_at double precision,
        ended_at double precision,
        end_reason text,
        server_id text,
        record jsonb NOT NULL
    );
    CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
    CREATE INDEX sessions_by_created ON sessions (created_at);
    CREATE INDEX sessions_active_by_server ON sessions (server_id) WHERE state = 'active';
    CREATE TABLE session_members (
        session_id text NOT NULL REFERENCES sessions ON DELETE CASCADE,
        user_id text NOT NULL,
        PRIMARY KEY (session_id, user_id)
    );
    CREATE INDEX members_by_user ON session_members (user_id);
    CREATE TABLE messages (
        id bigserial PRIMARY KEY,
        session_id text NOT NULL REFERENCES sessions ON DELETE CASCADE,
        sender text NOT NULL,
        type text NOT NULL,
        sent_at double precision NOT NULL,
        body json NOT NULL
    );
    CREATE INDEX messages_by_session ON messages (session_id, id);
    CREATE TABLE swings (
        id bigserial PRIMARY KEY,
        session_id text NOT NULL REFERENCES sessions ON DELETE CASCADE,
        user_id text NOT NULL,
        swing_index integer NOT NULL,
        ended_at double precision NOT NULL,
        club text NOT NULL,
        summary jsonb NOT NULL
    );
    CREATE INDEX swings_by_session ON swings (session_id, swing_index);
    CREATE INDEX swings_by_user ON swings (user_id, ended_at);
    CREATE TABLE feedback (
        id bigserial PRIMARY KEY,
        session_id text NOT NULL REFERENCES sessions ON DELETE CASCADE,
        swing_index integer NOT NULL,
        feedback_id text NOT NULL,
        source text NOT NULL,
        created_at double precision NOT NULL,
        text text NOT NULL
    );
    CREATE INDEX feedback_by_session ON feedback (session_id, id);
    CREATE TABLE frames (
        id bigserial PRIMARY KEY,
        session_id text NOT NULL REFERENCES sessions ON DELETE CASCADE,
        frame_index integer NOT NULL,
        timestamp double precision NOT NULL,
        keypoints bytea NOT NULL
    );
    CREATE INDEX frames_by_session ON frames (session_id, id);
    CREATE TABLE servers (
        server_id text PRIMARY KEY,
        host text NOT NULL,
        pid integer NOT NULL,
        started_at double precision NOT NULL,
        beat_at double precision NOT NULL
    );
    """,
    # 2: key-position pictures of swings, one per (swing, moment)
    """
    CREATE TABLE pictures (
        session_id text NOT NULL REFERENCES sessions ON DELETE CASCADE,
        swing_index integer NOT NULL,
        moment text NOT NULL,
        width integer NOT NULL,
        height integer NOT NULL,
        created_at double precision NOT NULL,
        jpeg bytea NOT NULL,
        PRIMARY KEY (session_id, swing_index, moment)
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

# A row the database refuses: dropped alone. Anything else (connection lost, timeout) is an outage.
_ROW_ERRORS = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError)



async def schema_version(conn: asyncpg.Connection) -> int:
    """The database's version; 0 for a new one."""
    await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
    return await conn.fetchval("SELECT version FROM schema_version") or 0


async def migrate(conn: asyncpg.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the database up to ``target`` in one transaction (DDL is transactional); the version reached."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        version = await schema_version(conn)
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"the database is at schema version {version}; this server knows up to {SCHEMA_VERSION}")
        start = version
        while version < target:
            await conn.execute(MIGRATIONS[version])
            version += 1
        if version != start:
            await conn.execute("DELETE FROM schema_version")
            await conn.execute("INSERT INTO schema_version VALUES ($1)", version)
            logger.info("database: migrated to schema version %d", version)
    return version


class PostgresSessionStore(sql.SQLSessionStore):
    def __init__(
        self, url: str, *, flush_interval_s: float = 0.25, liveness: Liveness = Liveness(),
        queue_limit: int = 10_000, server_id: str | None = None,
    ) -> None:
        self.url = url
        self.server_id = server_id or new_server_id()
        self.liveness = liveness
        self.queue_limit = queue_limit
        self.recovered = 0  # sessions of servers that stopped beating, ended by this one
        self.dropped = 0  # queued writes lost: the queue was full, or the database refused the row
        self._flush_interval_s = flush_interval_s
        self._pool: asyncpg.Pool | None = None
        self._queued: deque[sql.Queued] = deque()
        self._in_flight = 0  # taken off the queue by the flush under way
        self._pending = asyncio.Event()  # something was queued since the flusher last looked
        self._flush_lock = asyncio.Lock()
        self._full_logged = False
        self._closed = False
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def queued(self) -> int:
        return len(self._queued) + self._in_flight

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.url, min_size=1, max_size=POOL_SIZE, timeout=CONNECT_TIMEOUT_S, command_timeout=COMMAND_TIMEOUT_S)
        try:
            async with self._pool.acquire(timeout=CONNECT_TIMEOUT_S) as conn:
                await migrate(conn)
            log_orphans_ended(await self._beat())
        except BaseException:
            await self._pool.close()
            raise
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._flush_forever(), name="swingsync-pg-flush"),
            loop.create_task(beat_forever(self._beat, self.liveness.heartbeat_s), name="swingsync-pg-heartbeat"),
        ]

    async def close(self) -> None:
        if self._closed or self._pool is None:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            async with self._transaction() as conn:  # writes what is still queued
                # Gone for good: the next beat of any other process ends what this one left active.
                await conn.execute(sql.FORGET_SERVER, self.server_id)
        except Exception as exc:
            if self.queued:
                self.dropped += self.queued
                logger.error("database: %d queued write(s) lost at shutdown: %s", self.queued, exc)
        try:
            await asyncio.wait_for(self._pool.close(), COMMAND_TIMEOUT_S)
        except (asyncio.TimeoutError, OSError, asyncpg.InterfaceError):
            self._pool.terminate()

    # ---------------------------------------------------------------- connections

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection, once every write queued before this call is committed."""
        assert self._pool is not None, "the store is not open"
        await self._flush()
        async with self._pool.acquire(timeout=CONNECT_TIMEOUT_S) as conn:
            yield conn

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._connection() as conn, conn.transaction():
            yield conn

    # ---------------------------------------------------------------- heartbeat

    async def _beat(self) -> int:
        async with self._transaction() as conn:
            now = await conn.fetchval(
                f"INSERT INTO servers VALUES ($1, $2, $3, {_NOW}, {_NOW}) "
                "ON CONFLICT (server_id) DO UPDATE SET beat_at = excluded.beat_at RETURNING beat_at",
                self.server_id, socket.gethostname(), os.getpid())
            ended = await _end_orphans(conn, now - self.liveness.server_timeout_s)
        self.recovered += ended
        return ended

    # ---------------------------------------------------------------- the driver

    async def _fetch(self, query: str, args: tuple[object, ...]) -> list[asyncpg.Record]:
        async with self._connection() as conn:
            return await conn.fetch(query, *args)

    async def _run(self, steps: list[sql.Step]) -> list[int]:
        changed = []
        async with self._transaction() as conn:
            for step in steps:
                try:
                    if isinstance(step.args, list):
                        await conn.executemany(step.statement, step.args)
                        changed.append(-1)
                        continue
                    status = await conn.execute(step.statement, *step.args)
                except asyncpg.IntegrityConstraintViolationError as exc:
                    raise sql.RowRefused(str(exc)) from None
                count = int(status.rpartition(" ")[2])  # "UPDATE 1", "INSERT 0 1"
                if step.must_change and count == 0:
                    raise sql.NoRowChanged(step.statement)
                changed.append(count)
        return changed

    def _enqueue(self, write: sql.Queued) -> None:
        """The frame path's side of the queue: an append, or a count when the queue is full."""
        if self._closed:
            return
        if len(self._queued) + self._in_flight >= self.queue_limit:
            self.dropped += 1
            if not self._full_logged:
                self._full_logged = True
                logger.error("database: %d writes are waiting for the database; new ones are dropped "
                             "until it catches up (counted)", self.queue_limit)
            return
        self._queued.append(write)
        if not self._pending.is_set():
            self._pending.set()

    async def _flush_forever(self) -> None:
        """Write the queue a flush interval after a write arrives; in an outage, keep it and retry."""
        pause_s = self._flush_interval_s
        failing = False
        while True:
            await self._pending.wait()
            self._pending.clear()
            await asyncio.sleep(self._flush_interval_s)
            try:
                await self._flush()
            except Exception as exc:
                if not failing:
                    logger.error("database: cannot write (%s: %s); %d queued write(s) kept, retrying",
                                  type(exc).__name__, exc, self.queued)
                failing = True
                self._pending.set()
                await asyncio.sleep(pause_s)
                pause_s = min(pause_s * 2, MAX_RETRY_S)
                continue
            if failing:
                logger.warning("database: writing again (%d queued write(s) dropped so far)", self.dropped)
            failing = self._full_logged = False
            pause_s = self._flush_interval_s

    async def _flush(self) -> None:
        """Commit everything queued, in one transaction. On an outage it raises, the writes back in the queue."""
        async with self._flush_lock:
            if not self._queued:
                return
            batch = list(self._queued)
            self._queued.clear()
            self._in_flight = len(batch)
            try:
                assert self._pool is not None
                async with self._pool.acquire(timeout=CONNECT_TIMEOUT_S) as conn:
                    await self._write(conn, batch)
            except BaseException:
                self._queued.extendleft(reversed(batch))
                raise
            finally:
                self._in_flight = 0

    async def _write(self, conn: asyncpg.Connection, batch: list[sql.Queued]) -> None:
        try:
            async with conn.transaction():
                for statement, rows in _grouped(batch):
                    await conn.executemany(statement, rows)
            return
        except _ROW_ERRORS:
            pass
        # A row was refused: write each write in its own savepoint, dropping those refused.
        async with conn.transaction():
            for write in batch:
                statement, rows = sql.rows_of(write)
                try:
                    async with conn.transaction():
                        await conn.executemany(statement, rows)
                except _ROW_ERRORS as exc:
                    self.dropped += 1
                    logger.warning("database: a queued write failed and was dropped: %s", exc)

def _grouped(batch: Iterable[sql.Queued]) -> list[tuple[str, list[tuple[object, ...]]]]:
    """The batch's rows, one executemany per statement, each statement's rows in queue order."""
    by_sql: dict[str, list[tuple[object, ...]]] = {}
    for write in batch:
        statement, rows = sql.rows_of(write)
        by_sql.setdefault(statement, []).extend(rows)
    return list(by_sql.items())


async def _end_orphans(conn: asyncpg.Connection, stale_before: float) -> int:
    """End the active sessions of servers not heard from since ``stale_before``; forget those servers."""
    rows = sql.orphan_rows(await conn.fetch(sql.ORPHANS + " FOR UPDATE OF s SKIP LOCKED", stale_before))
    await conn.executemany(sql.END_ORPHAN, rows)
    await conn.execute(sql.FORGET_SERVERS, stale_before)
    return len(rows)
