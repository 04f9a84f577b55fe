"""The load generator's clients: simulated golfers streaming wall-clock-paced frames, in a worker process.

A worker holds a share of the run's clients on one uvloop event loop. Each
client opens its socket (one user each: the server allows 5 sockets a user)
and waits for the parent's commands, which step every worker through the
same phases: ``start`` (start_session, wait for the reply), ``stream``
(frame k goes out at ``t0 + offset + k / fps`` by the monotonic clock,
whatever the replies do; every reply is stamped on arrival), ``close``.
The parent turns the stamps into RTTs, late and lost frames.

Frames are the simulator's, encoded once per layout before the clock
starts; a send only splices the frame index and timestamp onto them.
Two client libraries: picows (Cython, callbacks; light) and websockets
(asyncio tasks; the library the server tests use).
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import msgspec
import numpy as np

from swingsync_fast.landmarks import LANDMARK_NAMES

LAYOUTS = ("seed", "compact", "binary", "msgpack")
CLIENT_LIBRARIES = ("picows", "websockets")
# What the session is asked to reply in (docs/protocol.md, "Envelope and layouts").
REPLY_LAYOUT = {"seed": "seed", "compact": "compact", "binary": "binary", "msgpack": "binary"}
RAW_HEADER = struct.Struct("<4sId")  # magic, frame_index, timestamp; then 132 float32
RAW_MAGIC = b"SSF1"
RAW_INDEX = struct.Struct("<I")
DECIMALS = 5  # 0.01 mm: what a client formatting its numbers would send
# Replies that answer a frame: the server's result, or the frame itself coming back from the echo.
FRAME_REPLIES = frozenset({"analysis_result", "frame_data"})
# The first reply to a start message: the server's, or the echo's copy of it.
START_REPLIES = frozenset({"session_started", "start_session"})
CONNECT_TIMEOUT_S = 30.0
CONNECTS_AT_ONCE = 50
CLOSE_TIMEOUT_S = 5.0


def available_libraries() -> list[str]:
    found = []
    for name in CLIENT_LIBRARIES:
        try:
            __import__(name)
        except ImportError:
            continue
        found.append(name)
    return found


# --------------------------------------------------------------------------- frames on the wire


class Frames:
    """One simulated session in one layout: each frame's keypoints encoded once."""

    def __init__(self, keypoints: np.ndarray, layout: str) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
        self.layout = layout
        self.text = layout in ("seed", "compact")
        rounded = np.round(keypoints.astype(np.float64), DECIMALS).tolist()
        if layout == "seed":
            self._bodies = [msgspec.json.encode({
                name: {"x": x, "y": y, "z": z, "visibility": v}
                for name, (x, y, z, v) in zip(LANDMARK_NAMES, frame)
            }) for frame in rounded]
        elif layout == "compact":
            self._bodies = [msgspec.json.encode([value for point in frame for value in point]) for frame in rounded]
        elif layout == "binary":
            self._bodies = [frame.astype("<f4").tobytes() for frame in keypoints]
        else:
            self._bodies = [msgspec.msgpack.encode([value for point in frame for value in point]) for frame in rounded]

    def __len__(self) -> int:
        return len(self._bodies)

    def message(self, position: int, frame_index: int, timestamp: float) -> bytes:
        body = self._bodies[position % len(self._bodies)]
        if self.text:
            return b'{"type":"frame_data","data":{"frame_index":%d,"timestamp":%.6f,"keypoints":%b}}' % (
                frame_index, timestamp, body)
        if self.layout == "binary":
            return RAW_HEADER.pack(RAW_MAGIC, frame_index, timestamp) + body
        return msgspec.msgpack.encode({"type": "frame_data", "data": {
            "frame_index": frame_index, "timestamp": timestamp, "keypoints": msgspec.Raw(body)}})

    def start_message(self) -> bytes:
        config = {"session_name": "loadgen", "club_used": "driver", "frame_layout": REPLY_LAYOUT[self.layout]}
        return msgspec.json.encode({"type": "start_session", "data": {"config": config}})


class _ReplyData(msgspec.Struct):
    frame_index: int | None = None
    code: str | None = None


class _Reply(msgspec.Struct):
    type: str
    data: _ReplyData | None = None


_JSON = msgspec.json.Decoder(_Reply)
_MSGPACK = msgspec.msgpack.Decoder(_Reply)


# --------------------------------------------------------------------------- one golfer


@dataclass
class Job:
    """What a worker runs: its clients and how they stream."""

    url: str  # ws://127.0.0.1:PORT (no path)
    users: list[str]
    tokens: list[str | None]
    offsets_s: list[float]  # each client's phase within a frame period
    sessions: list[np.ndarray]  # simulated sessions, (frames, 33, 4) float32
    layout: str
    fps: float
    frames: int  # frames each client sends
    library: str  # picows | websockets
    drain_s: float = 2.0
    deflate: bool = False  # websockets only: offer permessage-deflate (picows has no compression)


class Golfer:
    """One client: its socket, its schedule, and the stamps of what it sent and got."""

    def __init__(self, number: int, job: Job, frames: Frames) -> None:
        self.number = number
        token = job.tokens[number]
        path = f"/api/v1/stream/ws/{job.users[number]}"
        self.url = job.url + path + (f"?token={token}" if token else "")
        self.frames = frames
        self.first = (number * 37) % len(frames)  # so golfers sharing a session are not in step
        self.offset_s = job.offsets_s[number]
        self.fps = job.fps
        self.count = job.frames
        self.deflate = job.deflate
        self.send_ns = np.zeros(self.count, np.int64)
        self.recv_ns = np.zeros(self.count, np.int64)
        self.received = 0
        self.duplicates = 0
        self.replies: Counter[str] = Counter()  # replies other than a frame's, by type
        self.errors: Counter[str] = Counter()  # error replies, by code
        self.failure: str | None = None  # why connecting or starting failed
        self.close_code: int | None = None  # the server closed (or dropped) the socket
        self.connect_ms = 0.0
        self.open = False
        self._started: asyncio.Future[str] | None = None
        self._t0 = 0.0
        self._k = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------ what the library calls

    def on_message(self, payload: Any, now_ns: int) -> None:
        if payload[:4] == RAW_MAGIC:  # a raw frame, echoed
            self._frame_reply(RAW_INDEX.unpack_from(payload, 4)[0], now_ns)
            return
        reply = (_JSON if payload[:1] == b"{" else _MSGPACK).decode(payload)
        data = reply.data
        if reply.type in FRAME_REPLIES and data is not None and data.frame_index is not None:
            self._frame_reply(data.frame_index, now_ns)
            return
        self.replies[reply.type] += 1
        if reply.type == "error":
            self.errors[data.code if data is not None and data.code else "?"] += 1
        started = self._started
        if started is not None and not started.done() and (reply.type in START_REPLIES or reply.type == "error"):
            started.set_result(reply.type if reply.type != "error" else f"error {self.errors.most_common(1)[0][0]}")

    def _frame_reply(self, index: int, now_ns: int) -> None:
        if 0 <= index < self.count and self.recv_ns[index] == 0 and self.send_ns[index] != 0:
            self.recv_ns[index] = now_ns
            self.received += 1
        else:
            self.duplicates += 1

    def on_closed(self, code: int | None) -> None:
        if self.open:
            self.open = False
            self.close_code = code if code is not None else 1006
        started = self._started
        if started is not None and not started.done():
            started.set_result(f"closed {self.close_code}")

    # ------------------------------------------------------------ phases

    async def connect(self) -> None:
        began = time.perf_counter()
        try:
            await asyncio.wait_for(self._open(), CONNECT_TIMEOUT_S)
        except Exception as exc:  # refused, timed out, HTTP error on upgrade: a failed handshake
            self.failure = f"{type(exc).__name__}: {exc}"[:200]
            return
        self.open = True
        self.connect_ms = (time.perf_counter() - began) * 1e3

    async def start(self) -> None:
        if not self.open:
            return
        self._started = asyncio.get_running_loop().create_future()
        try:
            await self._send(self.frames.start_message(), text=True)
            answer = await asyncio.wait_for(self._started, CONNECT_TIMEOUT_S)
        except Exception as exc:
            answer = f"{type(exc).__name__}: {exc}"
        if answer not in START_REPLIES:
            self.failure = f"start_session: {answer}"[:200]

    def stream(self, t0: float) -> None:
        """Schedule every send on the loop's (monotonic) clock, from ``t0``."""
        if not self.open or self.failure:
            return
        self._loop = asyncio.get_running_loop()
        self._t0 = t0 + self.offset_s
        self._k = 0
        self._loop.call_at(self._t0, self._tick)

    def _tick(self) -> None:
        k = self._k
        if not self.open or k >= self.count:
            return
        message = self.frames.message(self.first + k, k, k / self.fps)
        self.send_ns[k] = time.monotonic_ns()
        self._send_now(message)
        self._k = k + 1
        if k + 1 < self.count:
            assert self._loop is not None
            self._loop.call_at(self._t0 + (k + 1) / self.fps, self._tick)

    @property
    def done(self) -> bool:
        return not self.open or self.failure is not None or self.received >= self.count

    def result(self) -> dict[str, Any]:
        return {
            "failure": self.failure, "close_code": self.close_code, "duplicates": self.duplicates,
            "replies": dict(self.replies), "errors": dict(self.errors), "connect_ms": self.connect_ms,
        }

    # ------------------------------------------------------------ per library

    async def _open(self) -> None:
        raise NotImplementedError

    async def _send(self, message: bytes, *, text: bool) -> None:
        raise NotImplementedError

    def _send_now(self, message: bytes) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class PicowsGolfer(Golfer):
    """picows: frames arrive in a callback, sends are synchronous writes."""

    async def _open(self) -> None:
        from picows import WSListener, WSMsgType, ws_connect

        golfer = self

        class Listener(WSListener):  # type: ignore[misc]
            def on_ws_frame(self, transport: Any, frame: Any) -> None:
                now = time.monotonic_ns()
                kind = frame.msg_type
                if kind == WSMsgType.TEXT or kind == WSMsgType.BINARY:
                    golfer.on_message(frame.get_payload_as_memoryview(), now)
                elif kind == WSMsgType.CLOSE:
                    golfer.on_closed(frame.get_close_code())
                    transport.send_close(frame.get_close_code())
                    transport.disconnect()

            def on_ws_disconnected(self, transport: Any) -> None:
                golfer.on_closed(None)

        self._text, self._binary = WSMsgType.TEXT, WSMsgType.BINARY
        self._transport, _ = await ws_connect(Listener, self.url, websocket_handshake_timeout=CONNECT_TIMEOUT_S)

    async def _send(self, message: bytes, *, text: bool) -> None:
        self._transport.send(self._text if text else self._binary, message)

    def _send_now(self, message: bytes) -> None:
        self._transport.send(self._text if self.frames.text else self._binary, message)

    async def close(self) -> None:
        if not self.open:
            return
        self.open = False
        from picows import WSCloseCode

        self._transport.send_close(WSCloseCode.OK)
        try:
            await asyncio.wait_for(self._transport.wait_disconnected(), CLOSE_TIMEOUT_S)
        except Exception:
            self._transport.disconnect()


class WebsocketsGolfer(Golfer):
    """websockets (asyncio): a reader task; sends are coroutines, so each one is a task step."""

    async def _open(self) -> None:
        from websockets.asyncio.client import connect

        self._ws = await connect(self.url, compression="deflate" if self.deflate else None, max_queue=None,
                                 ping_interval=None,
                                 open_timeout=CONNECT_TIMEOUT_S)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        ws = self._ws
        try:
            while True:
                payload = await ws.recv(decode=False)
                self.on_message(payload, time.monotonic_ns())
        except ConnectionClosed as exc:
            self.on_closed(exc.rcvd.code if exc.rcvd is not None else None)

    async def _send(self, message: bytes, *, text: bool) -> None:
        await self._ws.send(message, text=text)

    def _send_now(self, message: bytes) -> None:
        # websockets has no synchronous send: the write happens when this task first runs.
        asyncio.ensure_future(self._ws.send(message, text=self.frames.text))

    async def close(self) -> None:
        if not self.open:
            return
        self.open = False
        try:
            await asyncio.wait_for(self._ws.close(), CLOSE_TIMEOUT_S)
        except Exception:
            pass
        self._reader.cancel()


GOLFERS: dict[str, type[Golfer]] = {"picows": PicowsGolfer, "websockets": WebsocketsGolfer}


# --------------------------------------------------------------------------- the worker process


def worker(job: Job, pipe: Connection) -> None:
    """Process entry point: run the job's clients, stepping through the parent's commands."""
    import uvloop

    uvloop.run(_work(job, pipe))


async def _work(job: Job, pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    sessions = [Frames(keypoints, job.layout) for keypoints in job.sessions]
    golfer_class = GOLFERS[job.library]
    golfers = [golfer_class(i, job, sessions[i % len(sessions)]) for i in range(len(job.users))]
    gate = asyncio.Semaphore(CONNECTS_AT_ONCE)

    async def connect(golfer: Golfer) -> None:
        async with gate:
            await golfer.connect()

    await asyncio.gather(*(connect(g) for g in golfers))
    pipe.send(("connected", _states(golfers)))
    while True:
        command, argument = await loop.run_in_executor(None, pipe.recv)
        if command == "start":
            await asyncio.gather(*(g.start() for g in golfers))
            pipe.send(("started", _states(golfers)))
        elif command == "stream":
            await _stream(golfers, float(argument), job)
            pipe.send(("streamed", {
                "send_ns": np.stack([g.send_ns for g in golfers]),
                "recv_ns": np.stack([g.recv_ns for g in golfers]),
                "clients": [g.result() for g in golfers],
            }))
        elif command == "close":
            await asyncio.gather(*(g.close() for g in golfers))
            pipe.send(("closed", None))
            return


async def _stream(golfers: list[Golfer], t0: float, job: Job) -> None:
    loop = asyncio.get_running_loop()
    for golfer in golfers:
        golfer.stream(t0)
    last_send = t0 + max(job.offsets_s, default=0.0) + (job.frames - 1) / job.fps
    await asyncio.sleep(max(0.0, last_send - loop.time()))
    deadline = last_send + job.drain_s
    while loop.time() < deadline and not all(g.done for g in golfers):
        await asyncio.sleep(0.02)


def _states(golfers: list[Golfer]) -> list[dict[str, Any]]:
    return [{"open": g.open, "failure": g.failure, "connect_ms": g.connect_ms} for g in golfers]
