"""A real server for socket tests: our uvicorn Server on 127.0.0.1, a free port, in a thread
(``LiveServer``; ``server_process.ServerProcess`` runs one in a process of its own).

Each test module starts its own with the settings it needs (short timeouts),
and talks to it with real clients: ``websockets`` and ``httpx``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import msgspec
import numpy as np
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from swingsync_fast.landmarks import LANDMARK_NAMES
from swingsync_fast.server.app import create_app
from swingsync_fast.server.auth import mint_token
from swingsync_fast.server.serve import Server, uvicorn_config
from swingsync_fast.server.settings import Settings

SECRET = "test-secret-" + "k" * 40
RECV_TIMEOUT_S = 5.0


class Addressed:
    """Tokens, URLs, sockets for a server on 127.0.0.1 at ``self.port``, signed with the tests' SECRET."""

    port: int
    http: httpx.Client

    def token(self, user: str, role: str = "player", ttl: float = 3600, key: str = SECRET) -> str:
        return mint_token(key, user, role, ttl)

    def auth(self, user: str, role: str = "player") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, role)}"}

    def ws_url(self, user: str, token: str | None = None) -> str:
        url = f"ws://127.0.0.1:{self.port}/api/v1/stream/ws/{user}"
        return url if token is None else f"{url}?token={token}"

    @contextmanager
    def socket(self, user: str, role: str = "player", **kwargs: Any) -> Iterator[ClientConnection]:
        # An unbounded client queue: tests send whole recordings before reading the replies.
        kwargs.setdefault("max_queue", None)
        with connect(self.ws_url(user, self.token(user, role)), open_timeout=10, **kwargs) as ws:
            yield ws

    def wait_until(self, predicate, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            time.sleep(0.01)


class LiveServer(Addressed):
    def __init__(self, settings: Settings, port: int = 0) -> None:  # port: a stopped server's, to restart it
        self.settings = settings
        self.app = create_app(settings)
        self.server = Server(uvicorn_config(self.app, settings, "127.0.0.1", port, log_level="warning"))
        self._thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        self.port = self.server.port
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        return self

    def stop(self, timeout: float = 15) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)
        self.http.close()

    @property
    def runtime(self):  # the live Runtime, for white-box counts in assertions
        return self.app.state.runtime


def settings_for_tests(**overrides: Any) -> Settings:
    # Never the default ./swingsync.db: a test that wants a file passes its own (in tmp_path).
    overrides.setdefault("database_url", "memory://")
    return Settings(secret_key=SECRET, **overrides)


# --------------------------------------------------------------------------- client side helpers


def send(ws: ClientConnection, type_: str, data: dict | None = None) -> None:
    message: dict[str, Any] = {"type": type_}
    if data is not None:
        message["data"] = data
    ws.send(json.dumps(message))


def recv(ws: ClientConnection, timeout: float = RECV_TIMEOUT_S) -> dict:
    raw = ws.recv(timeout=timeout)
    return msgspec.msgpack.decode(raw) if isinstance(raw, bytes) else json.loads(raw)


def recv_until(ws: ClientConnection, type_: str, timeout: float = RECV_TIMEOUT_S) -> tuple[dict, list[dict]]:
    """The first message of ``type_``, and everything received before it."""
    before = []
    while True:
        message = recv(ws, timeout)
        if message["type"] == type_:
            return message, before
        before.append(message)


def close_code(ws: ClientConnection, timeout: float = RECV_TIMEOUT_S) -> tuple[int, list[dict]]:
    """Read until the server closes; its close code and the messages before it."""
    seen = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            seen.append(recv(ws, max(0.01, deadline - time.monotonic())))
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, "the server dropped the connection without a close frame"
        return exc.rcvd.code, seen
    raise AssertionError(f"the server did not close the socket; got {seen[-3:]}")


def start(ws: ClientConnection, config: dict | None = None, alias: str = "start_session") -> dict:
    send(ws, alias, {"config": config or {}})
    message, _ = recv_until(ws, "session_started")
    return message["data"]


def seed_keypoints(frame: np.ndarray) -> dict[str, dict[str, float]]:
    """A (33, 4) frame as the seed document's keypoints object."""
    return {
        name: {"x": float(x), "y": float(y), "z": float(z), "visibility": float(v)}
        for name, (x, y, z, v) in zip(LANDMARK_NAMES, frame.tolist())
    }


def seed_frame(index: int, timestamp: float, frame: np.ndarray) -> dict:
    return {"frame_index": index, "timestamp": timestamp, "keypoints": seed_keypoints(frame)}

