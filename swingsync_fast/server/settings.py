"""Server settings: embedded defaults, overridable from the environment or in code.

Every limit and timeout the server enforces lives here, so tests can run a
real server with short timeouts and operators can tune one through
``SWINGSYNC_*`` variables without touching code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

ENV_PREFIX = "SWINGSYNC_"
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    # Auth. ``secret_key`` None means: read or create ``key_file`` (owner-only).
    secret_key: str | None = None
    key_file: Path = Path(".secret_key")
    # Development only: accept sockets and REST calls without a token. Logged loudly.
    dev_no_auth: bool = False

    # Messages. Above max_message_bytes a message gets an error and is not read;
    # the WebSocket layer itself drops the connection (1009) above 16 times that.
    max_message_bytes: int = 64 * 1024
    # Per connection token bucket: sustained rate and burst, in messages.
    frames_per_second: float = 60.0
    frame_burst: int = 90
    # Flood: this many consecutive windows, each dropping at least
    # frames_per_second * flood_window_s messages, close the socket with 1008.
    flood_window_s: float = 1.0
    flood_windows: int = 3
    # A run of this many bad messages in a row closes the socket with 1007.
    max_bad_messages: int = 50

    # Connections.
    max_connections_per_user: int = 5
    max_connections: int = 10_000
    # No message at all for this long closes the socket (4408).
    idle_timeout_s: float = 120.0
    # WebSocket protocol pings: a peer that does not answer in time is dropped.
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 20.0
    # On shutdown, how long live sockets get to flush before the process stops waiting.
    shutdown_grace_s: float = 5.0

    # Ended sessions kept in memory for GET (oldest dropped first).
    ended_sessions_kept: int = 10_000

    def __post_init__(self) -> None:
        positive = {
            "max_message_bytes": self.max_message_bytes,
            "frames_per_second": self.frames_per_second,
            "frame_burst": self.frame_burst,
            "flood_window_s": self.flood_window_s,
            "flood_windows": self.flood_windows,
            "max_bad_messages": self.max_bad_messages,
            "max_connections_per_user": self.max_connections_per_user,
            "max_connections": self.max_connections,
            "idle_timeout_s": self.idle_timeout_s,
            "ping_interval_s": self.ping_interval_s,
            "ping_timeout_s": self.ping_timeout_s,
            "shutdown_grace_s": self.shutdown_grace_s,
            "ended_sessions_kept": self.ended_sessions_kept,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"setting {name} must be positive, got {value!r}")

    @property
    def protocol_max_bytes(self) -> int:
        """The WebSocket layer's hard cap: far above the app's limit, so an oversized message still gets an error."""
        return 16 * self.max_message_bytes

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then ``SECRET_KEY`` and ``SWINGSYNC_<FIELD>`` variables, then ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if env.get("SECRET_KEY"):
            values["secret_key"] = env["SECRET_KEY"]
        for field in msgspec.structs.fields(cls):
            raw = env.get(ENV_PREFIX + field.name.upper())
            if raw is not None and field.name != "secret_key":
                values[field.name] = _parse(field.name, field.type, raw)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _parse(name: str, kind: object, raw: str) -> object:
    word = raw.strip()
    try:
        if kind is bool:
            lowered = word.lower()
            if lowered in TRUE_WORDS:
                return True
            if lowered in FALSE_WORDS:
                return False
            raise ValueError("expected true or false")
        if kind is int:
            return int(word)
        if kind is float:
            return float(word)
        if kind is Path:
            return Path(word)
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}{name.upper()}={raw!r}: {exc}") from None
    return word
