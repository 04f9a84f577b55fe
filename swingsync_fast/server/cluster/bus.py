"""The bus between server processes: Redis pub/sub behind a publish/subscribe that never waits.

One process alone needs no bus: ``Bus(None)`` delivers to its own
subscribers and nothing else. With a Redis URL, a message also goes to every
other process subscribed to its channel, wherever it runs.

- ``publish`` never waits: local subscribers are called at once (they must
  only enqueue), and the message joins a bounded queue that one task writes
  to Redis in pipelined batches. A full queue, or Redis being down, drops the
  message for other processes and counts it; the local delivery still happens.
- One task reads the subscriptions. On any connection error the bus says so
  (``state`` and the ``on_state`` callbacks), retries with backoff, and
  resubscribes every channel when Redis is back.
- A process ignores its own messages coming back from Redis (they were
  delivered locally already), so delivery inside a process does not depend
  on Redis.

On the wire a message is ``[version, origin, body]`` in MessagePack, on a
channel named ``swingsync:v1:<name>``; ``body`` is the publisher's own
encoding (the bus does not look inside). Redis pub/sub ignores the database
number, so a URL naming a database other than 0 (``redis://host:6379/3``)
adds it to the channels, ``swingsync:v1:db3:<name>``: deployments sharing
one Redis on different databases do not hear each other.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable

import msgspec

from ..protocol.bus import Envelope
from ..protocol.figures import BusState, BusStats

logger = logging.getLogger("swingsync_fast.server")

VERSION = 1
PREFIX = f"swingsync:v{VERSION}:"
CONTROL = "control"  # always subscribed, so the reader has a connection to read


def channel_prefix(url: str | None) -> str:
    """The channels' prefix for a Redis URL (see the module's note on databases)."""
    if url is None:
        return PREFIX
    from redis.asyncio.connection import parse_url

    db = int(parse_url(url).get("db") or 0)
    return PREFIX if db == 0 else f"{PREFIX}db{db}:"

Handler = Callable[[bytes], None]


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(Envelope)


class Bus:
    def __init__(
        self,
        url: str | None,
        *,
        max_queued: int = 10_000,
        batch: int = 256,
        reconnect_max_s: float = 2.0,
        process_id: str | None = None,
    ) -> None:
        self.url = url
        self.prefix = channel_prefix(url)
        self.process_id = process_id or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.state = BusState.LOCAL if url is None else BusState.CONNECTING
        self._handlers: dict[str, list[Handler]] = {}
        self._listeners: list[Callable[[BusState], None]] = []
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(max_queued)
        self._batch = batch
        self._reconnect_max_s = reconnect_max_s
        self._tasks: list[asyncio.Task[None]] = []
        self._publisher: object | None = None  # redis.asyncio.Redis
        self._pubsub: object | None = None  # its PubSub, owned by the reader task
        self._reconnect = asyncio.Event()  # set by the writer when a publish fails
        self.published = self.received = 0
        self.dropped_queue_full = self.dropped_disconnected = self.disconnects = 0

    # ---------------------------------------------------------------- use

    def publish(self, name: str, body: bytes) -> None:
        """Deliver ``body`` to this process's subscribers of ``name`` now, and to the others via Redis."""
        handlers = self._handlers.get(name)
        if handlers:
            for handler in tuple(handlers):
                _call(handler, body)
        if self.url is None:
            return
        if self.state is not BusState.CONNECTED:
            self.dropped_disconnected += 1
            return
        try:
            self._queue.put_nowait((self.prefix + name, _ENCODER.encode(Envelope(VERSION, self.process_id, body))))
        except asyncio.QueueFull:
            self.dropped_queue_full += 1

    async def subscribe(self, name: str, handler: Handler) -> None:
        handlers = self._handlers.setdefault(name, [])
        handlers.append(handler)
        if len(handlers) == 1 and self._pubsub is not None and self.state is BusState.CONNECTED:
            try:
                await self._pubsub.subscribe(self.prefix + name)  # type: ignore[attr-defined]
            except Exception:  # the reader notices too, and resubscribes everything on reconnect
                self._reconnect.set()

    async def unsubscribe(self, name: str, handler: Handler) -> None:
        handlers = self._handlers.get(name)
        if not handlers or handler not in handlers:
            return
        handlers.remove(handler)
        if handlers:
            return
        del self._handlers[name]
        if self._pubsub is not None and self.state is BusState.CONNECTED:
            try:
                await self._pubsub.unsubscribe(self.prefix + name)  # type: ignore[attr-defined]
            except Exception:
                self._reconnect.set()

    def on_state(self, listener: Callable[[BusState], None]) -> None:
        """Call ``listener`` (on the event loop) whenever the connection to Redis goes down or comes back."""
        self._listeners.append(listener)

    def stats(self) -> BusStats:
        return BusStats(
            state=self.state,
            process_id=self.process_id,
            published=self.published,
            received=self.received,
            dropped_queue_full=self.dropped_queue_full,
            dropped_disconnected=self.dropped_disconnected,
            disconnects=self.disconnects,
            channels=len(self._handlers),
        )

    # ---------------------------------------------------------------- life

    async def start(self) -> None:
        if self.url is None:
            return
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # No retries inside redis-py: the bus retries itself, and a publish must fail fast.
        self._publisher = Redis.from_url(
            self.url, socket_connect_timeout=1.0, socket_timeout=2.0, retry=Retry(NoBackoff(), 0)
        )
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._read(), name="swingsync-bus-reader"),
            loop.create_task(self._write(), name="swingsync-bus-writer"),
        ]

    async def wait_connected(self, timeout: float) -> bool:
        """True once Redis is reachable (tests and start-up logs); False after ``timeout`` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.state is not BusState.CONNECTED:
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._publisher is not None:
            await self._publisher.aclose()  # type: ignore[attr-defined]
            self._publisher = None

    # ---------------------------------------------------------------- tasks

    def _set_state(self, state: BusState) -> None:
        if state is self.state:
            return
        previous, self.state = self.state, state
        if state is BusState.DISCONNECTED:
            self.disconnects += 1
            logger.warning("bus: Redis at %s is unreachable; coaching across processes is paused", self.url)
        elif state is BusState.CONNECTED and previous is BusState.DISCONNECTED:
            logger.info("bus: Redis is back")
        for listener in tuple(self._listeners):
            try:
                listener(state)
            except Exception:
                logger.exception("bus state listener failed")

    async def _read(self) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        backoff = 0.05
        while True:
            client = Redis.from_url(self.url, socket_connect_timeout=1.0, retry=Retry(NoBackoff(), 0))  # type: ignore[arg-type]
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.prefix + CONTROL, *(self.prefix + name for name in self._handlers))
                # The writer's pooled connections died with the old server: start it afresh.
                await self._publisher.connection_pool.disconnect()  # type: ignore[attr-defined]
                await self._publisher.ping()  # type: ignore[attr-defined]
                self._pubsub = pubsub
                self._reconnect.clear()
                self._drain_stale()
                self._set_state(BusState.CONNECTED)
                backoff = 0.05
                while not self._reconnect.is_set():
                    message = await pubsub.get_message(timeout=0.5)
                    if message is not None and message["type"] == "message":
                        self._dispatch(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection refused, reset, timed out: all mean "down"
                logger.debug("bus reader: %r", exc)
            finally:
                self._pubsub = None
                try:
                    await pubsub.aclose()
                    await client.aclose()
                except Exception:
                    pass
            self._set_state(BusState.DISCONNECTED)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._reconnect_max_s)

    def _dispatch(self, channel: bytes, data: bytes) -> None:
        try:
            envelope = _DECODER.decode(data)
        except msgspec.DecodeError:
            logger.warning("bus: a message on %r is not an envelope; ignored", channel)
            return
        if envelope.origin == self.process_id:
            return  # delivered locally when it was published
        if envelope.version != VERSION:
            logger.warning("bus: message version %d from %s ignored (this is %d)",
                           envelope.version, envelope.origin, VERSION)
            return
        self.received += 1
        handlers = self._handlers.get(channel.decode()[len(self.prefix):])
        if handlers:
            for handler in tuple(handlers):
                _call(handler, envelope.body)

    def _drain_stale(self) -> None:
        """Messages queued before an outage are dropped: they would arrive out of date."""
        while not self._queue.empty():
            self._queue.get_nowait()
            self.dropped_disconnected += 1

    async def _write(self) -> None:
        queue, publisher = self._queue, self._publisher
        while True:
            batch = [await queue.get()]
            while len(batch) < self._batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                pipe = publisher.pipeline(transaction=False)  # type: ignore[attr-defined]
                for channel, data in batch:
                    pipe.publish(channel, data)
                await pipe.execute()
                self.published += len(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.debug("bus writer: %r", exc)
                self.dropped_disconnected += len(batch)
                self._reconnect.set()  # the reader reconnects and reports the state
                self._set_state(BusState.DISCONNECTED)


def _call(handler: Handler, body: bytes) -> None:
    try:
        handler(body)
    except Exception:
        logger.exception("bus handler failed")
