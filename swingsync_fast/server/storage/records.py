"""What the stores keep: session records, coaching messages, swings, feedback texts, recorded frames.

Records change when a session is created, started and ended; a coaching
session's messages are appended as they are sent. Swings, recorded frames and
finished feedback texts come from the frame path and are queued (see
``base.SessionStore``). Leaves: nothing here imports the rest of the server.
"""

from __future__ import annotations

import enum
import logging

import msgspec

from ...analyzer import SwingSummary
from ..protocol.figures import SessionStats
from ..protocol.stream import StreamConfig

logger = logging.getLogger("swingsync_fast.server")


class SessionState(str, enum.Enum):
    CREATED = "created"  # over REST, no socket yet
    ACTIVE = "active"  # streaming on a socket
    ENDED = "ended"


class SessionRecord(msgspec.Struct, kw_only=True):
    session_id: str
    user_id: str
    session_name: str
    config: StreamConfig
    state: SessionState
    created_at: float  # epoch seconds
    started_at: float | None = None
    ended_at: float | None = None
    end_reason: str | None = None
    participants: list[str] = msgspec.field(default_factory=list)
    stats: SessionStats | None = None  # final figures, once ended
    # The fault thresholds' personal baseline while it streamed ({} = population limits).
    baseline: dict[str, float] | None = None

    def visible_to(self, user_id: str, is_admin: bool) -> bool:
        return is_admin or user_id == self.user_id or user_id in self.participants


class StoredMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One message of a coaching session (a tip, a drill, a frame update), kept to replay it."""

    session_id: str
    sender: str  # the user id that sent it
    type: str  # the wire message type, e.g. "coaching_tip"
    sent_at: float  # epoch seconds
    body: msgspec.Raw  # the whole wire message as JSON, replayed as it was sent


class StoredSwing(msgspec.Struct, frozen=True, kw_only=True):
    """A swing summary as the player received it, with what history queries need."""

    session_id: str
    user_id: str
    club: str  # the club family it was hit with (driver | wood | iron | wedge)
    ended_at: float  # epoch seconds, when the server saw the swing end
    summary: SwingSummary


class StoredFeedback(msgspec.Struct, frozen=True, kw_only=True):
    """One finished feedback answer: every piece's text, joined."""

    session_id: str
    swing_index: int
    feedback_id: str
    source: str  # of the last piece: "gemini", or "offline" (also after a model failure)
    text: str
    created_at: float


class StoredPicture(msgspec.Struct, frozen=True, kw_only=True):
    """A key-position picture of a swing (see ``pictures``): a small JPEG, checked before it is stored."""

    session_id: str
    swing_index: int
    moment: str  # address | top | impact | finish
    width: int
    height: int
    created_at: float
    jpeg: bytes


class RecordedFrame(msgspec.Struct, frozen=True, array_like=True):
    """A frame as the session analysed it: (33, 4) float32 little-endian, MediaPipe order."""

    frame_index: int
    timestamp: float
    keypoints: bytes

