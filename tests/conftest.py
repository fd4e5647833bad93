"""Shared fixtures: the real history directory, clocks, and databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings

from bot.store import Store
from tests.pg import throwaway_cluster

# CI clones the repository with shared/ beside it: <parent>/shared/data.
_DEFAULT_HISTORY = Path(__file__).resolve().parents[2] / "shared" / "data"
HISTORY = Path(os.environ.get("CYCLEWATCH_HISTORY_DIR", _DEFAULT_HISTORY))
_db_counter = itertools.count()

# Property tests draw the same examples on every run (a red CI run can be repeated exactly);
# HYPOTHESIS_PROFILE=explore draws new ones, for a campaign of one's own.
settings.register_profile("repeatable", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(scope="session")
def history_dir() -> Path:
    """../shared/data: the real FRED and Treasury history (read-only)."""
    if not (HISTORY / "fred").is_dir():
        pytest.fail(f"history data not found at {HISTORY}; set CYCLEWATCH_HISTORY_DIR")
    return HISTORY


@pytest.fixture
def now() -> datetime:
    """A fixed instant for tests that need one."""
    return datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """The throwaway cluster's admin URL (started once per test run)."""
    with throwaway_cluster() as url:
        yield url


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    name = f"t_{os.getpid()}_{next(_db_counter)}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'cyclewatch.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated store on each engine."""
    s = Store(db_url)
    yield s
    s.close()
