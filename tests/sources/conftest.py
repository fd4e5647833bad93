"""Fixtures for the FRED data path: the fake FRED server and sources pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from sources.fred import FredSource
from tests.fakes.fred import API_KEY, FakeFred


@pytest.fixture
def fred(history_dir: Path) -> Iterator[FakeFred]:
    """A running fake FRED serving the real history; its "today" is after the last row."""
    with FakeFred(history_dir, today=date(2026, 11, 20)).running() as fake:
        yield fake


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """An httpx client for the keyless path (closed after the test)."""
    with httpx.Client(timeout=5.0) as client:
        yield client


def make_source(fake: FakeFred, http: httpx.Client, *, keyed: bool, **options: float) -> FredSource:
    """A FredSource against the fake, with fast backoff for tests."""
    settings: dict[str, float] = {
        "timeout": 5.0,
        "rate": 2.0,
        "backoff": 0.05,
        "max_backoff": 0.2,
        **options,
    }
    return FredSource(
        api_key=API_KEY if keyed else None,
        api_url=f"{fake.url}/fred",
        graph_url=f"{fake.url}/graph/fredgraph.csv",
        http=http,
        timeout=settings["timeout"],
        rate=settings["rate"],
        attempts=int(settings.get("attempts", 5)),
        backoff=settings["backoff"],
        max_backoff=settings["max_backoff"],
    )
