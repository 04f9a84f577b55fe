from pathlib import Path

import pytest

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "dtl-phone-swings"


@pytest.fixture(scope="session")
def realdata_dir() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real swing recordings not present at {REALDATA} (a fresh clone has no ../shared)")
    return REALDATA
