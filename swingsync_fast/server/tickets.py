"""One-use socket tickets: for browsers, which cannot set headers on a WebSocket.

``POST /api/v1/stream/tickets`` (with a token) returns a ticket that opens
one socket as ``?ticket=`` within ``ticket_ttl_s`` (30 s), so the long-lived
token never sits in a URL. A ticket is an HS256 JWT like a token, but with
its own audience (a token verifier refuses it, since PyJWT refuses an
audience it was not told to expect) and a ``jti`` remembered once redeemed,
until the ticket would have expired anyway. One use holds per server
process: the used set is not shared between processes.
"""

from __future__ import annotations

import secrets
import time

import jwt

from .auth import ALGORITHM, AuthError, Principal, Role

AUDIENCE = "swingsync-socket-ticket"


class TicketBook:
    def __init__(self, key: str, ttl_s: float) -> None:
        self._key = key
        self.ttl_s = ttl_s
        self._used: dict[str, float] = {}  # jti -> exp, in redemption order

    def issue(self, principal: Principal, now: float | None = None) -> tuple[str, float]:
        """A new ticket for ``principal`` and when it expires (epoch seconds)."""
        now = time.time() if now is None else now
        expires_at = now + self.ttl_s
        claims = {"sub": principal.user_id, "role": principal.role.value, "aud": AUDIENCE,
                  "jti": secrets.token_urlsafe(16), "iat": int(now), "exp": expires_at}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), expires_at

    def redeem(self, ticket: str, now: float | None = None) -> Principal:
        """Who the ticket was issued to; AuthError 401 ``ticket_expired``, ``ticket_used`` or ``ticket_invalid``."""
        now = time.time() if now is None else now
        try:
            claims = jwt.decode(ticket, self._key, algorithms=[ALGORITHM], audience=AUDIENCE,
                                options={"require": ["sub", "role", "exp", "jti", "aud"]})
        except jwt.ExpiredSignatureError:
            raise AuthError(401, "ticket_expired",
                            f"the ticket has expired (tickets last {self.ttl_s:g} s); get a new one") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(401, "ticket_invalid", f"the ticket is not valid: {exc}") from None
        self._forget_expired(now)
        jti = claims["jti"]
        if jti in self._used:
            raise AuthError(401, "ticket_used", "the ticket was already used; a ticket opens one socket")
        try:
            principal = Principal(claims["sub"], Role(claims["role"]))
        except (ValueError, TypeError):
            raise AuthError(401, "ticket_invalid", "the ticket's sub or role is not valid") from None
        self._used[jti] = float(claims["exp"])
        return principal

    def _forget_expired(self, now: float) -> None:
        """Drop used tickets past their expiry: they fail as expired now, whatever the set says."""
        used = self._used
        while used:
            jti, expires_at = next(iter(used.items()))
            if expires_at > now - 1:  # PyJWT's own leeway is 0; one second of margin
                break
            del used[jti]
