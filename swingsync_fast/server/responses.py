"""JSON responses encoded by msgspec, and the error body shared by REST and socket denials."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

_encode = msgspec.json.Encoder().encode


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encode(content)


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"type": "error", "data": {"code", "message"}}``, the same envelope the socket uses."""
    return JSONResponse({"type": "error", "data": {"code": code, "message": message}}, status, headers)
