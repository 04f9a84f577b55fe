"""uvicorn's WebSocket protocol, offering the app its connection's transport: bounded writes, abort.

ASGI gives an app no way to see how much of what it sent is still buffered
below it. uvicorn's ``send`` returns once a message is in the transport,
and the kernel takes a few MB more for a peer that has stopped reading (its
send buffer grows on its own), so a coaching or monitor socket's queue never
ages and its 1013 never comes. A socket that must notice a stalled peer asks
for ``bound_writes``: a fixed kernel send buffer and a transport that pauses
``send`` past the same number of bytes, so what the peer has not taken
backs up into the app's own queue, where its age is seen. ``abort`` ends a
connection whose peer will not take even the close frame.

``ControlledWebSocketProtocol`` is the class for ``uvicorn.Config(ws=...)``; the
app finds the control in its scope with ``transport_control(websocket)``
(None under any other server, where both are simply not done).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

EXTENSION = "swingsync.transport"
LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() resets and drops unsent data


class TransportControl:
    """One WebSocket connection's transport, as far as the app may touch it."""

    __slots__ = ("_transport",)

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def bound_writes(self, max_bytes: int) -> None:
        """At most about ``max_bytes`` queued in the kernel for the peer (Linux books twice the
        figure, for its own overhead) and as many in the transport, past which ``send`` waits."""
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, max_bytes)
        self._transport.set_write_buffer_limits(high=max_bytes, low=max_bytes // 4)

    def abort(self) -> None:
        """Drop the connection now, with whatever is still buffered for it, in the kernel too: a
        reset, not a FIN queued behind bytes the peer will never read (the kernel would keep
        those, probing its closed window, for minutes)."""
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        self._transport.abort()


class ControlledWebSocketProtocol(WebSocketsSansIOProtocol):
    """The ``websockets-sansio`` protocol, putting a ``TransportControl`` in each socket's scope."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # set only for a handshake that goes on to the app
        if scope is not None:
            scope["extensions"][EXTENSION] = TransportControl(self.transport)


def transport_control(websocket: WebSocket) -> TransportControl | None:
    extensions = websocket.scope.get("extensions") or {}
    control = extensions.get(EXTENSION)
    return control if isinstance(control, TransportControl) else None
