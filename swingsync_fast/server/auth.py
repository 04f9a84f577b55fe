"""Who is calling: HS256 JWTs signed with SECRET_KEY, and where that key lives.

Claims: ``sub`` (user id), ``role`` (player | coach | admin), ``exp``. A token
comes as ``?token=`` (browsers cannot set headers on a WebSocket) or as
``Authorization: Bearer``. Without ``SECRET_KEY`` the key is read from, or
created in, a file only its owner may read, so ``serve`` and ``token`` agree.
"""

from __future__ import annotations

import enum
import logging
import os
import secrets
import stat
import time
from pathlib import Path
from typing import Protocol

import jwt
import msgspec
from starlette.requests import HTTPConnection

from .responses import HTTPError
from .settings import Settings

logger = logging.getLogger("swingsync_fast.server")

ALGORITHM = "HS256"
DEFAULT_TOKEN_TTL_S = 24 * 3600


class Role(str, enum.Enum):
    PLAYER = "player"
    COACH = "coach"
    ADMIN = "admin"


class Principal(msgspec.Struct, frozen=True):
    user_id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


class AuthError(HTTPError):
    """No, or a bad, token (401), or the token of another user (403)."""


class KeyFileError(RuntimeError):
    pass


def load_or_create_key(path: Path) -> tuple[str, bool]:
    """The signing key kept in ``path``; created (mode 0600) if missing. Returns (key, created)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key(path), False
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key, True


def read_key(path: Path) -> str:
    info = path.stat()
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"key file {path} is open to other users (mode {stat.filemode(info.st_mode)}); "
            f"run `chmod 600 {path}` or set SECRET_KEY"
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise KeyFileError(f"key file {path} belongs to another user; set SECRET_KEY instead")
    key = path.read_text().strip()
    if len(key) < 32:
        raise KeyFileError(f"key file {path} holds no usable key (need at least 32 characters)")
    return key


def resolve_secret(settings: Settings) -> tuple[str, str]:
    """The signing key and a phrase saying where it came from."""
    if settings.secret_key:
        return settings.secret_key, "SECRET_KEY"
    key, created = load_or_create_key(settings.key_file)
    return key, f"key file {settings.key_file} ({'created' if created else 'existing'}, owner-only)"


def mint_token(key: str, user_id: str, role: Role | str, ttl_s: float = DEFAULT_TOKEN_TTL_S) -> str:
    if not user_id:
        raise ValueError("a token needs a user id")
    role = Role(role)
    now = int(time.time())
    claims = {"sub": user_id, "role": role.value, "iat": now, "exp": now + int(ttl_s)}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


class TokenVerifier:
    def __init__(self, key: str) -> None:
        self._key = key

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "role"]}
            )
        except jwt.ExpiredSignatureError:
            raise AuthError(401, "token_expired", "the token has expired; get a new one") from None
        except jwt.InvalidSignatureError:
            raise AuthError(401, "bad_signature", "the token's signature does not match this server's key") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(401, "invalid_token", f"the token is not valid: {exc}") from None
        user_id, role = claims.get("sub"), claims.get("role")
        if not isinstance(user_id, str) or not user_id:
            raise AuthError(401, "invalid_token", "the token's sub claim must be a user id")
        try:
            return Principal(user_id, Role(role))
        except ValueError:
            raise AuthError(401, "invalid_token", f"the token's role {role!r} is not player, coach or admin") from None


def token_from(connection: HTTPConnection) -> str | None:
    """The bearer token of a request or socket: ``?token=`` first, then the Authorization header."""
    token = connection.query_params.get("token")
    if token:
        return token
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


class TicketRedeemer(Protocol):
    """``tickets.TicketBook``: who a one-use socket ticket was issued to, or an AuthError."""

    def redeem(self, ticket: str) -> Principal: ...


class Authenticator:
    """Checks every socket and REST call.

    ``allow_anonymous`` is the development switch: a call without a token is
    then let through as the user the path names (or "dev"), with admin rights.
    A token that is given is still verified.
    """

    def __init__(
        self, verifier: TokenVerifier, *, allow_anonymous: bool = False, tickets: TicketRedeemer | None = None
    ) -> None:
        self._verifier = verifier
        self.allow_anonymous = allow_anonymous
        self._tickets = tickets

    def authenticate(
        self, connection: HTTPConnection, path_user: str | None = None, *, ticket_ok: bool = False
    ) -> Principal:
        """The caller; with ``path_user``, the caller must be that user. With ``ticket_ok`` (the
        sockets), a ``?ticket=`` is redeemed instead of a token."""
        ticket = connection.query_params.get("ticket") if ticket_ok and self._tickets is not None else None
        if ticket:
            principal = self._tickets.redeem(ticket)  # type: ignore[union-attr]
        else:
            token = token_from(connection)
            if token is None:
                if self.allow_anonymous:
                    return Principal(path_user or "dev", Role.ADMIN)
                how = "send a token as ?token= or Authorization: Bearer"
                raise AuthError(401, "missing_token", how + (", or a ticket as ?ticket=" if ticket_ok else ""))
            principal = self._verifier.verify(token)
        if path_user is not None and principal.user_id != path_user:
            raise AuthError(403, "wrong_user", f"the token is for {principal.user_id!r}, not {path_user!r}")
        return principal


def warn_auth_disabled() -> None:
    banner = "!" * 72
    logger.warning(
        "\n%s\n  AUTHENTICATION IS DISABLED (development switch). Anyone who can reach\n"
        "  this server can stream as any user and read every session. Never run\n"
        "  like this outside a developer's machine.\n%s",
        banner,
        banner,
    )
