"""The coaching socket's messages: what members send (both ways, in one shape) and what the server sends them."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from msgspec import Meta, Struct, field

from ...analyzer import Fault, SwingSummary
from .stream import FeedbackData, FrameIndex, PingFields, ServerMessage, SwingIndex

# --------------------------------------------------------------------------- coaching socket, both ways

# The coaching messages travel both ways in one shape: the client leaves ``from_user``
# and ``sent_at`` out, the server fills them in before anyone sees the message.
UserId = Annotated[str, Meta(min_length=1, max_length=128)]
Priority = Literal["low", "medium", "high"]
MAX_MIRROR_FPS = 30.0


class CoachingTipData(Struct, kw_only=True):
    tip: Annotated[str, Meta(min_length=1, max_length=2000)]
    target_user: UserId | None = None  # None: everyone in the session
    priority: Priority = "medium"
    from_user: str | None = None
    sent_at: float | None = None


class DrillSuggestionData(Struct, kw_only=True):
    drill_name: Annotated[str, Meta(min_length=1, max_length=200)]
    description: Annotated[str, Meta(max_length=2000)] = ""
    duration_minutes: Annotated[int, Meta(ge=1, le=240)] | None = None
    target_user: UserId | None = None
    from_user: str | None = None
    sent_at: float | None = None


class CoachingFrameUpdateData(Struct, kw_only=True):
    """Look at this frame (or swing) together; at least one of the two indices."""

    frame_index: FrameIndex | None = None
    swing_index: SwingIndex | None = None
    student_id: UserId | None = None  # whose stream the indices are in
    from_user: str | None = None
    sent_at: float | None = None


class CoachingMessage(Struct, tag_field="type"):
    pass


class CoachingTip(CoachingMessage, tag="coaching_tip"):
    data: CoachingTipData


class DrillSuggestion(CoachingMessage, tag="drill_suggestion"):
    data: DrillSuggestionData


class CoachingFrameUpdate(CoachingMessage, tag="coaching_frame_update"):
    data: CoachingFrameUpdateData


class CoachingPing(CoachingMessage, tag="ping"):
    data: PingFields = field(default_factory=PingFields)


AnyCoachingMessage = Union[CoachingTip, DrillSuggestion, CoachingFrameUpdate, CoachingPing]
COACHING_TYPES: frozenset[str] = frozenset({"coaching_tip", "drill_suggestion", "coaching_frame_update", "ping"})


# --------------------------------------------------------------------------- coaching socket, server -> member


class StudentAnalysisResult(Struct, gc=False):
    """A student's analysed frame as their coaches see it, thinned, with the pose to draw."""

    user_id: str
    session_id: str
    frame_index: int
    timestamp: float
    swing_phase: str
    p_position: str | None
    usable: bool
    kpis: dict[str, float | None]
    detected_faults: list[Fault]
    keypoints: list[list[float]]  # 33 x [x, y, z, visibility] in MediaPipe order, rounded


class StudentSwingSummary(SwingSummary, kw_only=True):
    user_id: str
    session_id: str


class StudentFeedbackData(FeedbackData, kw_only=True, frozen=True):
    user_id: str


class Participant(Struct):
    user_id: str
    role: str | None  # the role of the member's token while online; None while away
    online: bool


class StreamingStudent(Struct):
    user_id: str
    session_id: str


class SessionStateData(Struct):
    session_id: str
    user_id: str  # you
    role: str  # your role in the session: coach, player or admin
    owner: str
    participants: list[Participant]  # the owner and every participant, here or not
    streaming: list[StreamingStudent]  # students whose stream is mirrored here now
    latest_swing: StudentSwingSummary | None
    frame: CoachingFrameUpdateData | None  # the latest coaching_frame_update
    mirror_fps: float  # your analysis_result rate, per student
    history: int  # this many earlier coaching messages follow, oldest first


class PresenceData(Struct):
    user_id: str
    role: str
    at: float


class SessionStateMessage(ServerMessage, tag="session_state"):
    data: SessionStateData


class ParticipantJoined(ServerMessage, tag="participant_joined"):
    data: PresenceData


class ParticipantLeft(ServerMessage, tag="participant_left"):
    data: PresenceData


class StudentAnalysisResultMessage(ServerMessage, tag="analysis_result", gc=False):
    data: StudentAnalysisResult


class StudentSwingSummaryMessage(ServerMessage, tag="swing_summary"):
    data: StudentSwingSummary


class StudentFeedbackMessage(ServerMessage, tag="feedback"):
    data: StudentFeedbackData


class BusStatusData(Struct):
    connected: bool  # False: members on other server processes are out of reach until it is True again
    at: float
    detail: str


class BusStatus(ServerMessage, tag="bus_status"):
    """Sent to coaching members when the link between server processes (Redis) goes down or comes back."""

    data: BusStatusData
