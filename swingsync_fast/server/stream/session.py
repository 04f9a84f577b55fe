"""One streaming session: its analyser, counters and latency, and the per-frame path.

Everything a session needs per frame is made here once, at session start
(the analyser's ring, the scratch for raw frames, the encoder for its
layout), so a frame is: order check, write into the slot, ``commit``,
encode. The socket I/O around it lives in ``connection.py``.
"""

from __future__ import annotations

import math
import time
from time import perf_counter_ns
from typing import Protocol

import msgspec

from ...analyzer import FrameResult, LiveAnalyzer, SwingSummary
from ...thresholds import Thresholds
from ...timebase import SlowMotionSearch, new_analyzer
from ..protocol.figures import SessionStats
from ..protocol.stream import ErrorCode, FrameLayout, Payload, SessionEnded, SessionEndedData, SwingSummaryMessage
from ..storage.base import SessionStore
from ..storage.records import RecordedFrame, SessionRecord, SessionState, StoredSwing
from .codec import RESULT_ENCODERS, FrameError, RawFrameReader, message_encoder, swing_event_message, write_keypoints
from .latency import LatencyHistogram

# Leaving degraded mode takes this many frames in a row at no more than half the target.
RECOVER_AFTER_FRAMES = 30
# Recorded frames go to the store in batches of this many (a second at 30 FPS), or sooner: the
# process's checkpoints hand over whatever is held every half flush interval (``checkpoints.py``).
RECORD_BATCH_FRAMES = 30


class OutOfOrder(FrameError):
    code = ErrorCode.OUT_OF_ORDER


class FrameTap(Protocol):
    """A coaching room's view of a session (``watchers.coaching.Tap``): fed from the frame path, it
    only enqueues."""

    watching: bool  # a coach is in the room: frames are worth handing over

    def frame(self, result: FrameResult, analyzer: LiveAnalyzer | SlowMotionSearch) -> None: ...

    def swing_ended(self, summary: SwingSummary) -> None: ...


class Refused(Exception):
    """A client's request the server will not carry out: the ``error`` it gets has this code and text."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FeedbackRefused(Refused):
    """A request_feedback the session will not pass on."""


class FeedbackTrigger(Protocol):
    """Where a session asks for swing feedback (``feedback.lane.FeedbackLane``).

    Both are called on the event loop, ``swing_ended`` on the frame path: an
    implementation only enqueues and returns, never awaits a model or the socket.
    """

    def swing_ended(self, session: StreamSession, summary: SwingSummary) -> None:
        """A swing summary was just queued for the client; the trigger decides if it deserves feedback."""
        ...

    def requested(self, session: StreamSession, summary: SwingSummary) -> bool:
        """The client asked for feedback on ``summary``; False if it cannot be taken now."""
        ...


class StreamSession:
    __slots__ = (
        "record", "session_id", "layout", "analyzer", "latency", "outbox", "degraded",
        "encode", "frames_received", "frames_analysed", "frames_skipped", "frames_rejected",
        "frames_degraded", "kpis_calculated", "swings", "faults_detected",
        "_encode_result", "_raw", "_every", "_countdown", "_kpis", "_target_ns", "_calm",
        "_last_timestamp", "_started_ns", "_feedback", "_kpi_dict", "_store", "_recording", "_recorded",
        "tap",
    )

    def __init__(
        self,
        record: SessionRecord,
        layout: FrameLayout,
        *,
        feedback: FeedbackTrigger | None = None,
        store: SessionStore | None = None,
        thresholds: Thresholds | None = None,
        tap: FrameTap | None = None,
    ) -> None:
        config = record.config
        self.record = record
        self.session_id = record.session_id
        self.layout = layout
        self.analyzer = new_analyzer(config, thresholds=thresholds)
        self.latency = LatencyHistogram()
        # Swing events and summaries of the last frame, sent after its result.
        self.outbox: list[Payload] = []
        self.degraded = False
        self.encode = message_encoder(layout)
        self.frames_received = 0
        self.frames_analysed = 0
        self.frames_skipped = 0
        self.frames_rejected = 0
        self.frames_degraded = 0
        self.kpis_calculated = 0
        self.swings = 0
        self.faults_detected = 0
        self._encode_result = RESULT_ENCODERS[layout]
        self._kpi_dict = layout is FrameLayout.SEED  # the array layouts encode the KPI row
        self._raw = RawFrameReader()
        self._every = config.analysis_frequency
        self._countdown = 1  # the first frame is analysed
        self._kpis = config.enable_real_time_kpis
        self._target_ns = int(config.target_latency_ms * 1_000_000)
        self._calm = 0
        self._last_timestamp = -math.inf
        self._started_ns = perf_counter_ns()
        self._feedback = feedback
        self._store = store  # swing summaries (and recorded frames) are queued to it
        self._recording = store if config.record_frames else None
        self._recorded: list[RecordedFrame] = []
        self.tap = tap  # its coaching room's view of it, if config.coaching_session_id names one

    # ---------------------------------------------------------------- per frame

    def frame(self, frame_index: int, timestamp: float, keypoints: object, received_ns: int,
              world_keypoints: object = None) -> Payload | None:
        """A decoded frame (its numbers already range-checked): the result to send, or None if skipped."""
        analyse = self._take(timestamp)
        if not analyse and self._recording is None:
            return None
        write_keypoints(self.analyzer.slot(), keypoints)
        world = world_keypoints is not None
        if world:
            write_keypoints(self.analyzer.world_slot(), world_keypoints)
        if self._recording is not None:
            self._record(frame_index, timestamp)
        return self._commit(frame_index, timestamp, received_ns, world) if analyse else None

    def raw_frame(self, payload: bytes, received_ns: int) -> Payload | None:
        """A raw float32 frame: checked in the slot before anything counts it."""
        analyzer = self.analyzer
        frame_index, timestamp, world = self._raw.read_into(analyzer.slot(), payload, analyzer.world_slot())
        analyse = self._take(timestamp)
        if self._recording is not None:
            self._record(frame_index, timestamp)
        return self._commit(frame_index, timestamp, received_ns, world) if analyse else None

    def _record(self, frame_index: int, timestamp: float) -> None:
        """Keep the frame now in the slot (skipped ones too, so a replay skips the same ones);
        they go to the store a second's worth at a time, one queued write for many frames."""
        recorded = self._recorded
        recorded.append(RecordedFrame(frame_index, timestamp, self.analyzer.slot().tobytes()))
        if len(recorded) >= RECORD_BATCH_FRAMES:
            self.flush_recorded()

    def flush_recorded(self) -> None:
        """Hand the recorded frames held here to the store (a checkpoint, or the batch is full)."""
        if self._recorded:
            self._recording.add_frames(self.session_id, self._recorded)  # type: ignore[union-attr]
            self._recorded = []

    def _take(self, timestamp: float) -> bool:
        """Order check, then analysis_frequency: True if this frame is to be analysed."""
        if not timestamp > self._last_timestamp:
            raise OutOfOrder(
                f"timestamp {timestamp!r} is not after the previous frame's {self._last_timestamp!r}"
            )
        self._last_timestamp = timestamp
        self.frames_received += 1
        self._countdown -= 1
        if self._countdown:
            self.frames_skipped += 1
            return False
        self._countdown = self._every
        return True

    def _commit(self, frame_index: int, timestamp: float, received_ns: int, world: bool) -> Payload:
        degraded = self.degraded
        with_kpis = self._kpis and not degraded
        analyzer = self.analyzer
        result = analyzer.commit(frame_index, timestamp, with_kpis=with_kpis and self._kpi_dict, world=world)
        # JSON writes an unmeasurable KPI (NaN) as null; MessagePack keeps NaN
        kpi_row = analyzer.last_kpis.tolist() if with_kpis and not self._kpi_dict else None
        self.frames_analysed += 1
        if with_kpis:
            self.kpis_calculated += 1
        elif degraded:
            self.frames_degraded += 1
        tap = self.tap
        if tap is not None and tap.watching:
            tap.frame(result, analyzer)
        if result.event is not None or result.swing is not None:
            self._milestones(result)
        return self._encode_result(
            result, kpi_row, (perf_counter_ns() - received_ns) // 1000, degraded
        )

    def sent(self, elapsed_ns: int) -> None:
        """A result went out ``elapsed_ns`` after its frame came in: account it, degrade or recover."""
        self.latency.record(elapsed_ns)
        if elapsed_ns > self._target_ns:
            self.degraded = True
            self._calm = 0
        elif self.degraded:
            if 2 * elapsed_ns <= self._target_ns:
                self._calm += 1
                if self._calm >= RECOVER_AFTER_FRAMES:
                    self.degraded = False
            else:
                self._calm = 0

    def _milestones(self, result: FrameResult) -> None:
        if result.event is not None:
            self.outbox.append(self.encode(swing_event_message(result.event, result.frame_index)))
        if result.swing is not None:
            self._swing_ended(result.swing)

    def _swing_ended(self, summary: SwingSummary) -> None:
        self.swings += 1
        self.faults_detected += len(summary.faults)
        self.outbox.append(self.encode(SwingSummaryMessage(summary)))
        if self._store is not None:
            record = self.record
            self._store.add_swing(StoredSwing(
                session_id=self.session_id, user_id=record.user_id, club=record.config.club_used,
                ended_at=time.time(), summary=summary))
        if self.tap is not None:
            self.tap.swing_ended(summary)
        if self._feedback is not None:
            self._feedback.swing_ended(self, summary)

    def request_feedback(self, swing_index: int | None) -> None:
        """The client's request_feedback: pass it to the lane or raise FeedbackRefused."""
        if self._feedback is None:
            raise FeedbackRefused(ErrorCode.FEEDBACK_UNAVAILABLE, "this server has no feedback lane")
        if self.record.config.feedback_mode == "disabled":
            raise FeedbackRefused(
                ErrorCode.FEEDBACK_DISABLED, "feedback_mode is disabled for this session; start one with "
                "feedback_mode streaming or batch")
        swings = self.analyzer.swings
        if not swings:
            raise FeedbackRefused(ErrorCode.NO_SWING, "no swing has ended in this session yet")
        if swing_index is None:
            summary = swings[-1]
        else:
            # Swings are numbered from 1 in order, so the index is the position (searched to be safe).
            summary = next((s for s in swings if s.swing_index == swing_index), None)
            if summary is None:
                raise FeedbackRefused(
                    ErrorCode.NO_SWING,
                    f"no swing {swing_index} in this session; it has swings 1 to {swings[-1].swing_index}")
        if not self._feedback.requested(self, summary):
            raise FeedbackRefused(ErrorCode.FEEDBACK_BUSY, "the feedback lane is full; ask again shortly")

    # ---------------------------------------------------------------- lifecycle

    def end(self, reason: str) -> tuple[list[Payload], SessionRecord]:
        """Close the analysis (a swing past impact is summarised now): final messages and record."""
        self.outbox.clear()
        self.flush_recorded()
        summary = self.analyzer.close()
        if summary is not None:
            self._swing_ended(summary)
        stats = self.stats()
        self.outbox.append(
            self.encode(
                SessionEnded(
                    SessionEndedData(
                        self.session_id, reason, self.frames_received, self.frames_analysed,
                        self.swings, stats.duration_s,
                    )
                )
            )
        )
        record = msgspec.structs.replace(
            self.record, state=SessionState.ENDED, ended_at=time.time(), end_reason=reason, stats=stats
        )
        messages, self.outbox = self.outbox, []
        return messages, record

    def checkpoint(self) -> SessionRecord:
        """The record as stored while it streams, with the figures so far."""
        return msgspec.structs.replace(self.record, stats=self.stats())

    def stats(self) -> SessionStats:
        return SessionStats(
            frames_received=self.frames_received,
            frames_analysed=self.frames_analysed,
            frames_skipped=self.frames_skipped,
            frames_rejected=self.frames_rejected,
            frames_degraded=self.frames_degraded,
            kpis_calculated=self.kpis_calculated,
            swings=self.swings,
            faults_detected=self.faults_detected,
            duration_s=round((perf_counter_ns() - self._started_ns) / 1e9, 3),
            latency=self.latency.summary(),
        )
