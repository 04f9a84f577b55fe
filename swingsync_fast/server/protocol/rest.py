"""REST bodies, in and out: sessions, status, health, batch analysis, history and progress.

Session records and stats (``storage.records``, ``protocol.figures``) are bodies too; they live
where they are stored and counted.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from ...analyzer import SwingSummary
from ..storage.records import SessionRecord, SessionState
from .figures import SessionStats
from .stream import ConnectionLimits, FrameFields, FrameLayout, StreamConfig

UserId = Annotated[str, Meta(min_length=1, max_length=128)]


class CreateSessionRequest(StreamConfig, kw_only=True):
    """A session config (the seed's fields) plus who else may watch it."""

    participants: Annotated[list[UserId], Meta(max_length=16)] = msgspec.field(default_factory=list)


class SocketTicket(msgspec.Struct):
    """Opens one socket as ``?ticket=`` before ``expires_at`` (epoch seconds)."""

    ticket: str
    user_id: str
    expires_at: float
    expires_in_s: float


class SessionList(msgspec.Struct):
    sessions: list[SessionRecord]


class SessionStatsView(msgspec.Struct):
    session_id: str
    state: SessionState
    stats: SessionStats | None  # None until the session has streamed


class StreamingStatus(msgspec.Struct):
    status: Literal["running", "draining"]
    version: str
    uptime_s: float
    auth: Literal["jwt", "disabled"]
    connections: int
    sessions_active: int
    frame_layouts: list[FrameLayout]
    limits: ConnectionLimits


class Health(msgspec.Struct):
    status: Literal["ok", "draining"]


class AnalyzeRequest(StreamConfig, kw_only=True):
    """A session config (club_used, skill_level, handedness, coordinate_system, ...) and its frames."""

    frames: Annotated[list[FrameFields], Meta(min_length=1)]
    feedback: bool = False  # also coaching text for the first MAX_FEEDBACK_SWINGS swings


class SwingFeedback(msgspec.Struct, frozen=True):
    swing_index: int
    source: str  # "gemini" | "offline"
    text: str


class AnalyzeResponse(msgspec.Struct):
    frames_received: int
    frames_analysed: int
    frames_unusable: int  # analysed, but without a usable body (see README)
    baseline: dict[str, float]  # the personal baseline the fault limits adapted to ({} = none)
    swings: list[SwingSummary]
    feedback: list[SwingFeedback] | None = None  # when asked for


class FeedbackView(msgspec.Struct, frozen=True):
    feedback_id: str
    source: str
    text: str
    created_at: float


class SwingView(msgspec.Struct, frozen=True):
    swing_index: int
    ended_at: float
    club: str
    summary: SwingSummary  # as the swing_summary message carried it
    feedback: list[FeedbackView]
    # The moments (address, top, impact, finish) it has a picture of: .../swings/{n}/pictures/{moment}
    pictures: list[str] = []


class SwingList(msgspec.Struct):
    session_id: str
    swings: list[SwingView]


class UserSessionList(msgspec.Struct):
    user_id: str
    sessions: list[SessionRecord]


class ProgressPoint(msgspec.Struct, frozen=True):
    session_id: str
    swing_index: int
    ended_at: float
    club: str
    kpis: dict[str, float | None]  # TRENDED_KPIS
    faults: dict[str, float]  # fault id -> severity


class KpiTrend(msgspec.Struct, frozen=True):
    name: str
    swings: int  # swings where it was measured
    mean: float | None
    earlier_mean: float | None  # the older half of the swings
    recent_mean: float | None  # the newer half


class FaultTrend(msgspec.Struct, frozen=True):
    fault_id: str
    name: str
    swings: int  # swings that had it
    rate: float  # share of all swings
    earlier_rate: float
    recent_rate: float
    mean_severity: float | None


class Progress(msgspec.Struct, frozen=True):
    user_id: str
    swings: int
    sessions: int
    first_at: float | None
    last_at: float | None
    kpis: list[KpiTrend]
    faults: list[FaultTrend]  # every fault id, most frequent first
    points: list[ProgressPoint]  # oldest first
