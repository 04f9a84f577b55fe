"""One thread that owns a SQLite connection: every statement runs there, in order, off the event loop.

Work comes in on a queue as small functions of the connection. ``submit``
is fire-and-forget (the frame path's swing summaries): such work joins an
open transaction that commits at most ``flush_interval_s`` after its first
write, so a burst of swings costs one commit. ``call`` waits for its result;
whatever it wrote is committed before the caller resumes, together with
everything queued before it, so a read always sees every earlier write.
Each piece of work runs in a savepoint: one that fails is undone alone and
the rest of the batch still commits.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

logger = logging.getLogger("swingsync_fast.server")

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], Any]
_STOP = object()


class WriterClosed(RuntimeError):
    pass


class SQLiteWriter:
    def __init__(self, connect: Callable[[], sqlite3.Connection], flush_interval_s: float) -> None:
        self._connect = connect
        self._flush_interval_s = flush_interval_s
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="swingsync-sqlite", daemon=True)
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._closed = False
        self.dropped = 0  # fire-and-forget work that failed (logged)

    def start(self) -> None:
        """Open the connection on the writer thread; raise here if that fails."""
        self._thread.start()
        self._ready.wait()
        if self._failed is not None:
            raise self._failed

    def submit(self, work: Work) -> None:
        """Queue ``work``; it commits within ``flush_interval_s``. Never blocks."""
        if not self._closed:
            self._queue.put((work, None, None))

    async def call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` after everything queued so far; its result once it is committed."""
        if self._closed:
            raise WriterClosed("the database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((work, future, loop))
        return await future

    async def close(self) -> None:
        """Commit what is queued, close the connection, end the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)

    # ---------------------------------------------------------------- the thread

    def _run(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # reported to start()
            self._failed = exc
            self._ready.set()
            return
        self._ready.set()
        waiting: list[tuple[asyncio.Future[Any], asyncio.AbstractEventLoop, Any, bool]] = []
        opened_at: float | None = None  # when the open transaction's first work ran
        try:
            while True:
                timeout = None if opened_at is None else opened_at + self._flush_interval_s - time.monotonic()
                try:
                    item = self._queue.get(timeout=timeout) if timeout is None or timeout > 0 else _DUE
                except queue.Empty:
                    item = _DUE
                if item is _STOP:
                    break
                if item is not _DUE:
                    work, future, loop = item
                    if opened_at is None:
                        conn.execute("BEGIN IMMEDIATE")  # the write lock now: see sqlite.py
                        opened_at = time.monotonic()
                    ok, result = self._apply(conn, work, future is None)
                    if future is not None:
                        waiting.append((future, loop, result, ok))
                        item = _DUE  # a caller waits: commit now
                if item is _DUE and opened_at is not None:
                    self._commit(conn, waiting)
                    opened_at = None
                    waiting = []
        finally:
            if opened_at is not None:
                self._commit(conn, waiting)
            conn.close()

    def _apply(self, conn: sqlite3.Connection, work: Work, fire_and_forget: bool) -> tuple[bool, Any]:
        conn.execute("SAVEPOINT work")
        try:
            result = work(conn)
        except Exception as exc:
            conn.execute("ROLLBACK TO work")
            conn.execute("RELEASE work")
            if fire_and_forget:
                self.dropped += 1
                logger.warning("database: a queued write failed and was dropped: %s", exc)
            return False, exc
        conn.execute("RELEASE work")
        return True, result

    def _commit(self, conn: sqlite3.Connection, waiting: list[tuple[Any, ...]]) -> None:
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            logger.error("database: commit failed (%s); the batch is lost", exc)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            waiting = [(future, loop, exc, False) for future, loop, _, _ in waiting]
        for future, loop, result, ok in waiting:
            try:
                loop.call_soon_threadsafe(_settle, future, result, ok)
            except RuntimeError:  # the caller's loop is gone: nobody is waiting any more
                pass


_DUE = object()  # the open transaction is due to commit


def _settle(future: asyncio.Future[Any], result: Any, ok: bool) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(result)
    else:
        future.set_exception(result)
