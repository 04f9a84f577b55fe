"""One video, start to end: read, pose, analyse (here or on a server), print, draw."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import deque
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TextIO

import msgspec

from ..config import CameraView, Handedness, SessionConfig
from .draw import Annotator
from .events import Event, FrameState, event
from .posed import PosedFrame
from .poser import Poser
from .report import Progress, Report
from .source import VideoError, VideoFrame, VideoSource
from .stills import StillRing, Still, stills_of_file, wanted_frames, write_stills

RING_SECONDS = 20.0  # a camera's thumbnails kept for its swings' pictures: a swing and its summary's delay


class VideoOptions(msgspec.Struct, kw_only=True):
    file: Path | None = None
    camera: int | None = None
    url: str | None = None  # None: analyse here
    token: str | None = None
    user: str | None = None
    fast: bool = False
    json_lines: bool = False
    out: Path | None = None
    pictures: Path | None = None  # a directory for each swing's key-position JPEGs (default with out: beside it)
    club: str = "driver"
    skill: str = "intermediate"
    handedness: Handedness = "right"
    view: CameraView = "auto"
    fps: float | None = None  # the real frame rate of a slow-motion clip
    max_frames: int | None = None
    progress: bool | None = None  # None: when stderr is a terminal and the source is a file


class _Counts:
    def __init__(self) -> None:
        self.frames = 0
        self.with_person = 0


def session_config(source: VideoSource, options: VideoOptions) -> SessionConfig:
    """The analysis the page would ask for this video: image landmarks of its aspect, coaching after every swing."""
    return SessionConfig(
        session_name=f"video {Path(source.name).name}",
        club_used=options.club,
        skill_level=options.skill,
        handedness=options.handedness,
        coordinate_system="mediapipe_image",
        image_aspect=source.aspect,
        camera_view=options.view,
        # a file's media time may run slow (a phone's 240 FPS played at 30): found from the swing,
        # unless --fps gave the real rate; a camera is real time
        slow_motion="auto" if not (source.live or source.fixed_fps) else 1.0,
        feedback_threshold=0.0,
        feedback_mode="batch",
    )


def run_video(options: VideoOptions, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The ``video`` command; its exit status (errors are printed, never raised)."""
    from .remote import RemoteError

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        return _run(options, out, err)
    except VideoError as exc:
        print(f"error: {exc}", file=err)
        return 2
    except RemoteError as exc:
        print(f"error: {exc}", file=err)
        return 1
    except ValueError as exc:  # a bad option value the config refused (club, skill)
        print(f"error: {exc}", file=err)
        return 2


def _run(options: VideoOptions, out: TextIO, err: TextIO) -> int:
    source = (VideoSource.camera(options.camera, fps=options.fps) if options.camera is not None
              else VideoSource.file(options.file, fps=options.fps))
    with source:
        config = session_config(source, options)
        show_progress = options.progress if options.progress is not None else (err.isatty() and not source.live)
        total = source.frame_count
        if total is not None and options.max_frames is not None:
            total = min(total, options.max_frames)
        progress = Progress(err, total) if show_progress else None
        report = Report(out, err, json_lines=options.json_lines, progress=progress)
        where = "here" if options.url is None else f"on {options.url}"
        report.note(f"{source.name}: {source.width}x{source.height}, {source.fps:g} FPS"
                    + (f", {source.frame_count} frames" if source.frame_count else "") + f"; analysing {where}")
        annotator = Annotator(options.out, source.fps, source.width, source.height) if options.out else None
        counts = _Counts()
        stop = _stop_on_interrupt() if source.live else None
        pictures_dir = pictures_directory(options)
        ring = StillRing(round(RING_SECONDS * source.fps)) if pictures_dir and source.live else None
        try:
            with Poser() as poser:
                frames = _posed(source, poser, options.max_frames, counts, progress, stop, ring)
                if options.url is None:
                    swings = _analyse_here(config, frames, annotator, report)
                    ended: dict = {}
                else:
                    swings, ended = _analyse_remote(options, config, frames, annotator, report)
        finally:
            if annotator is not None:
                annotator.close()
            report.end_progress()
        if counts.with_person == 0:
            raise VideoError(f"no person found in {source.name} ({counts.frames} frames)")
        summary = {"source": source.name, "frames": counts.frames, "frames_with_person": counts.with_person,
                   "swings": swings, "fps": source.fps, "width": source.width, "height": source.height}
        if ended:
            summary["session"] = ended
        if annotator is not None:
            summary["annotated"] = str(annotator.path)
        if pictures_dir is not None:
            stills = _stills(options, report.swings, ring)
            summary["pictures"] = [str(p) for p in write_stills(pictures_dir, stills)]
            if ended.get("session_id") and stills:
                summary["pictures_stored"] = _store_stills(options, ended["session_id"], stills, report)
        report.emit(event("video_ended", summary))
    return 0


def pictures_directory(options: VideoOptions) -> Path | None:
    """Where the swings' pictures go: ``--pictures DIR``, else ``NAME-pictures/`` beside ``--out NAME.mp4``."""
    if options.pictures is not None:
        return options.pictures
    if options.out is not None:
        return options.out.with_name(f"{options.out.stem}-pictures")
    return None


def _stills(options: VideoOptions, swings: list[dict], ring: StillRing | None) -> list[Still]:
    """Each summarised swing's four pictures: a file read once more, a camera's from the ring."""
    from ..analyzer import SwingSummary
    from ..pictures import moment_frames

    frames = [(s["swing_index"], moment_frames(msgspec.convert(s, SwingSummary))) for s in swings]
    if ring is not None:
        return [still for n, moments in frames for still in ring.stills(n, moments)]
    assert options.file is not None
    return stills_of_file(options.file, wanted_frames(frames))


def _store_stills(options: VideoOptions, session_id: str, stills: list[Still], report: Report) -> int:
    """The pictures sent to the server's session too, as the page sends its own; how many it stored."""
    from .remote import send_stills

    assert options.url is not None
    stored, problems = send_stills(options.url, options.token, session_id, stills)
    for problem in problems:
        report.note(f"picture not stored: {problem}")
    return stored


def _posed(source: VideoSource, poser: Poser, limit: int | None, counts: _Counts, progress: Progress | None,
           stop: list[bool] | None, ring: StillRing | None = None) -> Iterator[tuple[VideoFrame, PosedFrame]]:
    for frame in source.frames(limit):
        if stop and stop[0]:
            return
        if ring is not None:
            ring.add(frame.index, frame.image)
        pose = poser.estimate(frame.image)
        counts.frames += 1
        counts.with_person += pose is not None
        if progress is not None:
            progress.update(counts.frames)
        yield frame, PosedFrame(frame.index, frame.timestamp, pose)


def _analyse_here(config: SessionConfig, frames: Iterator[tuple[VideoFrame, PosedFrame]],
                  annotator: Annotator | None, report: Report) -> int:
    from .local import LocalAnalysis

    analysis = LocalAnalysis(config)
    for frame, posed in frames:
        state, events = analysis.feed(posed)
        if annotator is not None:
            annotator.write(frame.image, posed.pose, state)
        for e in events:
            report.emit(e)
    for e in analysis.finish():
        report.emit(e)
    return len(analysis.swings)


def _analyse_remote(options: VideoOptions, config: SessionConfig, frames: Iterator[tuple[VideoFrame, PosedFrame]],
                    annotator: Annotator | None, report: Report) -> tuple[int, dict]:
    from .remote import RemoteAnalysis, RemoteError

    user = options.user or _token_subject(options.token)
    if user is None and not _has_path(options.url):
        raise RemoteError("say whose socket to use: --user USER, a --token for that user, or the full socket URL")
    # frames wait here for their analysis to come back, then are drawn with it
    pending: deque[tuple[VideoFrame, PosedFrame]] = deque()
    swings = 0
    last: list[FrameState | None] = [None]

    def on_state(state: FrameState) -> None:
        last[0] = state
        while pending and pending[0][0].index <= state.frame_index:
            frame, posed = pending.popleft()
            annotator.write(frame.image, posed.pose, state)

    def on_event(e: Event) -> None:
        nonlocal swings
        swings += e["type"] == "swing_summary"
        report.emit(e)

    async def posed_frames() -> AsyncIterator[PosedFrame]:
        # posing is blocking work: a thread of its own keeps the socket read while it runs
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1, thread_name_prefix="pose") as pool:
            while (item := await loop.run_in_executor(pool, next, frames, None)) is not None:
                if annotator is not None:
                    pending.append(item)
                yield item[1]

    remote = RemoteAnalysis(options.url, options.token, user or "", msgspec.to_builtins(config), fast=options.fast,
                            on_state=on_state if annotator is not None else (lambda state: None), on_event=on_event)
    ended = asyncio.run(remote.run(posed_frames()))
    while pending:  # frames the server sent no result for: drawn with the last one
        frame, posed = pending.popleft()
        annotator.write(frame.image, posed.pose, last[0])
    return swings, ended


def _token_subject(token: str | None) -> str | None:
    """The user a token is for (read, not verified: the server verifies it)."""
    if not token:
        return None
    import jwt

    try:
        sub = jwt.decode(token, options={"verify_signature": False}).get("sub")
    except jwt.PyJWTError:
        return None
    return sub if isinstance(sub, str) else None


def _has_path(url: str | None) -> bool:
    from urllib.parse import urlsplit

    return bool(url) and urlsplit(url).path not in ("", "/")


def _stop_on_interrupt() -> list[bool]:
    """Ctrl-C on a camera ends the stream cleanly (the last swing is still summarised)."""
    stop = [False]

    def handler(signum, frame) -> None:
        if stop[0]:
            raise KeyboardInterrupt
        stop[0] = True

    signal.signal(signal.SIGINT, handler)
    return stop
