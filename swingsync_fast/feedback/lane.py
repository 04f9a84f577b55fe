"""The feedback lane: swing feedback off the frame path, from the model or the offline coach.

The socket's frame path only *enqueues* (``swing_ended`` / ``requested`` are
plain calls that never wait). A few worker tasks take requests from a
bounded queue and answer them:

- **Coalescing.** A session has at most one request waiting; a newer swing
  replaces it. A session never has two answers in flight, so its pieces
  never interleave.
- **Which provider.** The model, unless there is none (no API key), the
  session is over its model rate (``rate_per_minute``, ``rate_burst``), or
  the circuit breaker is open; then OfflineCoach, at once.
- **Deadlines.** A streaming answer must show its first piece within
  ``first_piece_timeout_s``; the whole model call must end within
  ``total_timeout_s`` (batch answers have only the total one).
- **Retries.** A transient failure (5xx, 429, a dropped connection) is tried
  again with exponential backoff and jitter, but only while nothing has
  been shown to the player.
- **Fallback.** When the model fails or times out, OfflineCoach answers
  under the same ``feedback_id``: the pieces after the model's carry
  ``source: "offline"`` and are complete on their own.
- **Cancellation.** When the session ends (other than by the client's own
  ``end_session``) or its socket closes, its waiting request is dropped and
  its answer in flight is cancelled, closing the model's HTTP stream.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import aclosing
from typing import Protocol

import msgspec

from ..analyzer import LiveAnalyzer, SwingSummary
from ..server.protocol.figures import BreakerState, LaneStats
from ..server.protocol.stream import FeedbackData, FeedbackMessage, Payload, ServerMessage
from ..server.storage.records import SessionRecord, StoredFeedback
from .breaker import CircuitBreaker
from .offline import OfflineCoach
from .provider import FeedbackProvider, ProviderError, Source
from .request import FeedbackRequest, worst_severity
from .stats import DurationHistogram

logger = logging.getLogger("swingsync_fast.feedback")


class LaneConfig(msgspec.Struct, frozen=True, kw_only=True):
    workers: int = 4
    max_queued: int = 1024  # sessions with a request waiting; beyond it new requests are refused
    first_piece_timeout_s: float = 4.0
    total_timeout_s: float = 20.0
    retries: int = 2  # extra attempts after a transient failure
    retry_backoff_s: float = 0.25  # first retry delay; doubles each time, +-50% jitter
    rate_per_minute: float = 6.0  # model calls per session, sustained
    rate_burst: int = 3
    breaker_failures: int = 3  # failed answers in a row that open the circuit
    breaker_cooldown_s: float = 30.0
    recent_swings: int = 5  # earlier swings of the session given as context

    def __post_init__(self) -> None:
        for name in ("workers", "max_queued", "first_piece_timeout_s", "total_timeout_s", "retry_backoff_s",
                     "rate_per_minute", "rate_burst", "breaker_failures", "breaker_cooldown_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"feedback lane: {name} must be positive, got {getattr(self, name)!r}")
        if self.retries < 0 or self.recent_swings < 0:
            raise ValueError("feedback lane: retries and recent_swings must not be negative")


class SwingSession(Protocol):
    """What the lane reads of a streaming session (``server.stream.session.StreamSession``)."""

    session_id: str
    record: SessionRecord
    analyzer: LiveAnalyzer  # its swings so far: the context of a request
    encode: Callable[[ServerMessage], Payload]  # a message in the session's layout


class FeedbackSink(Protocol):
    """Where a session's feedback messages go: its socket."""

    async def deliver(self, payload: Payload) -> bool:
        """Send one message; False if the socket is gone."""
        ...


class FeedbackMirror(Protocol):
    """Seam for the coaching issue: a linked coaching session sees the player's feedback.

    Called on the event loop for each piece delivered to the player; it must
    only enqueue, never wait.
    """

    def feedback(self, session_id: str, message: FeedbackMessage) -> None: ...


class FeedbackArchive(Protocol):
    """Where finished answers are kept (the session store); called on the event loop, only enqueues."""

    def add_feedback(self, feedback: StoredFeedback) -> None: ...


class CoachTips(Protocol):
    """Seam for the coaching issue: the tips a coach gave in the session's linked coaching session."""

    def tips(self, session_id: str) -> Sequence[str]: ...


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"


class ModelTimeout(Exception):
    pass


class SinkClosed(Exception):
    """The socket went away while an answer was being sent."""


class _Budget:
    """A session's model calls: a token bucket, refilled continuously."""

    __slots__ = ("tokens", "stamp")

    def __init__(self, burst: int) -> None:
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self, per_s: float, burst: int) -> bool:
        now = time.monotonic()
        self.tokens = min(float(burst), self.tokens + (now - self.stamp) * per_s)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class _Open:
    """A session the lane may answer: its socket and its model budget."""

    __slots__ = ("sink", "budget")

    def __init__(self, sink: FeedbackSink, budget: _Budget) -> None:
        self.sink = sink
        self.budget = budget


class Job:
    __slots__ = (
        "feedback_id", "session_id", "swing_index", "request", "streaming", "sink", "encode", "budget",
        "queued_at", "state", "task", "sent", "judged", "text",
    )

    def __init__(
        self, session_id: str, request: FeedbackRequest, streaming: bool, target: _Open,
        encode: Callable[[ServerMessage], Payload],
    ) -> None:
        self.feedback_id = uuid.uuid4().hex
        self.session_id = session_id
        self.swing_index = request.swing.swing_index
        self.request = request
        self.streaming = streaming
        self.sink = target.sink
        self.budget = target.budget
        self.encode = encode
        self.queued_at = time.monotonic()
        self.state = JobState.QUEUED
        self.task: asyncio.Task[None] | None = None
        self.sent = 0  # messages delivered to the player so far
        self.judged = False  # the breaker has been told how the model did
        self.text: list[str] = []  # the pieces delivered, for the archive


_END = object()  # the model's stream finished


class FeedbackLane:
    def __init__(
        self,
        config: LaneConfig | None = None,
        *,
        model: FeedbackProvider | None = None,
        offline: OfflineCoach | None = None,
        mirror: FeedbackMirror | None = None,
        tips: CoachTips | None = None,
        archive: FeedbackArchive | None = None,
    ) -> None:
        self.config = config = config or LaneConfig()
        self.model = model
        self.offline = offline or OfflineCoach()
        self.mirror = mirror
        self.tips = tips
        self.archive = archive
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_cooldown_s)
        self._per_s = config.rate_per_minute / 60.0
        self._sessions: dict[str, _Open] = {}
        self._queued: dict[str, Job] = {}  # session id -> its waiting request (insertion = arrival order)
        self._running: dict[str, Job] = {}  # session id -> its answer in flight
        self._ready: asyncio.Queue[str] = asyncio.Queue()  # sessions whose request may start
        self._workers: list[asyncio.Task[None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._first_piece = {source: DurationHistogram() for source in Source}
        self.requested_total = self.coalesced = self.completed = 0
        self.from_model = self.from_offline = self.fallbacks = self.timeouts = self.model_errors = 0
        self.retries = self.rate_limited = self.rejected = self.cancelled = 0

    # ---------------------------------------------------------------- sessions (registry)

    def open(self, session_id: str, sink: FeedbackSink) -> None:
        """A session started streaming on ``sink``: feedback for it may now be requested."""
        self._sessions[session_id] = _Open(sink, _Budget(self.config.rate_burst))

    def close(self, session_id: str, *, cancel: bool) -> None:
        """The session ended: no new requests; with ``cancel``, drop its waiting and in-flight ones."""
        self._sessions.pop(session_id, None)
        if cancel:
            self._cancel_where(lambda job: job.session_id == session_id)

    def disconnect(self, sink: FeedbackSink) -> None:
        """The socket closed: cancel everything on its way to it."""
        for session_id in [sid for sid, target in self._sessions.items() if target.sink is sink]:
            del self._sessions[session_id]
        self._cancel_where(lambda job: job.sink is sink)

    def _cancel_where(self, match: Callable[[Job], bool]) -> None:
        for session_id, job in list(self._queued.items()):
            if match(job):
                del self._queued[session_id]
                job.state = JobState.CANCELLED
                self.cancelled += 1
        for job in list(self._running.values()):
            if match(job) and job.task is not None:
                job.task.cancel()  # counted by _run

    # ---------------------------------------------------------------- triggers (the session, on the event loop)

    def swing_ended(self, session: SwingSession, summary: SwingSummary) -> None:
        """A swing summary went out: ask for feedback if it is bad enough and the session wants it."""
        config = session.record.config
        if not config.enable_instant_feedback or config.feedback_mode == "disabled":
            return
        if worst_severity(summary) < config.feedback_threshold:
            return
        self._submit(session, summary, requested=False)

    def requested(self, session: SwingSession, summary: SwingSummary) -> bool:
        """The player asked for feedback on ``summary``; False if the lane cannot take it now."""
        return self._submit(session, summary, requested=True)

    def _submit(self, session: SwingSession, summary: SwingSummary, *, requested: bool) -> bool:
        session_id = session.session_id
        target = self._sessions.get(session_id)
        if target is None or self._stopping:
            return False
        if session_id not in self._queued and len(self._queued) >= self.config.max_queued:
            self.rejected += 1
            return False
        config = session.record.config
        earlier = [s for s in session.analyzer.swings if s.swing_index < summary.swing_index]
        keep = self.config.recent_swings
        request = FeedbackRequest(
            swing=summary,
            club=config.club_used,
            skill_level=config.skill_level,
            handedness=config.handedness,
            threshold=config.feedback_threshold,
            recent=tuple(earlier[-keep:]) if keep else (),
            coach_tips=tuple(self.tips.tips(session_id)) if self.tips is not None else (),
            requested=requested,
        )
        job = Job(session_id, request, config.feedback_mode != "batch", target, session.encode)
        self.requested_total += 1
        replaced = self._queued.pop(session_id, None)
        self._queued[session_id] = job
        if replaced is not None:
            replaced.state = JobState.CANCELLED
            self.coalesced += 1
        elif session_id not in self._running:
            self._ready.put_nowait(session_id)
        # else: the answer in flight puts the session back in line when it ends
        return True

    async def answer(self, request: FeedbackRequest) -> tuple[str, Source]:
        """One whole answer outside any session (batch analysis): the model when the breaker lets it
        be asked, else, or when it fails, OfflineCoach. Not rate limited per session: the caller bounds it."""
        model = self.model
        if model is not None and self.breaker.allow():
            try:
                text = (await asyncio.wait_for(model.complete(request), self.config.total_timeout_s)).strip()
            except (ProviderError, asyncio.TimeoutError) as exc:
                text = ""
                logger.warning("feedback (batch): the model failed (%s); answering from OfflineCoach", exc)
            if text:
                self.breaker.success()
                self.from_model += 1
                return text, Source.GEMINI
            self.breaker.failure()
            self.fallbacks += 1
        self.from_offline += 1
        return " ".join(self.offline.pieces(request)), Source.OFFLINE

    # ---------------------------------------------------------------- workers

    async def start(self) -> None:
        """Start the workers and get the model ready; a model that will not start is logged, and
        its requests then fail over to OfflineCoach like any other model failure."""
        loop = asyncio.get_running_loop()
        self._stopping = False
        self._workers = [
            loop.create_task(self._work(), name=f"swingsync-feedback-{i}") for i in range(self.config.workers)
        ]
        if self.model is not None:
            try:
                await self.model.start()
            except ProviderError as exc:
                logger.error("feedback: the model is not ready (%s); OfflineCoach answers until it is", exc)

    async def stop(self) -> None:
        """Cancel everything, wait for it to unwind, close the model's client."""
        self._stopping = True
        pending = [*self._workers, *self._tasks]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._workers = []
        self._queued.clear()
        if self.model is not None:
            await self.model.aclose()

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            session_id = await self._ready.get()
            if session_id in self._running:
                continue  # its answer in flight will put it back in line
            job = self._queued.pop(session_id, None)
            if job is None:
                continue  # cancelled while waiting
            self._running[session_id] = job
            job.state = JobState.RUNNING
            # A task per answer, so cancelling one answer never cancels its worker.
            task = job.task = loop.create_task(self._run(job), name=f"swingsync-feedback-{job.feedback_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            try:
                await asyncio.wait((task,))
            finally:
                if not task.done():  # the worker itself is being stopped
                    task.cancel()
                if self._running.get(session_id) is job:
                    del self._running[session_id]
                if session_id in self._queued:
                    self._ready.put_nowait(session_id)

    async def _run(self, job: Job) -> None:
        probe = False
        try:
            if self.model is None:
                await self._from_offline(job)
            elif not job.budget.take(self._per_s, self.config.rate_burst):
                self.rate_limited += 1
                await self._from_offline(job)
            elif self.breaker.allow():
                probe = self.breaker.state is BreakerState.HALF_OPEN
                await self._from_model(job, self.model)
            else:
                self.fallbacks += 1
                await self._from_offline(job)
        except (asyncio.CancelledError, SinkClosed) as exc:
            if probe and not job.judged:
                self.breaker.abandon()
            job.state = JobState.CANCELLED
            self.cancelled += 1
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        job.state = JobState.DONE
        self.completed += 1

    # ---------------------------------------------------------------- answering

    async def _from_model(self, job: Job, model: FeedbackProvider) -> None:
        config = self.config
        deadline = time.monotonic() + config.total_timeout_s
        attempt = 0
        while True:
            try:
                if job.streaming:
                    first = min(time.monotonic() + config.first_piece_timeout_s, deadline)
                    await self._model_stream(job, model, first, deadline)
                else:
                    await self._model_batch(job, model, deadline)
            except ProviderError as exc:
                self.model_errors += 1
                delay = config.retry_backoff_s * 2**attempt * random.uniform(0.5, 1.5)
                if (exc.transient and job.sent == 0 and attempt < config.retries
                        and time.monotonic() + delay < deadline):
                    attempt += 1
                    self.retries += 1
                    logger.info("feedback %s: %s; retrying in %.2f s", job.feedback_id, exc, delay)
                    await asyncio.sleep(delay)
                    continue
                failure: Exception = exc
            except ModelTimeout as exc:
                self.timeouts += 1
                failure = exc
            else:
                self._judge(job, ok=True)
                self.from_model += 1
                return
            self._judge(job, ok=False)
            self.fallbacks += 1
            logger.warning("feedback %s: the model failed (%s); answering from OfflineCoach",
                           job.feedback_id, failure)
            await self._from_offline(job)
            return

    def _judge(self, job: Job, *, ok: bool) -> None:
        job.judged = True
        was = self.breaker.state
        if ok:
            self.breaker.success()
        else:
            self.breaker.failure()
        now = self.breaker.state
        if now is not was and now is BreakerState.OPEN:
            logger.warning("feedback: the model failed %d time(s) in a row; answering from OfflineCoach "
                           "for %g s", self.breaker.consecutive_failures, self.breaker.cooldown_s)
        elif now is not was and now is BreakerState.CLOSED:
            logger.info("feedback: the model answers again")

    async def _model_batch(self, job: Job, model: FeedbackProvider, deadline: float) -> None:
        try:
            text = await asyncio.wait_for(model.complete(job.request), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            raise ModelTimeout(f"no answer within the total timeout of {self.config.total_timeout_s:g} s") from None
        if not text.strip():
            raise ProviderError("empty", "the model answered with no text", transient=False)
        await self._send(job, text.strip(), True, Source.GEMINI)

    async def _model_stream(self, job: Job, model: FeedbackProvider, first: float, deadline: float) -> None:
        # The stream is read by its own task, which alone touches the HTTP response; this
        # task waits on a queue with the deadlines and cancels the reader when one passes.
        pieces: asyncio.Queue[object] = asyncio.Queue()
        reader = asyncio.get_running_loop().create_task(self._read_stream(model, job.request, pieces))
        shown = job.sent
        try:
            while True:
                limit = deadline if job.sent > shown else first
                try:
                    item = await asyncio.wait_for(pieces.get(), max(0.0, limit - time.monotonic()))
                except asyncio.TimeoutError:
                    if job.sent > shown or limit >= deadline:
                        raise ModelTimeout(
                            f"not finished within the total timeout of {self.config.total_timeout_s:g} s") from None
                    raise ModelTimeout(
                        f"no first piece within {self.config.first_piece_timeout_s:g} s") from None
                if item is _END:
                    break
                if isinstance(item, ProviderError):
                    raise item
                await self._send(job, item, False, Source.GEMINI)  # type: ignore[arg-type]
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        if job.sent == shown:
            raise ProviderError("empty", "the model's stream ended with no text", transient=False)
        await self._send(job, "", True, Source.GEMINI)

    @staticmethod
    async def _read_stream(model: FeedbackProvider, request: FeedbackRequest, out: asyncio.Queue[object]) -> None:
        try:
            async with aclosing(model.stream(request)) as stream:  # type: ignore[type-var]
                async for piece in stream:
                    out.put_nowait(piece)
        except ProviderError as exc:
            out.put_nowait(exc)
        except Exception as exc:  # a provider that broke its contract: still a failed answer, not a crash
            out.put_nowait(ProviderError("unexpected", f"{type(exc).__name__}: {exc}", transient=False))
        else:
            out.put_nowait(_END)

    async def _from_offline(self, job: Job) -> None:
        pieces = self.offline.pieces(job.request)
        if not job.streaming or job.sent:
            # One message: batch mode, or after the model's pieces, so it reads as a whole.
            await self._send(job, " ".join(pieces), True, Source.OFFLINE)
        else:
            last = len(pieces) - 1
            for i, piece in enumerate(pieces):
                await self._send(job, piece if i == last else piece + " ", i == last, Source.OFFLINE)
        self.from_offline += 1

    async def _send(self, job: Job, text: str, done: bool, source: Source) -> None:
        message = FeedbackMessage(
            FeedbackData(job.feedback_id, job.session_id, job.swing_index, text, done, source.value)
        )
        if not await job.sink.deliver(job.encode(message)):
            raise SinkClosed(job.session_id)
        if job.sent == 0:
            self._first_piece[source].record((time.monotonic() - job.queued_at) * 1000)
        job.sent += 1
        if self.mirror is not None:
            self.mirror.feedback(job.session_id, message)
        if self.archive is not None:
            job.text.append(text)
            if done:
                self.archive.add_feedback(StoredFeedback(
                    session_id=job.session_id, swing_index=job.swing_index, feedback_id=job.feedback_id,
                    source=source.value, text="".join(job.text).strip(), created_at=time.time()))

    # ---------------------------------------------------------------- figures

    def stats(self) -> LaneStats:
        model = self.model
        return LaneStats(
            provider=model.source.value if model is not None else Source.OFFLINE.value,
            model=getattr(model, "model", None),
            workers=self.config.workers,
            queued=len(self._queued),
            in_flight=len(self._running),
            requested=self.requested_total,
            coalesced=self.coalesced,
            completed=self.completed,
            from_model=self.from_model,
            from_offline=self.from_offline,
            fallbacks=self.fallbacks,
            timeouts=self.timeouts,
            model_errors=self.model_errors,
            retries=self.retries,
            rate_limited=self.rate_limited,
            rejected=self.rejected,
            cancelled=self.cancelled,
            breaker=self.breaker.stats(),
            time_to_first_piece={s.value: h.summary() for s, h in self._first_piece.items()},
        )
