"""The regime over every business day since 1990: one vectorized pass (`regime_history`)
vs the per-date function (`classify_regime`, a full evaluation as of each date).

The per-date path is timed on an evenly spaced sample and scaled to all days (every day
would take tens of minutes); `--full` runs it on every day. The answers are compared on
every date the per-date path ran.

    .venv/bin/python bench/regime.py [--data DIR] [--sample 120] [--full]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli.rules import read_data_dir  # noqa: E402
from rules import Regime, classify_regime, load_rules, regime_history  # noqa: E402

DEFAULT_DATA = Path(os.environ.get("CYCLEWATCH_HISTORY_DIR", ROOT.parent / "shared" / "data"))


def _key(r: Regime) -> tuple[object, ...]:
    gauges = tuple((c.id, c.on, c.value) for c in r.checks if c.kind == "gauge")
    return (r.regime, r.since, r.last_regime, r.last_since, r.provisional, r.reasons, gauges)


def main(argv: list[str] | None = None) -> int:
    """Run both paths and print the times, the ratio and any disagreement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rules", type=Path, default=ROOT / "rules.yaml")
    parser.add_argument("--since", type=date.fromisoformat, default=date(1990, 1, 1))
    parser.add_argument("--until", type=date.fromisoformat, default=date(2026, 10, 30))
    parser.add_argument("--sample", type=int, default=120, help="per-date calls to time")
    parser.add_argument("--full", action="store_true", help="per-date on every business day")
    args = parser.parse_args(argv)

    ruleset = load_rules(args.rules.read_text(encoding="utf-8"), str(args.rules))
    data = read_data_dir(ruleset, args.data)
    days = [d.date() for d in pd.date_range(args.since, args.until, freq="B")]

    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        many = regime_history(ruleset, data, days)
        best = min(best, time.perf_counter() - start)
    by_day = {r.as_of: r for r in many}

    step = 1 if args.full else max(1, len(days) // args.sample)
    chosen = days[::step]
    start = time.perf_counter()
    one = [classify_regime(ruleset, data, day) for day in chosen]
    per_date = (time.perf_counter() - start) / len(chosen)
    wrong = [r.as_of for r in one if _key(r) != _key(by_day[r.as_of])]

    scaled = per_date * len(days)
    print(f"business days {days[0]} .. {days[-1]}: {len(days)}")
    print(f"vectorized regime_history: {best:.2f} s for all {len(days)} days (best of 3)")
    label = "measured" if args.full else f"scaled from {len(chosen)} dates"
    print(f"per-date classify_regime: {per_date * 1000:.0f} ms a date -> {scaled:.0f} s ({label})")
    print(f"ratio: {scaled / best:.0f}x")
    print(f"disagreements on the {len(chosen)} compared dates: {len(wrong)} {wrong[:5]}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
