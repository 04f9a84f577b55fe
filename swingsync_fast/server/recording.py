"""A session's recorded frames as one file, to replay it (``python -m swingsync_fast replay FILE``).

MessagePack: the session's config, with ``baseline`` pinned to the one the
session was analysed against (so a replay gets the same fault limits
whatever the player's history is by then), and each frame as the
analyser's float32 slot held it, so the replay sends the very same numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from .protocol.stream import StreamConfig
from .storage.records import RecordedFrame, SessionRecord

FORMAT = "swingsync-recording"


class SessionRecording(msgspec.Struct, kw_only=True):
    format: Literal["swingsync-recording"] = FORMAT
    version: int = 1
    session_id: str
    user_id: str
    config: StreamConfig
    frames: list[RecordedFrame]


_decode = msgspec.msgpack.Decoder(SessionRecording).decode


def recording_of(record: SessionRecord, frames: list[RecordedFrame]) -> SessionRecording:
    config = msgspec.structs.replace(record.config, baseline=record.baseline, record_frames=False)
    return SessionRecording(session_id=record.session_id, user_id=record.user_id, config=config, frames=frames)


def encode_recording(recording: SessionRecording) -> bytes:
    return msgspec.msgpack.encode(recording)


def read_recording(path: str | Path) -> SessionRecording:
    try:
        return _decode(Path(path).read_bytes())
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"{path} is not a SwingSync recording: {exc}") from None
