"""Redis for tests: the machine's on 127.0.0.1:6379 (skip where none runs), and a ``redis-server``
of a test's own on a free port, that the test may stop and start again (never the machine's)."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

MACHINE_REDIS = "redis://127.0.0.1:6379/0"


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


needs_redis = pytest.mark.skipif(
    not reachable("127.0.0.1", 6379), reason="no Redis on 127.0.0.1:6379 (CI has one; start redis-server to run this)"
)


def machine_redis_db() -> str:
    """The machine's Redis on a database of its own (10-15; bench/loadgen.py uses 9): its pub/sub
    channels are apart from those on other databases (the bus adds the database to the channel names).
    Tests check what they need by identity, so another run that drew the same database does no harm."""
    return f"redis://127.0.0.1:6379/{random.randint(10, 15)}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnRedis:
    """A redis-server of the test's own, on a free port, that the test may stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not reachable("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (the outage test starts one of its own)")
    server = OwnRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
