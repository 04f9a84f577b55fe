"""The OpenAPI 3.1 description of the REST API, its schemas generated from the msgspec Structs."""

from __future__ import annotations

from typing import Any

import msgspec

from ... import __version__
from ...catalog import SKILL_LEVELS
from ...pictures import MAX_PICTURE_BYTES, MAX_PICTURE_SIDE, MOMENTS
from ...config import CLUB_PATTERN, skill_pattern
from ..auth import Principal
from ..protocol.figures import SystemStats
from ..protocol.jobs import VideoJobView
from ..protocol.rest import (
    AnalyzeRequest,
    AnalyzeResponse,
    CreateSessionRequest,
    Health,
    Progress,
    SessionList,
    SessionStatsView,
    SocketTicket,
    StreamingStatus,
    SwingList,
    UserSessionList,
)
from ..storage.records import SessionRecord

_REF = "#/components/schemas/{name}"


class ErrorBody(msgspec.Struct):
    code: str
    message: str


class ErrorEnvelope(msgspec.Struct, tag="error", tag_field="type"):
    data: ErrorBody


def _ref(struct: type) -> dict[str, str]:
    return {"$ref": _REF.format(name=struct.__name__)}


def _json(struct: type, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(struct)}}}


_ERRORS = {
    "401": _json(ErrorEnvelope, "No token, or a bad, expired or wrongly signed one"),
    "403": _json(ErrorEnvelope, "The token's user may not do this"),
}
_NOT_FOUND = {"404": _json(ErrorEnvelope, "No such session visible to the caller")}
_SESSION_ID = {"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}
_USER_ID = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"}}
_PICTURE_PARAMS = [
    _SESSION_ID,
    {"name": "swing_index", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}},
    {"name": "moment", "in": "path", "required": True, "schema": {"type": "string", "enum": list(MOMENTS)}},
]
_FORBIDDEN = {"403": _json(ErrorEnvelope, "The caller is not a member of any of the player's sessions")}
_BAD_QUERY = {"422": _json(ErrorEnvelope, "A query parameter out of its range (invalid_request)")}


def _limit(default: int, maximum: int) -> dict[str, Any]:
    return {"name": "limit", "in": "query", "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}}


def _op(summary: str, responses: dict[str, Any], *, secured: bool = True, **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {**responses, **(_ERRORS if secured else {})}}
    if not secured:
        op["security"] = []
    op.update(extra)
    return op


def _words_the_server_takes(components: dict[str, Any]) -> None:
    """club_used and skill_level are free text the config normalises (SessionConfig.__post_init__):
    give the schema the patterns of what it takes, so a client knows which words give a 422."""
    patterns = {"club_used": CLUB_PATTERN, "skill_level": skill_pattern(SKILL_LEVELS)}
    for schema in components.values():
        for name, pattern in patterns.items():
            field = schema.get("properties", {}).get(name)
            if field is not None and field.get("type") == "string":
                field["pattern"] = pattern


def openapi_document() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        [CreateSessionRequest, SessionRecord, SessionList, SessionStatsView, SystemStats,
         StreamingStatus, Health, Principal, ErrorEnvelope, SwingList, UserSessionList, Progress, AnalyzeRequest,
         AnalyzeResponse, VideoJobView, SocketTicket],
        ref_template=_REF,
    )
    _words_the_server_takes(components)
    sessions = "/api/v1/stream/sessions"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SwingSync fast",
            "version": __version__,
            "description": "REST side of the streaming server. The WebSocket protocol (main socket "
                           "/api/v1/stream/ws/{user_id}, coaching socket /api/v1/stream/ws/coaching/{session_id}, "
                           "monitor socket /api/v1/stream/ws/monitor/{user_id}) is in docs/protocol.md.",
        },
        "security": [{"bearer": []}],
        "paths": {
            sessions: {
                "post": _op(
                    "Create a session to stream into later (start_session with data.session_id)",
                    {"201": _json(SessionRecord, "The new session"),
                     "400": _json(ErrorEnvelope, "A body nested too deeply to decode"),
                     "413": _json(ErrorEnvelope, "Too large a body"),
                     "422": _json(ErrorEnvelope, "The config is not valid"),
                     "429": _json(ErrorEnvelope, "The owner has too many sessions created and not started")},
                    requestBody={"required": False,
                                 "content": {"application/json": {"schema": _ref(CreateSessionRequest)}}},
                ),
                "get": _op(
                    "Sessions visible to the caller, newest first",
                    {"200": _json(SessionList, "The sessions"), **_BAD_QUERY},
                    parameters=[_limit(100, 1000)],
                ),
            },
            "/api/v1/stream/tickets": {
                "post": _op("A one-use socket ticket for the caller (?ticket= on a socket, about 30 s)",
                            {"201": _json(SocketTicket, "The ticket")}),
            },
            sessions + "/{session_id}": {
                "get": _op("One session (live figures while it streams)",
                           {"200": _json(SessionRecord, "The session"), **_NOT_FOUND},
                           parameters=[_SESSION_ID]),
                "delete": _op("Delete a session; a live one is ended first (its socket stays open)",
                              {"204": {"description": "Deleted"}, **_NOT_FOUND}, parameters=[_SESSION_ID]),
            },
            sessions + "/{session_id}/stats": {
                "get": _op("A session's counters and latency percentiles",
                           {"200": _json(SessionStatsView, "The stats"), **_NOT_FOUND},
                           parameters=[_SESSION_ID]),
            },
            sessions + "/{session_id}/swings": {
                "get": _op("The session's swing summaries as sent, with their feedback texts",
                           {"200": _json(SwingList, "The swings"), **_NOT_FOUND}, parameters=[_SESSION_ID]),
            },
            sessions + "/{session_id}/recording": {
                "get": _op("The frames of a session started with record_frames, for `replay`",
                           {"200": {"description": "A MessagePack recording",
                                    "content": {"application/msgpack": {}}},
                            **_NOT_FOUND}, parameters=[_SESSION_ID]),
            },
            sessions + "/{session_id}/swings/{swing_index}/pictures/{moment}": {
                "get": _op("A key-position picture of a swing (a small JPEG), for whoever may read the swing",
                           {"200": {"description": "The picture", "content": {"image/jpeg": {
                               "schema": {"type": "string", "format": "binary"}}}},
                            "404": _json(ErrorEnvelope, "No such session visible to the caller, no such "
                                                        "moment, or no picture of it (no_picture)")},
                           parameters=_PICTURE_PARAMS),
                "put": _op(
                    "The player's picture of a swing's moment, cut from the page's canvas; replaces one there",
                    {"204": {"description": "Stored"},
                     "404": _json(ErrorEnvelope, "No such session visible to the caller, no such moment, "
                                                 "or no such swing in it (no_swing)"),
                     "413": _json(ErrorEnvelope, f"More than {MAX_PICTURE_BYTES} bytes (too_large)"),
                     "415": _json(ErrorEnvelope, "Not sent as image/jpeg"),
                     "422": _json(ErrorEnvelope, f"Not a JPEG (not_jpeg), or more than {MAX_PICTURE_SIDE} px "
                                                 "a side (picture_too_big)")},
                    parameters=_PICTURE_PARAMS,
                    requestBody={"required": True, "content": {"image/jpeg": {
                        "schema": {"type": "string", "format": "binary", "maxLength": MAX_PICTURE_BYTES}}}},
                ),
            },
            "/api/v1/users/{user_id}/sessions": {
                "get": _op("A player's sessions, newest first (a coach: the ones they are a member of)",
                           {"200": _json(UserSessionList, "The sessions"), **_FORBIDDEN, **_BAD_QUERY},
                           parameters=[_USER_ID, _limit(100, 1000)]),
            },
            "/api/v1/users/{user_id}/progress": {
                "get": _op("KPI and fault trends over a player's last swings",
                           {"200": _json(Progress, "The trends"), **_FORBIDDEN,
                            "422": _json(ErrorEnvelope, "limit out of range, or club names no club "
                                                        "(invalid_request)")},
                           parameters=[_USER_ID, _limit(200, 2000),
                                       {"name": "club", "in": "query", "required": False,
                                        "description": "A club family or a word for one: driver, wood, hybrid, "
                                                       "rescue, iron, wedge (anywhere, any case), or pw, gw, "
                                                       "sw, lw, aw",
                                        "schema": {"type": "string", "pattern": CLUB_PATTERN}}]),
            },
            "/api/v1/analyze": {
                "post": _op(
                    "Analyse a recorded swing as the live socket would",
                    {"200": _json(AnalyzeResponse, "The swings"),
                     "400": _json(ErrorEnvelope, "A body nested too deeply to decode"),
                     "413": _json(ErrorEnvelope, "Too many frames or too large a body"),
                     "422": _json(ErrorEnvelope, "A bad config or frame, or frames out of time order")},
                    requestBody={"required": True,
                                 "content": {"application/json": {"schema": _ref(AnalyzeRequest)}}},
                ),
            },
            "/api/v1/analyze/video": {
                "post": _op(
                    "Upload a video (mp4, mov, webm) to be posed and analysed; answers its job",
                    {"202": _json(VideoJobView, "The job, queued (Location: /api/v1/jobs/{job_id})"),
                     "413": _json(ErrorEnvelope, "too_large (bytes) or video_too_long (seconds)"),
                     "415": _json(ErrorEnvelope, "Not multipart/form-data, or the file is not mp4, mov or webm"),
                     "422": _json(ErrorEnvelope, "unreadable_video, no field `file`, or a bad config field"),
                     "429": _json(ErrorEnvelope, "queue_full: try again after Retry-After seconds")},
                    requestBody={"required": True, "content": {"multipart/form-data": {"schema": {
                        "type": "object", "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"},
                                       "club_used": {"type": "string"}, "skill_level": {"type": "string"},
                                       "handedness": {"type": "string", "enum": ["right", "left"]},
                                       "camera_view": {"type": "string",
                                                       "enum": ["auto", "face_on", "down_the_line", "oblique"]}}}}}},
                ),
            },
            "/api/v1/jobs/{job_id}": {
                "get": _op("A video job of the caller's: state, progress, and its swings when done",
                           {"200": _json(VideoJobView, "The job"),
                            "404": _json(ErrorEnvelope, "No such job of the caller's")},
                           parameters=[{"name": "job_id", "in": "path", "required": True,
                                        "schema": {"type": "string"}}]),
            },
            "/api/v1/stream/system/stats": {
                "get": _op("Process-wide counters and latency percentiles (admins)",
                           {"200": _json(SystemStats, "The stats")}),
            },
            "/streaming/status": {
                "get": _op("Whether the server streams, and its limits",
                           {"200": _json(StreamingStatus, "The status")}),
            },
            "/api/v1/me": {
                "get": _op("The caller, as the token names it (user id and role)",
                           {"200": _json(Principal, "The caller")}),
            },
            "/metrics": {
                "get": _op("Live counters in Prometheus' text format (404 when switched off)",
                           {"200": {"description": "Prometheus text exposition format",
                                    "content": {"text/plain": {"schema": {"type": "string"}}}}},
                           secured=False),
            },
            "/health": {
                "get": _op("Liveness; 503 while draining",
                           {"200": _json(Health, "Serving"), "503": _json(Health, "Shutting down")},
                           secured=False),
            },
            "/": {
                "get": _op("The web app: a redirect to /app/",
                           {"307": {"description": "Location: /app/"}}, secured=False),
            },
        },
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                           "description": "HS256, claims sub, role (player|coach|admin), exp; "
                                          "also accepted as ?token="},
            },
        },
    }
