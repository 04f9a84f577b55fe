"""Session configuration: the seed's field names plus handedness and coordinates."""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from .catalog import SKILL_LEVELS

Handedness = Literal["right", "left"]
CoordinateSystem = Literal["world_y_up", "mediapipe_world", "mediapipe_image"]
FeedbackMode = Literal["streaming", "batch", "disabled"]
CameraView = Literal["auto", "face_on", "down_the_line", "oblique"]
# A slow-motion factor: 1 is real time; phones film at up to 960 FPS and play at 30 (32x).
MIN_SLOW_MOTION = 1.0
MAX_SLOW_MOTION = 32.0

# Words a player might type for a club, mapped to the four threshold families.
_CLUB_WORDS: tuple[tuple[str, str], ...] = (
    ("driver", "driver"),
    ("wood", "wood"),
    ("hybrid", "wood"),
    ("rescue", "wood"),
    ("wedge", "wedge"),
    ("iron", "iron"),
)
_CLUB_ABBREVIATIONS = {"pw": "wedge", "gw": "wedge", "sw": "wedge", "lw": "wedge", "aw": "wedge"}
_SKILL_ALIASES = {"pro": "professional", "novice": "beginner", "expert": "advanced"}


def normalize_club(value: str) -> str:
    """Map "Driver", "7 Iron", "PW", "3-wood"... to driver | wood | iron | wedge."""
    word = value.strip().lower()
    if word in _CLUB_ABBREVIATIONS:
        return _CLUB_ABBREVIATIONS[word]
    for needle, family in _CLUB_WORDS:
        if needle in word:
            return family
    raise ValueError(f"club_used {value!r} is not a driver, wood, hybrid, iron or wedge")


def normalize_skill(value: str) -> str:
    word = value.strip().lower()
    word = _SKILL_ALIASES.get(word, word)
    if word not in SKILL_LEVELS:
        raise ValueError(f"skill_level {value!r} is not one of {', '.join(SKILL_LEVELS)}")
    return word


class SessionConfig(msgspec.Struct, kw_only=True):
    """How one player's stream is analysed. Unknown fields are ignored on decode."""

    user_id: str = ""
    session_name: str = ""
    club_used: str = "driver"
    skill_level: str = "intermediate"
    handedness: Handedness = "right"
    coordinate_system: CoordinateSystem = "world_y_up"
    # Width / height of the camera image; only mediapipe_image needs it,
    # because its x and y are normalised by different lengths.
    image_aspect: float = 1.0
    # Where the camera stands (image landmarks only): detected at each address by default.
    camera_view: CameraView = "auto"
    # How many times slower than real the timestamps run: capture rate / playback rate
    # (8 for a 240 FPS phone clip that plays at 30). "auto": found from the first swing.
    slow_motion: float | Literal["auto"] = 1.0
    feedback_mode: FeedbackMode = "streaming"
    analysis_frequency: int = 1
    feedback_threshold: float = 0.5
    enable_real_time_kpis: bool = True
    enable_instant_feedback: bool = True
    target_latency_ms: float = 20.0

    def __post_init__(self) -> None:
        self.club_used = normalize_club(self.club_used)
        self.skill_level = normalize_skill(self.skill_level)
        if not (math.isfinite(self.image_aspect) and 0.1 <= self.image_aspect <= 10.0):
            raise ValueError("image_aspect must be between 0.1 and 10")
        if self.slow_motion != "auto" and not (
                math.isfinite(self.slow_motion) and MIN_SLOW_MOTION <= self.slow_motion <= MAX_SLOW_MOTION):
            raise ValueError(f"slow_motion must be \"auto\" or between {MIN_SLOW_MOTION:g} and {MAX_SLOW_MOTION:g}")
        if not 1 <= self.analysis_frequency <= 240:
            raise ValueError("analysis_frequency must be between 1 and 240")
        if not (math.isfinite(self.feedback_threshold) and 0.0 <= self.feedback_threshold <= 1.0):
            raise ValueError("feedback_threshold must be between 0 and 1")
        if not (math.isfinite(self.target_latency_ms) and 0.1 <= self.target_latency_ms <= 10_000):
            raise ValueError("target_latency_ms must be between 0.1 and 10000")

