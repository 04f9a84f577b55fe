"""MediaPipe Pose in Python: image and world landmarks of a picture from one model call."""

from __future__ import annotations

import os
import sys
import warnings
from typing import NamedTuple

import numpy as np

from ..landmarks import NUM_LANDMARKS
from .source import VideoError, import_cv2

MODEL_COMPLEXITY = 1  # pose_landmark_full, bundled with mediapipe 0.10.14
WARM_UP_FRAMES = 3  # frames with a person after which MediaPipe has said all it says at start


class Pose(NamedTuple):
    """One person's landmarks, each (33, 4) float32: x, y, z, visibility in MediaPipe order."""

    image: np.ndarray  # normalised to the picture, y down
    world: np.ndarray  # metres around the hips, y down


class Poser:
    """A MediaPipe Pose tracker for one video: frames must come in order (it tracks between them)."""

    def __init__(self, model_complexity: int = MODEL_COMPLEXITY) -> None:
        # MediaPipe logs its set-up through glog and TFLite; only its errors matter to a user here.
        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        self._cv2 = import_cv2()
        try:
            import mediapipe as mp
        except ImportError as exc:
            raise VideoError("posing video needs the `video` extra: pip install 'swingsync-fast[video]'") from exc
        # mediapipe 0.10.14 calls a protobuf API that warns on every run; nothing a user can act on
        warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated",
                                category=UserWarning)
        # MediaPipe's C++ threads log their set-up to file descriptor 2 a little after the graph
        # starts, until the landmark model has run: keep it quiet until then.
        self._muffle: _Muffle | None = _Muffle()
        self._found = 0
        try:
            self._pose = mp.solutions.pose.Pose(model_complexity=model_complexity, static_image_mode=False)
        except BaseException:
            self._unmuffle()
            raise

    def estimate(self, bgr: np.ndarray) -> Pose | None:
        """The person in a BGR picture, or None when nobody is found."""
        found = self._pose.process(self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB))
        if found.pose_landmarks is None:
            return None
        if self._muffle is not None:
            self._found += 1
            if self._found > WARM_UP_FRAMES:
                self._unmuffle()
        return Pose(_array(found.pose_landmarks.landmark), _array(found.pose_world_landmarks.landmark))

    def close(self) -> None:
        try:
            self._pose.close()
        finally:
            self._unmuffle()

    def _unmuffle(self) -> None:
        if self._muffle is not None:
            self._muffle.close()
            self._muffle = None

    def __enter__(self) -> Poser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Muffle:
    """File descriptor 2 to /dev/null (C++ logging from TFLite and absl) until closed."""

    def __init__(self) -> None:
        sys.stderr.flush()
        self._saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def close(self) -> None:
        os.dup2(self._saved, 2)
        os.close(self._saved)


def _array(landmarks) -> np.ndarray:
    out = np.empty((NUM_LANDMARKS, 4), np.float32)
    for row, p in zip(out, landmarks):
        row[0], row[1], row[2], row[3] = p.x, p.y, p.z, p.visibility
    return out
