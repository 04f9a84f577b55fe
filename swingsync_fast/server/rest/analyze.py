"""POST /api/v1/analyze: a recorded swing uploaded whole, analysed exactly as the live socket would.

The frames go through the live path's own steps: the same decoder types
(seed keypoints objects or the compact array), ``write_keypoints`` into a
``LiveAnalyzer`` slot, ``commit``, one frame in ``analysis_frequency``,
the same personal baseline, ``close`` at the end. So the ``swings`` are the
``swing_summary`` data the socket would have sent for those frames.
Decoding and analysis run in a worker thread: a 10 000-frame upload never
holds the event loop.
"""

from __future__ import annotations

import asyncio
import math

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ...analyzer import SwingSummary
from ...feedback.request import FeedbackRequest
from ...thresholds import Thresholds
from ...timebase import new_analyzer
from ..protocol.rest import AnalyzeRequest, AnalyzeResponse, SwingFeedback
from ..protocol.stream import ErrorCode
from ..responses import HTTPError, JSONResponse
from ..sessions import player_thresholds
from ..stream.codec import write_keypoints
from .common import caller, decode_body, read_body, runtime_of

# Swings of one upload that get feedback (each may be a model call).
MAX_FEEDBACK_SWINGS = 10


class BatchResult(msgspec.Struct):
    frames_analysed: int
    frames_unusable: int
    swings: list[SwingSummary]


_decode_request = msgspec.json.Decoder(AnalyzeRequest).decode


def decode_request(body: bytes, max_frames: int) -> AnalyzeRequest:
    request = decode_body(body, _decode_request, ErrorCode.INVALID_MESSAGE.value)
    if len(request.frames) > max_frames:
        raise HTTPError(413, "too_many_frames",
                        f"an upload may hold at most {max_frames} frames, this one has {len(request.frames)}")
    if not request.frames:
        raise HTTPError(422, ErrorCode.INVALID_MESSAGE.value, "frames is empty")
    return request


def analyse(request: AnalyzeRequest, thresholds: Thresholds) -> BatchResult:
    """The live session's steps over the uploaded frames (see StreamSession.frame)."""
    analyzer = new_analyzer(request, thresholds=thresholds)
    every = request.analysis_frequency
    previous = -math.inf
    analysed = unusable = 0
    for i, frame in enumerate(request.frames):
        if not frame.timestamp > previous:
            raise HTTPError(422, ErrorCode.OUT_OF_ORDER.value,
                            f"frames[{i}].timestamp {frame.timestamp!r} is not after the previous frame's "
                            f"{previous!r}; frames must be in time order")
        previous = frame.timestamp
        if i % every:
            continue
        write_keypoints(analyzer.slot(), frame.keypoints)
        world = frame.world_keypoints is not None
        if world:
            write_keypoints(analyzer.world_slot(), frame.world_keypoints)
        result = analyzer.commit(frame.frame_index, frame.timestamp, with_kpis=False, world=world)
        analysed += 1
        unusable += not result.usable
    analyzer.close()
    return BatchResult(analysed, unusable, analyzer.swings)


async def analyze(request: Request) -> Response:
    principal = caller(request)
    runtime = runtime_of(request)
    settings = runtime.settings
    body = await read_body(request, settings.max_analyze_bytes)
    upload = await asyncio.to_thread(decode_request, body, settings.max_analyze_frames)
    baseline, thresholds = await player_thresholds(runtime.store, principal.user_id, upload)
    result = await asyncio.to_thread(analyse, upload, thresholds)
    feedback = None
    if upload.feedback:
        feedback = []
        for summary in result.swings[:MAX_FEEDBACK_SWINGS]:
            text, source = await runtime.feedback.answer(FeedbackRequest(
                swing=summary, club=upload.club_used, skill_level=upload.skill_level,
                handedness=upload.handedness, threshold=upload.feedback_threshold, requested=True))
            feedback.append(SwingFeedback(summary.swing_index, source.value, text))
    return JSONResponse(AnalyzeResponse(
        frames_received=len(upload.frames), frames_analysed=result.frames_analysed,
        frames_unusable=result.frames_unusable, baseline=baseline, swings=result.swings, feedback=feedback,
    ))
