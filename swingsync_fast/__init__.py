"""SwingSync fast: real-time golf swing analysis."""

from .analyzer import (
    Fault,
    FrameResult,
    LiveAnalyzer,
    SwingEvent,
    SwingSummary,
)
from .batch import Recording, analyze_recording
from .config import SessionConfig
from .thresholds import Thresholds

__all__ = [
    "Fault",
    "FrameResult",
    "LiveAnalyzer",
    "Recording",
    "SessionConfig",
    "SwingEvent",
    "SwingSummary",
    "Thresholds",
    "analyze_recording",
]
__version__ = "0.1.0"
