"""Fan-out that never stalls: a bounded send queue per coaching or monitor socket.

An ``Outlet`` is one socket's outgoing side: ``offer`` puts a message in its
bounded queue and returns at once; the outlet's own writer task sends. A
message that finds the queue full is dropped and counted. A consumer whose
oldest queued message has waited ``slow_consumer_s`` is closed with 1013 and
counted: a stuck socket costs the others nothing but a length check.

Below the queue, the socket's kernel send buffer and its transport are held
to ``send_buffer_bytes`` each (``ws_transport``): left alone, the kernel
would take megabytes for a peer that has stopped reading, every send would
return at once, and the queue would never age. A peer that does not take
even the close frame within the grace is aborted.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from time import perf_counter_ns

from starlette.websockets import WebSocket

from ..protocol.stream import CloseCode, Payload
from ..stream.codec import SOCKET_GONE, send_event
from ..ws_transport import transport_control

logger = logging.getLogger("swingsync_fast.server")

# How long a close (the queue's last messages, then the close frame) may wait on a peer that
# does not read, at least; a slow consumer gets as long as it was allowed to lag.
CLOSE_GRACE_S = 1.0


class BroadcastStats:
    """Counted over every outlet of the process."""

    __slots__ = ("dropped", "slow_closed")

    def __init__(self) -> None:
        self.dropped = 0  # messages refused by a full queue
        self.slow_closed = 0  # consumers closed with 1013


class OutletState(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class Outlet:
    """One coaching or monitor socket: its bounded outgoing queue, its writer, its reader."""

    def __init__(
        self, websocket: WebSocket, user_id: str, *, capacity: int, slow_after_s: float, send_buffer_bytes: int,
        stats: BroadcastStats,
    ) -> None:
        self.websocket = websocket
        self.transport = transport_control(websocket)  # None off our uvicorn protocol (no bounds, no abort)
        self.user_id = user_id
        self.state = OutletState.OPEN
        self.stats = stats
        self._capacity = capacity
        self._send_buffer_bytes = send_buffer_bytes
        self._slow_ns = int(slow_after_s * 1e9)
        self._grace_s = max(CLOSE_GRACE_S, slow_after_s)
        self._queue: deque[tuple[int, Payload]] = deque()  # (queued at, message)
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()  # the writer has sent everything queued
        self._closed = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        return self.state is OutletState.OPEN

    def offer(self, payload: Payload) -> bool:
        """Queue one message; False if it was not (full, too slow, closed). Never waits."""
        if self.state is not OutletState.OPEN:
            return False
        if self.lagging(perf_counter_ns()):
            return False
        queue = self._queue
        if len(queue) >= self._capacity:
            self.stats.dropped += 1
            return False
        queue.append((perf_counter_ns(), payload))
        self._ready.set()
        return True

    def lagging(self, now_ns: int) -> bool:
        """Close it (1013) if its oldest message has waited too long; checked on every offer and
        by the registry's sweep, so a consumer is closed even when nothing more is sent to it."""
        queue = self._queue
        if self.state is OutletState.OPEN and queue and now_ns - queue[0][0] > self._slow_ns:
            self._too_slow()
            return True
        return False

    async def run(self, handle: Callable[[str | bytes], Awaitable[None]]) -> None:
        """Accept, then write the queue and read the peer until either side ends."""
        if self.transport is not None:
            self.transport.bound_writes(self._send_buffer_bytes)
        await self.websocket.accept()
        loop = asyncio.get_running_loop()
        self._writer = loop.create_task(self._write())
        reader = loop.create_task(self._read(handle))
        closed = loop.create_task(self._closed.wait())
        try:
            # Not the writer: a close cancels it and still has its close frame to send.
            await asyncio.wait((reader, closed), return_when=asyncio.FIRST_COMPLETED)
            if reader.done() and not reader.cancelled() and reader.exception() is not None:
                logger.error("socket of %r failed", self.user_id, exc_info=reader.exception())
                await self.close(CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            for task in (reader, closed, self._writer):
                task.cancel()
            await asyncio.gather(reader, closed, self._writer, return_exceptions=True)
            self.state = OutletState.CLOSED

    async def _read(self, handle: Callable[[str | bytes], Awaitable[None]]) -> None:
        receive = self.websocket.receive
        while self.state is OutletState.OPEN:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text")
            await handle(data if data is not None else message.get("bytes") or b"")

    async def _write(self) -> None:
        send, queue, ready, idle = self.websocket.send, self._queue, self._ready, self._idle
        try:
            while True:
                if not queue:
                    idle.set()
                    ready.clear()
                    await ready.wait()
                    continue
                idle.clear()
                payload = queue[0][1]  # stays queued while it is sent, so its age counts
                await send(send_event(payload))
                queue.popleft()
        except SOCKET_GONE:
            self._closed.set()

    def _too_slow(self) -> None:
        self.stats.slow_closed += 1
        waited = (perf_counter_ns() - self._queue[0][0]) / 1e9
        logger.warning("closing the socket of %r: its oldest message has waited %.1f s", self.user_id, waited)
        asyncio.get_running_loop().create_task(
            self.close(CloseCode.TRY_AGAIN_LATER, "too slow to keep up", drop_queued=True))

    async def close(self, code: CloseCode, reason: str, *, drop_queued: bool = False) -> None:
        """Close from the server's side after what is queued (or dropping it); a peer that reads
        nothing gets no close frame, just the end of the connection."""
        if self.state is not OutletState.OPEN:
            return
        self.state = OutletState.CLOSING
        writer = self._writer
        if drop_queued:
            self._queue.clear()
        elif self._queue and writer is not None and not writer.done():
            try:
                await asyncio.wait_for(self._idle.wait(), self._grace_s)
            except asyncio.TimeoutError:
                pass
        if writer is not None:
            writer.cancel()  # it only ever waits before a send, so no message is cut
        try:
            await asyncio.wait_for(self.websocket.close(code, reason), self._grace_s)
        except asyncio.TimeoutError:
            # Its buffers are still full: it would hold them (and the connection) until the
            # ping timeout, and a transport closed with unsent bytes waits for them forever.
            if self.transport is not None:
                self.transport.abort()
        except SOCKET_GONE:
            pass
        self._closed.set()

    async def shutdown(self, code: CloseCode, reason: str) -> None:
        """The registry's drain (1001)."""
        await self.close(code, reason)


# --------------------------------------------------------------------------- rooms

