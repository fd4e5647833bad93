"""Which dates the data can answer, decided from the data's first and last dates alone, so a
date outside them is refused in a line instead of computed.

Before the first observation of any input nothing is known. After a series' newest
observation the rules still read it for its freshness window (its `fresh:` when the file
gives one, else at most `REACH_DEFAULT` past its lag: longer than any window the engine
infers, a year and two months for a yearly series); once every input's window has passed,
every rule is stale and the answer says nothing the data hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from bot.evaluate.insight import Insight
from rules import RuleSet
from rules.model import duration_days

REACH_DEFAULT = timedelta(days=2 * 366)


@dataclass(frozen=True)
class Answerable:
    """The dates the data can answer: `first` to `until`, both included."""

    first: date
    until: date

    def refuses(self, as_of: date) -> bool:
        """Whether `as_of` is outside what the data can answer."""
        return not self.first <= as_of <= self.until


def answerable(spans: Mapping[str, tuple[date, date, timedelta]]) -> Answerable | None:
    """From each series' (first date, last date, how long it is read after its last date):
    the earliest first date to the latest last date plus its reach; None without series."""
    if not spans:
        return None
    first = min(start for start, _, _ in spans.values())
    until = max(end + reach for _, end, reach in spans.values())
    return Answerable(first, until)


def reach_of(ruleset: RuleSet, series_id: str) -> timedelta:
    """How long after its newest observation the rules still read a series."""
    spec = next((i.spec for i in ruleset.inputs if i.id == series_id), None)
    if spec is not None and spec.fresh:
        return timedelta(days=duration_days(spec.fresh))
    lag = duration_days(spec.lag) if spec is not None and spec.lag else 0
    return REACH_DEFAULT + timedelta(days=lag)


def data_answerable(ruleset: RuleSet, data: Mapping[str, pd.Series]) -> Answerable | None:
    """What `data` (input series by id) can answer for `ruleset`; None when it holds none."""
    spans = {}
    for series_id, values in data.items():
        index = values.dropna().index
        if len(index):
            spans[series_id] = (index.min().date(), index.max().date(),
                                reach_of(ruleset, series_id))
    return answerable(spans)


def insight_answerable(insight: Insight) -> Answerable | None:
    """What the Insight's data can answer, cached per data version (cheap after the first)."""
    found = insight.cached(("answerable",),
                           lambda: data_answerable(insight.ruleset, insight.data()[1]))
    assert found is None or isinstance(found, Answerable)
    return found


__all__ = ["REACH_DEFAULT", "Answerable", "answerable", "data_answerable",
           "insight_answerable", "reach_of"]
