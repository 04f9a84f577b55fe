"""uvicorn's WebSocket protocol, offering the app its connection's transport: bounds, backlog, abort.

ASGI gives an app no way to see how much of what it sent is still buffered
below it. uvicorn's ``send`` returns once a message is in the transport,
and the kernel takes megabytes more for a peer that has stopped reading
(its send buffer grows on its own), so a coaching or monitor socket's queue
never ages and its 1013 never comes. Through a ``TransportControl`` such a
socket can fix its kernel send buffer and its transport's high-water mark
(``bound_writes``: what a stalled peer holds), see the bytes written that
the peer has not acknowledged (``unacknowledged``: how long it lags), and
drop a peer that will not take even the close frame (``abort``).

``ControlledWebSocketProtocol`` is the class for ``uvicorn.Config(ws=...)``;
the app finds the control in its scope with ``transport_control(websocket)``
(None under any other server, where none of this is done).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

EXTENSION = "swingsync.transport"
try:
    import fcntl
    import termios
    SIOCOUTQ: int | None = termios.TIOCOUTQ  # on a TCP socket, Linux's bytes sent but not acknowledged
except (ImportError, AttributeError):  # not POSIX
    SIOCOUTQ = None
LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() resets and drops unsent data


class TransportControl:
    """One WebSocket connection's transport, as far as the app may touch it."""

    __slots__ = ("_transport", "lost")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self.lost = False  # the connection is gone: its socket's number may be another's now

    def bound_writes(self, max_bytes: int) -> None:
        """A kernel send buffer of ``max_bytes`` (Linux doubles it: about twice that of data) and
        as many in the transport, past which ``send`` waits."""
        self._setsockopt(socket.SO_SNDBUF, max_bytes)
        self._transport.set_write_buffer_limits(high=max_bytes, low=max_bytes // 4)

    def _setsockopt(self, option: int, value: int | bytes) -> None:
        sock = self._transport.get_extra_info("socket")
        if sock is not None and not self._transport.is_closing():
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, value)
            except OSError:  # already closed: nothing left to bound
                pass

    def unacknowledged(self) -> int:
        """Bytes written that the peer has not acknowledged: those in the transport, and those in
        the kernel's send queue (Linux's SIOCOUTQ; elsewhere the kernel's count as taken)."""
        if self.lost:
            return 0
        pending = self._transport.get_write_buffer_size()
        sock = self._transport.get_extra_info("socket")
        if sock is not None and SIOCOUTQ is not None:
            try:
                pending += struct.unpack("i", fcntl.ioctl(sock.fileno(), SIOCOUTQ, b"\0\0\0\0"))[0]
            except OSError:
                pass
        return pending

    def abort(self) -> None:
        """Drop the connection now, with whatever is still buffered for it, in the kernel too: a
        reset, not a FIN queued behind bytes the peer will never read (the kernel would keep
        those, probing its closed window, for minutes). A transport already closing keeps its
        FIN: its socket is no longer ours to set."""
        self._setsockopt(socket.SO_LINGER, LINGER_RESET)
        self._transport.abort()


class ControlledWebSocketProtocol(WebSocketsSansIOProtocol):
    """The ``websockets-sansio`` protocol, putting a ``TransportControl`` in each socket's scope."""

    control: TransportControl | None = None

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # set only for a handshake that goes on to the app
        if scope is not None:
            self.control = scope["extensions"][EXTENSION] = TransportControl(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.control is not None:
            self.control.lost = True
        super().connection_lost(exc)


def transport_control(websocket: WebSocket) -> TransportControl | None:
    extensions = websocket.scope.get("extensions") or {}
    control = extensions.get(EXTENSION)
    return control if isinstance(control, TransportControl) else None
