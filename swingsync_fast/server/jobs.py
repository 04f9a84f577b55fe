"""Video jobs: uploads posed in a bounded process pool, then analysed as a live stream of the same frames.

Pose (15-20 ms a frame) never runs on the event loop or beside the frame path:
each job goes to one of ``video_workers`` processes, and at most
``video_queue`` more may wait. The pool's processes report progress on a
queue that is read whenever a job is looked at. The analysis of the posed
frames (microseconds a frame) runs in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import os
import queue
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Protocol

import msgspec

from ..analyzer import SwingSummary
from ..thresholds import Thresholds
from ..timebase import new_analyzer
from ..pictures import jpeg_size, moment_frames
from ..video.job import PosedVideo, VideoInfo, VideoRefused, init_worker, run_job, run_stills
from ..video.stills import wanted_frames
from .protocol.figures import LatencySummary, SessionStats
from .protocol.jobs import JobError, JobState, VideoFacts, VideoJobView
from .protocol.stream import StreamConfig
from .settings import Settings
from .storage.base import SessionStore
from .storage.records import RecordedFrame, SessionRecord, SessionState, StoredPicture, StoredSwing

END_REASON = "video_upload"  # the stored session of a video job ended with its last frame

logger = logging.getLogger("swingsync_fast.server.jobs")

# Retry-After when nothing running has reported enough progress to estimate from.
DEFAULT_RETRY_AFTER_S = 10
# A job's progress goes to its owner's main sockets at most this often (and at every change of state).
PUSH_EVERY_S = 0.5


class QueueFull(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the video queue is full; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class VideoJob:
    def __init__(self, job_id: str, user_id: str, info: VideoInfo, path: Path, name: str) -> None:
        self.job_id = job_id
        self.user_id = user_id
        self.info = info
        self.path = path
        self.name = name  # the uploaded file's name
        self.session_id: str | None = None  # the history session it is stored as, once done
        self.state = JobState.QUEUED
        self.frames_posed = 0
        self.frames_total = info.frame_count
        self.created_at = time.time()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.frames_with_person: int | None = None
        self.swings: list[SwingSummary] | None = None
        self.error: JobError | None = None

    @property
    def active(self) -> bool:
        return self.state in (JobState.QUEUED, JobState.RUNNING)

    @property
    def fraction(self) -> float:
        if self.state is JobState.DONE:
            return 1.0
        if not self.frames_total:
            return 0.0
        return min(1.0, self.frames_posed / self.frames_total)

    def view(self) -> VideoJobView:
        i = self.info
        return VideoJobView(
            job_id=self.job_id, user_id=self.user_id, state=self.state, fraction=round(self.fraction, 4),
            frames_posed=self.frames_posed, frames_total=self.frames_total,
            video=VideoFacts(i.width, i.height, i.fps, i.frame_count, i.duration_s),
            created_at=self.created_at, finished_at=self.finished_at,
            frames_with_person=self.frames_with_person, swings=self.swings, error=self.error,
            session_id=self.session_id,
        )


class Deliverer(Protocol):
    """What a job notice is sent through: a main socket's off-the-frame-path send."""

    async def deliver(self, payload: str | bytes) -> bool: ...


class VideoJobs:
    def __init__(self, settings: Settings, store: SessionStore,
                 sockets: Callable[[str], Iterable[Deliverer]] = lambda user_id: ()) -> None:
        """``sockets(user_id)``: the user's main sockets on this process, told of their jobs' progress."""
        self.store = store
        self.sockets = sockets
        self._pushed: dict[str, tuple[JobState, int]] = {}
        self._watcher: asyncio.Task | None = None
        self.workers = settings.video_workers
        self.capacity = settings.video_workers + settings.video_queue
        self.max_seconds = settings.max_video_seconds
        self.kept = settings.video_jobs_kept
        self._jobs: OrderedDict[str, VideoJob] = OrderedDict()
        self._tasks: set[asyncio.Task] = set()
        self._pool: ProcessPoolExecutor | None = None
        self._progress = None

    # ------------------------------------------------------------------ asking

    def get(self, job_id: str) -> VideoJob | None:
        self._drain()
        return self._jobs.get(job_id)

    def check_room(self) -> None:
        """Raise :class:`QueueFull` when no further job may be queued now."""
        self._drain()
        if sum(job.active for job in self._jobs.values()) >= self.capacity:
            raise QueueFull(self.retry_after())

    def retry_after(self) -> int:
        """Seconds until a running job is likely done, from how fast it has gone so far."""
        now = time.time()
        estimates = []
        for job in self._jobs.values():
            if job.state is JobState.RUNNING and job.started_at and job.frames_total and job.frames_posed:
                elapsed = now - job.started_at
                estimates.append(elapsed * (job.frames_total - job.frames_posed) / job.frames_posed)
        return max(1, math.ceil(min(estimates))) if estimates else DEFAULT_RETRY_AFTER_S

    # ------------------------------------------------------------------ doing

    def submit(self, user_id: str, path: Path, name: str, info: VideoInfo, config: StreamConfig,
               baseline: dict[str, float], thresholds: Thresholds) -> VideoJob:
        """Queue a probed upload; the job owns ``path`` from now on and deletes it when finished."""
        self.check_room()
        job = VideoJob(uuid.uuid4().hex, user_id, info, path, name)
        self._jobs[job.job_id] = job
        self._forget_old()
        task = asyncio.create_task(self._run(job, config, baseline, thresholds), name=f"video-job-{job.job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch(), name="video-job-progress")
        self._push(job)
        return job

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.to_thread(_end_pool, pool)
        if self._progress is not None:
            self._progress.close()
            self._progress = None

    async def _run(self, job: VideoJob, config: StreamConfig, baseline: dict[str, float],
                   thresholds: Thresholds) -> None:
        loop = asyncio.get_running_loop()
        try:
            posed = await loop.run_in_executor(self._executor(), run_job, job.job_id, str(job.path), self.max_seconds)
            self._drain()
            job.frames_posed = job.frames_total = len(posed.timestamps)
            job.frames_with_person = int(posed.found.sum())
            job.swings = await asyncio.to_thread(analyse, posed, config, thresholds)
            job.session_id = await self._store(job, posed, config, baseline)
            await self._store_pictures(job, loop)
            job.state = JobState.DONE
        except VideoRefused as exc:
            self._fail(job, exc.code, str(exc))
        except asyncio.CancelledError:
            self._fail(job, "server_shutdown", "the server stopped before the job finished")
            raise
        except BrokenProcessPool:
            self._pool = None  # a new pool for the next job
            self._fail(job, "pose_failed", "the pose process ended unexpectedly")
        except Exception:
            logger.exception("video job %s failed", job.job_id)
            self._fail(job, "pose_failed", "posing the video failed")
        finally:
            job.finished_at = time.time()
            job.path.unlink(missing_ok=True)
            self._push(job)

    async def _watch(self) -> None:
        """While jobs are active: read the pool's progress and tell the owners what moved."""
        while any(job.active for job in self._jobs.values()):
            await asyncio.sleep(PUSH_EVERY_S)
            self._drain()
            for job in list(self._jobs.values()):
                if job.active:
                    self._push(job)

    def _push(self, job: VideoJob) -> None:
        """The job's view as a ``video_job`` message to its owner's sockets, if it changed since the last."""
        mark = (job.state, job.frames_posed)
        if self._pushed.get(job.job_id) == mark:
            return
        self._pushed[job.job_id] = mark
        if not job.active:
            self._pushed.pop(job.job_id, None)
        sockets = list(self.sockets(job.user_id))
        if not sockets:
            return
        payload = msgspec.json.encode({"type": "video_job", "data": job.view()}).decode()
        for conn in sockets:
            task = asyncio.create_task(conn.deliver(payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _store(self, job: VideoJob, posed: PosedVideo, config: StreamConfig,
                     baseline: dict[str, float]) -> str:
        """The job as an ended session of the history: its config, swings and posed frames (for replay)."""
        now = time.time()
        swings = job.swings or []
        n = len(posed.timestamps)
        record = SessionRecord(
            session_id=uuid.uuid4().hex, user_id=job.user_id,
            session_name=config.session_name or f"video {job.name}",
            config=msgspec.structs.replace(config, record_frames=True, baseline=baseline),
            state=SessionState.ENDED, created_at=job.created_at, started_at=job.started_at or job.created_at,
            ended_at=now, end_reason=END_REASON, baseline=baseline,
            stats=SessionStats(
                frames_received=n, frames_analysed=n, frames_skipped=0, frames_rejected=0, frames_degraded=0,
                kpis_calculated=n, swings=len(swings), faults_detected=sum(len(s.faults) for s in swings),
                duration_s=float(posed.timestamps[-1] - posed.timestamps[0]) if n else 0.0,
                latency=LatencySummary(0, None, None, None, None, None)),
        )
        await self.store.add(record)
        for swing in swings:
            self.store.add_swing(StoredSwing(session_id=record.session_id, user_id=job.user_id,
                                             club=config.club_used, ended_at=now, summary=swing))
        self.store.add_frames(record.session_id, [
            RecordedFrame(i, float(t), posed.keypoints[i].astype("<f4").tobytes())
            for i, t in enumerate(posed.timestamps.tolist())])
        return record.session_id

    async def _store_pictures(self, job: VideoJob, loop: asyncio.AbstractEventLoop) -> None:
        """Each swing's key-position pictures, cut from the upload in the pool and stored with the session.
        A picture that cannot be made costs the pictures, never the job's swings (logged)."""
        swings = job.swings or []
        if not swings or job.session_id is None:
            return
        wanted = wanted_frames((s.swing_index, moment_frames(s)) for s in swings)
        try:
            stills = await loop.run_in_executor(self._executor(), run_stills, str(job.path), wanted)
        except BrokenProcessPool:
            self._pool = None
            logger.warning("video job %s: the pool ended while cutting its pictures", job.job_id)
            return
        except Exception:
            logger.exception("video job %s: its pictures could not be cut", job.job_id)
            return
        now = time.time()
        for still in stills:
            width, height = jpeg_size(still.jpeg)  # what a PUT must pass, so both kinds are alike
            await self.store.put_picture(StoredPicture(
                session_id=job.session_id, swing_index=still.swing_index, moment=still.moment,
                width=width, height=height, created_at=now, jpeg=still.jpeg))

    @staticmethod
    def _fail(job: VideoJob, code: str, message: str) -> None:
        job.state = JobState.FAILED
        job.error = JobError(code, message)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: a fresh interpreter, not a fork of a process holding sockets, threads and an event loop
            context = multiprocessing.get_context("spawn")
            if self._progress is None:  # kept across a broken pool's replacement
                self._progress = context.Queue()
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=init_worker,
                                             initargs=(self._progress,))
        return self._pool

    def _drain(self) -> None:
        """Apply the progress the pool's processes have reported (never blocks)."""
        if self._progress is None:
            return
        while True:
            try:
                job_id, done, total = self._progress.get_nowait()
            except (queue.Empty, OSError, ValueError):
                return
            job = self._jobs.get(job_id)
            if job is None or not job.active:
                continue
            if job.state is JobState.QUEUED:
                job.state = JobState.RUNNING
                job.started_at = time.time()
            job.frames_posed = done
            if total:
                job.frames_total = total

    def _forget_old(self) -> None:
        finished = [job_id for job_id, job in self._jobs.items() if not job.active]
        for job_id in finished[: max(0, len(self._jobs) - self.kept)]:
            del self._jobs[job_id]


def _end_pool(pool: ProcessPoolExecutor) -> None:
    """Stop the pool now: a video half posed is not worth holding a shutdown for (its job has failed)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14
    if terminate is not None:
        terminate()
        return
    # Before 3.14 the executor has no public way to stop a running call: end its processes, then it.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def analyse(posed: PosedVideo, config: StreamConfig, thresholds: Thresholds) -> list[SwingSummary]:
    """The posed frames in order, as the socket analyses a stream of them."""
    analyzer = new_analyzer(config, thresholds=thresholds)
    for frame in posed.frames:
        analyzer.push(frame.index, frame.timestamp, frame.keypoints, frame.world_keypoints)
    analyzer.close()
    return analyzer.swings


def upload_path(directory: str | None = None, suffix: str = ".mp4") -> Path:
    """A fresh file for an upload, readable by this user only."""
    import tempfile

    fd, name = tempfile.mkstemp(prefix="swingsync-upload-", suffix=suffix, dir=directory)
    os.close(fd)
    return Path(name)
