"""POST /api/v1/analyze/video (a multipart upload of one video) and GET /api/v1/jobs/{job_id} (its job).

The upload is read with a size cap, checked (a container OpenCV reads, not
longer than ``max_video_seconds``) and queued; the answer is the job (202).
Posing runs in the pool of :mod:`..jobs`; only the job's owner may read it.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncGenerator
from pathlib import Path

import msgspec
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response

from ...video.job import VideoRefused, probe
from ..jobs import QueueFull, VideoJobs, upload_path
from ..protocol.stream import StreamConfig
from ..responses import HTTPError, JSONResponse, error_response
from ..sessions import player_thresholds
from .common import caller, runtime_of

SUFFIXES = {".mp4": ".mp4", ".m4v": ".mp4", ".mov": ".mov", ".webm": ".webm"}
CONTENT_TYPES = {"video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm"}
# Form fields besides `file` that set the analysis (as in the session config).
CONFIG_FIELDS = ("club_used", "skill_level", "handedness", "camera_view", "slow_motion")


def jobs_of(request: Request) -> VideoJobs:
    return runtime_of(request).video_jobs


async def analyze_video(request: Request) -> Response:
    principal = caller(request)
    runtime = runtime_of(request)
    settings = runtime.settings
    jobs = jobs_of(request)
    try:
        jobs.check_room()  # before reading a byte of a body that could not be queued
    except QueueFull as exc:
        return _queue_full(exc)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPError(415, "unsupported_media_type", "send the video as multipart/form-data, in the field `file`")
    limit = settings.max_video_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPError(413, "too_large", f"a video upload may be at most {limit} bytes")
    parser = MultiPartParser(request.headers, _capped(request, limit), max_files=1, max_fields=len(CONFIG_FIELDS))
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise HTTPError(422, "invalid_request", f"multipart body: {exc.message}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPError(422, "invalid_request", "the multipart body has no file in the field `file`")
        suffix = _suffix(upload)
        fields = {name: form[name] for name in CONFIG_FIELDS if isinstance(form.get(name), str)}
        _config(fields, 1.0)  # a bad field is refused before the file is copied
        path = upload_path(suffix=suffix)
        try:
            await asyncio.to_thread(_save, upload, path)
            info = await asyncio.to_thread(probe, path, settings.max_video_seconds)
        except VideoRefused as exc:
            path.unlink(missing_ok=True)
            raise HTTPError(413 if exc.code == "video_too_long" else 422, exc.code, str(exc)) from None
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    finally:
        await form.close()
    config = _config(fields, info.width / info.height if info.width > 0 and info.height > 0 else 1.0)
    baseline, thresholds = await player_thresholds(runtime.store, principal.user_id, config)
    try:
        job = jobs.submit(principal.user_id, path, Path(upload.filename or "upload").name, info, config,
                          baseline, thresholds)
    except QueueFull as exc:  # filled while this upload was read
        path.unlink(missing_ok=True)
        return _queue_full(exc)
    return JSONResponse(job.view(), 202, {"Location": f"/api/v1/jobs/{job.job_id}"})


async def get_job(request: Request) -> Response:
    principal = caller(request)
    job_id = request.path_params["job_id"]
    job = jobs_of(request).get(job_id)
    if job is None or job.user_id != principal.user_id:  # another's job is as unknown as a missing one
        raise HTTPError(404, "not_found", f"no video job {job_id!r} of yours")
    return JSONResponse(job.view())


def _config(fields: dict[str, str], aspect: float) -> StreamConfig:
    """The analysis of an upload: its image landmarks at the video's aspect, as the page asks for a file."""
    # form fields are text: converted, not strict, so "4" is a number and the config's types check
    # every field as a JSON body's would; a file's media time may run slow (a phone's 240 FPS played
    # at 30), so its factor is found from the swing unless the form says
    try:
        return msgspec.convert({"slow_motion": "auto", **fields, "coordinate_system": "mediapipe_image",
                                "image_aspect": aspect, "feedback_mode": "disabled"},
                               StreamConfig, strict=False)
    except (msgspec.ValidationError, TypeError, ValueError) as exc:
        raise HTTPError(422, "invalid_config", str(exc)) from None


def _queue_full(exc: QueueFull) -> Response:
    return error_response(429, "queue_full", str(exc), {"Retry-After": str(exc.retry_after_s)})


def _suffix(upload: UploadFile) -> str:
    name_suffix = Path(upload.filename or "").suffix.lower()
    if name_suffix in SUFFIXES:
        return SUFFIXES[name_suffix]
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    if content_type in CONTENT_TYPES:
        return CONTENT_TYPES[content_type]
    raise HTTPError(415, "unsupported_media_type",
                    f"the file must be mp4, mov or webm (got {upload.filename!r}, {content_type or 'no type'})")


def _save(upload: UploadFile, path: Path) -> None:
    upload.file.seek(0)
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out, 1 << 20)


async def _capped(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, "too_large", f"a video upload may be at most {limit} bytes")
        yield chunk
