"""MediaPipe Pose in Python: a video file's image and world landmarks, as the browser page gets them.

Needs the ``video`` extra (``mediapipe==0.10.14``, which bundles its pose
models, and OpenCV to read the file), so it runs offline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .landmarks import NUM_LANDMARKS


def pose_video(path: str | Path, shrink: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(image, world) landmarks of every frame, each (frames, 33, 4) float32: x, y, z, visibility.

    A frame with nobody found is all NaN. ``shrink``: first scale each frame
    down to this many pixels high (the small, soft pictures of broadcast clips).
    """
    import cv2
    import mediapipe as mp

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"cannot read the video {path}")
    image, world = [], []
    nobody = np.full((NUM_LANDMARKS, 4), np.nan, np.float32)
    try:
        with mp.solutions.pose.Pose(model_complexity=1, static_image_mode=False) as pose:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                if shrink:
                    h, w = frame.shape[:2]
                    frame = cv2.resize(frame, (max(1, round(w * shrink / h)), shrink), interpolation=cv2.INTER_AREA)
                found = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                if found.pose_landmarks is None:
                    image.append(nobody)
                    world.append(nobody)
                    continue
                image.append(_array(found.pose_landmarks.landmark))
                world.append(_array(found.pose_world_landmarks.landmark))
    finally:
        capture.release()
    if not image:
        raise ValueError(f"the video {path} has no frames")
    return np.stack(image), np.stack(world)


def _array(landmarks) -> np.ndarray:
    return np.array([(p.x, p.y, p.z, p.visibility) for p in landmarks], np.float32)
