"""A real server for socket tests: our uvicorn Server on 127.0.0.1, a free port, in a thread
(``LiveServer``), or ``python -m swingsync_fast serve`` in a process of its own (``ServerProcess``:
to kill it, or to run several on one database).

Each test module starts its own with the settings it needs (short timeouts),
and talks to it with real clients: ``websockets`` and ``httpx``.
"""

from __future__ import annotations

import json
import os
import socket as sockets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


class _Clients:
    """What a test needs to talk to a server listening on 127.0.0.1:``port``."""

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


class LiveServer(_Clients):
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


class ServerProcess(_Clients):
    """``python -m swingsync_fast serve`` on a free port, configured through its environment as an
    operator would; its log goes to ``log_path``."""

    def __init__(self, database_url: str, log_path: Path, **settings: str) -> None:
        with sockets.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "REDIS_URL")}
        env.update({"SECRET_KEY": SECRET, "DATABASE_URL": database_url})
        env.update({f"SWINGSYNC_{name.upper()}": value for name, value in settings.items()})
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "swingsync_fast", "serve", "--port", str(self.port), "--log-level", "info"],
                env=env, cwd=log_path.parent, stdout=log, stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def start(self) -> ServerProcess:
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.http.get("/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the server did not start; its log:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: nothing is flushed, nothing is closed."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.http.close()

    def stop(self) -> None:
        """SIGTERM: the server drains and closes its store, as on a deploy."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.kill()


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

