"""Stream a recorded session to a server and print what it answers (``python -m swingsync_fast replay``).

The recording's config (with its pinned baseline) starts the session; each
frame goes out as a raw float32 frame, the exact numbers the original
session analysed, so the server reproduces the analysis. Pace: the
recording's own timestamps divided by ``speed``, or, with ``speed`` None,
as fast as the server's per-connection rate limit allows.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import msgspec
from websockets.asyncio.client import connect

from .server.protocol import RAW_HEADER, RAW_MAGIC
from .server.recording import SessionRecording

STREAM_PATH = "/api/v1/stream/ws/{user_id}"
# Stay this far under the server's rate limit, so no frame is dropped.
RATE_MARGIN = 0.9


def stream_url(url: str, user_id: str) -> str:
    """``url`` as given, or with the main socket's path for ``user_id`` when it has no path."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"--url must be ws:// or wss://, got {url!r}")
    if parts.path in ("", "/"):
        parts = parts._replace(path=STREAM_PATH.format(user_id=user_id))
    return urlunsplit(parts)


async def replay(
    recording: SessionRecording,
    url: str,
    token: str | None,
    *,
    speed: float | None,
    on_message: Callable[[dict], None],
) -> dict:
    """Stream the recording; every message from the server goes to ``on_message``; the session_ended data."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with connect(stream_url(url, recording.user_id), additional_headers=headers, max_size=None,
                       max_queue=None) as ws:
        start = {"type": "start_session", "data": {"config": recording.config}}
        await ws.send(msgspec.json.encode(start).decode())
        started = await _until(ws, "session_started", on_message)
        limits = started["data"]["limits"]
        min_gap = 1.0 / (limits["frames_per_second"] * RATE_MARGIN)
        reader = asyncio.create_task(_until(ws, "session_ended", on_message))
        try:
            await _send_frames(ws, recording, speed, min_gap)
            await ws.send('{"type": "end_session"}')
            ended = await reader
        finally:
            reader.cancel()
        return ended["data"]


async def _send_frames(ws, recording: SessionRecording, speed: float | None, min_gap: float) -> None:
    frames = recording.frames
    if not frames:
        return
    t0 = frames[0].timestamp
    began = time.monotonic()
    due = began
    for frame in frames:
        at = began + (frame.timestamp - t0) / speed if speed else due
        wait = max(at, due) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        due = time.monotonic() + min_gap
        await ws.send(RAW_HEADER.pack(RAW_MAGIC, frame.frame_index, frame.timestamp) + frame.keypoints)


async def _until(ws, kind: str, on_message: Callable[[dict], None]) -> dict:
    while True:
        raw = await ws.recv()
        message = msgspec.msgpack.decode(raw) if isinstance(raw, bytes) else json.loads(raw)
        on_message(message)
        if message["type"] == kind:
            return message
        if message["type"] == "error" and kind == "session_started":
            raise RuntimeError(f"the server refused the session: {message['data']}")
