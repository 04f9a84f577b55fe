"""What a crash may lose of a live session: at most ``database_flush_interval_s`` of it.

The store commits what it is handed within half that interval (``Runtime``
opens it so); this loop hands over, every other half, the recorded frames a
session still holds below a full batch, so no frame waits longer than the
interval in all to reach the database. Each session's figures so far are
checkpointed too (every ``stats_checkpoint_s`` when they changed, a slice of
the sessions per tick): a session its server never ended (``server_restart``)
keeps its stats.
"""

from __future__ import annotations

import asyncio
import logging
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
        # A checkpoint costs about 10 us (the stats' percentiles): each tick takes one slice of
        # the sessions, so a thousand of them never stall the loop for 10 ms at once.
        self._slices = max(1, round(stats_every_s / self.every_s))
        self._tick = 0
        self._checkpointed: dict[str, int] = {}  # session id -> frames_received at its last checkpoint

    def tick(self) -> None:
        """Hand over held frames; checkpoint one slice's figures. Never waits (both only enqueue)."""
        self._tick += 1
        turn = self._tick % self._slices
        live = self._sessions.live
        checkpointed = self._checkpointed
        for i, conn in enumerate(list(live.values())):
            session = conn.session
            if session is None:
                continue
            session.flush_recorded()
            if i % self._slices == turn:
                count = session.frames_received
                if checkpointed.get(session.session_id) != count:
                    checkpointed[session.session_id] = count
                    self._store.checkpoint(session.checkpoint())
        if turn == 0 and len(checkpointed) > len(live):
            self._checkpointed = {k: v for k, v in checkpointed.items() if k in live}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                self.tick()
            except Exception:  # a bug here must not stop the next checkpoint
                logger.exception("checkpoint of live sessions failed")
