"""Fan-out that never stalls: a bounded send queue per coaching or monitor socket.

An ``Outlet`` is one socket's outgoing side: ``offer`` puts a message in its
bounded queue and returns at once; the outlet's own writer task sends. A
message that finds the queue full is dropped and counted. A consumer whose
oldest queued message has waited ``slow_consumer_s`` is closed with 1013 and
counted: a stuck socket costs the others nothing but a length check.

A message counts as waiting until the peer has it: queued, or written but
not yet acknowledged by the peer's TCP (the transport's and the kernel's
unsent bytes, ``ws_transport``). Left alone, the kernel takes megabytes for
a peer that has stopped reading, every send returns at once, and a queue
alone would never age; so the socket's kernel send buffer and its transport
are also held to ``send_buffer_bytes`` each, which bounds what a stalled
peer holds. A peer that does not take even the close frame within the
grace is aborted.
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
CLOSE_POLL_S = 0.02  # how often a close looks whether the peer has taken its close frame
CONTROL_FRAMES_SLACK_BYTES = 512  # a few pings or pongs (at most 131 bytes each) the outlet did not write


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
        self._written: deque[tuple[int, int]] = deque()  # (queued at, bytes) of messages sent, newest last
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
        queue = self._queue
        if queue and perf_counter_ns() - queue[0][0] > self._slow_ns:  # the sweep looks below the queue too
            self._too_slow(queue[0][0])
            return False
        if len(queue) >= self._capacity:
            self.stats.dropped += 1
            return False
        queue.append((perf_counter_ns(), payload))
        self._ready.set()
        return True

    def lagging(self, now_ns: int) -> bool:
        """Close it (1013) if the oldest message its peer does not have yet has waited too long;
        the registry's sweep asks, so a consumer is closed even when nothing more is sent to it."""
        if self.state is not OutletState.OPEN:
            return False
        oldest = self._oldest_unacknowledged()
        if oldest is None and self._queue:
            oldest = self._queue[0][0]
        if oldest is not None and now_ns - oldest > self._slow_ns:
            self._too_slow(oldest)
            return True
        return False

    def _oldest_unacknowledged(self) -> int | None:
        """When the oldest message written but not acknowledged was queued. The last bytes written
        are the unacknowledged ones, so counting back from the newest message needs no running
        total. The protocol's own pings and pongs are written below the outlet: a few of them in
        flight must not make a message read long ago look unacknowledged, so that many bytes are
        not counted (a stalled peer leaves far more)."""
        written = self._written
        if not written or self.transport is None:
            return None
        pending = self.transport.unacknowledged() - CONTROL_FRAMES_SLACK_BYTES
        kept = covered = 0
        for _, size in reversed(written):
            if covered >= pending:
                break
            covered += size
            kept += 1
        for _ in range(len(written) - kept):
            written.popleft()
        return written[0][0] if written else None

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
        send, queue, ready, idle, written = self.websocket.send, self._queue, self._ready, self._idle, self._written
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
                queued_at, _ = queue.popleft()
                if self.transport is not None:
                    written.append((queued_at, len(payload) + frame_head_bytes(len(payload))))
                    if len(written) > self._capacity:  # the sweep prunes; this only bounds it between sweeps
                        written.popleft()
        except SOCKET_GONE:
            self._closed.set()

    def _too_slow(self, oldest_ns: int) -> None:
        self.stats.slow_closed += 1
        waited = (perf_counter_ns() - oldest_ns) / 1e9
        logger.warning("closing the socket of %r: its oldest message not taken has waited %.1f s",
                       self.user_id, waited)
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
            await asyncio.wait_for(self._send_close(code, reason), self._grace_s)
        except asyncio.TimeoutError:
            # It has not taken the close frame: a transport closed with bytes still unsent waits
            # for them forever, holding its buffers and the connection.
            if self.transport is not None:
                self.transport.abort()
        except SOCKET_GONE:
            pass
        self._closed.set()

    async def _send_close(self, code: CloseCode, reason: str) -> None:
        """The close frame, written and then acknowledged by the peer's TCP (so everything before it too)."""
        await self.websocket.close(code, reason)
        if self.transport is not None:
            while self.transport.unacknowledged():
                await asyncio.sleep(CLOSE_POLL_S)

    async def shutdown(self, code: CloseCode, reason: str) -> None:
        """The registry's drain (1001)."""
        await self.close(code, reason)


def frame_head_bytes(payload_bytes: int) -> int:
    """The head of an unmasked WebSocket frame (server to client) carrying that many bytes."""
    return 2 if payload_bytes < 126 else 4 if payload_bytes < 65536 else 10


# --------------------------------------------------------------------------- rooms

