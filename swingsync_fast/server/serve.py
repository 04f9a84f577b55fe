"""Running the app on uvicorn (uvloop + httptools), draining sockets with 1001 on shutdown.

uvicorn's own shutdown closes any socket still open with 1012; our server
first drains every live session (last messages, then close 1001) and only
then lets uvicorn stop. A bare ``uvicorn swingsync_fast.server.app:app``
does not get that step.
"""

from __future__ import annotations

import logging
import socket
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from . import access_log
from .app import create_app
from .http_guard import guarded_http
from .runtime import Runtime
from .settings import Settings
from .stream.endpoint import PATH as STREAM_PATH
from .watchers.coaching_socket import PATH as COACHING_PATH
from .watchers.monitor import PATH as MONITOR_PATH
from .ws_transport import ControlledWebSocketProtocol


def uvicorn_config(app: Starlette, settings: Settings, host: str, port: int, *, log_level: str = "info") -> uvicorn.Config:
    access_log.install()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http=guarded_http(settings),  # httptools, with limits on a request's head
        ws=ControlledWebSocketProtocol,  # websockets-sansio, its transport offered to the app
        ws_max_size=settings.protocol_max_bytes,
        ws_ping_interval=settings.ping_interval_s,
        ws_ping_timeout=settings.ping_timeout_s,
        # Compression costs tens of microseconds a message for a few hundred bytes saved.
        ws_per_message_deflate=False,
        lifespan="on",
        log_level=log_level,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) + 1,
    )


class Server(uvicorn.Server):
    """uvicorn.Server that drains our sockets before uvicorn's shutdown runs."""

    def __init__(self, config: uvicorn.Config, *, banner: bool = False) -> None:
        super().__init__(config)
        self._banner = banner

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        return int(self.servers[0].sockets[0].getsockname()[1])

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        runtime = _runtime_of(self)
        if self.started and self._banner and runtime is not None:
            print(_banner(self.config.host, self.port, runtime), flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        runtime = _runtime_of(self)
        if runtime is not None:
            for server in self.servers:
                server.close()  # no new connections while draining
            await runtime.registry.drain()
        await super().shutdown(sockets)


def _runtime_of(server: uvicorn.Server) -> Runtime | None:
    app = server.config.app
    state = getattr(app, "state", None)
    return getattr(state, "runtime", None)


def _banner(host: str, port: int, runtime: Runtime) -> str:
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    url = runtime.settings.redis_url
    bus = f"meet over Redis at {url} (this one: {runtime.bus.process_id})" if url else "this one alone (no REDIS_URL)"
    auth = ("DISABLED (--dev-no-auth): anyone can stream as anyone" if runtime.settings.dev_no_auth
            else f"JWT HS256, signed with {runtime.key_source}")
    return (
        f"SwingSync fast is listening on {base}\n"
        f"  web app     : {base}/app/   (coaches: {base}/app/coach.html)\n"
        f"  auth        : {auth}\n"
        f"  main socket : ws://{shown}:{port}{STREAM_PATH}?token=TOKEN\n"
        f"  coaching    : ws://{shown}:{port}{COACHING_PATH}?user_id=USER&token=TOKEN\n"
        f"  monitor     : ws://{shown}:{port}{MONITOR_PATH}?token=TOKEN\n"
        f"  REST        : {base}/api/v1/stream/sessions (OpenAPI at {base}/openapi.json)\n"
        f"  health      : {base}/health\n"
        f"  metrics     : {f'{base}/metrics (Prometheus, no token)' if runtime.settings.metrics_enabled else 'off'}\n"
        f"  processes   : {bus}\n"
        f"  get a token : {python_command()} -m swingsync_fast token USER --role player   (or coach, admin;"
        f" in the repository: make token USER=...)\n"
        f"  protocol    : docs/protocol.md\n"
        f"  stop        : Ctrl+C (live sockets are closed with 1001)"
    )


def python_command() -> str:
    """This Python as a user can type it from here: ``.venv/bin/python`` in the repository, else its full path.

    A bare ``python`` outside the venv has no swingsync_fast to run."""
    executable = Path(sys.executable)
    try:
        return str(executable.relative_to(Path.cwd()))
    except ValueError:
        return str(executable)


def run(host: str, port: int, settings: Settings | None = None, *, log_level: str = "info") -> None:
    settings = settings or Settings.from_env()
    log_to_console(log_level)
    app = create_app(settings)
    Server(uvicorn_config(app, settings, host, port, log_level=log_level), banner=True).run()


def log_to_console(level: str) -> None:
    """Our own log lines beside uvicorn's, in its format."""
    logger = logging.getLogger("swingsync_fast")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level.upper())
