"""The historical record the regime and the milestones are judged against, and the judge.

A mechanical judge, so the sweep in docs/rules.md is counted, not eyeballed:
`python -m tests.rules.record [--data DIR] [--table]` prints the numbers (and the month-by-month
table). The record is kept apart from the rules: NBER's recession dates, the FOMC's dated
programme announcements, and the target-rate decisions themselves (FRED's DFEDTAR to
2008-12-15, DFEDTARU after: the dates of the decisions, not a model of them).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from rules import Event, RuleSet, backtest, regime_history

# NBER business-cycle dates (https://www.nber.org/research/data/us-business-cycle-expansions-
# and-contractions): the recession runs from the month after the peak to the trough month,
# as the issue states them.
RECESSIONS: tuple[tuple[date, date], ...] = (
    (date(1990, 7, 1), date(1991, 3, 31)),    # peak 1990-07, trough 1991-03
    (date(2001, 3, 1), date(2001, 11, 30)),   # peak 2001-03, trough 2001-11
    (date(2007, 12, 1), date(2009, 6, 30)),   # peak 2007-12, trough 2009-06
    (date(2020, 2, 1), date(2020, 4, 30)),    # peak 2020-02, trough 2020-04
)

# The FOMC's securities programmes, from the dates of their announcements to the end of net
# purchases or runoff (federalreserve.gov statements and implementation notes).
PURCHASES: tuple[tuple[date, date, str], ...] = (
    (date(2008, 11, 25), date(2010, 3, 31), "QE1 (agency debt and MBS; Treasuries 2009-03-18)"),
    (date(2010, 11, 3), date(2011, 6, 30), "QE2"),
    (date(2012, 9, 13), date(2014, 10, 29), "QE3 (MBS from 2012-09, Treasuries from 2013-01)"),
    (date(2019, 10, 11), date(2020, 3, 14), "bill purchases (reserve management)"),
    (date(2020, 3, 15), date(2022, 3, 9), "QE4"),
    (date(2025, 12, 10), date(2026, 12, 31), "reserve-management purchases"),
)
RUNOFF: tuple[tuple[date, date, str], ...] = (
    (date(2017, 10, 1), date(2019, 7, 31), "QT1"),
    (date(2022, 6, 1), date(2025, 11, 30), "QT2"),
)
# The start and end of every programme.
EDGES: tuple[date, ...] = tuple(day for a, b, _ in (*PURCHASES, *RUNOFF) for day in (a, b))
# Operation Twist (2011-09-21 .. 2012-12-31): the Fed lengthened its holdings without adding
# to them -- easing by intent, no purchases on net; either reading is accepted.
TWIST = (date(2011, 9, 21), date(2012, 12, 31))

# Episodes the record calls bubbles (no downturn verdict there) and market stress outside
# recessions (a downturn verdict is not an error there).
BUBBLES: tuple[tuple[date, date, str], ...] = (
    (date(1997, 1, 1), date(2000, 8, 31), "dot-com"),
    (date(2005, 6, 1), date(2007, 7, 31), "housing and credit"),
    (date(2020, 11, 1), date(2021, 12, 31), "pandemic liquidity"),
    (date(2023, 6, 1), date(2026, 10, 31), "AI"),
)
STRESS: tuple[tuple[date, date, str], ...] = (
    (date(1990, 1, 1), date(1992, 12, 31), "the 1990-91 recession and jobless recovery"),
    (date(1998, 8, 1), date(1998, 11, 30), "LTCM and Russia"),
    (date(2000, 9, 1), date(2003, 6, 30), "dot-com bust, 9/11, the 2002 bear market"),
    (date(2007, 8, 1), date(2010, 12, 31), "the financial crisis and its aftermath"),
    (date(2011, 8, 1), date(2011, 12, 31), "US downgrade and the euro crisis"),
    (date(2015, 8, 1), date(2016, 3, 31), "China devaluation and the oil bust"),
    (date(2018, 10, 1), date(2019, 1, 31), "the Q4 2018 sell-off"),
    (date(2020, 2, 1), date(2020, 12, 31), "the pandemic"),
    (date(2022, 1, 1), date(2022, 12, 31), "the 2022 bear market"),
)

POLICY = {"easing": "E", "tightening": "T", "holding": "H", "neutral": "H"}
CODES = {
    "easing_into_bubble": "EB", "easing_into_downturn": "ED", "easing_mixed": "EM",
    "tightening_into_bubble": "TB", "tightening_into_downturn": "TD", "tightening_mixed": "TM",
    "holding_into_bubble": "HB", "holding_into_downturn": "HD", "neutral": "N",
}


def _inside(day: date, spans: Sequence[tuple[date, date]] | Sequence[tuple[date, date, str]]
            ) -> bool:
    return any(span[0] <= day <= span[1] for span in spans)


def in_recession(day: date) -> bool:
    """Whether `day` is inside an NBER recession."""
    return _inside(day, RECESSIONS)


def _fred(data_dir: Path, series_id: str) -> pd.Series:
    frame = pd.read_csv(data_dir / "fred" / f"{series_id}.csv", index_col=0, parse_dates=True)
    return pd.Series(frame.iloc[:, 0].dropna())


def target_moves(data_dir: Path) -> pd.Series:
    """Every change of the fed funds target (DFEDTAR, then DFEDTARU's upper bound), by the
    date FRED shows it: +x a hike, -x a cut."""
    old = _fred(data_dir, "DFEDTAR")
    new = _fred(data_dir, "DFEDTARU")
    rate = pd.concat([old[old.index < new.index[0]], new]).sort_index()
    moves = rate.diff()
    return pd.Series(moves[moves.abs() > 1e-9])


def record_policy(day: date, moves: pd.Series) -> str:
    """E, T or H: the direction of the last target move within six months; else a purchase
    programme (E) or runoff (T) under way; else holding."""
    stamp = pd.Timestamp(day)
    recent = moves[(moves.index <= stamp) & (moves.index > stamp - pd.DateOffset(months=6))]
    if len(recent):
        return "E" if recent.iloc[-1] < 0 else "T"
    if _inside(day, PURCHASES):
        return "E"
    if _inside(day, RUNOFF):
        return "T"
    return "H"


@dataclass(frozen=True)
class Verdict:
    """The judge's reading of one month-end."""

    as_of: date
    code: str  # EB, TM, ... or ?x for undetermined
    wrong: tuple[str, ...]  # why it is wrong; () when right

    @property
    def ok(self) -> bool:
        return not self.wrong


def judge(as_of: date, regime: str, moves: pd.Series, provisional: str | None = None
          ) -> Verdict:
    """Whether a month-end's regime agrees with the record."""
    if regime == "undetermined":
        code = "?" + (CODES.get(provisional or "", "?")[0])
        return Verdict(as_of, code, ("undetermined",))
    code = CODES[regime]
    policy, condition = code[0] if code != "N" else "H", code[1:] if code != "N" else ""
    wrong = []
    expected = record_policy(as_of, moves)
    twist = TWIST[0] <= as_of <= TWIST[1] and expected == "H" and policy == "E"
    # At a programme's start or end either reading is accepted from a month before to three
    # months after: the weekly H.4.1 records holdings when trades settle, MBS up to three
    # months after the purchase (QE3's first MBS show in November 2012, QE1's last in June
    # 2010), and a quarter's change needs a quarter to turn.
    edge = any(-31 <= (as_of - day).days <= 92 for day in EDGES) and policy != {
        "E": "T", "T": "E"}.get(expected)
    if policy != expected and not twist and not edge:
        wrong.append(f"policy {policy}, record {expected}")
    recession = in_recession(as_of)
    months_in = next((12 * (as_of.year - a.year) + as_of.month - a.month
                      for a, b in RECESSIONS if a <= as_of <= b), -1)
    if recession and condition == "B":
        wrong.append("bubble in a recession")
    if recession and months_in >= 3 and condition != "D":
        wrong.append("no downturn three months into a recession")
    if condition == "D" and not recession and not _inside(as_of, STRESS):
        wrong.append("downturn outside a recession or market stress")
    if condition == "D" and _inside(as_of, BUBBLES):
        wrong.append("downturn in a bubble")
    return Verdict(as_of, code, tuple(wrong))


@dataclass(frozen=True)
class Run:
    """A run of one determined regime over consecutive weekly answers."""

    start: date  # its first week
    regime: str
    weeks: int
    end: date  # the first week of the next run (the change that ended it)


def weekly_runs(weeks: Sequence[tuple[date, str]]) -> list[Run]:
    """The runs of determined regimes (undetermined weeks are skipped, not a change)."""
    found: list[tuple[date, str, int]] = []
    for day, regime in weeks:
        if regime == "undetermined":
            continue
        if found and found[-1][1] == regime:
            found[-1] = (found[-1][0], regime, found[-1][2] + 1)
        else:
            found.append((day, regime, 1))
    ends = [f[0] for f in found[1:]] + [weeks[-1][0] if weeks else date.max]
    return [Run(a, r, n, e) for (a, r, n), e in zip(found, ends, strict=True)]


def short_runs(weeks: Sequence[tuple[date, str]], minimum: int = 3) -> list[Run]:
    """Runs shorter than `minimum` weeks, leaving out the first and last (cut by the
    sweep's ends)."""
    return [r for r in weekly_runs(weeks)[1:-1] if r.weeks < minimum]


def decided(run: Run, moves: pd.Series) -> bool:
    """Whether a decision began or ended the run: a target move or a programme's start or end
    within ten days of either change, or the six months after a move running out (policy is
    read from the last move within six months)."""
    return any(decision_near(day, moves) or decision_near(day - pd.DateOffset(months=6), moves)
               for day in (run.start, run.end))


def decision_near(day: date | pd.Timestamp, moves: pd.Series, days: int = 10) -> bool:
    """A target move or a programme's start or end within `days` of `day`."""
    stamp = pd.Timestamp(day)
    day = stamp.date()
    if ((moves.index >= stamp - pd.Timedelta(days=days))
            & (moves.index <= stamp + pd.Timedelta(days=days))).any():
        return True
    return any(abs((e - day).days) <= days for e in EDGES)


def episodes(events: Sequence[Event], rule: str) -> list[tuple[date, date | None]]:
    """(start, end) of each firing episode of `rule` (end None: still firing)."""
    out: list[tuple[date, date | None]] = []
    for e in events:
        if e.rule_id != rule:
            continue
        if e.state == "firing":
            out.append((e.date, None))
        elif out and out[-1][1] is None:
            out[-1] = (out[-1][0], e.date)
    return out


def overlaps_recession(start: date, end: date | None) -> bool:
    """Whether a firing episode is on during any recession day."""
    stop = end or date.max
    return any(start <= b and a < stop for a, b in RECESSIONS)


def _main(argv: Sequence[str] | None = None) -> int:
    from bot.cli.rules import read_data_dir, read_rules

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=os.environ.get(
        "CYCLEWATCH_HISTORY_DIR", str(Path(__file__).resolve().parents[3] / "shared" / "data")))
    parser.add_argument("--rules", default=str(Path(__file__).resolve().parents[2] / "rules.yaml"))
    parser.add_argument("--table", action="store_true", help="print the month-by-month table")
    args = parser.parse_args(argv)
    ruleset = read_rules(Path(args.rules))
    history = read_data_dir(ruleset, Path(args.data))
    report = sweep(ruleset, history, Path(args.data))
    for line in report.lines():
        print(line)
    if args.table:
        print(report.table())
    return 0


@dataclass
class Sweep:
    """The sweep's numbers."""

    verdicts: list[Verdict]
    short: list[Run]
    short_undecided: list[Run]
    years: float
    credit: list[tuple[date, date | None]]
    events: list[Event]

    @property
    def wrong(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.ok]

    def credit_per_decade(self) -> float:
        """credit_boom episodes on during a recession, per ten years of the sweep."""
        return 10 * len(self.credit_false()) / self.years

    def credit_false(self) -> list[tuple[date, date | None]]:
        """credit_boom episodes on during a recession."""
        return [ep for ep in self.credit if overlaps_recession(*ep)]

    def lines(self) -> list[str]:
        n = len(self.verdicts)
        wrong = self.wrong
        und = [v for v in wrong if v.wrong == ("undetermined",)]
        out = [
            f"months judged: {n}; wrong: {len(wrong)} ({100 * len(wrong) / n:.1f} %), "
            f"of which undetermined: {len(und)}",
            f"weekly runs shorter than 3 weeks: {len(self.short)} "
            f"({len(self.short) / self.years:.2f} a year); without a decision near: "
            f"{len(self.short_undecided)}",
            f"credit_boom episodes: {len(self.credit)}; on in a recession: "
            f"{len(self.credit_false())} ({self.credit_per_decade():.2f} a decade)",
        ]
        out += [f"  wrong {v.as_of} {v.code}: {'; '.join(v.wrong)}" for v in wrong]
        out += [f"  short run {r.start} {r.regime} ({r.weeks} wk)"
                + ("" if r not in self.short_undecided else ", no decision near")
                for r in self.short]
        out += [f"  credit_boom {a} .. {b}" for a, b in self.credit]
        return out

    def table(self) -> str:
        rows = ["| year | " + " | ".join(
            ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])
            + " |", "|---" * 13 + "|"]
        by_year: dict[int, list[str]] = {}
        for v in self.verdicts:
            mark = v.code + ("*" if not v.ok and v.wrong != ("undetermined",) else "")
            by_year.setdefault(v.as_of.year, [""] * 12)[v.as_of.month - 1] = mark
        for year, cells in sorted(by_year.items()):
            rows.append(f"| {year} | " + " | ".join(cells) + " |")
        return "\n".join(rows)


def sweep(ruleset: RuleSet, history: Mapping[str, pd.Series], data_dir: Path,
          start: str = "1990-01-01", end: str = "2026-10-31",
          events: Sequence[Event] | None = None) -> Sweep:
    """The month-end verdicts, the weekly short runs and credit_boom's episodes."""
    moves = target_moves(data_dir)
    months = [d.date() for d in pd.date_range(start, end, freq="ME")]
    answers = regime_history(ruleset, history, months)
    verdicts = [judge(r.as_of, r.regime, moves, r.provisional) for r in answers]
    weeks = [d.date() for d in pd.date_range(start, end, freq="W-FRI")]
    weekly = [(r.as_of, r.regime) for r in regime_history(ruleset, history, weeks)]
    short = short_runs(weekly)
    undecided = [r for r in short if not decided(r, moves)]
    if events is None:
        events = backtest(ruleset, dict(history))
    years = (pd.Timestamp(end) - pd.Timestamp(start)).days / 365.25
    credit = [ep for ep in episodes(events, "credit_boom")
              if (ep[1] or date.max) >= date.fromisoformat(start)]
    return Sweep(verdicts, short, undecided, years, credit, list(events))


if __name__ == "__main__":
    raise SystemExit(_main())

__all__ = ["RECESSIONS", "Run", "Sweep", "in_recession", "judge", "sweep", "target_moves"]
