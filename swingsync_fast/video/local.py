"""Analyse posed frames here, as the server would (slow motion found for a file), and the offline coach for the text after each swing."""

from __future__ import annotations

import msgspec

from ..analyzer import SwingSummary
from ..config import SessionConfig
from ..feedback import FeedbackRequest, OfflineCoach
from ..timebase import new_analyzer
from .events import Event, FaultOnsets, FrameState, event
from .posed import PosedFrame

RECENT_SWINGS = 5  # earlier swings the coach looks back on, as the server's feedback lane does


class LocalAnalysis:
    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self._analyzer = new_analyzer(config)
        self._coach = OfflineCoach()
        self._faults = FaultOnsets()

    def feed(self, frame: PosedFrame) -> tuple[FrameState, list[Event]]:
        result = self._analyzer.push(frame.index, frame.timestamp, frame.keypoints, frame.world_keypoints)
        events: list[Event] = []
        if result.event is not None:
            e = result.event
            events.append(event("swing_event", {"phase": e.phase, "frame_index": e.frame_index,
                                                "timestamp": e.timestamp, "detected_at_frame": frame.index}))
        events += self._faults.check(frame.index, frame.timestamp, result.swing_phase,
                                     [(f.fault_id, f.name, f.severity) for f in result.faults])
        if result.swing is not None:
            events += self._swing_ended(result.swing)
        state = FrameState(
            frame_index=frame.index,
            swing_phase=result.swing_phase,
            p_position=result.p_position,
            kpis=result.kpis,
            faults=tuple((f.fault_id, f.severity) for f in result.faults),
            swings=len(self._analyzer.swings),
        )
        return state, events

    def finish(self) -> list[Event]:
        """End of the video: a swing already past impact is summarised now."""
        last = self._analyzer.close()
        return self._swing_ended(last) if last is not None else []

    @property
    def swings(self) -> list[SwingSummary]:
        return self._analyzer.swings

    def _swing_ended(self, swing: SwingSummary) -> list[Event]:
        self._faults.new_swing()
        earlier = self._analyzer.swings[:-1]
        request = FeedbackRequest(
            swing=swing,
            club=self.config.club_used,
            skill_level=self.config.skill_level,
            handedness=self.config.handedness,
            threshold=self.config.feedback_threshold,
            recent=tuple(earlier[-RECENT_SWINGS:]),
        )
        return [
            event("swing_summary", msgspec.to_builtins(swing)),
            event("feedback", {"swing_index": swing.swing_index, "feedback": self._coach.text(request),
                               "source": "offline"}),
        ]
