"""The bus between processes, against real Redis servers.

Two ``Bus`` objects with their own process ids stand for two server
processes. The outage test starts a ``redis-server`` of its own on a free
port and stops that one, never the machine's (``redis_servers``).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import msgspec
from redis_servers import MACHINE_REDIS, OwnRedis, needs_redis, own_redis  # noqa: F401 (a fixture)

from swingsync_fast.server.cluster.bus import PREFIX, Bus, channel_prefix
from swingsync_fast.server.protocol.figures import BusState
from swingsync_fast.server.protocol.bus import Envelope

async def _until(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


def test_without_redis_delivery_stays_in_the_process():
    async def scenario() -> None:
        bus = Bus(None)
        await bus.start()
        got: list[bytes] = []
        await bus.subscribe("room:a", got.append)
        bus.publish("room:a", b"one")
        bus.publish("room:b", b"nobody listens")
        await bus.unsubscribe("room:a", got.append)
        bus.publish("room:a", b"after unsubscribing")
        assert got == [b"one"]
        assert bus.state is BusState.LOCAL and bus.stats().published == 0
        await bus.stop()

    asyncio.run(scenario())


@needs_redis
def test_two_processes_meet_and_each_hears_its_own_once():
    async def scenario() -> None:
        room = f"room:{uuid.uuid4().hex}"
        a, b = Bus(MACHINE_REDIS, process_id="a"), Bus(MACHINE_REDIS, process_id="b")
        await a.start()
        await b.start()
        assert await a.wait_connected(5) and await b.wait_connected(5)
        on_a: list[bytes] = []
        on_b: list[bytes] = []
        await a.subscribe(room, on_a.append)
        await b.subscribe(room, on_b.append)
        for i in range(100):
            a.publish(room, f"from a {i}".encode())
        b.publish(room, b"from b")
        await _until(lambda: len(on_b) == 101 and len(on_a) == 101)
        await asyncio.sleep(0.2)  # nothing more arrives: no echo of a process's own messages
        assert [m for m in on_b if m != b"from b"] == [f"from a {i}".encode() for i in range(100)]  # in order
        assert on_a.count(b"from b") == 1 and on_b.count(b"from b") == 1
        assert a.stats().published == 100 and b.stats().received == 100
        await a.stop()
        await b.stop()

    asyncio.run(scenario())


@needs_redis
def test_messages_are_versioned_envelopes_and_strangers_are_ignored():
    async def scenario() -> None:
        import redis.asyncio as redis

        room = f"room:{uuid.uuid4().hex}"
        bus = Bus(MACHINE_REDIS, process_id="me")
        await bus.start()
        assert await bus.wait_connected(5)
        got: list[bytes] = []
        await bus.subscribe(room, got.append)
        raw = redis.Redis.from_url(MACHINE_REDIS)
        await raw.publish(PREFIX + room, b"not msgpack at all \xff")
        await raw.publish(PREFIX + room, msgspec.msgpack.encode(Envelope(99, "future", b"v99")))
        await raw.publish(PREFIX + room, msgspec.msgpack.encode(Envelope(1, "other", b"ok")))
        await _until(lambda: got == [b"ok"])
        await raw.aclose()
        await bus.stop()

    asyncio.run(scenario())


def test_an_outage_never_blocks_publishing_and_coaching_resumes(own_redis: OwnRedis):
    async def scenario() -> None:
        room = "room:outage"
        a, b = Bus(own_redis.url, process_id="a"), Bus(own_redis.url, process_id="b")
        states: list[BusState] = []
        b.on_state(states.append)
        await a.start()
        await b.start()
        assert await a.wait_connected(5) and await b.wait_connected(5)
        local: list[bytes] = []
        remote: list[bytes] = []
        await a.subscribe(room, local.append)
        await b.subscribe(room, remote.append)
        a.publish(room, b"before")
        await _until(lambda: remote == [b"before"])

        own_redis.stop()
        await _until(lambda: a.state is BusState.DISCONNECTED and b.state is BusState.DISCONNECTED)
        started = time.perf_counter()
        for i in range(1000):
            a.publish(room, b"during %d" % i)
        spent = time.perf_counter() - started
        assert spent < 1.0  # generous: publishing is an append, never a wait on Redis
        assert len(local) == 1001  # this process's own subscribers still hear everything
        assert a.stats().dropped_disconnected >= 1000

        own_redis.start()  # same port: Redis is back
        await _until(lambda: a.state is BusState.CONNECTED and b.state is BusState.CONNECTED, timeout=10)
        a.publish(room, b"after")
        await _until(lambda: remote[-1:] == [b"after"])
        assert remote == [b"before", b"after"]  # resubscribed; nothing stale replayed
        assert states[-2:] == [BusState.DISCONNECTED, BusState.CONNECTED]
        await a.stop()
        await b.stop()

    asyncio.run(scenario())


def test_a_database_other_than_0_has_channels_of_its_own():
    assert channel_prefix(None) == channel_prefix("redis://127.0.0.1:6379/0") == channel_prefix("redis://h") == PREFIX
    assert channel_prefix("redis://127.0.0.1:6379/3") == PREFIX + "db3:"


@needs_redis
def test_buses_on_different_databases_do_not_hear_each_other():
    async def scenario() -> None:
        room = f"room:{uuid.uuid4().hex}"
        a, b = Bus("redis://127.0.0.1:6379/4", process_id="a"), Bus("redis://127.0.0.1:6379/5", process_id="b")
        c = Bus("redis://127.0.0.1:6379/4", process_id="c")
        for bus in (a, b, c):
            await bus.start()
            assert await bus.wait_connected(5)
        on_b: list[bytes] = []
        on_c: list[bytes] = []
        await b.subscribe(room, on_b.append)
        await c.subscribe(room, on_c.append)
        a.publish(room, b"db4 only")
        await _until(lambda: on_c == [b"db4 only"])
        await asyncio.sleep(0.2)
        assert on_b == []
        for bus in (a, b, c):
            await bus.stop()

    asyncio.run(scenario())
