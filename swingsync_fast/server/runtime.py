"""What one server process shares: settings, auth, the session store, the bus to the other processes and
what they say, the feedback lane, the coaching rooms, the live sessions, the registry of sockets, the
cluster clock and the metrics collector, each built once with what it needs."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time

from ..feedback.gemini import GeminiProvider
from ..feedback.isolated import ModelProcess
from ..feedback.lane import FeedbackArchive, FeedbackLane, LaneConfig
from ..feedback.provider import FeedbackProvider, Source
from .auth import Authenticator, TokenVerifier, resolve_secret, warn_auth_disabled
from .checkpoints import Checkpoints, handoff_s
from .cluster.bus import Bus
from .cluster.cluster import Cluster
from .cluster.peers import Peers
from .jobs import VideoJobs
from .registry import Registry
from .rest.metrics import collector_registry
from .sessions import Sessions
from .settings import Settings
from .storage.base import Liveness, SessionStore
from .storage.expiry import expire_forever
from .storage.url import open_store, redacted
from .tickets import TicketBook
from .watchers.coaching import CoachingHub

logger = logging.getLogger("swingsync_fast.server")


def feedback_lane(
    settings: Settings, archive: FeedbackArchive | None = None, coaching: CoachingHub | None = None
) -> FeedbackLane:
    """The lane the settings describe: Gemini with OfflineCoach as fallback, or OfflineCoach alone;
    answers archived to the store; feedback mirrored to, and coaches' tips taken from, the coaching rooms."""
    model: FeedbackProvider | None = None
    if settings.gemini_api_key:
        options = {
            "api_key": settings.gemini_api_key,
            "model": settings.gemini_model,
            "base_url": settings.gemini_base_url or None,
            "api_version": settings.gemini_api_version or None,
            "timeout_s": settings.feedback_total_timeout_s,
            "thinking_budget": settings.gemini_thinking_budget,
        }
        if settings.feedback_model_process:
            try:
                model = ModelProcess(options, source=Source.GEMINI, model=settings.gemini_model)
            except OSError as exc:
                logger.warning("feedback: cannot start the model process (%s); google-genai runs in the "
                               "server process instead", exc)
        if model is None:
            model = GeminiProvider(**options)  # type: ignore[arg-type]
    # Each lane setting is the Settings field of its name with ``feedback_`` in front (SWINGSYNC_FEEDBACK_*).
    config = LaneConfig(**{name: getattr(settings, f"feedback_{name}") for name in LaneConfig.__struct_fields__
                           if hasattr(settings, f"feedback_{name}")})
    return FeedbackLane(config, model=model, archive=archive, mirror=coaching, tips=coaching)


class Runtime:
    def __init__(self, settings: Settings, *, store: SessionStore | None = None) -> None:
        key, self.key_source = resolve_secret(settings)
        self.settings = settings
        self.tickets = TicketBook(key, settings.ticket_ttl_s)
        self.auth = Authenticator(TokenVerifier(key), allow_anonymous=settings.dev_no_auth, tickets=self.tickets)
        self.store: SessionStore = store or open_store(
            settings.database_url, ended_kept=settings.ended_sessions_kept,
            flush_interval_s=handoff_s(settings.database_flush_interval_s),
            liveness=Liveness(settings.database_heartbeat_s, settings.database_server_timeout_s),
            queue_limit=settings.database_queue_limit)
        self.bus = Bus(settings.redis_url)
        self.peers = Peers(self.bus)
        self.coaching = CoachingHub(self.store, self.bus, history=settings.coaching_history, peers=self.peers.peers)
        self.feedback = feedback_lane(settings, self.store, self.coaching)
        self.sessions = Sessions(self.store, self.peers, self.feedback, self.coaching)
        self.registry = Registry(settings, self.sessions, self.peers)
        self.checkpoints = Checkpoints(self.sessions, self.store, settings.database_flush_interval_s,
                                       settings.stats_checkpoint_s)
        self.cluster = Cluster(self.bus, self.peers, self.registry)
        self.metrics = collector_registry(self.cluster)
        # its process pool starts with the first upload; progress goes to the owner's main sockets here
        self.video_jobs = VideoJobs(settings, self.store, sockets=lambda user_id: [
            conn for conn in self.registry.by_user.get(user_id, ()) if conn in self.registry.connections])
        self.started_at = time.time()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        logger.info("signing tokens with %s", self.key_source)
        await self.store.open()
        logger.info("storing sessions in %s as server %s", redacted(self.settings.database_url), self.store.server_id)
        if self.settings.dev_no_auth:
            warn_auth_disabled()
        if self.feedback.model is not None:
            logger.info("feedback: %s through google-genai, OfflineCoach as fallback", self.settings.gemini_model)
        else:
            logger.info("feedback: OfflineCoach only (GEMINI_API_KEY is not set)")
        await self.bus.start()
        if self.settings.redis_url is not None:
            # Not waited for: a server whose Redis is down serves its own sockets and joins later.
            logger.info("bus: Redis at %s (process %s)", self.settings.redis_url, self.bus.process_id)
        await self.feedback.start()
        self.registry.start()
        await self.coaching.start()
        await self.cluster.start()
        settings = self.settings
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(expire_forever(
                self.store, settings.unstarted_session_ttl_s, settings.unstarted_sweep_interval_s)),
            loop.create_task(self.checkpoints.run()),
        ]
        # Everything alive now (modules, google-genai's and pydantic's types) lives as long as the
        # process: keep it out of the collector's scans, or one full collection triggered by the
        # feedback lane's allocations stalls every socket for tens of milliseconds.
        gc.freeze()

    async def stop(self) -> None:
        await self.video_jobs.stop()  # running uploads fail (server_shutdown); the pool's processes end
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.registry.stop()  # sessions end first, cancelling their feedback
        await self.cluster.stop()
        await self.coaching.stop()
        await self.bus.stop()
        await self.feedback.stop()
        await self.store.close()  # last: the ended sessions and their swings are written
