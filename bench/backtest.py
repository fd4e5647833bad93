"""Full-history backtest of the default rules vs a date-by-date replay through the live path.

Both run here, side by side, on the same data: the backtest computes every rule over all of
history in one vectorized pass; the replay calls `rules.evaluate` once per H.4.1 week (what the
bot does as data arrive), carrying the JSON states. Prints both times and the ratio, and checks
that both paths find the same transitions in the replayed span.

    .venv/bin/python bench/backtest.py [--data DIR] [--since 2024-01-01] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli.rules import read_data_dir  # noqa: E402
from rules import RuleSet, backtest, evaluate, load_rules  # noqa: E402

DEFAULT_DATA = Path(os.environ.get("CYCLEWATCH_HISTORY_DIR", ROOT.parent / "shared" / "data"))


def load(ruleset: RuleSet, data_dir: Path) -> dict[str, pd.Series]:
    """Every input the directory holds (FRED files and the csv series), as the CLI reads it."""
    return read_data_dir(ruleset, data_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rules", type=Path, default=ROOT / "rules.yaml")
    parser.add_argument("--since", type=date.fromisoformat, default=date(2024, 1, 1))
    parser.add_argument("--quick", action="store_true", help="replay only 4 weeks (smoke test)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N backtest runs")
    args = parser.parse_args(argv)

    ruleset = load_rules(args.rules.read_text(encoding="utf-8"), str(args.rules))
    data = load(ruleset, args.data)
    # Replay through the newest H.4.1 week (some series, e.g. CBO's NROU, run into the future).
    newest = (
        data["WALCL"].index.max() if "WALCL" in data else max(s.index.max() for s in data.values())
    )

    timings = []
    for _ in range(max(1, args.repeat)):
        start = time.perf_counter()
        events = backtest(ruleset, data)
        timings.append(time.perf_counter() - start)
    full = min(timings)

    days = pd.date_range(pd.Timestamp(args.since), newest, freq="W-THU")
    if args.quick:
        days = days[:4]
    states: dict[str, dict[str, object]] = {}
    start = time.perf_counter()
    _, states, _ = evaluate(ruleset, data, states, (days[0] - pd.Timedelta(days=7)).date())
    live = []
    for day in days:
        found, states, _ = evaluate(ruleset, data, states, day.date())
        states = json.loads(json.dumps(states))
        live += [(e.rule_id, e.state, e.date) for e in found]
    replay = time.perf_counter() - start
    span_end = days[-1].date()
    expected = [
        (e.rule_id, e.state, e.date)
        for e in events
        if days[0].date() - pd.Timedelta(days=6).to_pytimedelta() <= e.date <= span_end
    ]
    same = sorted(live) == sorted(expected)
    per_date = replay / len(days)
    full_replay_estimate = per_date * len(pd.date_range("2003-01-02", newest, freq="W-THU"))

    print(
        f"rules: {len(ruleset.rules)}, series: {len(data)}, transitions over history: {len(events)}"
    )
    print(f"backtest, full history, one pass:   {full * 1000:8.1f} ms (best of {len(timings)})")
    print(
        f"live replay, {len(days):4d} weekly evaluations: {replay * 1000:8.1f} ms "
        f"({per_date * 1000:.1f} ms per date)"
    )
    print(f"ratio (replay of {len(days)} weeks / full backtest): {replay / full:8.1f}x")
    print(
        f"ratio (estimated full-history weekly replay / backtest): "
        f"{full_replay_estimate / full:8.1f}x"
    )
    print(f"same transitions in the replayed span: {same} ({len(live)} events)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
