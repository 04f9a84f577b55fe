"""Databases of a test run's own on the machine's PostgreSQL (tests and bench use them).

``SWINGSYNC_TEST_POSTGRES`` names an admin database (default: the local server,
user ``postgres``, trust auth); each run creates a uniquely named database there,
and each test a schema in it, and the run drops its database at the end.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

ADMIN_URL = os.environ.get("SWINGSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


class Unreachable(RuntimeError):
    pass


def _execute(url: str, sql: str) -> None:
    async def execute() -> None:
        conn = await asyncpg.connect(url, timeout=3)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute())


def create_database() -> str:
    """A new, empty database: its URL. Unreachable (with the reason) when there is no server."""
    name = f"swingsync_test_{uuid.uuid4().hex[:12]}"
    try:
        _execute(ADMIN_URL, f'CREATE DATABASE "{name}"')
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError) as exc:
        raise Unreachable(
            f"PostgreSQL is not reachable at {ADMIN_URL} ({type(exc).__name__}: {exc}); "
            "start one or point SWINGSYNC_TEST_POSTGRES at an admin database URL") from None
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    _execute(ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_schema(database_url: str) -> str:
    """A fresh schema in the database: a URL whose connections search only it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    _execute(database_url, f'CREATE SCHEMA "{schema}"')
    return f"{database_url}?search_path={schema}"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A database of this test run's own (dropped at the end): its URL; the test skips without a server."""
    try:
        url = create_database()
    except Unreachable as exc:
        pytest.skip(str(exc))
    yield url
    drop_database(url)
