"""Stream posed frames to a server's main socket and turn its replies into frame states and events.

Frames go out as raw float32 frames (image and world landmarks together) at
the video's own pace, or as fast as the server's per-connection rate limit
allows; the replies come back in JSON (the ``seed`` layout).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from ..replay import RATE_MARGIN, stream_url
from .events import Event, FaultOnsets, FrameState, event
from .posed import PosedFrame

# How long to wait, after the session ends, for the coaching text on its last swing
# (the server finishes or replaces an answer within 20 s).
FEEDBACK_WAIT_S = 25.0


class RemoteError(Exception):
    """The server could not be reached, refused us, or went away; the message says which."""


class RemoteAnalysis:
    """One session on the server for one video.

    ``on_state`` gets each frame's analysis as it comes back, ``on_event``
    every event (and ``error`` events for what the server refused).
    """

    def __init__(self, url: str, token: str | None, user_id: str, config: dict[str, Any], *,
                 fast: bool, on_state: Callable[[FrameState], None], on_event: Callable[[Event], None]) -> None:
        self.url = stream_url(url, user_id)
        self.token = token
        self.config = {**config, "frame_layout": "seed"}
        self.fast = fast
        self.on_state = on_state
        self.on_event = on_event
        self._faults = FaultOnsets()
        self._swings = 0
        self._last_swing = 0
        self._texts: dict[str, tuple[str, list[str]]] = {}  # feedback_id -> (source, pieces)
        self._answered: set[int] = set()
        self._answer = asyncio.Event()
        self.ended: dict[str, Any] | None = None

    async def run(self, frames: AsyncIterator[PosedFrame]) -> dict[str, Any]:
        """Stream every frame, end the session; the ``session_ended`` data."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        try:
            async with connect(self.url, additional_headers=headers, max_size=None, max_queue=None,
                               open_timeout=10) as ws:
                await ws.send(json.dumps({"type": "start_session", "data": {"config": self.config}}))
                started = await self._until(ws, "session_started")
                min_gap = 1.0 / (started["limits"]["frames_per_second"] * RATE_MARGIN)
                reader = asyncio.create_task(self._until(ws, "session_ended"))
                try:
                    await self._send(ws, frames, min_gap, reader)
                    await ws.send('{"type": "end_session"}')
                    self.ended = await reader
                    await self._await_feedback(ws)
                finally:
                    reader.cancel()
        except InvalidStatus as exc:
            raise RemoteError(f"the server refused the socket: HTTP {exc.response.status_code} "
                              f"{_refusal(exc.response.body)}") from exc
        except (InvalidURI, InvalidHandshake) as exc:
            raise RemoteError(f"cannot open a socket at {self.url}: {exc}") from exc
        except ConnectionClosed as exc:
            raise RemoteError(f"the server closed the socket: {exc}") from exc
        except OSError as exc:
            raise RemoteError(f"cannot reach the server at {self.url}: {exc.strerror or exc}") from exc
        return self.ended

    async def _send(self, ws, frames: AsyncIterator[PosedFrame], min_gap: float, reader: asyncio.Task) -> None:
        began = time.monotonic()
        due = began
        t0: float | None = None
        async for frame in frames:
            if reader.done():  # the server ended the session or the socket: stop sending
                reader.result()
                return
            t0 = frame.timestamp if t0 is None else t0
            at = due if self.fast else max(due, began + frame.timestamp - t0)
            wait = at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            due = time.monotonic() + min_gap
            await ws.send(frame.raw())

    async def _await_feedback(self, ws) -> None:
        if self._last_swing == 0:
            return
        reader = asyncio.create_task(self._until(ws, "never"))
        try:
            deadline = time.monotonic() + FEEDBACK_WAIT_S
            while self._last_swing not in self._answered and time.monotonic() < deadline:
                self._answer.clear()
                try:
                    await asyncio.wait_for(self._answer.wait(), deadline - time.monotonic())
                except TimeoutError:
                    break
                if reader.done():
                    break
        finally:
            reader.cancel()

    async def _until(self, ws, kind: str) -> dict[str, Any]:
        while True:
            raw = await ws.recv()
            message = msgspec.msgpack.decode(raw) if isinstance(raw, bytes) else json.loads(raw)
            data = message.get("data", {})
            if message["type"] == "error" and kind == "session_started":
                raise RemoteError(f"the server refused the session: {data.get('code')}: {data.get('message')}")
            self._handle(message["type"], data)
            if message["type"] == kind:
                return data

    def _handle(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "analysis_result":
            faults = [(f["fault_id"], f["name"], f["severity"]) for f in data["detected_faults"]]
            self.on_state(FrameState(
                frame_index=data["frame_index"],
                swing_phase=data["swing_phase"],
                p_position=data["p_position"],
                kpis=data["kpis"],
                faults=tuple((f, s) for f, _, s in faults),
                swings=self._swings,
            ))
            for e in self._faults.check(data["frame_index"], data["timestamp"], data["swing_phase"], faults):
                self.on_event(e)
        elif kind == "swing_event":
            self.on_event(event(kind, data))
        elif kind == "swing_summary":
            self._swings += 1
            self._last_swing = data["swing_index"]
            self._faults.new_swing()
            self.on_event(event(kind, data))
        elif kind == "feedback":
            self._feedback(data)
        elif kind == "error":
            self.on_event(event(kind, data))

    def _feedback(self, data: dict[str, Any]) -> None:
        source, pieces = self._texts.get(data["feedback_id"], (data["source"], []))
        if data["source"] != source:  # the model was cut short: the offline text replaces its part
            source, pieces = data["source"], []
        if data["feedback"]:
            pieces.append(data["feedback"])
        self._texts[data["feedback_id"]] = (source, pieces)
        if data["done"]:
            del self._texts[data["feedback_id"]]
            self._answered.add(data["swing_index"])
            self._answer.set()
            self.on_event(event("feedback", {"swing_index": data["swing_index"],
                                             "feedback": "".join(pieces).strip(), "source": source}))


def _refusal(body: bytes | None) -> str:
    """The error envelope's code and message from a refused handshake, else the body as text."""
    if not body:
        return ""
    try:
        data = json.loads(body)["data"]
        return f"{data['code']}: {data['message']}"
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", "replace")[:200]


def send_stills(url: str, token: str | None, session_id: str, stills: list) -> tuple[int, list[str]]:
    """PUT each still to its swing in the server's session (the REST side of ``url``'s host):
    how many were stored, and why the others were not."""
    import urllib.error
    import urllib.request
    from urllib.parse import quote, urlsplit

    parts = urlsplit(url if "://" in url else f"ws://{url}")
    base = f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}"
    headers = {"Content-Type": "image/jpeg", **({"Authorization": f"Bearer {token}"} if token else {})}
    stored, problems = 0, []
    for still in stills:
        path = f"/api/v1/stream/sessions/{quote(session_id)}/swings/{still.swing_index}/pictures/{still.moment}"
        request = urllib.request.Request(base + path, data=still.jpeg, method="PUT", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10):
                stored += 1
        except urllib.error.HTTPError as exc:
            problems.append(f"swing {still.swing_index} {still.moment}: HTTP {exc.code}")
        except (urllib.error.URLError, OSError) as exc:
            problems.append(f"swing {still.swing_index} {still.moment}: {exc}")
    return stored, problems
