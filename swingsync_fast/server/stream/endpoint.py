"""The main socket, ``/api/v1/stream/ws/{user_id}``: handshake checks, then the connection's loop."""

from __future__ import annotations

from starlette.websockets import WebSocket

from ..responses import HTTPError, deny
from ..runtime import Runtime

PATH = "/api/v1/stream/ws/{user_id}"


async def stream_socket(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    user_id: str = websocket.path_params["user_id"]
    try:
        principal = runtime.auth.authenticate(websocket, path_user=user_id, ticket_ok=True)
        conn = runtime.registry.connect(principal, websocket)  # before accepting: no cap overshoots
    except HTTPError as exc:  # a bad token, or no room
        await deny(websocket, exc.status, exc.code, exc.message)
        return
    try:
        await websocket.accept()
        await conn.serve()
    finally:
        await runtime.registry.remove(conn)
