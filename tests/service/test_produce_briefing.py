"""The producer records the weekly briefing after each evaluation (`Producer.briefings`): a
briefing recorded wakes delivery; a briefing that fails is logged, and the evaluation stands."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from tests.service.test_produce import NOW, producer


def test_a_recorded_briefing_wakes_delivery(tmp_path: Path) -> None:
    made, _poll, store, woken = producer(tmp_path, [1, 2, 3])
    asked: list[datetime] = []

    def record(now: datetime) -> int:
        asked.append(now)
        return 1

    made.briefings = record
    assert asyncio.run(made.evaluate(NOW))
    assert asked == [NOW] and "deliver" in woken
    store.close()


def test_a_failing_briefing_leaves_the_evaluation_standing(tmp_path: Path) -> None:
    made, _poll, store, _woken = producer(tmp_path, [1, 2, 3])

    def broken(now: datetime) -> int:
        raise RuntimeError("no chart today")

    made.briefings = broken
    assert asyncio.run(made.evaluate(NOW))
    assert made.state.last_evaluation_error is None and made.state.evaluations == 1
    store.close()
