"""The Starlette application: routes, error handlers, and the runtime's lifespan.

``app`` is built from the environment (``uvicorn swingsync_fast.server.app:app``);
``create_app(settings)`` builds one from explicit settings (``serve``, tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute

from . import access_log
from .responses import HTTPError, JSONResponse, error_response, http_error_handler
from .rest import analyze, history, pictures, video
from .rest import sessions as rest
from .rest import tickets
from .rest.metrics import metrics
from .rest.openapi import openapi_document
from .rest.webapp import web_app_routes
from .runtime import Runtime
from .settings import Settings
from .stream.endpoint import PATH as STREAM_PATH
from .stream.endpoint import stream_socket
from .watchers import coaching_socket, monitor

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def _route(path: str, **endpoints: Callable[[Request], Awaitable[Response]]) -> Route:
    """One route for several methods of a path, so a 405 (OPTIONS too) lists every one in Allow."""

    async def by_method(request: Request) -> Response:
        return await endpoints["GET" if request.method == "HEAD" else request.method](request)

    return Route(path, by_method, methods=list(endpoints))


async def to_web_app(request: Request) -> Response:
    """``/``: the web app, where a person opening the server's address wants to be."""
    return RedirectResponse("/app/", status_code=307)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    access_log.install()  # also under a bare ``uvicorn swingsync_fast.server.app:app``
    document = openapi_document()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime = Runtime(settings)
        app.state.runtime = runtime
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), exc.headers)

    sessions = "/api/v1/stream/sessions"
    routes = [
        WebSocketRoute(STREAM_PATH, stream_socket),
        WebSocketRoute(coaching_socket.PATH, coaching_socket.coaching_socket),
        WebSocketRoute(monitor.PATH, monitor.monitor_socket),
        _route(sessions, POST=rest.create_session, GET=rest.list_sessions),
        Route("/api/v1/stream/tickets", tickets.create_ticket, methods=["POST"]),
        _route(sessions + "/{session_id}", GET=rest.get_session, DELETE=rest.delete_session),
        Route(sessions + "/{session_id}/stats", rest.session_stats, methods=["GET"]),
        Route(sessions + "/{session_id}/swings", history.session_swings, methods=["GET"]),
        Route(sessions + "/{session_id}/recording", history.session_recording, methods=["GET"]),
        _route(sessions + "/{session_id}/swings/{swing_index}/pictures/{moment}",
               GET=pictures.get_picture, PUT=pictures.put_picture),
        Route("/api/v1/users/{user_id}/sessions", history.user_sessions, methods=["GET"]),
        Route("/api/v1/users/{user_id}/progress", history.user_progress, methods=["GET"]),
        Route("/api/v1/analyze", analyze.analyze, methods=["POST"]),
        Route("/api/v1/analyze/video", video.analyze_video, methods=["POST"]),
        Route("/api/v1/jobs/{job_id}", video.get_job, methods=["GET"]),
        Route("/api/v1/stream/system/stats", rest.system_stats, methods=["GET"]),
        Route("/streaming/status", rest.streaming_status, methods=["GET"]),
        Route("/health", rest.health, methods=["GET"]),
        Route("/api/v1/me", rest.me, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/", to_web_app, methods=["GET", "HEAD"]),
        *web_app_routes(settings.web_dir),
    ]
    if settings.metrics_enabled:
        routes.append(Route("/metrics", metrics, methods=["GET"]))
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HTTPError: http_error_handler,
            HTTPException: http_error,
        },
    )


app = create_app()
