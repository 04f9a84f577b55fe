"""A model provider run in a child process, so its CPU work never runs on the server's event loop.

google-genai spends milliseconds of Python per call (pydantic models in and
out), allocates enough to set off full garbage collections, and pays
first-use costs on its first calls; on the server's event loop each of
those stalls every socket for as long. ``ModelProcess`` keeps the real
provider (``GeminiProvider``) in ``python -m swingsync_fast.feedback.isolated``
and speaks to it over a Unix socket pair: length-prefixed MessagePack,
a ``Start`` per answer, its ``Piece``s, then ``End`` or ``Failed``; a
``Cancel`` when the lane gives up, which closes the model's HTTP stream in
the child. The child exits when the socket closes; if it dies, answers in
flight fail as transient (the lane retries or falls back) and the next call
starts a new one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any, Union

import msgspec

from .provider import FeedbackProvider, ProviderError, Source
from .request import FeedbackRequest

logger = logging.getLogger("swingsync_fast.feedback")

_HEADER = 4  # big-endian frame length
_MAX_FRAME = 16 * 1024 * 1024
_STOP_WAIT_S = 5.0
START_TIMEOUT_S = 30.0


# --------------------------------------------------------------------------- messages


class Configure(msgspec.Struct, tag="configure"):
    options: dict[str, Any]  # GeminiProvider's keyword arguments (the key never goes on a command line)


class Start(msgspec.Struct, tag="start"):
    job: int
    whole: bool  # complete() rather than stream()
    request: FeedbackRequest


class Cancel(msgspec.Struct, tag="cancel"):
    job: int


class Ready(msgspec.Struct, tag="ready"):
    job: int = 0  # the provider is built: the child takes requests


class Piece(msgspec.Struct, tag="piece"):
    job: int
    text: str


class End(msgspec.Struct, tag="end"):
    job: int


class Failed(msgspec.Struct, tag="failed"):
    job: int
    kind: str
    message: str
    transient: bool


_to_child = msgspec.msgpack.Decoder(Union[Configure, Start, Cancel])
_to_parent = msgspec.msgpack.Decoder(Union[Ready, Piece, End, Failed])
_encode = msgspec.msgpack.Encoder().encode


def _frame(message: msgspec.Struct) -> bytes:
    body = _encode(message)
    return len(body).to_bytes(_HEADER, "big") + body


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    size = int.from_bytes(await reader.readexactly(_HEADER), "big")
    if size > _MAX_FRAME:
        raise ConnectionError(f"frame of {size} bytes from the model process")
    return await reader.readexactly(size)


# --------------------------------------------------------------------------- the server's side


class ModelProcess:
    """A FeedbackProvider whose provider lives in a child process (started at once, so it is warm)."""

    def __init__(self, options: dict[str, Any], *, source: Source = Source.GEMINI, model: str | None = None) -> None:
        self.source = source
        self.model = model
        self._options = options
        self._jobs: dict[int, asyncio.Queue[Piece | End | Failed]] = {}
        self._ids = itertools.count(1)
        self._process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None
        self._ready: asyncio.Event | None = None
        self._spawn()

    def _spawn(self) -> None:
        parent, child = socket.socketpair()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(child.fileno())], pass_fds=(child.fileno(),)
            )
        finally:
            child.close()
        self._sock = parent

    async def _connected(self) -> asyncio.StreamWriter:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # two first calls at once connect once
            if self._writer is None:
                if self._sock is None or self._process is None or self._process.poll() is not None:
                    self._discard()
                    self._spawn()
                assert self._sock is not None
                reader, writer = await asyncio.open_unix_connection(sock=self._sock)
                self._sock = None  # the stream owns it now
                writer.write(_frame(Configure(self._options)))
                self._writer = writer
                self._ready = asyncio.Event()
                self._reader = asyncio.get_running_loop().create_task(self._read(reader, writer))
            return self._writer

    async def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until the child has built its provider (google-genai imported, client made)."""
        await self._connected()
        assert self._ready is not None
        try:
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        except asyncio.TimeoutError:
            raise ProviderError("model_process", f"the model process was not ready in {timeout_s:g} s",
                                transient=True) from None

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                message = _to_parent.decode(await _read_frame(reader))
                if type(message) is Ready:
                    assert self._ready is not None
                    self._ready.set()
                    continue
                queue = self._jobs.get(message.job)
                if queue is not None:
                    queue.put_nowait(message)
        except (asyncio.IncompleteReadError, ConnectionError, msgspec.DecodeError) as exc:
            if self._jobs or not isinstance(exc, asyncio.IncompleteReadError):
                logger.warning("feedback: the model process went away (%s); a new one starts on the next call", exc)
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()
            for job, queue in self._jobs.items():
                queue.put_nowait(Failed(job, "model_process", "the model process exited", True))

    async def _begin(self, request: FeedbackRequest, whole: bool) -> tuple[int, asyncio.Queue[Piece | End | Failed]]:
        writer = await self._connected()
        job = next(self._ids)
        queue: asyncio.Queue[Piece | End | Failed] = asyncio.Queue()
        self._jobs[job] = queue
        writer.write(_frame(Start(job, whole, request)))
        return job, queue

    def _finish(self, job: int, ended: bool) -> None:
        self._jobs.pop(job, None)
        if not ended and self._writer is not None:
            self._writer.write(_frame(Cancel(job)))  # the child closes the model's stream

    async def stream(self, request: FeedbackRequest) -> AsyncIterator[str]:
        job, queue = await self._begin(request, whole=False)
        ended = False
        try:
            while True:
                message = await queue.get()
                if type(message) is Piece:
                    yield message.text
                elif type(message) is End:
                    ended = True
                    return
                else:
                    ended = True
                    raise ProviderError(message.kind, message.message, transient=message.transient)  # type: ignore[union-attr]
        finally:
            self._finish(job, ended)

    async def complete(self, request: FeedbackRequest) -> str:
        job, queue = await self._begin(request, whole=True)
        ended = False
        parts = []
        try:
            while True:
                message = await queue.get()
                if type(message) is Piece:
                    parts.append(message.text)
                elif type(message) is End:
                    ended = True
                    return "".join(parts)
                else:
                    ended = True
                    raise ProviderError(message.kind, message.message, transient=message.transient)  # type: ignore[union-attr]
        finally:
            self._finish(job, ended)

    def _discard(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def aclose(self) -> None:
        """Close the socket (the child exits on it) and reap the child."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        self._discard()
        process, self._process = self._process, None
        if process is None:
            return
        for _ in range(int(_STOP_WAIT_S / 0.05)):
            if process.poll() is not None:
                return
            await asyncio.sleep(0.05)
        process.kill()
        await asyncio.to_thread(process.wait)


# --------------------------------------------------------------------------- the child's side


async def _serve(fd: int) -> None:
    from .gemini import GeminiProvider  # the heavy import happens here, in the child

    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    first = _to_child.decode(await _read_frame(reader))
    if type(first) is not Configure:
        raise SystemExit("the model process expects its configuration first")
    provider: FeedbackProvider = GeminiProvider(**first.options)
    tasks: dict[int, asyncio.Task[None]] = {}
    writer.write(_frame(Ready()))

    async def answer(start: Start) -> None:
        try:
            if start.whole:
                writer.write(_frame(Piece(start.job, await provider.complete(start.request))))
            else:
                async with aclosing(provider.stream(start.request)) as pieces:  # type: ignore[type-var]
                    async for text in pieces:
                        writer.write(_frame(Piece(start.job, text)))
            writer.write(_frame(End(start.job)))
        except ProviderError as exc:
            writer.write(_frame(Failed(start.job, exc.kind, str(exc), exc.transient)))
        finally:
            tasks.pop(start.job, None)

    try:
        while True:
            message = _to_child.decode(await _read_frame(reader))
            if type(message) is Start:
                tasks[message.job] = asyncio.get_running_loop().create_task(answer(message))
            elif type(message) is Cancel:
                task = tasks.pop(message.job, None)
                if task is not None:
                    task.cancel()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the server closed its end: we are done
    finally:
        for task in list(tasks.values()):
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        await provider.aclose()


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        raise SystemExit(f"usage: python -m {__name__} FD  (started by the server, not by hand)")
    # Ctrl+C in a terminal reaches the whole process group; the server ends this process by
    # closing the socket once its sessions are drained, not before.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(_serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
