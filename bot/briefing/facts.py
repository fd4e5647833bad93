"""The weekly briefing's numbers, as known when one H.4.1 is public: the balance-sheet lines
and net liquidity (level, change over the week and over 4 weeks, in $ bn), the policy rate and
the pace of its moves, the regime and whether it changed, the milestones that moved that week
and the releases of the week ahead."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

from bot.evaluate.insight import Insight
from bot.ingest.calendar import (
    NEXT_KINDS,
    RELEASE_TIMES,
    ReleaseCalendar,
    eastern,
    next_fed_business_day,
    next_release,
)
from bot.ingest.knownat import known_at
from rules import Event, RuleSet, backtest
from rules.seednumbers import Pace, pace, policy_target
from rules.units import DOLLAR_SCALES

# The balance-sheet lines, by their names in rules.yaml, in the order shown.
LINES = ("total_assets", "fed_treasuries", "reserves", "tga", "rrp")
NET_LIQUIDITY = "net_liquidity"  # total assets − TGA − reverse repos
WEEKS = (1, 4)  # the changes shown: over the week and over 4 weeks
CLOSE_DAYS = 3  # a line's value for a week: its observation within 3 days before it


def release_day(week: date) -> date:
    """The day the H.4.1 of Wednesday `week` is published (Thursday, or the next business day)."""
    return next_fed_business_day(week + timedelta(days=1))


def release_instant(week: date) -> datetime:
    """The instant (UTC) the H.4.1 of Wednesday `week` is public."""
    return eastern(release_day(week), RELEASE_TIMES["h41"])


def _series(ruleset: RuleSet, data: Mapping[str, pd.Series], name: str) -> pd.Series | None:
    """A balance-sheet line in $ bn on its observation dates (None when the rules or the data
    lack it); the unit comes from rules.yaml (H.4.1 lines in $ mn, reverse repos in $ bn)."""
    spec = ruleset.series.get(name)
    raw = data.get(spec.id) if spec is not None else None
    if spec is None or raw is None or raw.empty:
        return None
    scale = DOLLAR_SCALES.get(spec.units or "$ mn", 1e6) / 1e9
    values = pd.to_numeric(raw, errors="coerce").astype("float64").dropna().sort_index()
    values.index = pd.DatetimeIndex(values.index).normalize()
    return values * scale


def _on(series: pd.Series | None, day: date) -> float | None:
    """The observation on `day`, else the newest within CLOSE_DAYS before it."""
    if series is None:
        return None
    found = series[(series.index <= pd.Timestamp(day))
                   & (series.index >= pd.Timestamp(day - timedelta(days=CLOSE_DAYS)))]
    return float(found.iloc[-1]) if len(found) else None


@dataclass(frozen=True)
class Line:
    """One balance-sheet line for the week: its level and changes, in $ bn."""

    name: str
    level: float | None
    changes: tuple[float | None, ...]  # over each of WEEKS


def _line(name: str, values: pd.Series | None, week: date) -> Line:
    level = _on(values, week)
    changes = []
    for weeks in WEEKS:
        before = _on(values, week - timedelta(weeks=weeks))
        changes.append(None if level is None or before is None else level - before)
    return Line(name, level, tuple(changes))


def line_series(ruleset: RuleSet, data: Mapping[str, pd.Series]) -> dict[str, pd.Series]:
    """Each line of LINES and net liquidity in $ bn, by name (those the data lack left out).
    A day without reverse repos counts as none (before 2013 the facility was rarely used), as
    in rules.yaml's net_liquidity -- but not after the series' last day: unknown then."""
    found = {name: _series(ruleset, data, name) for name in LINES}
    assets, tga, rrp = found["total_assets"], found["tga"], found["rrp"]
    if assets is not None and tga is not None:
        net = assets - tga.reindex(assets.index)
        if rrp is not None:
            repos = rrp.reindex(assets.index)
            covered = repos.index <= rrp.index[-1]
            repos[covered] = repos[covered].fillna(0.0)
            net = net - repos
        found[NET_LIQUIDITY] = net.dropna()
    return {name: values for name, values in found.items() if values is not None}


def balance_lines(ruleset: RuleSet, data: Mapping[str, pd.Series], week: date) -> list[Line]:
    """Each line of LINES and net liquidity for the H.4.1 of `week`."""
    found = line_series(ruleset, data)
    return [_line(name, found.get(name), week) for name in (*LINES, NET_LIQUIDITY)]


def latest_week(data: Mapping[str, pd.Series], ruleset: RuleSet, now: datetime) -> date | None:
    """The Wednesday of the newest H.4.1 public at `now` (total assets observed that day)."""
    assets = _series(ruleset, data, "total_assets")
    if assets is None:
        return None
    weeks = [d.date() for d in assets.index if d.weekday() == 2]
    public = [w for w in weeks if release_instant(w) <= now]
    return public[-1] if public else None


@dataclass(frozen=True)
class Moved:
    """A milestone that fired or resolved in the briefing's week."""

    rule_id: str
    state: str
    day: date


@dataclass(frozen=True)
class Briefing:
    """Everything one weekly briefing says, in numbers (the words are bot/briefing/text.py)."""

    week: date  # the H.4.1's Wednesday
    published: datetime  # when it became public (UTC)
    lines: list[Line]
    rate: float | None  # the policy target (upper bound), %
    pace_6m: Pace | None
    pace_12m: Pace | None
    regime: str
    regime_before: str | None  # the week before
    moved: list[Moved]
    next_releases: list[tuple[datetime, str]]  # (UTC instant, release kind)


def announced_events(insight: Insight, calendar: ReleaseCalendar, zone: str) -> list[Event]:
    """Every transition over history with the instant it was announced (one pass, cached)."""

    def compute() -> list[Event]:
        ruleset, data = insight.ruleset, insight.data()[1]
        return backtest(ruleset, data, known=lambda d: known_at(ruleset, d, calendar),
                        zone=zone)

    found = insight.cached(("briefing_events", zone), compute)
    assert isinstance(found, list)
    return found


def next_releases(calendar: ReleaseCalendar, start: datetime) -> list[tuple[datetime, str]]:
    """The next release of each of NEXT_KINDS after `start` (the week ahead's among them), in
    time order."""
    found = [next_release(calendar, kind, start) for kind in NEXT_KINDS]
    return sorted((r.at, r.kind) for r in found if r is not None)


def briefing(insight: Insight, week: date, *, calendar: ReleaseCalendar | None = None,
             zone: str = "UTC") -> Briefing:
    """The briefing for the H.4.1 of Wednesday `week`, with what was public then."""
    calendar = calendar or ReleaseCalendar()
    ruleset, data = insight.ruleset, insight.data()[1]
    published = release_instant(week)
    day = release_day(week)
    target = policy_target(data, day)
    rate = float(target.iloc[-1]) if len(target) else None
    before = release_instant(week - timedelta(weeks=1))
    moved = [Moved(e.rule_id, str(e.state), e.date)
             for e in announced_events(insight, calendar, zone)
             if e.announced is not None and before < e.announced <= published]
    return Briefing(
        week, published, balance_lines(ruleset, data, week), rate,
        pace(target, day, 6), pace(target, day, 12),
        insight.regime(day).regime,
        insight.regime(release_day(week - timedelta(weeks=1))).regime,
        moved, next_releases(calendar, published),
    )
