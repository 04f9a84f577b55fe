"""Limits on a request before any auth: the size and count of its headers, the time to send them,
and how many connections may be sending them at once.

uvicorn's httptools protocol has none of these: a 64 MB header is read
whole, and a client that never finishes its request line holds its
connection forever. ``guarded_http(settings)`` is that protocol with them,
for ``uvicorn.Config(http=...)``. A request's head (request line and
headers, WebSocket upgrades too) runs from its first byte (from the
connection's opening, for the first one) to its last header:

- more than ``max_header_bytes`` of it, or more than ``max_headers``
  headers: 431, and the connection closes;
- not complete within ``header_timeout_s``: 408, and it closes;
- a new connection while ``max_handshaking`` others are in their head:
  503, and it closes at once.

Each answer carries the error envelope as JSON. Once the head is in, the
app's own limits apply (body size, auth, sockets).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import httptools
import msgspec
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .settings import Settings

_encode = msgspec.json.Encoder().encode
LOG_EVERY_S = 60.0


class HeadLimits(msgspec.Struct, frozen=True):
    max_bytes: int
    max_headers: int
    timeout_s: float
    max_handshaking: int


class Handshaking:
    """Connections of one server now in a request's head, and the refusals so far (logged at most
    once a minute per code, so a flood cannot flood the log too)."""

    __slots__ = ("count", "refused", "_logged_at")

    def __init__(self) -> None:
        self.count = 0
        self.refused: dict[str, int] = {}  # code -> refusals since the process started
        self._logged_at: dict[str, tuple[float, int]] = {}  # code -> (when, refused then)

    def refusal(self, code: str, now: float) -> int | None:
        """Count one; the refusals since the last line for this code if one is due now, else None."""
        total = self.refused[code] = self.refused.get(code, 0) + 1
        when, then = self._logged_at.get(code, (-math.inf, 0))
        if now - when < LOG_EVERY_S:
            return None
        self._logged_at[code] = (now, total)
        return total - then


class RequestTooLarge(Exception):
    """Raised from a parser callback to stop reading: the parser turns it into a parser error."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits: HeadLimits
    handshaking: Handshaking

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = False
        self._head_bytes = 0  # bytes read while in the head (a head still arriving)
        self._head_size = 0  # the head's bytes as parsed (a head that arrived in one read)
        self._header_count = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._refusal: tuple[int, str, str] | None = None

    # ---------------------------------------------------------------- the head phase

    def _begin_head(self) -> None:
        if self._in_head:
            return
        self._in_head = True
        self._head_bytes = self._head_size = self._header_count = 0
        self.handshaking.count += 1
        self._head_timer = self.loop.call_later(self.limits.timeout_s, self._head_timed_out)

    def _end_head(self) -> None:
        if not self._in_head:
            return
        self._in_head = False
        self.handshaking.count -= 1
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(408, "request_timeout",
                         f"the request line and headers must arrive within {self.limits.timeout_s:g} s")

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._end_head()
        body = _encode({"type": "error", "data": {"code": code, "message": message}})
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-type: application/json\r\ncontent-length: ", str(len(body)).encode(),
                 b"\r\nconnection: close\r\n\r\n", body]
        self.transport.write(b"".join(head))
        self.transport.close()
        since = self.handshaking.refusal(code, time.monotonic())
        if since is not None:
            self.logger.warning("refused before the app: %d %s, %d time(s) since the last such line (the latest: %s)",
                                status, code, since, "%s:%d" % self.client if self.client else "-")

    # ---------------------------------------------------------------- the protocol

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.handshaking.count >= self.limits.max_handshaking:
            self._refuse(503, "server_busy", f"{self.limits.max_handshaking} connections are already sending "
                                             "their request; try again shortly")
            return
        self._begin_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_head()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(*self._refusal)
            else:
                self._end_head()
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        if self._in_head and self._head_bytes > self.limits.max_bytes:
            self._refuse(431, "headers_too_large",
                         f"the request line and headers may be at most {self.limits.max_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begin_head()

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        self._check_size()
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refusal = (431, "too_many_headers", f"a request may have at most {self.limits.max_headers} headers")
            raise RequestTooLarge
        self._head_size += len(name) + len(value) + 4  # ": " and CRLF
        self._check_size()
        super().on_header(name, value)

    def _check_size(self) -> None:
        """A head that arrived whole in one read is measured here, as the parser reads it."""
        if self._head_size > self.limits.max_bytes:
            self._refusal = (431, "headers_too_large",
                             f"the request line and headers may be at most {self.limits.max_bytes} bytes")
            raise RequestTooLarge

    def on_headers_complete(self) -> None:
        self._end_head()
        super().on_headers_complete()


def guarded_http(settings: Settings) -> type[GuardedHttpToolsProtocol]:
    """The protocol class for one server: its limits, and its own count of connections in their head."""
    limits = HeadLimits(settings.max_header_bytes, settings.max_headers, settings.header_timeout_s,
                        settings.max_handshaking)
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,),
                {"limits": limits, "handshaking": Handshaking()})
