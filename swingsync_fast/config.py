"""Session configuration: the seed's field names plus handedness and coordinates."""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

import msgspec

from .catalog import SKILL_LEVELS

Handedness = Literal["right", "left"]
CoordinateSystem = Literal["world_y_up", "mediapipe_world", "mediapipe_image"]
FeedbackMode = Literal["streaming", "batch", "disabled"]
CameraView = Literal["auto", "face_on", "down_the_line", "oblique"]
# Free text a client types is bounded, so a session record stays a few hundred bytes.
MAX_SESSION_NAME = 200
MAX_WORD = 64  # club_used, skill_level
MAX_USER_ID = 128
SessionName = Annotated[str, msgspec.Meta(max_length=MAX_SESSION_NAME)]
Word = Annotated[str, msgspec.Meta(max_length=MAX_WORD)]
UserIdText = Annotated[str, msgspec.Meta(max_length=MAX_USER_ID)]
# Ranges in the type, so the decoder checks them and the OpenAPI schema shows them (__post_init__
# checks them again for configs built in code, which the decoder never sees).
ImageAspect = Annotated[float, msgspec.Meta(ge=0.1, le=10.0)]
# JSON Schema's integer includes 1.0 (the same number as 1), so a whole float is taken and made an int.
AnalysisFrequency = Annotated[float, msgspec.Meta(ge=1, le=240, multiple_of=1)]
FeedbackThreshold = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
TargetLatencyMs = Annotated[float, msgspec.Meta(ge=0.1, le=10_000)]
# A slow-motion factor: 1 is real time; phones film at up to 960 FPS and play at 30 (32x).
MIN_SLOW_MOTION = 1.0
MAX_SLOW_MOTION = 32.0
SlowMotion = Annotated[float, msgspec.Meta(ge=MIN_SLOW_MOTION, le=MAX_SLOW_MOTION)]

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


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


# What normalize_club accepts, as a regex both Python and JSON Schema (ECMA-262, no inline
# flags) read alike: an abbreviation alone, or a club word anywhere.
CLUB_PATTERN = (r"^\s*(" + "|".join(_any_case(a) for a in _CLUB_ABBREVIATIONS) + r")\s*$|"
                + "|".join(_any_case(needle) for needle, _ in _CLUB_WORDS))


def normalize_club(value: str) -> str:
    """Map "Driver", "7 Iron", "PW", "3-wood"... to driver | wood | iron | wedge."""
    word = value.strip().lower()
    if word in _CLUB_ABBREVIATIONS:
        return _CLUB_ABBREVIATIONS[word]
    for needle, family in _CLUB_WORDS:
        if needle in word:
            return family
    raise ValueError(f"club_used {value!r} is not a driver, wood, hybrid, iron or wedge")


def skill_pattern(levels: tuple[str, ...]) -> str:
    """What normalize_skill accepts, as a regex for the OpenAPI schema (any case, spaces around)."""
    words = (*levels, *_SKILL_ALIASES)
    return r"^\s*(" + "|".join(_any_case(w) for w in words) + r")\s*$"


def normalize_skill(value: str) -> str:
    word = value.strip().lower()
    word = _SKILL_ALIASES.get(word, word)
    if word not in SKILL_LEVELS:
        raise ValueError(f"skill_level {value!r} is not one of {', '.join(SKILL_LEVELS)}")
    return word


class SessionConfig(msgspec.Struct, kw_only=True):
    """How one player's stream is analysed. Unknown fields are ignored on decode."""

    user_id: UserIdText = ""
    session_name: SessionName = ""
    club_used: Word = "driver"
    skill_level: Word = "intermediate"
    handedness: Handedness = "right"
    coordinate_system: CoordinateSystem = "world_y_up"
    # Width / height of the camera image; only mediapipe_image needs it,
    # because its x and y are normalised by different lengths.
    image_aspect: ImageAspect = 1.0
    # Where the camera stands (image landmarks only): detected at each address by default.
    camera_view: CameraView = "auto"
    # How many times slower than real the timestamps run: capture rate / playback rate
    # (8 for a 240 FPS phone clip that plays at 30). "auto": found from the first swing.
    slow_motion: SlowMotion | Literal["auto"] = 1.0
    feedback_mode: FeedbackMode = "streaming"
    analysis_frequency: AnalysisFrequency = 1
    feedback_threshold: FeedbackThreshold = 0.5
    enable_real_time_kpis: bool = True
    enable_instant_feedback: bool = True
    target_latency_ms: TargetLatencyMs = 20.0

    def __post_init__(self) -> None:
        self.club_used = normalize_club(self.club_used)
        self.skill_level = normalize_skill(self.skill_level)
        if not (math.isfinite(self.image_aspect) and 0.1 <= self.image_aspect <= 10.0):
            raise ValueError("image_aspect must be between 0.1 and 10")
        if self.slow_motion != "auto" and not (
                math.isfinite(self.slow_motion) and MIN_SLOW_MOTION <= self.slow_motion <= MAX_SLOW_MOTION):
            raise ValueError(f"slow_motion must be \"auto\" or between {MIN_SLOW_MOTION:g} and {MAX_SLOW_MOTION:g}")
        if not (1 <= self.analysis_frequency <= 240 and self.analysis_frequency == int(self.analysis_frequency)):
            raise ValueError("analysis_frequency must be a whole number between 1 and 240")
        self.analysis_frequency = int(self.analysis_frequency)
        if not (math.isfinite(self.feedback_threshold) and 0.0 <= self.feedback_threshold <= 1.0):
            raise ValueError("feedback_threshold must be between 0 and 1")
        if not (math.isfinite(self.target_latency_ms) and 0.1 <= self.target_latency_ms <= 10_000):
            raise ValueError("target_latency_ms must be between 0.1 and 10000")

