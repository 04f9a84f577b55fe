"""What an analysis of a video reports, the same from local analysis and from a server.

Per frame a :class:`FrameState` (what to draw on it); as they happen, events
as the socket's envelopes ``{"type": ..., "data": {...}}``: ``swing_event``
(a phase began), ``fault`` (a fault first shows in a swing), ``swing_summary``
(data exactly as the socket's), ``feedback`` (one whole coaching text) and,
last, ``video_ended``.
"""

from __future__ import annotations

from typing import Any

import msgspec

Event = dict[str, Any]


class FrameState(msgspec.Struct, frozen=True):
    """The analysis of one frame, as far as the annotated video shows it."""

    frame_index: int
    swing_phase: str
    p_position: str | None
    kpis: dict[str, float | None] | None
    faults: tuple[tuple[str, float], ...]  # (fault_id, severity) active on this frame
    swings: int  # swings summarised so far


def event(kind: str, data: dict[str, Any]) -> Event:
    return {"type": kind, "data": data}


class FaultOnsets:
    """Turns per-frame fault lists into one ``fault`` event per fault per swing, at its first frame."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def new_swing(self) -> None:
        self._seen.clear()

    def check(self, frame_index: int, timestamp: float, phase: str,
              faults: list[tuple[str, str, float]]) -> list[Event]:
        """``faults``: (fault_id, name, severity) active on this frame."""
        out = []
        for fault_id, name, severity in faults:
            if fault_id not in self._seen:
                self._seen.add(fault_id)
                out.append(event("fault", {"fault_id": fault_id, "name": name, "severity": severity,
                                           "frame_index": frame_index, "timestamp": timestamp,
                                           "swing_phase": phase}))
        return out
