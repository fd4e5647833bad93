"""One engine, two uses: three months of the live service's own evaluation, day by day on an
injected clock over a store holding all of the real history (the future included), find
exactly the transitions the one pass over history announces in that span — same rule,
state, date, value, as-of day and announcement instant."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from bot.evaluate.evaluator import LiveEvaluator
from bot.evaluate.reload import RulesHolder
from bot.ingest.calendar import ReleaseCalendar
from bot.ingest.knownat import known_at
from bot.runtime.metrics import Metrics
from bot.store import Store
from rules import Event, RuleSet, backtest
from sources.base import Fetched, Vintage
from tests.conftest import RULES_FILE

ZONE = "America/New_York"
FIRST, LAST = date(2025, 11, 1), date(2026, 1, 31)


def described(events: list[Event]) -> list[tuple[Any, ...]]:
    return sorted((e.rule_id, str(e.state), e.date, e.value, e.as_of, e.announced)
                  for e in events)


@pytest.mark.slow  # 93 live evaluations of every rule over the real data (~40 s idle)
@pytest.mark.timeout(1200)  # a hang guard with room for a saturated machine
def test_a_day_by_day_live_loop_finds_what_the_pass_announces(
    sqlite_url: str, ruleset: RuleSet, history: Mapping[str, pd.Series]
) -> None:
    store = Store(sqlite_url)
    for series_id, values in history.items():
        store.record("files", Fetched(series_id, values), datetime(2026, 11, 1, tzinfo=UTC))
    holder = RulesHolder(RULES_FILE)
    holder.load()
    released = partial(known_at, calendar=ReleaseCalendar())
    live = LiveEvaluator(store, holder, metrics=Metrics(), timezone=ZONE, released=released)
    zone = ZoneInfo(ZONE)
    start = datetime.combine(FIRST, time(0, 0), tzinfo=zone)
    live.keep(live.find(start), 0, start)  # the baseline: history before is not announced
    found: list[Event] = []
    day = FIRST
    while day <= LAST:
        now = datetime.combine(day, time(23, 59), tzinfo=zone)
        result = live.find(now)
        live.keep(result, 0, now)
        found += result.events
        day += timedelta(days=1)
    store.close()

    end = datetime.combine(LAST + timedelta(days=1), time(0, 0), tzinfo=zone)
    announced = [e for e in backtest(ruleset, history, known=lambda d: released(ruleset, d),
                                     zone=ZONE)
                 if e.date > FIRST and e.announced is not None and start < e.announced <= end]
    assert announced  # the span's alerts are pinned in tests/cli/test_replay.py
    assert described(found) == described(announced)
    # the stored series are read again only when they have new rows: here, never
    assert live.frames.reads == len({i.id for i in ruleset.inputs})


SYNTHETIC_RULES = """\
series:
  x: {source: fred, id: TESTD, fresh: 100y}
rules:
  - id: x_high
    title: Synthetic series above 10
    when: "x > 10"
"""


def synthetic_live(store: Store, tmp_path: Path) -> LiveEvaluator:
    """The live evaluator of one synthetic rule over `store`, with the release calendar."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(SYNTHETIC_RULES)
    holder = RulesHolder(rules)
    holder.load()
    return LiveEvaluator(store, holder, metrics=Metrics(), timezone=ZONE,
                         released=partial(known_at, calendar=ReleaseCalendar()))


def _daily(last: str, values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.bdate_range(end=last, periods=len(values)))


def test_a_value_fetched_before_its_release_time_is_announced_when_fetched(
    sqlite_url: str, tmp_path: Path
) -> None:
    store = Store(sqlite_url)
    live = synthetic_live(store, tmp_path)
    evening = datetime(2026, 6, 16, 22, 0, tzinfo=UTC)  # after the 4:30 pm ET release
    store.record("fred", Fetched("TESTD", _daily("2026-06-16", [5.0] * 30)), evening)
    live.keep(live.find(evening), 0, evening)
    early = datetime(2026, 6, 17, 18, 0, tzinfo=UTC)  # 2 pm ET: before the calendar's 4:30
    store.record("fred", Fetched("TESTD", _daily("2026-06-17", [5.0] * 30 + [11.0])), early)
    found = live.find(early)
    assert [(e.rule_id, e.date, e.announced) for e in found.events] == [
        ("x_high", date(2026, 6, 17), early)]
    store.close()


def test_a_value_is_not_judged_before_its_release_time(sqlite_url: str, tmp_path: Path) -> None:
    store = Store(sqlite_url)
    live = synthetic_live(store, tmp_path)
    loaded = datetime(2026, 11, 1, tzinfo=UTC)  # a store holding what came later too
    store.record("fred", Fetched("TESTD", _daily("2026-06-17", [5.0] * 30 + [11.0])), loaded)
    base = datetime(2026, 6, 16, 22, 0, tzinfo=UTC)
    live.keep(live.find(base), 0, base)
    noon = datetime(2026, 6, 17, 16, 0, tzinfo=UTC)  # noon ET: the day's value not yet public
    assert live.find(noon).events == ()
    release = datetime(2026, 6, 17, 20, 30, tzinfo=UTC)  # 4:30 pm EDT
    assert [e.announced for e in live.find(release).events] == [release]
    store.close()


def test_a_release_the_publisher_dates_later_is_judged_when_it_came_out(
    sqlite_url: str, tmp_path: Path
) -> None:
    """ALFRED's realtime start is the known-at: a delayed release (as in the 2025 shutdown) is
    judged on the day the publisher gives, at the calendar's hour, not when it was expected."""
    store = Store(sqlite_url)
    live = synthetic_live(store, tmp_path)
    before = _daily("2026-06-16", [5.0] * 30)
    after = _daily("2026-06-17", [5.0] * 30 + [11.0])
    vintages = (Vintage(date(2026, 6, 16), before), Vintage(date(2026, 6, 19), after))
    loaded = datetime(2026, 11, 1, tzinfo=UTC)  # backfilled later, with its vintages
    store.record("fred", Fetched("TESTD", after, realtime_start=date(2026, 6, 19),
                                 vintages=vintages), loaded)
    base = datetime(2026, 6, 16, 22, 0, tzinfo=UTC)
    live.keep(live.find(base), 0, base)
    expected = datetime(2026, 6, 17, 20, 30, tzinfo=UTC)  # the calendar's 4:30 pm EDT
    assert live.find(expected).events == ()
    came_out = datetime(2026, 6, 19, 20, 30, tzinfo=UTC)
    assert live.find(came_out - timedelta(minutes=1)).events == ()
    assert [(e.date, e.announced) for e in live.find(came_out).events] == [
        (date(2026, 6, 17), came_out)]
    store.close()
