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
from ..protocol.stream import CloseCode, ErrorCode, ErrorData, ErrorMessage, Pong, PongData, TypeOnly
from ..responses import HTTPError, deny, query_number
from ..runtime import Runtime
from ..storage.records import SessionRecord, SessionState
from ..stream.codec import encode_json
from ..stream.limits import Admission, BadMessageRun, RateLimiter
from .coaching import CoachingRoom, Posted, is_coach, may_join
from .outlet import Outlet
from .rooms import Subscriber

PATH = "/api/v1/stream/ws/coaching/{session_id}"
DECODER = msgspec.json.Decoder(AnyCoachingMessage)


async def coaching_socket(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    session_id: str = websocket.path_params["session_id"]
    settings = runtime.settings
    try:
        principal = runtime.auth.authenticate(websocket, path_user=websocket.query_params.get("user_id") or None)
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
        self.limiter = RateLimiter(settings.frames_per_second, settings.frame_burst,
                                   settings.flood_window_s, settings.flood_windows, perf_counter_ns())
        self.bad = BadMessageRun(settings.max_bad_messages)
        self._members = {record.user_id, *record.participants}

    async def join(self) -> None:
        self.room = await self.hub.join(self.record, self.principal, self.subscriber)

    def leave(self) -> None:
        if self.room is not None:
            self.hub.leave(self.room, self.subscriber)

    async def handle(self, data: str | bytes) -> None:
        admission = self.limiter.admit(perf_counter_ns())
        if admission is Admission.FLOOD:
            self._error(ErrorCode.FLOOD, "sustained traffic over the rate limit; closing")
            await self.outlet.close(CloseCode.POLICY_VIOLATION, "flood over the rate limit")
            return
        if admission is not Admission.ADMITTED:
            if admission is Admission.DROPPED_WARN:
                self._error(ErrorCode.RATE_LIMITED, "over the message rate: excess messages are dropped")
            return
        if type(data) is not str:
            await self._bad(ErrorCode.MALFORMED_MESSAGE, "the coaching socket speaks JSON text messages")
            return
        try:
            message = DECODER.decode(data)
        except msgspec.ValidationError as exc:
            await self._bad(*_explain(data, exc))
            return
        except msgspec.DecodeError as exc:
            await self._bad(ErrorCode.MALFORMED_MESSAGE, str(exc))
            return
        if type(message) is CoachingPing:
            self.bad.good()
            self.outlet.offer(encode_json(Pong(PongData(time.time()))))
            return
        problem = self._refusal(message)
        if problem is not None:
            await self._bad(*problem)
            return
        self.bad.good()
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

    def _error(self, code: ErrorCode, text: str) -> None:
        self.outlet.offer(encode_json(ErrorMessage(ErrorData(code, text))))

    async def _bad(self, code: ErrorCode, text: str) -> None:
        self._error(code, text)
        if self.bad.bad():
            self._error(ErrorCode.TOO_MANY_BAD_MESSAGES, f"{self.bad.run} bad messages in a row; closing")
            await self.outlet.close(CloseCode.INVALID_DATA, "too many bad messages in a row")


def _explain(data: str, exc: msgspec.ValidationError) -> tuple[ErrorCode, str]:
    try:
        kind = msgspec.json.decode(data, type=TypeOnly).type
    except (msgspec.ValidationError, msgspec.DecodeError):
        kind = None
    if kind not in COACHING_TYPES:
        shown = "no type" if kind is None else f"type {kind!r}"
        return ErrorCode.UNKNOWN_TYPE, f"unknown message: {shown}; expected one of {', '.join(sorted(COACHING_TYPES))}"
    return ErrorCode.INVALID_MESSAGE, f"{kind}: {exc}"
