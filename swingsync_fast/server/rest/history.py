"""REST history: a session's swings and recording, a player's sessions and progress.

Who may read: the player (owner), admins, and the members of a session
(its coaches). A session others cannot see answers 404, as in ``rest.sessions``;
on a player's pages, someone who is a member of none of their sessions
gets 403, and a member sees only the sessions they belong to.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...config import normalize_club
from ..auth import Principal
from ..protocol.rest import FeedbackView, Progress, SwingList, SwingView, UserSessionList
from ..recording import encode_recording, recording_of
from ..responses import HTTPError, JSONResponse
from ..storage.records import StoredFeedback
from .common import caller, limit_param, runtime_of, visible_record
from .progress import progress


def _viewer(principal: Principal, user_id: str) -> str | None:
    """None: the caller sees all of ``user_id``'s history; else only sessions it is a member of."""
    return None if principal.is_admin or principal.user_id == user_id else principal.user_id


def _no_shared_sessions(principal: Principal, user_id: str) -> HTTPError:
    return HTTPError(403, "forbidden", f"{principal.user_id!r} is not a member of any session of {user_id!r}")


async def session_swings(request: Request) -> Response:
    principal = caller(request)
    store = runtime_of(request).store
    record = await visible_record(request, principal)
    swings = await store.swings(record.session_id)
    pictures = await store.picture_moments(record.session_id)
    texts: dict[int, list[StoredFeedback]] = {}
    for answer in await store.feedback(record.session_id):
        texts.setdefault(answer.swing_index, []).append(answer)
    return JSONResponse(SwingList(record.session_id, [
        SwingView(
            swing_index=s.summary.swing_index, ended_at=s.ended_at, club=s.club, summary=s.summary,
            feedback=[FeedbackView(f.feedback_id, f.source, f.text, f.created_at)
                      for f in texts.get(s.summary.swing_index, ())],
            pictures=pictures.get(s.summary.swing_index, []),
        )
        for s in swings
    ]))


async def session_recording(request: Request) -> Response:
    principal = caller(request)
    store = runtime_of(request).store
    record = await visible_record(request, principal)
    frames = await store.frames(record.session_id)
    if not frames:
        raise HTTPError(404, "no_recording",
                        f"session {record.session_id!r} has no recorded frames; start one with record_frames: true")
    return Response(
        encode_recording(recording_of(record, frames)), media_type="application/msgpack",
        headers={"Content-Disposition": f'attachment; filename="{record.session_id}.swingsync"'},
    )


async def user_sessions(request: Request) -> Response:
    principal = caller(request)
    user_id = request.path_params["user_id"]
    limit = limit_param(request, 100, 1000)
    viewer = _viewer(principal, user_id)
    records = await runtime_of(request).store.user_sessions(user_id, viewer, limit)
    if viewer is not None and not records:
        raise _no_shared_sessions(principal, user_id)
    return JSONResponse(UserSessionList(user_id, records))


async def user_progress(request: Request) -> Response:
    principal = caller(request)
    user_id = request.path_params["user_id"]
    limit = limit_param(request, 200, 2000)
    club = request.query_params.get("club")
    if club is not None:
        try:
            club = normalize_club(club)
        except ValueError as exc:
            raise HTTPError(422, "invalid_request", str(exc)) from None
    viewer = _viewer(principal, user_id)
    store = runtime_of(request).store
    if viewer is not None and not await store.user_sessions(user_id, viewer, 1):
        raise _no_shared_sessions(principal, user_id)
    swings = await store.user_swings(user_id, viewer, limit, club=club)
    result: Progress = progress(user_id, swings)
    return JSONResponse(result)
