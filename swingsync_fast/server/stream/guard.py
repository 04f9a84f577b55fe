"""The rules every socket applies to what a client sends, and the errors that say so, in the same
words on the main and the coaching socket.

A ``MessageGuard`` holds a socket's rate limit (excess dropped with a warning
at most once a second, a sustained flood closes) and its run of bad messages
(too many in a row close). It says what to tell the client and, once, how
the socket must close; each socket sends that its own way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from ..protocol.stream import RAW_MAGIC, CloseCode, ErrorCode, ErrorData, TypeOnly
from .limits import Admission, BadMessageRun, RateLimiter, UserBudget

if TYPE_CHECKING:
    from ..settings import Settings

FLOOD_CLOSE = (CloseCode.POLICY_VIOLATION, "flood over the rate limit")
# msgspec raises RecursionError (not DecodeError) on arrays or objects nested past the
# interpreter's recursion limit; no message of ours nests deeper than five levels.
TOO_DEEP = ("the message is nested too deeply to decode (arrays or objects hundreds of levels deep); "
            "no message of this protocol nests more than five levels")
BAD_RUN_CLOSE = (CloseCode.INVALID_DATA, "too many bad messages in a row")


class MessageGuard:
    __slots__ = ("limiter", "bad", "close", "_rate_warning")

    def __init__(
        self, settings: Settings, now_ns: int, user_budget: UserBudget | None = None, *,
        rate_warning: str | None = None,
    ) -> None:
        self.limiter = RateLimiter(settings.frames_per_second, settings.frame_burst, settings.flood_window_s,
                                   settings.flood_windows, now_ns, user_budget)
        self.bad = BadMessageRun(settings.max_bad_messages)
        self.close: tuple[CloseCode, str] | None = None  # set once: close so, after the replies queued
        self._rate_warning = rate_warning or (
            f"over {settings.frames_per_second:g} messages/s (burst {settings.frame_burst}): excess messages "
            "are dropped; this warning repeats at most once a second")

    def over_rate(self, admission: Admission, user_id: str) -> ErrorData | None:
        """What to tell a client whose message was not admitted; None: nothing (it was told this second)."""
        if admission is Admission.FLOOD:
            if self.close is not None:
                return None
            self.close = FLOOD_CLOSE
            return ErrorData(ErrorCode.FLOOD, "sustained traffic over the rate limit; closing")
        if admission is Admission.DROPPED_WARN:
            return ErrorData(ErrorCode.RATE_LIMITED, self._rate_warning)
        if admission is Admission.DROPPED_USER_WARN:
            rate = self.limiter.user.rate  # type: ignore[union-attr]
            return ErrorData(
                ErrorCode.RATE_LIMITED,
                f"user {user_id!r} is over {rate:g} messages/s across all their sockets on every server: "
                "excess messages are dropped; this warning repeats at most once a second")
        return None

    def bad_message(self, code: ErrorCode, message: str) -> list[ErrorData]:
        """A message the client got wrong: its error, and the closing one when the run is too long."""
        errors = [ErrorData(code, message)]
        if self.bad.bad() and self.close is None:
            errors.append(ErrorData(ErrorCode.TOO_MANY_BAD_MESSAGES, f"{self.bad.run} bad messages in a row; closing"))
            self.close = BAD_RUN_CLOSE
        return errors


def explain_invalid(
    data: str | bytes, binary: bool, exc: msgspec.ValidationError, types: frozenset[str]
) -> tuple[ErrorCode, str]:
    """Name the problem of a message that parsed but does not fit the socket's ``types`` (error path only)."""
    try:
        kind = (msgspec.msgpack.decode if binary else msgspec.json.decode)(data, type=TypeOnly).type
    except (msgspec.ValidationError, msgspec.DecodeError):
        kind = None
    except RecursionError:  # it fit no type at its top, and nests too deeply below
        return ErrorCode.MALFORMED_MESSAGE, TOO_DEEP
    if kind not in types:
        shown = "no type" if kind is None else f"type {kind!r}"
        return ErrorCode.UNKNOWN_TYPE, f"unknown message: {shown}; expected one of {', '.join(sorted(types))}"
    text = str(exc)
    if kind == "frame_data":
        return ErrorCode.INVALID_FRAME, f"frame_data: {text}"
    if kind in ("start_session", "start_streaming_session") and "$.data.config" in text:
        return ErrorCode.INVALID_CONFIG, f"{kind}: {text}"
    return ErrorCode.INVALID_MESSAGE, f"{kind}: {text}"


def explain_malformed(data: str | bytes, binary: bool, exc: msgspec.DecodeError) -> str:
    """What is wrong with a message that does not parse."""
    if binary:
        return f"binary messages are MessagePack or raw frames starting with {RAW_MAGIC!r}: {exc}"
    text = str(exc)
    if isinstance(data, str) and ("NaN" in data or "Infinity" in data):
        text += "; NaN and Infinity are not JSON numbers (a frame must carry finite values)"
    return text
