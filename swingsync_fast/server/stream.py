"""The main socket, ``/api/v1/stream/ws/{user_id}``: handshake checks, then the connection's loop."""

from __future__ import annotations

from time import perf_counter_ns

from starlette.websockets import WebSocket

from .connection import Connection
from .responses import HTTPError, deny
from .runtime import Runtime

PATH = "/api/v1/stream/ws/{user_id}"


async def stream_socket(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    user_id: str = websocket.path_params["user_id"]
    try:
        principal = runtime.auth.authenticate(websocket, path_user=user_id)
        conn = Connection(principal, runtime.settings, runtime.registry, websocket, perf_counter_ns())
        runtime.registry.add(conn)  # before accepting, so concurrent handshakes cannot overshoot a cap
    except HTTPError as exc:  # a bad token, or no room
        await deny(websocket, exc.status, exc.code, exc.message)
        return
    try:
        await websocket.accept()
        await conn.serve()
    finally:
        await runtime.registry.remove(conn)
