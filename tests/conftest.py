import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import postgres
import pytest
from live_server import LiveServer, settings_for_tests
from postgres import pg_database  # noqa: F401  (a fixture)

# The real swing clips (CSV keypoints and videos): $SWINGSYNC_REALDATA, else ../shared beside the clone.
REALDATA_ENV = "SWINGSYNC_REALDATA"
DEFAULT_REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "dtl-phone-swings"


def realdata_path() -> Path:
    return Path(os.environ[REALDATA_ENV]).expanduser() if os.environ.get(REALDATA_ENV) else DEFAULT_REALDATA


@pytest.fixture(scope="session")
def realdata_dir() -> Path:
    path = realdata_path()
    if not path.is_dir():
        pytest.skip(f"real swing recordings not present at {path}: set {REALDATA_ENV} to the folder "
                    "holding swing1_labeled.csv.gz and video/")
    if not (path / "swing1_labeled.csv.gz").is_file():
        pytest.fail(f"{REALDATA_ENV}={path} has no swing1_labeled.csv.gz: point it at the dtl-phone-swings folder")
    return path


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A fresh schema in the run's database, as a DATABASE_URL whose connections search only it."""
    return postgres.create_schema(pg_database)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A database several server processes can share: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request, tmp_path):
    """An unopened store of each kind (the server's SessionStore implementations)."""
    from swingsync_fast.server.storage.memory import MemorySessionStore
    from swingsync_fast.server.storage.postgres import PostgresSessionStore
    from swingsync_fast.server.storage.sqlite import SQLiteSessionStore

    if request.param == "memory":
        return MemorySessionStore()
    if request.param == "sqlite":
        return SQLiteSessionStore(tmp_path / "s.db")
    return PostgresSessionStore(request.getfixturevalue("pg_url"))


# --------------------------------------------------------------------------- servers


def _servers() -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def start(**settings: Any) -> LiveServer:
        started.append(LiveServer(settings_for_tests(**settings)).start())
        return started[-1]

    try:
        yield start
    finally:
        for live in started:
            live.stop()


@pytest.fixture
def serve() -> Iterator[Callable[..., LiveServer]]:
    """Start a server of this test's own: ``serve(**settings)``, overrides of ``settings_for_tests``;
    stopped after the test."""
    yield from _servers()


@pytest.fixture(scope="module")
def serve_module() -> Iterator[Callable[..., LiveServer]]:
    """The same, for servers that live as long as the module."""
    yield from _servers()


@pytest.fixture(scope="module")
def server(request, serve_module) -> LiveServer:
    """The module's server: ``settings_for_tests`` with the module's ``SERVER_SETTINGS``, if any."""
    return serve_module(**getattr(request.module, "SERVER_SETTINGS", {}))
