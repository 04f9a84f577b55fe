"""A local stand-in for the Gemini API, for driving the real google-genai client in tests.

It speaks just enough HTTP/1.1 for ``POST /{version}/models/{model}:generateContent``
and ``:streamGenerateContent?alt=sse`` (chunked SSE, ``data: {GenerateContentResponse}``
events), on its own thread and event loop, so both asyncio tests and a live
server in another thread can use it. Each request takes the next behaviour
from ``script`` (or ``default``): answer in pieces, fail with a status, hang,
send a malformed SSE line, or drop the connection mid-stream. Everything it
saw is kept in ``requests`` for assertions.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Reply:
    """Answer with ``pieces`` (one SSE event each when streaming), ``delay_s`` before each."""

    pieces: tuple[str, ...] = ("Nice swing. ", "Keep your hips ", "turning, not sliding.")
    delay_s: float = 0.0


@dataclass(frozen=True)
class Fail:
    status: int = 500
    message: str = "internal error"


@dataclass(frozen=True)
class Hang:
    """Read the request, never answer (until the client gives up)."""


@dataclass(frozen=True)
class Malformed:
    """``good`` pieces, then an SSE data line that is not JSON, then a clean end."""

    good: int = 1


@dataclass(frozen=True)
class Drop:
    """``good`` pieces, then the TCP connection is cut with the chunked body unfinished."""

    good: int = 1


Behaviour = Reply | Fail | Hang | Malformed | Drop
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED",
                 500: "INTERNAL", 503: "UNAVAILABLE"}


@dataclass
class Received:
    method: str
    path: str  # without the query
    query: str
    headers: dict[str, str]
    body: dict
    at: float = field(default_factory=time.monotonic)
    client_gone: bool = False  # the client closed the connection before this answer was complete

    @property
    def streaming(self) -> bool:
        return self.path.endswith(":streamGenerateContent")

    @property
    def prompt(self) -> str:
        """The user turn's text."""
        return "".join(p.get("text", "") for c in self.body.get("contents", []) for p in c.get("parts", []))

    @property
    def system_instruction(self) -> str:
        si = self.body.get("systemInstruction") or self.body.get("system_instruction") or {}
        return "".join(p.get("text", "") for p in si.get("parts", []))


def _event(text: str, last: bool) -> dict:
    candidate: dict = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if last:
        candidate["finishReason"] = "STOP"
    return {"candidates": [candidate], "modelVersion": "gemini-2.5-flash"}


class FakeGemini:
    def __init__(self) -> None:
        self.script: deque[Behaviour] = deque()
        self.default: Behaviour = Reply()
        self.requests: list[Received] = []
        self.connections = 0  # TCP connections accepted
        self.active = 0  # requests being answered now
        self.client_gone = 0  # answers cut short because the client closed its end
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-gemini", daemon=True)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FakeGemini:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        )
        self._server = future.result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self, default: Behaviour | None = None) -> None:
        self.script.clear()
        self.requests.clear()
        self.default = default or Reply()
        self.connections = 0
        self.client_gone = 0

    def wait_for(self, predicate, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("fake Gemini: condition not met in time")
            time.sleep(0.005)

    # ---------------------------------------------------------------- HTTP

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        request = None
        try:
            while True:  # keep-alive: the client may send several requests on one connection
                request = await self._read_request(reader)
                if request is None:
                    return
                self.requests.append(request)
                behaviour = self.script.popleft() if self.script else self.default
                self.active += 1
                try:
                    keep = await self._answer(request, behaviour, reader, writer)
                finally:
                    self.active -= 1
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            self.client_gone += 1
            if request is not None:
                request.client_gone = True
        except asyncio.CancelledError:
            pass  # stop(): end quietly (asyncio logs handler tasks that end cancelled)
        finally:
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Received | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        url = urlsplit(target)
        return Received(method, url.path, url.query, headers, json.loads(body) if body else {})

    async def _answer(self, request: Received, behaviour: Behaviour, reader, writer) -> bool:
        if isinstance(behaviour, Fail):
            body = json.dumps({"error": {"code": behaviour.status, "message": behaviour.message,
                                         "status": _STATUS_NAMES.get(behaviour.status, "UNKNOWN")}}).encode()
            writer.write(
                f"HTTP/1.1 {behaviour.status} Error\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode() + body
            )
            await writer.drain()
            return True
        if isinstance(behaviour, Hang):
            await reader.read()  # until the client closes its end
            self.client_gone += 1
            request.client_gone = True
            return False
        if not request.streaming:
            assert isinstance(behaviour, Reply), "generateContent only answers or fails here"
            await asyncio.sleep(behaviour.delay_s * len(behaviour.pieces))
            body = json.dumps(_event("".join(behaviour.pieces), last=True)).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
            )
            await writer.drain()
            return True
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        if isinstance(behaviour, Reply):
            pieces = behaviour.pieces
            for i, piece in enumerate(pieces):
                if behaviour.delay_s:
                    await asyncio.sleep(behaviour.delay_s)
                await self._chunk(writer, f"data: {json.dumps(_event(piece, i == len(pieces) - 1))}\r\n\r\n")
        else:
            for i in range(behaviour.good):
                await self._chunk(writer, f"data: {json.dumps(_event(f'piece {i} ', False))}\r\n\r\n")
            if isinstance(behaviour, Drop):
                writer.transport.abort()
                return False
            await self._chunk(writer, 'data: {"candidates": [{"content": {"parts": [{"text": "cut\r\n\r\n')
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    @staticmethod
    async def _chunk(writer: asyncio.StreamWriter, text: str) -> None:
        data = text.encode()
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await writer.drain()
