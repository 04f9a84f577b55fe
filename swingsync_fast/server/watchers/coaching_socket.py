"""The coaching socket, ``/api/v1/stream/ws/coaching/{session_id}?user_id=...``.

Members only (the coaching session's owner, its participants, admins). Only
coaches and admins send ``coaching_tip`` and ``drill_suggestion``; any member
may send ``coaching_frame_update``, so a student can point at a frame too.
"""

from __future__ import annotations

import time
from time import perf_counter_ns

import msgspec
from starlette.websockets import WebSocket

from ..auth import Principal
from ..protocol.coaching import COACHING_TYPES, MAX_MIRROR_FPS, AnyCoachingMessage, CoachingFrameUpdate, CoachingPing
from ..protocol.stream import ErrorCode, ErrorData, ErrorMessage, Pong, PongData
from ..responses import HTTPError, deny, query_number
from ..runtime import Runtime
from ..storage.records import SessionRecord, SessionState
from ..stream.codec import encode_json
from ..stream.guard import TOO_DEEP, MessageGuard, explain_invalid, explain_malformed
from ..stream.limits import Admission
from .coaching import CoachingRoom, Posted, is_coach, may_join
from .outlet import Outlet
from .rooms import Subscriber

PATH = "/api/v1/stream/ws/coaching/{session_id}"
DECODER = msgspec.json.Decoder(AnyCoachingMessage)
# The coaching socket's words for a dropped message (the main socket names its rate and burst).
RATE_WARNING = "over the message rate: excess messages are dropped"


async def coaching_socket(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    session_id: str = websocket.path_params["session_id"]
    settings = runtime.settings
    try:
        principal = runtime.auth.authenticate(websocket, path_user=websocket.query_params.get("user_id") or None,
                                            ticket_ok=True)
        record = await runtime.store.get(session_id)
        if record is None or not may_join(record, principal):
            raise HTTPError(404, "session_not_found",
                            f"no coaching session {session_id!r} with {principal.user_id!r} as a member")
        if record.state is SessionState.ENDED:
            raise HTTPError(410, "session_ended", f"coaching session {session_id!r} has ended")
        fps = query_number(websocket, "mirror_fps", settings.mirror_fps, 0.1, MAX_MIRROR_FPS)
        outlet = runtime.registry.add_watcher(websocket, principal.user_id)
    except HTTPError as exc:
        await deny(websocket, exc.status, exc.code, exc.message)
        return
    member = Member(runtime, principal, record, outlet, fps)
    try:
        await member.join()
        await outlet.run(member.handle)
    finally:
        member.leave()
        runtime.registry.remove_watcher(outlet)


class Member:
    """One joined coaching socket: what it may send, checked and passed to its room."""

    def __init__(self, runtime: Runtime, principal: Principal, record: SessionRecord, outlet: Outlet,
                 fps: float) -> None:
        settings = runtime.settings
        self.hub = runtime.coaching
        self.principal = principal
        self.record = record
        self.outlet = outlet
        self.subscriber = Subscriber(principal.user_id, principal.role.value, is_coach(principal.role), outlet, fps)
        self.room: CoachingRoom | None = None
        self.guard = MessageGuard(settings, perf_counter_ns(), rate_warning=RATE_WARNING)
        self._members = {record.user_id, *record.participants}

    async def join(self) -> None:
        self.room = await self.hub.join(self.record, self.principal, self.subscriber)

    def leave(self) -> None:
        if self.room is not None:
            self.hub.leave(self.room, self.subscriber)

    async def handle(self, data: str | bytes) -> None:
        guard = self.guard
        admission = guard.limiter.admit(perf_counter_ns())
        if admission is not Admission.ADMITTED:
            error = guard.over_rate(admission, self.principal.user_id)
            await self._tell([] if error is None else [error])
            return
        if type(data) is not str:
            await self._bad(ErrorCode.MALFORMED_MESSAGE, "the coaching socket speaks JSON text messages")
            return
        try:
            message = DECODER.decode(data)
        except msgspec.ValidationError as exc:
            await self._bad(*explain_invalid(data, False, exc, COACHING_TYPES))
            return
        except msgspec.DecodeError as exc:
            await self._bad(ErrorCode.MALFORMED_MESSAGE, explain_malformed(data, False, exc))
            return
        except RecursionError:
            await self._bad(ErrorCode.MALFORMED_MESSAGE, TOO_DEEP)
            return
        if type(message) is CoachingPing:
            guard.bad.good()
            self.outlet.offer(encode_json(Pong(PongData(time.time()))))
            return
        problem = self._refusal(message)
        if problem is not None:
            await self._bad(*problem)
            return
        guard.bad.good()
        message.data = msgspec.structs.replace(message.data, from_user=self.principal.user_id, sent_at=time.time())
        assert self.room is not None
        await self.hub.post(self.room, message)

    def _refusal(self, message: Posted) -> tuple[ErrorCode, str] | None:
        kind = type(message).__struct_config__.tag
        if type(message) is CoachingFrameUpdate:
            data = message.data
            if data.frame_index is None and data.swing_index is None:
                return ErrorCode.INVALID_MESSAGE, "coaching_frame_update needs frame_index or swing_index"
            if data.student_id is not None and data.student_id not in self._members:
                return ErrorCode.NOT_A_MEMBER, f"student_id {data.student_id!r} is not in this coaching session"
            return None
        if not self.subscriber.is_coach:
            return ErrorCode.FORBIDDEN, f"only coaches send {kind}; your role is {self.principal.role.value}"
        target = message.data.target_user
        if target is not None and target not in self._members:
            return ErrorCode.NOT_A_MEMBER, f"target_user {target!r} is not in this coaching session"
        return None

    async def _bad(self, code: ErrorCode, text: str) -> None:
        await self._tell(self.guard.bad_message(code, text))

    async def _tell(self, errors: list[ErrorData]) -> None:
        """Offer the guard's errors, then close as it says, if it says so."""
        for error in errors:
            self.outlet.offer(encode_json(ErrorMessage(error)))
        if self.guard.close is not None:
            await self.outlet.close(*self.guard.close)
