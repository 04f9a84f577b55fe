"""POST /api/v1/stream/tickets: a one-use socket ticket for the caller (see ``server.tickets``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..protocol.rest import SocketTicket
from ..responses import JSONResponse
from .common import caller, runtime_of


async def create_ticket(request: Request) -> Response:
    principal = caller(request)
    book = runtime_of(request).tickets
    ticket, expires_at = book.issue(principal)
    return JSONResponse(SocketTicket(ticket, principal.user_id, round(expires_at, 3), book.ttl_s), 201)
