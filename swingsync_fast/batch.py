"""A recorded sequence of frames analysed exactly as a live stream of it would be."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np

from .analyzer import DEFAULT_MIN_VISIBILITY, FrameResult, SwingSummary
from .config import SessionConfig
from .landmarks import FRAME_SHAPE
from .thresholds import Thresholds
from .timebase import new_analyzer


class Recording(msgspec.Struct):
    frames: list[FrameResult]
    swings: list[SwingSummary]


def analyze_recording(
    keypoints: np.ndarray,
    timestamps: Sequence[float] | np.ndarray,
    config: SessionConfig | None = None,
    *,
    world_keypoints: np.ndarray | None = None,
    frame_indices: Sequence[int] | np.ndarray | None = None,
    thresholds: Thresholds | None = None,
    min_visibility: float = DEFAULT_MIN_VISIBILITY,
) -> Recording:
    """Analyse a recorded sequence (N, 33, 4) exactly as a live stream of it would be."""
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if keypoints.ndim != 3 or keypoints.shape[1:] != FRAME_SHAPE:
        raise ValueError(f"keypoints must have shape (N, 33, 4), got {keypoints.shape}")
    times = np.asarray(timestamps, dtype=np.float64)
    if times.shape != (len(keypoints),):
        raise ValueError("need one timestamp per frame")
    indices = np.arange(len(keypoints)) if frame_indices is None else np.asarray(frame_indices)
    if indices.shape != (len(keypoints),):
        raise ValueError("need one frame index per frame")
    if world_keypoints is not None:
        world_keypoints = np.asarray(world_keypoints, dtype=np.float32)
        if world_keypoints.shape != keypoints.shape:
            raise ValueError(f"world_keypoints must have shape {keypoints.shape}, got {world_keypoints.shape}")
    analyzer = new_analyzer(config, thresholds=thresholds, min_visibility=min_visibility)
    frames = [
        analyzer.push(int(i), float(t), frame, None if world_keypoints is None else world_keypoints[n])
        for n, (i, t, frame) in enumerate(zip(indices.tolist(), times.tolist(), keypoints))
    ]
    analyzer.close()
    return Recording(frames=frames, swings=analyzer.swings)
