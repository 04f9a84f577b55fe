"""The web app under /app/: the pages in ``web/app`` and MediaPipe Pose from npm, one origin, no CDN.

``web/node_modules`` exists only after ``npm ci`` in ``web/`` (``make run`` does it when
Node.js is present). Without it ``/app/pose/*`` answers 404 ``pose_assets_missing`` and
the page says what to install; everything else still works.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .responses import error_response

POSE_PACKAGE = Path("node_modules") / "@mediapipe" / "pose"


def pose_assets_missing(request: Request) -> Response:
    return error_response(
        404,
        "pose_assets_missing",
        "MediaPipe Pose is not installed on this server: install Node.js, then run `make run` (or `npm ci` in web/)",
    )


def web_app_routes(web_dir: Path) -> list[BaseRoute]:
    pose_dir = web_dir / POSE_PACKAGE
    pose: BaseRoute = (
        Mount("/app/pose", StaticFiles(directory=pose_dir))
        if (pose_dir / "pose.js").is_file()
        else Route("/app/pose/{path:path}", pose_assets_missing)
    )
    return [pose, Mount("/app", StaticFiles(directory=web_dir / "app", html=True))]
