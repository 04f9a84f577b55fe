"""The main socket, ``/api/v1/stream/ws/{user_id}``: handshake checks, then the connection's loop."""

from __future__ import annotations

from time import perf_counter_ns

from starlette.websockets import WebSocket

from .connection import Connection
from .responses import HTTPError, error_response
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
        await _deny(websocket, exc.status, exc.code, exc.message)
        return
    try:
        await websocket.accept()
        await conn.serve()
    finally:
        await runtime.registry.remove(conn)


async def _deny(websocket: WebSocket, status: int, code: str, message: str) -> None:
    """Refuse the handshake with an HTTP status and an error body; no socket is ever opened."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response(status, code, message))
    else:  # a server without the denial extension: the client sees a plain 403
        await websocket.close(1008, f"{code}: {message}"[:120])
