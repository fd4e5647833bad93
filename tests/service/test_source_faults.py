"""A failing FRED (500s, then a garbled body) through the running service: one line when it
goes, one when it is back, retries in between, health recovers on its own, no alert."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app.service import Service
from bot.config import load_settings
from bot.runtime.scheduler import Timing
from tests.conftest import HISTORY
from tests.fakes.fred import FakeFred

RULES = """\
series:
  total_assets: {source: fred, id: WALCL, fresh: 100y}
rules:
  - id: assets_up
    title: Fed total assets rose this week
    when: "change(total_assets, 1) > 0"
"""


@pytest.fixture
def fred(history_dir: Path) -> Iterator[FakeFred]:
    with FakeFred(history_dir).running() as fake:
        yield fake


async def until(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_fred_failing_then_healing(
    fred: FakeFred, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert HISTORY.is_dir()
    caplog.set_level(logging.INFO)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    fred.fail("fredgraph", "500", times=5)
    fred.fail("fredgraph", "garbage", times=1)
    closed = "http://127.0.0.1:9"
    settings = load_settings(
        CYCLEWATCH_DB_URL=f"sqlite:///{tmp_path / 'bot.db'}", CYCLEWATCH_HTTP_ADDR="127.0.0.1:0",
        FRED_GRAPH_URL=f"{fred.url}/graph/fredgraph.csv", FRED_RATE_PER_SECOND=50,
        FISCALDATA_URL=closed, FED_FEEDS_URL=closed, TREASURY_PRESS_URL=closed,
    )
    timing = Timing.model_validate({"CYCLEWATCH_RETRY_MIN_SECONDS": 0.1,
                                    "CYCLEWATCH_RETRY_MAX_SECONDS": 0.5,
                                    "CYCLEWATCH_RELEASE_POLL_SECONDS": 0.3})
    service = Service(settings, timing, rules_path=rules,
                      clock=lambda: datetime.now(UTC))
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.started.wait(), 30)
        fred_poll = service.state.polls["fred"]
        await until(lambda: "FRED reachable again" in caplog.text, "FRED to heal")
        await until(lambda: fred_poll.last_error is None and fred_poll.last_ok_at is not None,
                    "a clean poll")
        await until(lambda: service.state.evaluations > 1, "an evaluation with the data")
        assert fred.count("fredgraph") >= 6  # every failure was retried
        lines = [r.getMessage() for r in caplog.records]
        assert sum(line.startswith("FRED unreachable") for line in lines) == 1
        assert sum(line.startswith("FRED reachable again") for line in lines) == 1
        # The garbled body is named once, as what it is, not as an outage.
        assert sum("WALCL: fredgraph.csv:1: not a FRED-format CSV" in line
                   for line in lines) == 1
        assert fred_poll.failures == 0 and fred_poll.last_error is None
        assert service.state.last_evaluation_error is None
        samples = {(s.name, s.labels.get("source")): s.value
                   for m in service.metrics.registry.collect() for s in m.samples}
        assert samples[("cyclewatch_fetch_failures_total", "fred")] >= 2
        assert samples.get(("cyclewatch_events_total", None), 0) == 0  # no false alert
    finally:
        service.request_stop()
        assert await asyncio.wait_for(task, 30) == 0
