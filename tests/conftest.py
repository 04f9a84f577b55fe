from pathlib import Path

import postgres
import pytest
from postgres import pg_database  # noqa: F401  (a fixture)

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "dtl-phone-swings"


@pytest.fixture(scope="session")
def realdata_dir() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real swing recordings not present at {REALDATA} (a fresh clone has no ../shared)")
    return REALDATA


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
