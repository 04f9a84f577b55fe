"""What one server process shares: settings, auth, the session store and the registry."""

from __future__ import annotations

import logging
import time

from .auth import Authenticator, TokenVerifier, resolve_secret, warn_auth_disabled
from .registry import Registry
from .settings import Settings
from .store import MemorySessionStore, SessionStore

logger = logging.getLogger("swingsync_fast.server")


class Runtime:
    def __init__(self, settings: Settings, *, store: SessionStore | None = None) -> None:
        key, self.key_source = resolve_secret(settings)
        self.settings = settings
        self.auth = Authenticator(TokenVerifier(key), allow_anonymous=settings.dev_no_auth)
        self.store: SessionStore = store or MemorySessionStore(settings.ended_sessions_kept)
        self.registry = Registry(settings, self.store)
        self.started_at = time.time()

    async def start(self) -> None:
        logger.info("signing tokens with %s", self.key_source)
        if self.settings.dev_no_auth:
            warn_auth_disabled()
        self.registry.start()

    async def stop(self) -> None:
        await self.registry.stop()
