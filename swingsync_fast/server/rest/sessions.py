"""REST: sessions, their stats, system stats, status and health.

Every endpoint but ``/health`` (and the OpenAPI document) needs a token.
A session is visible to its owner, its participants and admins; only the
owner or an admin may delete it. Sessions others cannot see answer 404, so
ids do not leak.
"""

from __future__ import annotations

import time

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ... import __version__
from ..auth import Role
from ..protocol.figures import SystemStats
from ..protocol.rest import CreateSessionRequest, Health, SessionList, SessionStatsView, StreamingStatus
from ..protocol.stream import CloseCode, ConnectionLimits, ErrorCode, FrameLayout, StreamConfig
from ..responses import HTTPError, JSONResponse
from ..runtime import Runtime
from ..sessions import new_record
from ..storage.records import SessionRecord, SessionState
from .common import caller, decode_body, limit_param, read_body, runtime_of, visible_record

_decode_create = msgspec.json.Decoder(CreateSessionRequest).decode


def _with_live_stats(runtime: Runtime, record: SessionRecord) -> SessionRecord:
    session = runtime.sessions.live_session(record.session_id)
    if session is None:
        return record
    return msgspec.structs.replace(session.record, stats=session.stats())


async def create_session(request: Request) -> Response:
    principal = caller(request)
    runtime = runtime_of(request)
    raw = await read_body(request, runtime.settings.max_message_bytes)
    body = decode_body(raw or b"{}", _decode_create, ErrorCode.INVALID_CONFIG.value)
    owner = body.user_id or principal.user_id
    if owner != principal.user_id and not principal.is_admin:
        raise HTTPError(403, "wrong_user", f"you may create sessions for {principal.user_id!r} only")
    cap = runtime.settings.max_unstarted_sessions_per_user
    if await runtime.store.unstarted_count(owner) >= cap:
        ttl_h = runtime.settings.unstarted_session_ttl_s / 3600
        raise HTTPError(429, "too_many_sessions",
                        f"{owner!r} has {cap} sessions created and not started, the most one user may hold; "
                        f"start or delete one, or wait for the oldest to expire ({ttl_h:g} h after creation)")
    fields = {f: getattr(body, f) for f in StreamConfig.__struct_fields__}
    config = StreamConfig(**{**fields, "user_id": owner})
    record = new_record(owner, config, SessionState.CREATED, time.time(), body.participants)
    await runtime.store.add(record)
    return JSONResponse(record, 201, headers={"Location": f"/api/v1/stream/sessions/{record.session_id}"})


async def list_sessions(request: Request) -> Response:
    principal = caller(request)
    runtime = runtime_of(request)
    limit = limit_param(request, 100, 1000)
    records = await runtime.store.visible_to(principal.user_id, principal.is_admin, limit)
    return JSONResponse(SessionList([_with_live_stats(runtime, r) for r in records]))


async def get_session(request: Request) -> Response:
    principal = caller(request)
    record = await visible_record(request, principal)
    return JSONResponse(_with_live_stats(runtime_of(request), record))


async def delete_session(request: Request) -> Response:
    principal = caller(request)
    runtime = runtime_of(request)
    record = await visible_record(request, principal)
    if record.user_id != principal.user_id and not principal.is_admin:
        raise HTTPError(403, "forbidden", "only the session's owner or an admin may delete it")
    conn = runtime.sessions.live.get(record.session_id)
    if conn is not None:
        await conn.end_session_from_server("deleted")
    for member in runtime.coaching.close_room(record.session_id):
        await member.outlet.close(CloseCode.NORMAL, "the coaching session was deleted")
    await runtime.store.delete(record.session_id)
    return Response(status_code=204)


async def session_stats(request: Request) -> Response:
    principal = caller(request)
    runtime = runtime_of(request)
    record = _with_live_stats(runtime, await visible_record(request, principal))
    return JSONResponse(SessionStatsView(record.session_id, record.state, record.stats))


async def system_stats(request: Request) -> Response:
    principal = caller(request)
    if principal.role is not Role.ADMIN:
        raise HTTPError(403, "forbidden", "system stats are for admins")
    stats: SystemStats = runtime_of(request).registry.system_stats()
    return JSONResponse(stats)


async def streaming_status(request: Request) -> Response:
    caller(request)
    runtime = runtime_of(request)
    registry = runtime.registry
    settings = runtime.settings
    return JSONResponse(
        StreamingStatus(
            status="draining" if registry.draining else "running",
            version=__version__,
            uptime_s=round(time.time() - runtime.started_at, 3),
            auth="disabled" if settings.dev_no_auth else "jwt",
            connections=len(registry.connections),
            sessions_active=len(runtime.sessions.live),
            frame_layouts=list(FrameLayout),
            limits=ConnectionLimits(
                settings.max_message_bytes, settings.frames_per_second, settings.frame_burst,
                settings.idle_timeout_s,
            ),
        )
    )


async def me(request: Request) -> Response:
    """Who the token says the caller is: the web app checks a token with this before opening a socket."""
    return JSONResponse(caller(request))


async def health(request: Request) -> Response:
    draining = runtime_of(request).registry.draining
    return JSONResponse(Health("draining" if draining else "ok"), 503 if draining else 200)
