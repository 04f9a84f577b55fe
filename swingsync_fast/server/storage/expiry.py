"""Expiry of sessions created over REST and never started: a sweep every few seconds.

Without it such rows would outlive every restart; with it one user holds at
most ``max_unstarted_sessions_per_user`` of them, each for at most the TTL
(plus one sweep interval). A failed sweep is logged and tried again on time.
"""

from __future__ import annotations

import asyncio
import logging
import time

from .base import END_REASON_EXPIRED, SessionStore

logger = logging.getLogger("swingsync_fast.server")


async def expire_forever(store: SessionStore, ttl_s: float, every_s: float) -> None:
    """End un-started sessions older than ``ttl_s``, now and every ``every_s``, until cancelled."""
    while True:
        now = time.time()
        try:
            ended = await store.expire_unstarted(now - ttl_s, now)
        except Exception as exc:
            logger.warning("database: expiring un-started sessions failed (%s); retrying in %g s", exc, every_s)
        else:
            if ended:
                logger.info("database: %d session(s) created %g s ago or more and never started ended (%s)",
                            ended, ttl_s, END_REASON_EXPIRED)
        await asyncio.sleep(every_s)
