"""The main socket's messages, both ways, and what every socket shares: the envelope, error and close codes.

Envelope both ways: ``{"type": ..., "data": {...}}``, the struct tag being
``type``. On the main socket messages arrive as JSON text, as MessagePack
(binary, same shape), or as raw float32 frames (binary, see ``RAW_FRAME``);
the coaching and monitor sockets speak JSON text. docs/protocol.md is the
prose version of this package.
"""

from __future__ import annotations

import enum
import math
import struct
from typing import Annotated, Literal, Union

import msgspec
from msgspec import Meta, Struct, field

from ...analyzer import Fault, SwingSummary
from ...catalog import FAULT_IDS
from ...config import SessionConfig
from ...landmarks import LANDMARK_NAMES, NUM_LANDMARKS

# --------------------------------------------------------------------------- limits of a number

MAX_COORDINATE = 1000.0  # metres or normalised image units: beyond this a value is garbage
MAX_TIMESTAMP = 1e10  # seconds (epoch seconds fit; epoch milliseconds do not, on purpose)
MAX_FRAME_INDEX = 2**31 - 1

Coordinate = Annotated[float, Meta(ge=-MAX_COORDINATE, le=MAX_COORDINATE)]
Visibility = Annotated[float, Meta(ge=0.0, le=1.0)]
FrameIndex = Annotated[int, Meta(ge=0, le=MAX_FRAME_INDEX)]
Timestamp = Annotated[float, Meta(ge=0.0, le=MAX_TIMESTAMP)]
SessionId = Annotated[str, Meta(min_length=1, max_length=64)]
SwingIndex = Annotated[int, Meta(ge=1, le=MAX_FRAME_INDEX)]
FaultId = Literal[FAULT_IDS]  # type: ignore[valid-type]  # the catalog's ids, checked by the decoder


class FrameLayout(str, enum.Enum):
    """How a session's replies are shaped; frames may come in any layout at any time."""

    SEED = "seed"  # JSON; kpis as an object, faults as objects (the seed document's shape)
    COMPACT = "compact"  # JSON; kpis as an array in kpi_names order, faults as [id, severity]
    BINARY = "binary"  # MessagePack binary messages, compact shape


class ErrorCode(str, enum.Enum):
    MALFORMED_MESSAGE = "malformed_message"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_MESSAGE = "invalid_message"
    INVALID_CONFIG = "invalid_config"
    INVALID_FRAME = "invalid_frame"
    MESSAGE_TOO_LARGE = "message_too_large"
    OUT_OF_ORDER = "out_of_order"
    NO_SESSION = "no_session"
    SESSION_ACTIVE = "session_active"
    SESSION_NOT_FOUND = "session_not_found"
    SESSION_BUSY = "session_busy"
    SESSION_ENDED = "session_ended"
    WRONG_USER = "wrong_user"
    RATE_LIMITED = "rate_limited"
    FLOOD = "flood"
    TOO_MANY_BAD_MESSAGES = "too_many_bad_messages"
    IDLE_TIMEOUT = "idle_timeout"
    NO_SWING = "no_swing"
    FEEDBACK_DISABLED = "feedback_disabled"
    FEEDBACK_BUSY = "feedback_busy"
    FEEDBACK_UNAVAILABLE = "feedback_unavailable"
    INTERNAL_ERROR = "internal_error"
    COACHING_SESSION_NOT_FOUND = "coaching_session_not_found"
    FORBIDDEN = "forbidden"
    NOT_A_MEMBER = "not_a_member"


class CloseCode(enum.IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001  # server shutting down
    INVALID_DATA = 1007  # too many bad messages in a row
    POLICY_VIOLATION = 1008  # sustained flood over the rate limit
    MESSAGE_TOO_BIG = 1009  # above the WebSocket layer's hard cap (sent by the server library)
    INTERNAL_ERROR = 1011  # a server fault, or a peer that stopped answering pings
    TRY_AGAIN_LATER = 1013  # a coaching or monitor consumer too slow to keep up
    IDLE_TIMEOUT = 4408  # no message for idle_timeout_s


# --------------------------------------------------------------------------- client -> server


class Landmark(Struct, frozen=True, gc=False):
    x: Coordinate
    y: Coordinate
    z: Coordinate
    visibility: Visibility = 1.0


# The seed's keypoints object: one optional field per MediaPipe landmark name, so
# msgspec itself rejects unknown names; a landmark left out counts as not visible.
Keypoints = msgspec.defstruct(
    "Keypoints",
    [(name, Union[Landmark, None], None) for name in LANDMARK_NAMES],
    forbid_unknown_fields=True,
    frozen=True,
    gc=False,
)

# The compact layout: x, y, z, visibility of each landmark in MediaPipe order, flat.
PackedKeypoints = tuple.__class_getitem__((Coordinate, Coordinate, Coordinate, Visibility) * NUM_LANDMARKS)
PACKED_LENGTH = 4 * NUM_LANDMARKS


class FrameFields(Struct, gc=False):
    frame_index: FrameIndex
    timestamp: Timestamp
    keypoints: Union[Keypoints, PackedKeypoints]  # type: ignore[valid-type]
    # MediaPipe's world landmarks of the same pose call (metres, hip-centred), beside image
    # keypoints: the analysis turns the body lines from their depth where the camera needs it.
    world_keypoints: Union[Keypoints, PackedKeypoints, None] = None  # type: ignore[valid-type]


class StreamConfig(SessionConfig, kw_only=True):
    """The seed's session config plus the reply layout (None: from how the session was started),
    the coaching session whose coaches see this stream (None: nobody's), recording and baseline."""

    frame_layout: FrameLayout | None = None
    coaching_session_id: SessionId | None = None
    # Keep the session's frames as they were analysed, for replay (GET .../recording).
    record_frames: bool = False
    # The personal baseline the fault limits adapt to: fault id -> the player's typical value of
    # that rule's metric. None: built from the player's stored swings at session start; {}: none.
    baseline: dict[FaultId, float] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for fault_id, value in (self.baseline or {}).items():
            if fault_id not in FAULT_IDS:
                raise ValueError(f"baseline names unknown fault {fault_id!r}")
            if not math.isfinite(value):
                raise ValueError(f"baseline {fault_id} must be a finite number")


class StartFields(Struct):
    config: StreamConfig | None = None
    session_id: SessionId | None = None  # attach to a session created over REST


class EndFields(Struct):
    pass


class PingFields(Struct):
    pass


class RequestFeedbackFields(Struct):
    swing_index: SwingIndex | None = None  # None: the session's latest swing


class ClientMessage(Struct, tag_field="type"):
    pass


class StartSession(ClientMessage, tag="start_session"):
    data: StartFields = field(default_factory=StartFields)


class StartStreamingSession(ClientMessage, tag="start_streaming_session"):
    data: StartFields = field(default_factory=StartFields)


class FrameData(ClientMessage, tag="frame_data", gc=False):
    data: FrameFields


class EndSession(ClientMessage, tag="end_session"):
    data: EndFields = field(default_factory=EndFields)


class Ping(ClientMessage, tag="ping"):
    data: PingFields = field(default_factory=PingFields)


class RequestFeedback(ClientMessage, tag="request_feedback"):
    data: RequestFeedbackFields = field(default_factory=RequestFeedbackFields)


AnyClientMessage = Union[StartSession, StartStreamingSession, FrameData, EndSession, Ping, RequestFeedback]
CLIENT_TYPES: frozenset[str] = frozenset(
    {"start_session", "start_streaming_session", "frame_data", "end_session", "ping", "request_feedback"}
)


class TypeOnly(Struct):
    """Just enough of a message to tell an unknown type from a bad body (error path only)."""

    type: str | None = None


# Raw float32 frame, little-endian: magic, frame_index (uint32), timestamp (float64),
# then x, y, z, visibility of the 33 landmarks as float32 in MediaPipe order.
RAW_MAGIC = b"SSF1"
RAW_HEADER = struct.Struct("<4sId")
RAW_FRAME_BYTES = RAW_HEADER.size + 4 * PACKED_LENGTH
# The same with MediaPipe's world landmarks of the same call after the image ones.
RAW_WORLD_MAGIC = b"SSF2"
RAW_WORLD_FRAME_BYTES = RAW_FRAME_BYTES + 4 * PACKED_LENGTH

# --------------------------------------------------------------------------- server -> client


class ConnectionLimits(Struct, frozen=True):
    max_message_bytes: int
    frames_per_second: float
    frame_burst: int
    idle_timeout_s: float


class SessionStartedData(Struct):
    session_id: str
    user_id: str
    session_name: str
    frame_layout: FrameLayout
    config: StreamConfig
    kpi_names: tuple[str, ...]
    limits: ConnectionLimits
    server_time: float
    # fault id -> its name, as swing summaries name it: one name per fault in every client
    fault_names: dict[str, str] = {}


class AnalysisResult(Struct, gc=False):
    """One analysed frame, seed layout."""

    frame_index: int
    timestamp: float
    swing_phase: str
    p_position: str | None
    usable: bool
    kpis: dict[str, float | None] | None
    detected_faults: list[Fault]
    processing_time_us: int
    degraded: bool
    # the view of the address in force (face_on | down_the_line | oblique), null before one
    # or for 3-D input; fitted once per swing at its address
    camera_view: str | None = None


class CompactAnalysisResult(Struct, gc=False):
    """One analysed frame, compact and binary layouts: kpis in ``kpi_names`` order."""

    frame_index: int
    timestamp: float
    swing_phase: str
    p_position: str | None
    usable: bool
    kpis: list[float | None] | None
    detected_faults: list[tuple[str, float]]
    processing_time_us: int
    degraded: bool
    camera_view: str | None = None


class SwingEventData(Struct, frozen=True):
    phase: str
    frame_index: int  # the frame the phase began at
    timestamp: float
    detected_at_frame: int  # the frame whose analysis confirmed it


class SessionEndedData(Struct):
    session_id: str
    reason: str
    frames_received: int
    frames_analysed: int
    swings: int
    duration_s: float


class ErrorData(Struct, omit_defaults=True):
    code: ErrorCode
    message: str
    frame_index: int | None = None


class PongData(Struct):
    server_time: float


FeedbackSource = Literal["gemini", "offline"]


class FeedbackData(Struct, frozen=True):
    """One piece of coaching text; pieces of one answer share ``feedback_id``, the last has ``done``."""

    feedback_id: str
    session_id: str
    swing_index: int
    feedback: str  # this piece (append the pieces in order; the last one may be empty)
    done: bool
    source: FeedbackSource


class ServerMessage(Struct, tag_field="type"):
    pass


class SessionStarted(ServerMessage, tag="session_started"):
    data: SessionStartedData


class AnalysisResultMessage(ServerMessage, tag="analysis_result", gc=False):
    data: AnalysisResult


class CompactAnalysisResultMessage(ServerMessage, tag="analysis_result", gc=False):
    data: CompactAnalysisResult


class SwingEventMessage(ServerMessage, tag="swing_event"):
    data: SwingEventData


class SwingSummaryMessage(ServerMessage, tag="swing_summary"):
    data: SwingSummary


class SessionEnded(ServerMessage, tag="session_ended"):
    data: SessionEndedData


class ErrorMessage(ServerMessage, tag="error"):
    data: ErrorData


class Pong(ServerMessage, tag="pong"):
    data: PongData


class FeedbackMessage(ServerMessage, tag="feedback"):
    data: FeedbackData


Payload = str | bytes  # str goes out as a text message, bytes as binary
