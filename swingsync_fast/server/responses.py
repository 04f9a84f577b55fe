"""JSON responses encoded by msgspec; refusals and the error body shared by REST and socket denials."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

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
