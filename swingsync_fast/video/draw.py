"""The annotated video: each frame with the skeleton, the phase, a few KPIs and the active faults drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..catalog import FAULT_BY_ID, KPI_UNITS
from ..landmarks import LANDMARK_INDEX
from .events import FrameState
from .poser import Pose
from .source import VideoError, import_cv2

_BONES = (
    ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
    ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_wrist", "left_index"), ("right_wrist", "right_index"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("left_ankle", "left_heel"),
    ("left_heel", "left_foot_index"), ("left_ankle", "left_foot_index"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"), ("right_ankle", "right_heel"),
    ("right_heel", "right_foot_index"), ("right_ankle", "right_foot_index"),
    ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"),
)
BONES: tuple[tuple[int, int], ...] = tuple((LANDMARK_INDEX[a], LANDMARK_INDEX[b]) for a, b in _BONES)
# The KPIs a golfer reads at a glance; the rest are in the summaries.
SHOWN_KPIS = ("shoulder_turn", "hip_turn", "x_factor", "spine_tilt", "lead_elbow", "head_sway", "hand_speed")
MIN_VISIBILITY = 0.3  # a joint seen less than this is not drawn: a guess would mislead

# BGR
_BONE = (80, 220, 80)
_JOINT = (255, 255, 255)
_TEXT = (255, 255, 255)
_FAULT = (60, 60, 235)


class Annotator:
    """Writes the annotated frames to an mp4 file of the video's size and frame rate."""

    def __init__(self, path: str | Path, fps: float, width: int, height: int) -> None:
        self._cv2 = cv2 = import_cv2()
        self.path = Path(path)
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        if not self._writer.isOpened():
            raise VideoError(f"cannot write {self.path}: OpenCV has no mp4 writer here, or the folder is not writable")
        self._scale = max(0.4, height / 900)
        self.frames = 0

    def write(self, image: np.ndarray, pose: Pose | None, state: FrameState | None) -> None:
        canvas = image.copy()
        if pose is not None:
            self._skeleton(canvas, pose.image)
        if state is not None:
            self._panel(canvas, state)
        self._writer.write(canvas)
        self.frames += 1

    def close(self) -> None:
        self._writer.release()

    def _skeleton(self, canvas: np.ndarray, keypoints: np.ndarray) -> None:
        cv2 = self._cv2
        h, w = canvas.shape[:2]
        seen = keypoints[:, 3] >= MIN_VISIBILITY
        points = [(int(x * w), int(y * h)) for x, y in keypoints[:, :2].tolist()]
        thick = max(1, round(3 * self._scale))
        for a, b in BONES:
            if seen[a] and seen[b]:
                cv2.line(canvas, points[a], points[b], _BONE, thick, cv2.LINE_AA)
        for point, ok in zip(points, seen.tolist()):
            if ok:
                cv2.circle(canvas, point, thick + 1, _JOINT, -1, cv2.LINE_AA)

    def _panel(self, canvas: np.ndarray, state: FrameState) -> None:
        phase = state.swing_phase.replace("_", " ")
        lines = [(f"{phase}  {state.p_position or ''}".rstrip() + f"   swings {state.swings}", _TEXT)]
        for name in SHOWN_KPIS:
            value = (state.kpis or {}).get(name)
            if value is not None:
                lines.append((f"{name.replace('_', ' ')} {_number(value, KPI_UNITS[name])}", _TEXT))
        for fault_id, severity in state.faults:
            info = FAULT_BY_ID.get(fault_id)
            lines.append((f"{info.name if info else fault_id} {severity:.2f}", _FAULT))
        self._text(canvas, lines)

    def _text(self, canvas: np.ndarray, lines: list[tuple[str, tuple[int, int, int]]]) -> None:
        cv2 = self._cv2
        font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.55 * self._scale
        thick = max(1, round(self._scale * 1.2))
        step = int(24 * self._scale)
        width = max(cv2.getTextSize(text, font, scale, thick)[0][0] for text, _ in lines)
        pad = int(8 * self._scale)
        # a dim panel behind the text so it reads on any picture
        region = canvas[0:pad * 2 + step * len(lines), 0:min(canvas.shape[1], width + pad * 2)]
        region[:] = (region * 0.45).astype(np.uint8)
        for n, (text, colour) in enumerate(lines):
            cv2.putText(canvas, text, (pad, pad + step * (n + 1) - step // 4), font, scale, colour, thick, cv2.LINE_AA)


def _number(value: float, unit: str) -> str:
    if unit == "deg":
        return f"{value:.0f} deg"
    if unit == "m":
        return f"{value * 100:.0f} cm"
    return f"{value:.1f} {unit}"
