"""Server settings: embedded defaults, overridable from the environment or in code.

Every limit and timeout the server enforces lives here, so tests can run a
real server with short timeouts and operators can tune one through
``SWINGSYNC_*`` variables without touching code.
"""

from __future__ import annotations

import os
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Union, get_args, get_origin

import msgspec

ENV_PREFIX = "SWINGSYNC_"
# The web app's sources and its npm-installed pose assets: ``web/`` beside the package.
DEFAULT_WEB_DIR = Path(__file__).resolve().parents[2] / "web"
# These come from their conventional variables only, never SWINGSYNC_*.
_CONVENTIONAL = {"secret_key": "SECRET_KEY", "gemini_api_key": "GEMINI_API_KEY", "database_url": "DATABASE_URL",
                 "redis_url": "REDIS_URL"}
# A setting that must be above zero, checked at construction whatever it came from.
Positive = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(gt=0)]
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    # Auth. ``secret_key`` None means: read or create ``key_file`` (owner-only).
    secret_key: str | None = None
    key_file: Path = Path(".secret_key")
    # A socket ticket (POST /api/v1/stream/tickets) opens one socket within this many seconds.
    ticket_ttl_s: Positive = 30.0
    # Development only: accept sockets and REST calls without a token. Logged loudly.
    dev_no_auth: bool = False

    # Messages. Above max_message_bytes a message gets an error and is not read;
    # the WebSocket layer itself drops the connection (1009) above 16 times that.
    max_message_bytes: PositiveInt = 64 * 1024
    # Per connection token bucket: sustained rate and burst, in messages.
    frames_per_second: Positive = 60.0
    frame_burst: PositiveInt = 90
    # Per user, over all their main sockets on every server process (shared over the bus, so it
    # holds within about USER_PERIOD_S); None: no per-user limit.
    user_frames_per_second: Positive | None = None
    # Flood: this many consecutive windows, each dropping at least
    # frames_per_second * flood_window_s messages, close the socket with 1008.
    flood_window_s: Positive = 1.0
    flood_windows: PositiveInt = 3
    # A run of this many bad messages in a row closes the socket with 1007.
    max_bad_messages: PositiveInt = 50

    # A request's head (request line and headers), before any auth (http_guard.py): its size
    # (431), its header count (431), the time to send it (408), and how many connections may be
    # sending one at once (503 to more).
    max_header_bytes: PositiveInt = 32 * 1024
    max_headers: PositiveInt = 100
    header_timeout_s: Positive = 10.0
    max_handshaking: PositiveInt = 500

    # Connections.
    max_connections_per_user: PositiveInt = 5
    max_connections: PositiveInt = 10_000
    # No message at all for this long closes the socket (4408).
    idle_timeout_s: Positive = 120.0
    # WebSocket protocol pings: a peer that does not answer in time is dropped.
    ping_interval_s: Positive = 20.0
    ping_timeout_s: Positive = 20.0
    # On shutdown, how long live sockets get to flush before the process stops waiting.
    shutdown_grace_s: Positive = 5.0

    # The web app served at /app/: ``web_dir/app`` (pages), ``web_dir/node_modules`` (npm assets).
    web_dir: Path = DEFAULT_WEB_DIR

    # Where sessions, swings, messages and feedback are kept (DATABASE_URL): sqlite:///PATH,
    # postgresql://USER@HOST:PORT/DB, or memory:// (nothing survives the process).
    database_url: str = "sqlite:///./swingsync.db"
    # Queued writes (swing summaries, recorded frames, feedback) are in the database within this
    # of their arrival, so a kill -9 loses at most this much: half to hand them to the store,
    # half for the store to commit (checkpoints.py).
    database_flush_interval_s: Positive = 0.25
    # A live session's figures are checkpointed this often (when they changed), so a session its
    # crashed server never ended keeps its stats.
    stats_checkpoint_s: Positive = 1.0
    # Several processes on one database: each writes a heartbeat this often; the active sessions
    # of a process silent for database_server_timeout_s are ended (server_restart) by the others.
    database_heartbeat_s: Positive = 5.0
    database_server_timeout_s: float = 20.0
    # PostgreSQL: queued writes held while the database is unreachable; beyond, new ones are dropped.
    database_queue_limit: PositiveInt = 10_000
    # Sessions created over REST and not started: at most this many per user (more: 429
    # too_many_sessions); ended as ``expired`` once this old (checked every sweep interval).
    max_unstarted_sessions_per_user: PositiveInt = 50
    unstarted_session_ttl_s: Positive = 24 * 3600.0
    unstarted_sweep_interval_s: Positive = 60.0
    # With memory://, ended sessions kept for GET (oldest dropped first).
    ended_sessions_kept: PositiveInt = 10_000

    # The bus between server processes (REDIS_URL, e.g. redis://127.0.0.1:6379/0). None: this
    # process alone, no Redis needed; required for more than one worker or machine.
    redis_url: str | None = None

    # POST /api/v1/analyze: frames per upload, and the body's size.
    max_analyze_frames: PositiveInt = 10_000
    max_analyze_bytes: PositiveInt = 48 * 1024 * 1024

    # POST /api/v1/analyze/video: pose runs in video_workers processes (a core each while they
    # work), with at most video_queue more uploads waiting; beyond that, 429 with Retry-After.
    video_workers: PositiveInt = 1
    video_queue: int = 4
    max_video_bytes: PositiveInt = 100 * 1024 * 1024
    max_video_seconds: Positive = 60.0
    # Finished jobs kept for GET /api/v1/jobs/{job_id} (oldest dropped first).
    video_jobs_kept: PositiveInt = 1000

    # Coaching and monitor sockets send through a bounded queue each: a message that finds
    # it full is dropped (counted); a consumer whose oldest message not yet acknowledged by its
    # TCP (queued, or sent) has waited slow_consumer_s is closed with 1013 (counted), so it
    # never delays anyone else.
    outlet_queue: PositiveInt = 256
    slow_consumer_s: Positive = 5.0
    # Below each such queue, the socket's kernel send buffer (doubled by Linux) and its
    # transport hold at most about this many bytes each: what a peer that stops reading holds
    # there, rather than the MBs the kernel would grow its buffer to (ws_transport.py).
    outlet_send_buffer_bytes: PositiveInt = 32 * 1024
    # Coaching messages replayed to a member who joins.
    coaching_history: PositiveInt = 50
    # analysis_result messages mirrored to a coach per second and student, unless the coach asks
    # for another rate (?mirror_fps=, at most 30).
    mirror_fps: Positive = 5.0
    # performance_metrics on the monitor socket, unless the client asks (?interval=, 0.1 to 60 s).
    monitor_interval_s: Positive = 1.0
    # GET /metrics in Prometheus' text format, without a token; off: 404.
    metrics_enabled: bool = True

    # Feedback lane. ``gemini_api_key`` (from GEMINI_API_KEY) None: OfflineCoach only,
    # no network. ``gemini_base_url`` None: google-genai's default, which itself honours
    # GOOGLE_GEMINI_BASE_URL. ``gemini_api_version`` None: google-genai's default.
    gemini_api_key: str | None = None
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str | None = None
    gemini_api_version: str | None = "v1beta"
    # Gemini's thinking budget in tokens: 0 = off (first piece sooner), -1 = the model decides.
    gemini_thinking_budget: int = 0
    # Run the model's client in a child process (its CPU work and garbage stay off the event
    # loop); False runs it in the server process (platforms without Unix socket pairs).
    feedback_model_process: bool = True
    feedback_workers: PositiveInt = 4
    feedback_max_queued: PositiveInt = 1024
    feedback_first_piece_timeout_s: Positive = 4.0
    feedback_total_timeout_s: Positive = 20.0
    feedback_retries: int = 2
    feedback_retry_backoff_s: Positive = 0.25
    feedback_rate_per_minute: Positive = 6.0
    feedback_rate_burst: PositiveInt = 3
    feedback_breaker_failures: PositiveInt = 3
    feedback_breaker_cooldown_s: Positive = 30.0

    def __post_init__(self) -> None:
        for field in msgspec.structs.fields(self):
            value = getattr(self, field.name)
            if value is not None and _must_be_positive(field.type) and not value > 0:
                raise ValueError(f"setting {field.name} must be positive, got {value!r}")
        if self.mirror_fps > 30:
            raise ValueError(f"setting mirror_fps may be at most 30, got {self.mirror_fps!r}")
        if not self.database_server_timeout_s > 2 * self.database_heartbeat_s:
            raise ValueError(
                f"setting database_server_timeout_s ({self.database_server_timeout_s!r}) must exceed twice "
                f"database_heartbeat_s ({self.database_heartbeat_s!r}): one late beat must not end live sessions")
        if self.video_queue < 0:
            raise ValueError(f"setting video_queue must not be negative, got {self.video_queue!r}")
        if self.feedback_retries < 0:
            raise ValueError(f"setting feedback_retries must not be negative, got {self.feedback_retries!r}")

    @property
    def protocol_max_bytes(self) -> int:
        """The WebSocket layer's hard cap: far above the app's limit, so an oversized message still gets an error."""
        return 16 * self.max_message_bytes

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then ``SECRET_KEY``, ``GEMINI_API_KEY``, ``DATABASE_URL``, ``REDIS_URL`` and
        ``SWINGSYNC_<FIELD>`` variables, then ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, variable in _CONVENTIONAL.items():
            if env.get(variable):
                values[name] = env[variable]
        for field in msgspec.structs.fields(cls):
            raw = env.get(ENV_PREFIX + field.name.upper())
            if raw is not None and field.name not in _CONVENTIONAL:
                values[field.name] = _parse(field.name, field.type, raw)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _must_be_positive(kind: object) -> bool:
    """``Positive``, ``PositiveInt``, or either or None."""
    if get_origin(kind) in (Union, types.UnionType):
        return any(_must_be_positive(arg) for arg in get_args(kind))
    return get_origin(kind) is Annotated and any(
        isinstance(meta, msgspec.Meta) and meta.gt == 0 for meta in get_args(kind)[1:])


def _bare(kind: object) -> object:
    """The type without its constraints: ``Positive | None`` is ``float | None``."""
    if get_origin(kind) is Annotated:
        return get_args(kind)[0]
    if get_origin(kind) in (Union, types.UnionType):
        return Union[tuple(_bare(arg) for arg in get_args(kind))]  # noqa: UP007 (built at run time)
    return kind


def _parse(name: str, kind: object, raw: str) -> object:
    kind = _bare(kind)
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
        if kind == float | None:
            return None if word.lower() in ("", "none") else float(word)
        if kind is Path:
            return Path(word)
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}{name.upper()}={raw!r}: {exc}") from None
    return word
