"""Both ends of the hot path: bytes into the ring slot, results into bytes.

Decoding is msgspec into typed Structs (ranges checked by the decoder
itself); keypoints then go into the analyser's preallocated slot with one
``struct.pack_into`` (JSON layouts) or one buffer copy (raw float32), so no
per-frame arrays or dicts are built here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import chain
from struct import Struct as BinaryStruct
from struct import error as StructError

import msgspec
import numpy as np
from msgspec.structs import astuple
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected

from ...analyzer import FrameResult, SwingEvent
from ...landmarks import LANDMARK_NAMES, NUM_LANDMARKS
from ..protocol.stream import (
    MAX_COORDINATE,
    MAX_FRAME_INDEX,
    MAX_TIMESTAMP,
    PACKED_LENGTH,
    RAW_FRAME_BYTES,
    RAW_HEADER,
    RAW_MAGIC,
    RAW_WORLD_FRAME_BYTES,
    RAW_WORLD_MAGIC,
    AnalysisResult,
    AnalysisResultMessage,
    AnyClientMessage,
    CompactAnalysisResult,
    CompactAnalysisResultMessage,
    ErrorCode,
    FrameLayout,
    Payload,
    ServerMessage,
    SwingEventData,
    SwingEventMessage,
)

JSON_DECODER = msgspec.json.Decoder(AnyClientMessage)
MSGPACK_DECODER = msgspec.msgpack.Decoder(AnyClientMessage)
_json_encode = msgspec.json.Encoder().encode
_msgpack_encode = msgspec.msgpack.Encoder().encode
_PACK = BinaryStruct(f"<{PACKED_LENGTH}f")
_MISSING = (0.0, 0.0, 0.0, 0.0)  # a landmark the client left out: not visible
_COLUMNS = ("x", "y", "z", "visibility")

# Raw frames are range-checked on their float32 bits, three numpy calls in all:
# shifting out the sign bit of x, y, z leaves |value|'s bits, which order like
# the values, so |x| <= MAX_COORDINATE is one unsigned compare; visibility keeps
# its sign bit, so a negative one (or -0.0) compares above the bits of 1.0.
# NaN and inf have the largest exponent and fail every bound.
_SIGN_DROP = np.tile(np.array([1, 1, 1, 0], np.uint32), (NUM_LANDMARKS, 1))
_BOUND = np.tile(
    np.array([np.float32(MAX_COORDINATE).view(np.uint32) << 1] * 3 + [np.float32(1.0).view(np.uint32)], np.uint32),
    (NUM_LANDMARKS, 1),
)


def send_event(payload: Payload) -> dict[str, object]:
    """The ASGI message that sends ``payload``: text for str, binary for bytes."""
    if type(payload) is str:
        return {"type": "websocket.send", "text": payload}
    return {"type": "websocket.send", "bytes": payload}


class FrameError(ValueError):
    """A frame that will not be analysed; the text says exactly why."""

    code = ErrorCode.INVALID_FRAME


def write_keypoints(slot: np.ndarray, keypoints: object) -> None:
    """Write decoded keypoints (seed object or compact tuple) into a (33, 4) float32 slot."""
    if type(keypoints) is tuple:
        _PACK.pack_into(slot, 0, *keypoints)
        return
    landmarks = astuple(keypoints)  # type: ignore[arg-type]
    try:
        _PACK.pack_into(slot, 0, *chain.from_iterable(map(astuple, landmarks)))
    except TypeError:  # astuple(None): some landmark was left out
        _PACK.pack_into(
            slot, 0, *chain.from_iterable(_MISSING if lm is None else astuple(lm) for lm in landmarks)
        )


_IMAGE_START, _IMAGE_END = RAW_HEADER.size, RAW_FRAME_BYTES  # the image landmarks in a raw frame


class RawFrameReader:
    """Reads raw float32 frames straight into a slot and range-checks them there; scratch is reused."""

    __slots__ = ("_bits", "_ok")

    def __init__(self) -> None:
        self._bits = np.empty((NUM_LANDMARKS, 4), np.uint32)
        self._ok = np.empty((NUM_LANDMARKS, 4), np.bool_)

    def read_into(self, slot: np.ndarray, payload: bytes, world_slot: np.ndarray) -> tuple[int, float, bool]:
        """Frame index, timestamp and whether world landmarks came too ("SSF2"), the keypoints
        written into ``slot`` (and ``world_slot``); FrameError if any is wrong."""
        try:
            magic, frame_index, timestamp = RAW_HEADER.unpack_from(payload)
        except StructError:  # shorter than the header (found by tests/test_fuzz.py)
            raise FrameError(f"a raw frame is {RAW_FRAME_BYTES} or {RAW_WORLD_FRAME_BYTES} bytes, "
                             f"got {len(payload)}") from None
        world = magic == RAW_WORLD_MAGIC
        size = RAW_WORLD_FRAME_BYTES if world else RAW_FRAME_BYTES
        if len(payload) != size:
            raise FrameError(f"a raw {magic.decode('latin-1')} frame is exactly {size} bytes, got {len(payload)}")
        if not (world or magic == RAW_MAGIC):
            raise FrameError(f"a raw frame starts with {RAW_MAGIC!r} or {RAW_WORLD_MAGIC!r}, got {magic!r}")
        if frame_index > MAX_FRAME_INDEX:
            raise FrameError(f"frame_index {frame_index} is above {MAX_FRAME_INDEX}")
        if not 0.0 <= timestamp <= MAX_TIMESTAMP:  # also false for NaN
            raise FrameError(f"timestamp {timestamp!r} is not a number of seconds in [0, {MAX_TIMESTAMP:g}]")
        body = memoryview(payload)
        self._check(slot, body[_IMAGE_START:_IMAGE_END], "")
        if world:
            self._check(world_slot, body[_IMAGE_END:], "world ")
        return frame_index, timestamp, world

    def _check(self, slot: np.ndarray, values: memoryview, which: str) -> None:
        memoryview(slot).cast("B")[:] = values
        bits, ok = self._bits, self._ok
        np.left_shift(slot.view(np.uint32), _SIGN_DROP, out=bits)
        np.less_equal(bits, _BOUND, out=ok)
        if np.count_nonzero(ok) != PACKED_LENGTH:
            raise FrameError(which + _first_bad_value(slot))


def _first_bad_value(slot: np.ndarray) -> str:
    for i, name in enumerate(LANDMARK_NAMES):
        for j, column in enumerate(_COLUMNS):
            value = float(slot[i, j])
            low, high = (0.0, 1.0) if j == 3 else (-MAX_COORDINATE, MAX_COORDINATE)
            if not low <= value <= high:
                return f"{name}.{column} = {value!r} is not a number in [{low:g}, {high:g}]"
            if j == 3 and math.copysign(1.0, value) < 0:
                return f"{name}.visibility is -0.0; raw frames need it in [+0, 1]"
    return "a value is out of range"  # pragma: no cover - only called after the check failed


# --------------------------------------------------------------------------- replies


def encode_json(message: ServerMessage) -> str:
    return _json_encode(message).decode()


def encode_msgpack(message: ServerMessage) -> bytes:
    return _msgpack_encode(message)


def _seed_result(
    result: FrameResult, kpi_row: list[float] | None, processing_us: int, degraded: bool
) -> str:
    return _json_encode(
        AnalysisResultMessage(
            AnalysisResult(
                result.frame_index,
                result.timestamp,
                result.swing_phase,
                result.p_position,
                result.usable,
                result.kpis,
                result.faults,
                processing_us,
                degraded,
                result.camera_view,
            )
        )
    ).decode()


def _compact(
    result: FrameResult, kpi_row: list[float] | None, processing_us: int, degraded: bool
) -> CompactAnalysisResultMessage:
    return CompactAnalysisResultMessage(
        CompactAnalysisResult(
            result.frame_index,
            result.timestamp,
            result.swing_phase,
            result.p_position,
            result.usable,
            kpi_row,
            [(f.fault_id, f.severity) for f in result.faults] if result.faults else [],
            processing_us,
            degraded,
            result.camera_view,
        )
    )


def _compact_result(
    result: FrameResult, kpi_row: list[float] | None, processing_us: int, degraded: bool
) -> str:
    return _json_encode(_compact(result, kpi_row, processing_us, degraded)).decode()


def _binary_result(
    result: FrameResult, kpi_row: list[float] | None, processing_us: int, degraded: bool
) -> bytes:
    return _msgpack_encode(_compact(result, kpi_row, processing_us, degraded))


# (result, the KPI row for the array layouts, processing µs, degraded) -> payload.
# The seed layout reads the KPI dict on the result; the array layouts take the
# analyser's KPI row directly, so no dict is built for them.
ResultEncoder = Callable[[FrameResult, "list[float] | None", int, bool], Payload]
RESULT_ENCODERS: dict[FrameLayout, ResultEncoder] = {
    FrameLayout.SEED: _seed_result,
    FrameLayout.COMPACT: _compact_result,
    FrameLayout.BINARY: _binary_result,
}


def message_encoder(layout: FrameLayout) -> Callable[[ServerMessage], Payload]:
    """How every other message of a session goes out: JSON text, or MessagePack for binary."""
    return encode_msgpack if layout is FrameLayout.BINARY else encode_json


def swing_event_message(event: SwingEvent, detected_at_frame: int) -> SwingEventMessage:
    return SwingEventMessage(SwingEventData(event.phase, event.frame_index, event.timestamp, detected_at_frame))


# What sending on, or closing, a socket the peer has left raises.
SOCKET_GONE = (WebSocketDisconnect, WebSocketDisconnected, RuntimeError, OSError)
