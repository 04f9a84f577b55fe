"""JSON responses encoded by msgspec; refusals and the error body shared by REST and socket denials."""

from __future__ import annotations

import math
from typing import Any

import msgspec
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket

_encode = msgspec.json.Encoder().encode


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encode(content)


class HTTPError(Exception):
    """A refusal: an HTTP status, and the ``code`` and ``message`` of the error envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"type": "error", "data": {"code", "message"}}``, the same envelope the socket uses."""
    return JSONResponse({"type": "error", "data": {"code": code, "message": message}}, status, headers)


def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(exc.status, exc.code, exc.message, headers)


async def deny(websocket: WebSocket, status: int, code: str, message: str) -> None:
    """Refuse the handshake with an HTTP status and an error body; no socket is ever opened."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response(status, code, message))
    else:  # a server without the denial extension: the client sees a plain 403
        await websocket.close(1008, f"{code}: {message}"[:120])


def query_number(connection: HTTPConnection, name: str, default: float, low: float, high: float) -> float:
    """A number from the query string within [low, high], or a 422 refusal."""
    raw = connection.query_params.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not low <= value <= high:
        raise HTTPError(422, "invalid_request", f"{name} must be a number from {low:g} to {high:g}, got {raw!r}")
    return value
