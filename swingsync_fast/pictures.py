"""Key-position pictures of a swing: which frames they show, and what a picture may be.

Four moments per swing: ``address`` (the frame just before the takeaway),
``top``, ``impact`` and ``finish``, at the swing summary's frame numbers.
A picture is a small baseline or progressive JPEG; :func:`jpeg_size` checks
that bytes are one (without decoding it: the server has no image library)
and reads its size from the frame header. Leaves: imports nothing of ours
but the summary's type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .analyzer import SwingSummary

MOMENTS = ("address", "top", "impact", "finish")
MAX_PICTURE_BYTES = 64 * 1024  # a 240 px thumbnail is 5-15 kB; this leaves room for a 480 px one
MAX_PICTURE_SIDE = 480  # pixels, either side
THUMBNAIL_LONG_SIDE = 240  # what the video paths make: the long side, the short one in proportion

_SOI = b"\xff\xd8"
_EOI = b"\xff\xd9"
# Start-of-frame markers that carry the size (C4 DHT, C8 JPG and CC DAC are not frames).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length: the restart markers, SOI, EOI, TEM.
_NO_LENGTH = frozenset(range(0xD0, 0xDA)) | {0x01}


class PictureRefused(ValueError):
    """Bytes that are not a picture this server keeps; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def moment_frames(summary: SwingSummary) -> dict[str, int]:
    """Each moment's frame number in the swing's stream."""
    return {
        "address": max(0, summary.takeaway_frame - 1),
        "top": summary.top_frame,
        "impact": summary.impact_frame,
        "finish": summary.finish_frame,
    }


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a JPEG within the limits; :class:`PictureRefused` for anything else."""
    if len(data) > MAX_PICTURE_BYTES:
        raise PictureRefused("too_large", f"a picture may be at most {MAX_PICTURE_BYTES} bytes")
    if not (data.startswith(_SOI) and data.rstrip(b"\x00").endswith(_EOI)):
        raise PictureRefused("not_jpeg", "a picture must be a JPEG (FF D8 ... FF D9)")
    size = _frame_size(data)
    if size is None:
        raise PictureRefused("not_jpeg", "the JPEG has no frame header before its image data")
    width, height = size
    if not (0 < width <= MAX_PICTURE_SIDE and 0 < height <= MAX_PICTURE_SIDE):
        raise PictureRefused("picture_too_big",
                             f"the picture is {width}x{height}; at most {MAX_PICTURE_SIDE} px a side")
    return width, height


def _frame_size(data: bytes) -> tuple[int, int] | None:
    """The size in the first start-of-frame segment, walking the segments from the start."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _NO_LENGTH:
            at += 2
            continue
        length = int.from_bytes(data[at + 2:at + 4], "big")
        if length < 2:
            return None
        if marker in _SOF:
            if length < 7 or at + 9 > len(data):
                return None
            height = int.from_bytes(data[at + 5:at + 7], "big")
            width = int.from_bytes(data[at + 7:at + 9], "big")
            return width, height
        if marker == 0xDA:  # image data before any frame header
            return None
        at += 2 + length
    return None
