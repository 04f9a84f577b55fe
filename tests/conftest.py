import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "dtl-phone-swings"


@pytest.fixture(scope="session")
def realdata_dir() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real swing recordings not present at {REALDATA} (a fresh clone has no ../shared)")
    return REALDATA


# --------------------------------------------------------------------------- PostgreSQL

# An admin connection to the machine's PostgreSQL (trust auth); override for another server.
POSTGRES_ADMIN_URL = os.environ.get("SWINGSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin(sql: str) -> None:
    async def execute() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute())


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A database of this test run's own on the machine's PostgreSQL (dropped at the end): its URL."""
    name = f"swingsync_test_{uuid.uuid4().hex[:12]}"
    try:
        _admin(f'CREATE DATABASE "{name}"')
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({type(exc).__name__}: {exc}); "
                    "start one or point SWINGSYNC_TEST_POSTGRES at an admin database URL")
    yield urlunsplit(urlsplit(POSTGRES_ADMIN_URL)._replace(path=f"/{name}"))
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A fresh schema in the run's database, as a DATABASE_URL whose connections search only it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await asyncpg.connect(pg_database, timeout=3)
        try:
            await conn.execute(f'CREATE SCHEMA "{schema}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return f"{pg_database}?search_path={schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A database several server processes can share: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("pg_url")
