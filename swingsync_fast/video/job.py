"""Posing a whole video file, for work done away from a server's event loop (a process pool).

:func:`probe` checks a file can be read and is short enough; :func:`pose_file`
poses every frame and reports progress through a callback. Both raise
:class:`VideoRefused` with a ``code`` the server sends back.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import msgspec
import numpy as np

from .posed import PosedFrame
from .poser import Poser
from .source import VideoError, VideoSource

PROGRESS_EVERY = 15  # frames between progress reports


class VideoRefused(VideoError):
    """A video that is refused, with the error code that says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __reduce__(self):  # it crosses from a pool's process to the server
        return (VideoRefused, (self.code, str(self)))


class VideoInfo(msgspec.Struct, frozen=True):
    width: int
    height: int
    fps: float
    frame_count: int | None  # as the container says; None when it does not say
    duration_s: float | None


class PosedVideo(msgspec.Struct):
    """Every frame's landmarks: ``keypoints`` and ``world`` (frames, 33, 4) float32 as the socket gets them
    (``world`` NaN where nobody was found), ``timestamps`` (frames,) float64 media time."""

    info: VideoInfo
    keypoints: np.ndarray
    world: np.ndarray
    timestamps: np.ndarray
    found: np.ndarray  # (frames,) bool: a person in the frame

    @property
    def frames(self) -> list[PosedFrame]:
        """The frames as :class:`PosedFrame`, as the video command builds them."""
        from .poser import Pose

        return [
            PosedFrame(i, float(t), Pose(self.keypoints[i], self.world[i]) if self.found[i] else None)
            for i, t in enumerate(self.timestamps.tolist())
        ]


def probe(path: str | Path, max_seconds: float) -> VideoInfo:
    """The video's size, rate and length; refused if it cannot be read or is longer than ``max_seconds``."""
    try:
        with VideoSource.file(path) as source:
            info = _info(source)
    except VideoRefused:
        raise
    except VideoError as exc:
        raise VideoRefused("unreadable_video", str(exc).replace(str(path), "the file")) from None
    if info.duration_s is not None and info.duration_s > max_seconds:
        raise VideoRefused("video_too_long", f"the video is {info.duration_s:.1f} s long; at most {max_seconds:g} s")
    return info


def pose_file(path: str | Path, max_seconds: float, progress: Callable[[int, int | None], None]) -> PosedVideo:
    """Pose every frame; ``progress(frames_done, frames_total)`` now and then. Refused: unreadable, too
    long (by the frames' own times, whatever the container claims), nobody in it."""
    try:
        source = VideoSource.file(path)
    except VideoError as exc:
        raise VideoRefused("unreadable_video", str(exc).replace(str(path), "the file")) from None
    with source, Poser() as poser:
        info = _info(source)
        keypoints, world, times, found = [], [], [], []
        progress(0, info.frame_count)
        for frame in source.frames():
            if frame.timestamp > max_seconds:
                raise VideoRefused("video_too_long", f"the video runs past {max_seconds:g} s")
            posed = PosedFrame(frame.index, frame.timestamp, poser.estimate(frame.image))
            keypoints.append(posed.keypoints)
            w = posed.world_keypoints
            world.append(np.full_like(posed.keypoints, np.nan) if w is None else w)
            times.append(frame.timestamp)
            found.append(posed.pose is not None)
            if len(times) % PROGRESS_EVERY == 0:
                progress(len(times), info.frame_count)
    if not any(found):
        raise VideoRefused("no_person", f"no person found in the video ({len(times)} frames)")
    progress(len(times), len(times))
    return PosedVideo(info, np.stack(keypoints), np.stack(world), np.array(times), np.array(found))


def _info(source: VideoSource) -> VideoInfo:
    count = source.frame_count
    return VideoInfo(source.width, source.height, source.fps, count,
                     count / source.fps if count else None)


# --------------------------------------------------------------------------- in a pool's process

_progress_queue = None  # where this process reports (job_id, frames_done, frames_total)


def init_worker(progress_queue) -> None:
    """A pool process's initializer: the queue its jobs report progress on, and the lowest priority."""
    global _progress_queue
    _progress_queue = progress_queue
    lower_priority()


def lower_priority() -> None:
    """Run only on CPU the live frame path leaves: SCHED_IDLE where Linux has it, else the nicest nice.

    A niceness of 10 was not enough on two cores: two posing processes still moved the live frames'
    p99 from 5 ms to 150 ms (bench/RESULTS.md). Uploads take longer under load instead.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:
        os.nice(19)
    except (AttributeError, OSError):  # not allowed here: run at the server's priority
        pass


def run_job(job_id: str, path: str, max_seconds: float) -> PosedVideo:
    """One upload, posed in a pool's process, its progress reported under ``job_id``."""

    def report(done: int, total: int | None) -> None:
        if _progress_queue is not None:
            _progress_queue.put((job_id, done, total))

    return pose_file(path, max_seconds, report)


def run_stills(path: str, wanted: dict[int, list[tuple[int, str]]]) -> list:
    """The key-position pictures of a posed upload's swings (see ``stills.wanted_frames``), in a pool's process."""
    from .stills import stills_of_file

    return stills_of_file(path, wanted)
