"""What was known at an instant: the H.4.1's Wednesday level is public on Thursday at 4:30 pm
ET, a lagged monthly statistic at 8:30 am on its release day."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from bot.ingest.calendar import ReleaseCalendar
from bot.ingest.knownat import known_at, known_by
from rules import RuleSet


def test_known_by_cuts_each_series_at_its_releases(
    ruleset: RuleSet, history: Mapping[str, pd.Series]
) -> None:
    data = {k: history[k] for k in ("WALCL", "CPIAUCSL")}
    known = known_at(ruleset, data, ReleaseCalendar())
    wednesday = pd.Timestamp("2025-12-17")

    def newest(at: str) -> dict[str, pd.Timestamp]:
        seen = known_by(data, known, pd.Timestamp(at, tz="America/New_York"))
        return {k: v.index.max() for k, v in seen.items()}

    assert newest("2025-12-18 16:29")["WALCL"] < wednesday
    assert newest("2025-12-18 16:30")["WALCL"] == wednesday
    # CPI for a month is known 45 days (the rules' lag) after its date, at 8:30 am
    cpi = history["CPIAUCSL"].index
    month = cpi[cpi >= pd.Timestamp("2025-01-01")][0]
    release = (month + pd.Timedelta(days=45)).strftime("%Y-%m-%d")
    assert newest(f"{release} 08:29")["CPIAUCSL"] < month
    assert newest(f"{release} 08:30")["CPIAUCSL"] == month
