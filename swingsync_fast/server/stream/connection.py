"""One accepted socket on the main stream: limits, message dispatch, and its session.

``receive`` is everything a message needs that does not wait (limits,
decoding, a frame through its session) and is what the benchmark times;
``serve`` is the socket loop around it. Replies other than a frame's
result (errors, control replies, swing events) queue in ``outbox`` and go
out right after it, in order. Messages from off the frame path (feedback)
come in through ``deliver``: sent at once while the loop waits for the
client, or queued behind the replies the loop is writing, so feedback never
overtakes the swing summary it is about.
"""

from __future__ import annotations

import enum
import logging
import time
from time import perf_counter_ns
from typing import TYPE_CHECKING, Protocol

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from ...catalog import FAULTS, KPI_NAMES
from ..auth import Principal
from ..protocol.stream import (
    CLIENT_TYPES,
    RAW_MAGIC,
    RAW_WORLD_MAGIC,
    CloseCode,
    ConnectionLimits,
    EndSession,
    ErrorCode,
    ErrorData,
    ErrorMessage,
    FrameData,
    Payload,
    Ping,
    Pong,
    PongData,
    RequestFeedback,
    ServerMessage,
    SessionStarted,
    SessionStartedData,
    StartSession,
    StartStreamingSession,
    StreamConfig,
)
from .codec import JSON_DECODER, MSGPACK_DECODER, SOCKET_GONE, FrameError, encode_json, encode_msgpack, send_event
from .guard import TOO_DEEP, MessageGuard, explain_invalid, explain_malformed
from .limits import Admission, UserBudget
from .session import FeedbackRefused, Refused

if TYPE_CHECKING:
    from ..settings import Settings
    from .session import StreamSession

logger = logging.getLogger("swingsync_fast.server")

class SessionRefused(Refused):
    """A session that cannot start as asked."""

RAW_MAGICS = (RAW_MAGIC, RAW_WORLD_MAGIC)  # raw float32 frames: image landmarks, or image then world

FAULT_NAMES = {f.fault_id: f.name for f in FAULTS}  # in session_started: one name per fault in every client


class SessionHost(Protocol):
    """Where a connection's sessions start and end (``server.sessions.Sessions``)."""

    async def start(
        self, conn: Connection, config: StreamConfig | None, session_id: str | None, binary: bool
    ) -> StreamSession:
        """The session to stream on ``conn``, or raise SessionRefused."""
        ...

    async def end(self, session: StreamSession, reason: str) -> list[Payload]:
        """End a session detached from its socket: its last messages."""
        ...


class ConnectionState(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"  # the server is ending it; messages still arriving are ignored
    CLOSED = "closed"


class Connection:
    def __init__(
        self,
        principal: Principal,
        settings: Settings,
        sessions: SessionHost,
        websocket: WebSocket | None,
        now_ns: int,
        user_budget: UserBudget | None = None,
    ) -> None:
        self.principal = principal
        self.user_id = principal.user_id
        self.sessions = sessions
        self.websocket = websocket
        self.state = ConnectionState.OPEN
        self.session: StreamSession | None = None
        self.guard = MessageGuard(settings, now_ns, user_budget)
        # Bound once: the frame path calls them for every message.
        self._admit = self.guard.limiter.admit
        self._good = self.guard.bad.good
        self.last_seen_ns = now_ns
        self.outbox: list[Payload] = []
        # A start / end / ping / request_feedback waiting for its async half (see run_control).
        self.control: StartSession | StartStreamingSession | EndSession | Ping | RequestFeedback | None = None
        # True while serve() handles a message and writes its replies: deliver() then queues.
        self._writing = False
        self._control_binary = False
        self._limits = ConnectionLimits(
            settings.max_message_bytes, settings.frames_per_second, settings.frame_burst, settings.idle_timeout_s
        )
        self._max_bytes = settings.max_message_bytes

    @property
    def is_open(self) -> bool:
        return self.state is ConnectionState.OPEN

    @property
    def frames_dropped(self) -> int:
        """Messages dropped over the rate limits."""
        return self.guard.limiter.dropped

    @property
    def bad_messages(self) -> int:
        return self.guard.bad.total

    # ---------------------------------------------------------------- the hot path

    def receive(self, data: str | bytes, now_ns: int) -> Payload | None:
        """Handle one message that arrived at ``now_ns``; returns a frame's result, if any."""
        self.last_seen_ns = now_ns
        if self.state is not ConnectionState.OPEN:
            return None
        binary = type(data) is not str
        admission = self._admit(now_ns)
        if admission is not Admission.ADMITTED:
            error = self.guard.over_rate(admission, self.user_id)
            if error is not None:
                self.outbox.append(self._encode(ErrorMessage(error), binary))
            return None
        if len(data) > self._max_bytes:
            self._bad(ErrorCode.MESSAGE_TOO_LARGE,
                      f"a message may be at most {self._max_bytes} bytes, this one is {len(data)}", binary)
            return None
        session = self.session
        try:
            if binary and data[:4] in RAW_MAGICS:
                if session is None:
                    self._bad(ErrorCode.NO_SESSION, "send start_session before frames", binary)
                    return None
                reply = session.raw_frame(data, now_ns)  # type: ignore[arg-type]
            else:
                message = (MSGPACK_DECODER if binary else JSON_DECODER).decode(data)
                if type(message) is FrameData:
                    if session is None:
                        self._bad(ErrorCode.NO_SESSION, "send start_session before frame_data", binary)
                        return None
                    fields = message.data
                    reply = session.frame(fields.frame_index, fields.timestamp, fields.keypoints, now_ns,
                                          fields.world_keypoints)
                else:
                    self.control = message  # type: ignore[assignment]
                    self._control_binary = binary
                    reply = None
        except FrameError as exc:
            if session is not None:
                session.frames_rejected += 1
            self._bad(exc.code, str(exc), binary)
            return None
        except msgspec.ValidationError as exc:
            self._bad(*explain_invalid(data, binary, exc, CLIENT_TYPES), binary)
            return None
        except msgspec.DecodeError as exc:
            self._bad(ErrorCode.MALFORMED_MESSAGE, explain_malformed(data, binary, exc), binary)
            return None
        except RecursionError:
            self._bad(ErrorCode.MALFORMED_MESSAGE, TOO_DEEP, binary)
            return None
        self._good()
        if session is not None and session.outbox:
            self.outbox += session.outbox
            session.outbox.clear()
        return reply

    def _bad(self, code: ErrorCode, message: str, binary: bool) -> None:
        for error in self.guard.bad_message(code, message):
            self.outbox.append(self._encode(ErrorMessage(error), binary))

    def _refuse(self, code: ErrorCode, message: str, binary: bool) -> None:
        """An error the client did not cause (it does not count toward the bad-message run)."""
        self.outbox.append(self._encode(ErrorMessage(ErrorData(code, message)), binary))

    def _encode(self, message: ServerMessage, binary: bool = False) -> Payload:
        """A session speaks its layout; outside one, a reply matches the message it answers."""
        if self.session is not None:
            return self.session.encode(message)
        return encode_msgpack(message) if binary else encode_json(message)

    # ---------------------------------------------------------------- control messages

    async def run_control(self) -> None:
        message, self.control = self.control, None
        binary = self._control_binary
        if type(message) is Ping:
            self.outbox.append(self._encode(Pong(PongData(time.time())), binary))
        elif type(message) is RequestFeedback:
            self._request_feedback(message, binary)
        elif type(message) is EndSession:
            if self.session is None:
                self._bad(ErrorCode.NO_SESSION, "there is no session to end", binary)
                return
            self.outbox += await self.end_session("client_ended")
        elif message is not None:
            await self._start(message, binary)  # type: ignore[arg-type]

    def _request_feedback(self, message: RequestFeedback, binary: bool) -> None:
        session = self.session
        if session is None:
            self._bad(ErrorCode.NO_SESSION, "send start_session (and swing) before request_feedback", binary)
            return
        try:
            session.request_feedback(message.data.swing_index)
        except FeedbackRefused as exc:
            if exc.code is ErrorCode.FEEDBACK_BUSY or exc.code is ErrorCode.FEEDBACK_UNAVAILABLE:
                self._refuse(exc.code, exc.message, binary)
            else:
                self._bad(exc.code, exc.message, binary)

    async def _start(self, message: StartSession | StartStreamingSession, binary: bool) -> None:
        if self.session is not None:
            self._bad(ErrorCode.SESSION_ACTIVE,
                      f"session {self.session.session_id} is still streaming; send end_session first", binary)
            return
        try:
            session = await self.sessions.start(self, message.data.config, message.data.session_id, binary)
        except SessionRefused as exc:
            self._bad(exc.code, exc.message, binary)
            return
        if self.state is not ConnectionState.OPEN:  # closed while the store was busy
            await self.sessions.end(session, "disconnected")
            return
        self.session = session
        record = session.record
        self.outbox.append(session.encode(SessionStarted(SessionStartedData(
            session_id=record.session_id,
            user_id=record.user_id,
            session_name=record.session_name,
            frame_layout=session.layout,
            config=record.config,
            kpi_names=KPI_NAMES,
            limits=self._limits,
            server_time=time.time(),
            fault_names=FAULT_NAMES,
        ))))

    async def end_session(self, reason: str) -> list[Payload]:
        """End the session streaming here, if any: its last messages, for the caller to send or not."""
        session, self.session = self.session, None
        if session is None:
            return []
        return await self.sessions.end(session, reason)

    # ---------------------------------------------------------------- the socket

    async def serve(self) -> None:
        """Read, handle, reply, until the peer goes or the server closes the socket."""
        websocket = self.websocket
        assert websocket is not None
        receive, send = websocket.receive, websocket.send
        try:
            while True:
                self._writing = False
                message = await receive()
                now = perf_counter_ns()
                self._writing = True
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                reply = self.receive(data, now)
                if reply is not None:
                    await send(send_event(reply))
                    session = self.session
                    if session is not None:
                        session.sent(perf_counter_ns() - now)
                if self.control is not None:
                    await self.run_control()
                if self.outbox:
                    await self._flush()
                if self.guard.close is not None:
                    code, reason = self.guard.close
                    self.state = ConnectionState.CLOSING
                    await websocket.close(code, reason)
                    break
        except (WebSocketDisconnect, WebSocketDisconnected):
            pass  # the peer or another task closed the socket mid-send
        except Exception:
            logger.exception("main socket of %r failed", self.user_id)
            if self.state is ConnectionState.OPEN:
                self.state = ConnectionState.CLOSING
                try:
                    await websocket.close(CloseCode.INTERNAL_ERROR, "internal error")
                except SOCKET_GONE:
                    pass
        finally:
            self.state = ConnectionState.CLOSED

    async def _flush(self) -> None:
        assert self.websocket is not None
        while self.outbox:  # deliver() may add to it while a send waits on a slow client
            outbox, self.outbox = self.outbox, []
            for payload in outbox:
                await self.websocket.send(send_event(payload))

    async def deliver(self, payload: Payload) -> bool:
        """Send a message from off the frame path (the feedback lane); False if the socket is gone."""
        if self.state is not ConnectionState.OPEN or self.websocket is None:
            return False
        if self._writing:
            self.outbox.append(payload)  # serve() sends it after the replies it is writing
            return True
        try:
            await self.websocket.send(send_event(payload))
        except SOCKET_GONE:
            return False
        return True

    async def shutdown(
        self,
        code: CloseCode,
        reason: str,
        *,
        end_reason: str,
        error: tuple[ErrorCode, str] | None = None,
    ) -> None:
        """Close from the server's side (idle, drain): last session messages, an error if any, close."""
        if self.state is not ConnectionState.OPEN or self.websocket is None:
            return
        self.state = ConnectionState.CLOSING
        try:
            if error is not None:
                self.outbox.append(self._encode(ErrorMessage(ErrorData(*error))))
            self.outbox += await self.end_session(end_reason)
            await self._flush()
            await self.websocket.close(code, reason)
        except SOCKET_GONE:
            pass  # already gone: nothing left to tell it

    async def end_session_from_server(self, reason: str) -> None:
        """End this socket's session (e.g. deleted over REST) and tell the client; the socket stays."""
        if self.session is None:
            return
        self.outbox += await self.end_session(reason)
        if self.state is ConnectionState.OPEN:
            try:
                await self._flush()
            except SOCKET_GONE:
                pass
