"""`rate_cut` on the FOMC decision day: statements published on the fake Fed feed become the
`fomc_decision` series through the fomc source; DFEDTARU (real history) confirms a day later
without a second event."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pandas as pd

from rules import RuleSet, backtest
from sources.fomc import FomcSource
from tests.fakes.fedrss import FedFeedsFake

# Every cut since the target range began (federalreserve.gov statements): decision day and
# the new range as the statement gave it.
CUTS = [
    (date(2019, 7, 31), "2 to 2-1/4"),
    (date(2019, 9, 18), "1-3/4 to 2"),
    (date(2019, 10, 30), "1-1/2 to 1-3/4"),
    (date(2020, 3, 3), "1 to 1-1/4"),
    (date(2020, 3, 15), "0 to 1/4"),
    (date(2024, 9, 18), "4-3/4 to 5"),
    (date(2024, 11, 7), "4-1/2 to 4-3/4"),
    (date(2024, 12, 18), "4-1/4 to 4-1/2"),
    (date(2025, 9, 17), "4 to 4-1/4"),
    (date(2025, 10, 29), "3-3/4 to 4"),
    (date(2025, 12, 10), "3-1/2 to 3-3/4"),
]


def _statement(day: date, target: str) -> list[str]:
    return [f"The Committee decided to lower the target range for the federal funds rate to"
            f" {target} percent."]


def test_every_cut_since_2019_fires_on_its_decision_day_with_statements(
    ruleset: RuleSet, history: dict[str, pd.Series]
) -> None:
    fed = FedFeedsFake()
    for day, target in CUTS:
        # 18:00 UTC is 2:00 pm in Washington in winter, 2:00 pm EDT lands the same day too.
        published = datetime(day.year, day.month, day.day, 18, 0, tzinfo=UTC)
        fed.add_fomc_statement(published, _statement(day, target))
    with fed.server.running(), httpx.Client(timeout=5.0) as http:
        decisions = FomcSource(fed.feeds_url, http).fetch("fomc_decision").values
    assert len(decisions) == len(CUTS)
    data = {**history, "fomc_decision": decisions}
    events = backtest(ruleset, data, since=date(2019, 1, 1), only=["rate_cut"])
    fired = [e.date for e in events if e.state == "firing"]
    assert fired == [day for day, _ in CUTS]  # the decision day, and one event per cut


def test_without_statements_the_cut_comes_the_next_day_from_fred(
    ruleset: RuleSet, history: dict[str, pd.Series]
) -> None:
    events = backtest(ruleset, history, since=date(2019, 1, 1), only=["rate_cut"])
    assert [e.date for e in events] == [day + timedelta(days=1) for day, _ in CUTS]
