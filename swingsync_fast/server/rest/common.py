"""What every REST endpoint shares: the runtime, the caller, the session it names, its body and ``?limit=``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import msgspec
from starlette.requests import Request

from ..auth import Principal
from ..responses import HTTPError
from ..runtime import Runtime
from ..storage.records import SessionRecord
from ..stream.guard import TOO_DEEP

Body = TypeVar("Body")


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def caller(request: Request) -> Principal:
    return runtime_of(request).auth.authenticate(request)


async def visible_record(request: Request, principal: Principal) -> SessionRecord:
    session_id = request.path_params["session_id"]
    record = await runtime_of(request).store.get(session_id)
    if record is None or not record.visible_to(principal.user_id, principal.is_admin):
        raise HTTPError(404, "not_found", f"no session {session_id!r} visible to you")
    return record


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to pass ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPError(413, "too_large", f"a request body may be at most {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, "too_large", f"a request body may be at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def decode_body(raw: bytes, decode: Callable[[bytes], Body], invalid_code: str) -> Body:
    """A JSON body decoded by ``decode``: 422 ``invalid_code`` when it does not parse or fit its type,
    400 ``malformed_message`` when it nests too deeply for the decoder (msgspec's RecursionError)."""
    try:
        return decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise HTTPError(422, invalid_code, str(exc)) from None
    except RecursionError:
        raise HTTPError(400, "malformed_message", TOO_DEEP) from None


def limit_param(request: Request, default: int, maximum: int) -> int:
    """``?limit=``: 1 to ``maximum``, ``default`` when absent."""
    try:
        limit = int(request.query_params.get("limit", str(default)))
    except ValueError:
        raise HTTPError(422, "invalid_request", "limit must be an integer") from None
    if not 1 <= limit <= maximum:
        raise HTTPError(422, "invalid_request", f"limit must be between 1 and {maximum}")
    return limit
