"""The web app under /app/: the pages in ``web/app`` and MediaPipe Pose from npm, one origin, no CDN.

``web/node_modules`` exists only after ``npm ci`` in ``web/`` (``make run`` does it when
Node.js is present). Without it ``/app/pose/*`` answers 404 ``pose_assets_missing`` and
the page says what to install; everything else still works.
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from ..responses import error_response

POSE_PACKAGE = Path("node_modules") / "@mediapipe" / "pose"

# A response is an ASGI app of its own: without the assets every /app/pose/* request gets this one.
POSE_ASSETS_MISSING = error_response(
    404,
    "pose_assets_missing",
    "MediaPipe Pose is not installed on this server: install Node.js, then run `make run` (or `npm ci` in web/)",
)


def web_app_routes(web_dir: Path) -> list[Mount]:
    pose_dir = web_dir / POSE_PACKAGE
    pose = StaticFiles(directory=pose_dir) if (pose_dir / "pose.js").is_file() else POSE_ASSETS_MISSING
    return [Mount("/app/pose", pose), Mount("/app", StaticFiles(directory=web_dir / "app", html=True))]
