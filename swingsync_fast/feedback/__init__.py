"""The feedback lane: coaching text after a swing, from Gemini or the offline coach, off the frame path."""

from ..server.protocol.figures import BreakerState, LaneStats
from .breaker import CircuitBreaker
from .gemini import DEFAULT_MODEL, GeminiProvider
from .lane import CoachTips, FeedbackLane, FeedbackMirror, FeedbackSink, LaneConfig
from .library import DrillLibrary, LibraryError, default_library, load_library
from .offline import OfflineCoach
from .prompt import SYSTEM_INSTRUCTION, build_prompt
from .provider import FeedbackProvider, ProviderError, Source
from .request import FeedbackRequest

__all__ = [
    "DEFAULT_MODEL",
    "SYSTEM_INSTRUCTION",
    "BreakerState",
    "CircuitBreaker",
    "CoachTips",
    "DrillLibrary",
    "FeedbackLane",
    "FeedbackMirror",
    "FeedbackProvider",
    "FeedbackRequest",
    "FeedbackSink",
    "GeminiProvider",
    "LaneConfig",
    "LaneStats",
    "LibraryError",
    "OfflineCoach",
    "ProviderError",
    "Source",
    "build_prompt",
    "default_library",
    "load_library",
]
