"""What a crash may lose of a live session: at most ``database_flush_interval_s`` of it.

The store commits what it is handed within half that interval (``Runtime``
opens it so); this loop hands over, every other half, the recorded frames a
session still holds below a full batch, so no frame waits longer than the
interval in all to reach the database. Each session's figures so far are
checkpointed too (every ``stats_checkpoint_s``, when they changed): a
session its server never ended (``server_restart``) keeps its stats.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sessions import Sessions
    from .storage.base import SessionStore

logger = logging.getLogger("swingsync_fast.server")


def handoff_s(flush_interval_s: float) -> float:
    """Each of the two hand-offs (session to store, store to disk) gets half of the bound."""
    return flush_interval_s / 2


class Checkpoints:
    def __init__(self, sessions: Sessions, store: SessionStore, flush_interval_s: float,
                 stats_every_s: float) -> None:
        self._sessions = sessions
        self._store = store
        self.every_s = handoff_s(flush_interval_s)
        self._stats_every_s = stats_every_s
        self._stats_due = 0.0
        self._checkpointed: dict[str, int] = {}  # session id -> frames_received at its last checkpoint

    def tick(self, now: float) -> None:
        """Hand over held frames; checkpoint figures when due. Never waits (both only enqueue)."""
        stats_due = now >= self._stats_due
        if stats_due:
            self._stats_due = now + self._stats_every_s
        seen: dict[str, int] = {}
        for conn in list(self._sessions.live.values()):
            session = conn.session
            if session is None:
                continue
            session.flush_recorded()
            if stats_due:
                count = session.frames_received
                seen[session.session_id] = count
                if self._checkpointed.get(session.session_id) != count:
                    self._store.checkpoint(session.checkpoint())
        if stats_due:
            self._checkpointed = seen

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                self.tick(time.monotonic())
            except Exception:  # a bug here must not stop the next checkpoint
                logger.exception("checkpoint of live sessions failed")
