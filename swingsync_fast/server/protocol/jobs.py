"""REST schema of video jobs: POST /api/v1/analyze/video answers a job, GET /api/v1/jobs/{job_id} reads it."""

from __future__ import annotations

import enum

import msgspec

from ...analyzer import SwingSummary


class JobState(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class VideoFacts(msgspec.Struct, frozen=True):
    width: int
    height: int
    fps: float
    frame_count: int | None
    duration_s: float | None


class JobError(msgspec.Struct, frozen=True):
    code: str  # unreadable_video | video_too_long | no_person | pose_failed | server_shutdown
    message: str


class VideoJobView(msgspec.Struct):
    job_id: str
    user_id: str
    state: JobState
    fraction: float  # 0..1 of the frames posed
    frames_posed: int
    frames_total: int | None  # as the container says, until the frames are counted
    video: VideoFacts
    created_at: float
    finished_at: float | None = None
    frames_with_person: int | None = None
    swings: list[SwingSummary] | None = None  # when done: each as the socket's swing_summary
    error: JobError | None = None  # when failed
    session_id: str | None = None  # when done: the session of the history it is stored as
