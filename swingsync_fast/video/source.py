"""Frames of a video file or a camera, each with its time in seconds."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np


class VideoError(Exception):
    """A video that cannot be read or analysed; the message says why, for the person who gave it."""


def import_cv2():
    """OpenCV, quiet: FFmpeg's own complaints about a bad file would drown the one clear error we print."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    try:
        import cv2
    except ImportError as exc:
        raise VideoError("reading video needs the `video` extra: pip install 'swingsync-fast[video]'") from exc
    return cv2


class VideoFrame(NamedTuple):
    index: int  # the frame's number in the video (0 = its first frame)
    timestamp: float  # seconds: media time of a file, time since opening for a camera
    image: np.ndarray  # (height, width, 3) uint8, BGR as OpenCV decodes it


class VideoSource:
    """An open video: its size, frame rate and frames. Open with :meth:`file` or :meth:`camera`."""

    def __init__(self, capture, name: str, *, live: bool, fps: float | None) -> None:
        self._capture = capture
        self.name = name
        self.live = live
        cv2 = import_cv2()
        self.width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        reported = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.container_fps = reported if 0.0 < reported < 10_000.0 else 30.0
        # `fps` given: the real rate of a slow-motion clip, so time is frame / fps, not media time
        self.fixed_fps = fps
        self.fps = fps or self.container_fps
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count: int | None = count if not live and count > 0 else None
        self._first: np.ndarray | None = None

    @classmethod
    def file(cls, path: str | Path, *, fps: float | None = None) -> VideoSource:
        path = Path(path)
        if not path.is_file():
            raise VideoError(f"no such video file: {path}")
        cv2 = import_cv2()
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            capture.release()
            raise VideoError(f"cannot read {path}: not a video this build of OpenCV can decode (corrupt or truncated?)")
        source = cls(capture, str(path), live=False, fps=fps)
        ok, first = capture.read()
        if not ok or first is None:
            source.close()
            raise VideoError(f"cannot read {path}: it has no frame that decodes (corrupt or empty)")
        source._first = first
        return source

    @classmethod
    def camera(cls, number: int, *, fps: float | None = None) -> VideoSource:
        cv2 = import_cv2()
        capture = cv2.VideoCapture(number)
        if not capture.isOpened():
            capture.release()
            raise VideoError(f"cannot open camera {number}")
        return cls(capture, f"camera {number}", live=True, fps=fps)

    @property
    def aspect(self) -> float:
        """Image width / height, as the analysis of normalised image landmarks needs it."""
        return self.width / self.height if self.width > 0 and self.height > 0 else 1.0

    def frames(self, limit: int | None = None) -> Iterator[VideoFrame]:
        """Frames in order, with strictly increasing times; ``limit``: stop after that many."""
        cv2 = import_cv2()
        index = 0
        last = -1.0
        began = time.monotonic()
        step = 1.0 / self.fps
        while limit is None or index < limit:
            if self._first is not None:
                image, self._first = self._first, None
            else:
                ok, image = self._capture.read()
                if not ok or image is None:
                    return
            if self.live:
                t = time.monotonic() - began
            elif self.fixed_fps:
                t = index / self.fixed_fps
            else:
                t = self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if not t > last:  # a container with missing or repeated times: keep them increasing
                t = last + step if last >= 0.0 else 0.0
            last = t
            yield VideoFrame(index, t, image)
            index += 1

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
