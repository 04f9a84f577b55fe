"""A swing's key-position pictures: GET (whoever may read the swing) and PUT (its player) of one JPEG.

``/api/v1/stream/sessions/{session_id}/swings/{swing_index}/pictures/{moment}``,
``moment`` one of ``pictures.MOMENTS``. Video jobs store theirs themselves;
the page PUTs the ones it cut from its canvas in a live session. A PUT is
bounded: a JPEG only (checked, not trusted by its header), at most
``MAX_PICTURE_BYTES`` and ``MAX_PICTURE_SIDE`` px a side, one per moment of a
swing the session has stored (so at most four a swing; a second PUT replaces).
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from ...pictures import MAX_PICTURE_BYTES, MOMENTS, PictureRefused, jpeg_size
from ..responses import HTTPError
from ..storage.records import StoredPicture
from .common import caller, read_body, runtime_of, visible_record

JPEG = "image/jpeg"


def _swing_index(request: Request) -> int:
    text = request.path_params["swing_index"]
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise HTTPError(404, "not_found", f"no swing {text!r}: a swing index is a whole number")
    return int(text)


def _moment(request: Request) -> str:
    moment = request.path_params["moment"]
    if moment not in MOMENTS:
        raise HTTPError(404, "not_found", f"no picture moment {moment!r}; one of {', '.join(MOMENTS)}")
    return moment


async def get_picture(request: Request) -> Response:
    principal = caller(request)
    record = await visible_record(request, principal)
    swing_index = _swing_index(request)
    moment = _moment(request)
    picture = await runtime_of(request).store.picture(record.session_id, swing_index, moment)
    if picture is None:
        raise HTTPError(404, "no_picture", f"swing {swing_index} of session {record.session_id!r} has no "
                                           f"{moment} picture")
    # private: a picture of a person, readable only with the token that may read the swing
    return Response(picture.jpeg, media_type=JPEG, headers={"Cache-Control": "private, max-age=3600"})


async def put_picture(request: Request) -> Response:
    principal = caller(request)
    record = await visible_record(request, principal)
    if principal.user_id != record.user_id:
        raise HTTPError(403, "forbidden", "only the session's player may send its swings' pictures")
    swing_index = _swing_index(request)
    moment = _moment(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != JPEG:
        raise HTTPError(415, "unsupported_media_type", f"send the picture as {JPEG}")
    store = runtime_of(request).store
    if not any(s.summary.swing_index == swing_index for s in await store.swings(record.session_id)):
        raise HTTPError(404, "no_swing", f"session {record.session_id!r} has no swing {swing_index}")
    data = await read_body(request, MAX_PICTURE_BYTES)
    try:
        width, height = jpeg_size(data)
    except PictureRefused as exc:
        raise HTTPError(413 if exc.code == "too_large" else 422, exc.code, str(exc)) from None
    try:
        await store.put_picture(StoredPicture(session_id=record.session_id, swing_index=swing_index,
                                              moment=moment, width=width, height=height,
                                              created_at=time.time(), jpeg=data))
    except KeyError:  # deleted meanwhile
        raise HTTPError(404, "not_found", f"no session {record.session_id!r} visible to you") from None
    return Response(status_code=204)
