"""Key-position pictures cut from a video: small JPEGs of the frames a swing summary names.

:func:`stills_of_file` reads a file once more after its analysis (decoding is
fast next to posing) and keeps only the frames asked for; :class:`StillRing`
keeps the last frames' thumbnails of a stream that cannot be read twice
(a camera), until their swing's summary says which it needs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..pictures import MOMENTS, THUMBNAIL_LONG_SIDE
from .source import VideoSource, import_cv2

JPEG_QUALITY = 80


class Still(NamedTuple):
    swing_index: int
    moment: str  # one of pictures.MOMENTS
    jpeg: bytes


def thumbnail_jpeg(image: np.ndarray, long_side: int = THUMBNAIL_LONG_SIDE) -> bytes:
    """A BGR frame shrunk so its long side is ``long_side`` (never enlarged), as JPEG."""
    cv2 = import_cv2()
    height, width = image.shape[:2]
    scale = min(1.0, long_side / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("OpenCV could not encode the frame as JPEG")
    return encoded.tobytes()


def wanted_frames(swings: Iterable[tuple[int, dict[str, int]]]) -> dict[int, list[tuple[int, str]]]:
    """Frame number -> the (swing_index, moment) pictures it makes, for swings as (index, moment_frames)."""
    wanted: dict[int, list[tuple[int, str]]] = {}
    for swing_index, frames in swings:
        for moment in MOMENTS:
            wanted.setdefault(frames[moment], []).append((swing_index, moment))
    return wanted


def stills_of_file(path: str | Path, wanted: dict[int, list[tuple[int, str]]]) -> list[Still]:
    """The pictures ``wanted`` asks for, read from the file in one pass (frame numbers as it numbers them)."""
    stills: list[Still] = []
    if not wanted:
        return stills
    last = max(wanted)
    with VideoSource.file(path) as source:
        for frame in source.frames():
            for swing_index, moment in wanted.get(frame.index, ()):
                stills.append(Still(swing_index, moment, thumbnail_jpeg(frame.image)))
            if frame.index >= last:
                break
    return sorted(stills, key=lambda s: (s.swing_index, MOMENTS.index(s.moment)))


class StillRing:
    """The thumbnails of the last ``size`` frames, by frame number (about 10 kB each)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[int, bytes] = OrderedDict()

    def add(self, frame_index: int, image: np.ndarray) -> None:
        self._kept[frame_index] = thumbnail_jpeg(image)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def stills(self, swing_index: int, frames: dict[str, int]) -> list[Still]:
        """The swing's pictures still kept (a moment that fell out of the ring is left out)."""
        return [Still(swing_index, moment, self._kept[frames[moment]])
                for moment in MOMENTS if frames[moment] in self._kept]


def write_stills(directory: Path, stills: Iterable[Still], prefix: str = "") -> list[Path]:
    """Each still as ``{prefix}swing{n}-{moment}.jpg`` in ``directory`` (made if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for still in stills:
        path = directory / f"{prefix}swing{still.swing_index}-{still.moment}.jpg"
        path.write_bytes(still.jpeg)
        written.append(path)
    return written
