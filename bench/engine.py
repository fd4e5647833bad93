"""The one-pass engine, side by side in one run on ../shared/data (CPU seconds of this process):

1. the full-history pass (`rules.backtest` with release instants), best of N;
2. `cyclewatch replay` of 3 months (2025-11-01..2026-01-31), in process, console output
   discarded: read the data, the pass, the outbox and the console notifier;
3. one live evaluation (`LiveEvaluator.find`) the day after the previous one, over a store
   holding the real history, with the states five days of evaluations left (the service's
   steady state: a rule skipped at its first evaluation has its history read at the second),
   the same when each daily series has a new row in the store (a weekday's: what is kept
   between evaluations for such a series is worked out again), and the same evaluation over all
   history (`window=False`) for comparison.

    .venv/bin/python bench/engine.py [--data DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as clock_time
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli.replay import Replay  # noqa: E402
from bot.cli.rules import read_data_dir  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.evaluate.evaluator import LiveEvaluator  # noqa: E402
from bot.evaluate.reload import RulesHolder  # noqa: E402
from bot.ingest.calendar import ReleaseCalendar  # noqa: E402
from bot.ingest.knownat import known_at  # noqa: E402
from bot.runtime.metrics import Metrics  # noqa: E402
from bot.store import Store  # noqa: E402
from rules import backtest, evaluate, load_rules  # noqa: E402
from sources.base import Fetched  # noqa: E402

DEFAULT_DATA = Path(os.environ.get("CYCLEWATCH_HISTORY_DIR", ROOT.parent / "shared" / "data"))
ZONE = "America/New_York"


def cpu(fn: Callable[[], object], repeat: int) -> float:
    """The best CPU time of `repeat` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rules_path = ROOT / "rules.yaml"
    ruleset = load_rules(rules_path.read_text(encoding="utf-8"), str(rules_path))
    data = read_data_dir(ruleset, args.data)
    released = partial(known_at, calendar=ReleaseCalendar())
    released(ruleset, data)  # the holiday tables, once

    full = cpu(lambda: backtest(ruleset, data, known=lambda d: released(ruleset, d),
                                zone=ZONE), args.repeat)

    with tempfile.TemporaryDirectory() as scratch:
        settings = load_settings(CYCLEWATCH_DB_URL=f"sqlite:///{scratch}/live.db",
                                 CYCLEWATCH_RULES=rules_path, CYCLEWATCH_LOG_LEVEL="ERROR")

        def replay() -> None:
            url = f"sqlite:///{tempfile.mktemp(dir=scratch, suffix='.db')}"
            with contextlib.redirect_stdout(io.StringIO()):
                asyncio.run(Replay(settings, args.data, url, False).run(
                    date(2025, 11, 1), date(2026, 1, 31)))

        replayed = cpu(replay, args.repeat)
        store = Store(f"sqlite:///{scratch}/store.db")
        for series_id, values in data.items():
            store.record("files", Fetched(series_id, values), datetime(2026, 11, 1, tzinfo=UTC))
        holder = RulesHolder(rules_path)
        holder.load()
        zone = ZoneInfo(ZONE)
        live = LiveEvaluator(store, holder, metrics=Metrics(), timezone=ZONE, released=released)
        for evening in range(12, 17):  # a few days of the service: the states it carries
            day = datetime.combine(date(2025, 12, evening), clock_time(23, 59), tzinfo=zone)
            live.keep(live.find(day), 0, day)
        after = datetime.combine(date(2025, 12, 17), clock_time(23, 59), tzinfo=zone)
        states = live.find(day).states
        one = cpu(lambda: live.find(after), args.repeat)
        daily = [s for s, v in live.frames.frame(data).items()
                 if len(v) > 1500 and (v.index[-1] - v.index[-10]).days < 20]
        anew = float("inf")
        for n in range(args.repeat):  # each daily series' newest value revised: a new row
            for series_id in daily:
                revised = data[series_id].copy()
                revised.iloc[-1] += 0.001 * (n + 1)
                store.record("files", Fetched(series_id, revised), datetime(2026, 11, 2 + n,
                                                                            tzinfo=UTC))
            start = time.process_time()
            live.find(after)
            anew = min(anew, time.process_time() - start)
        whole = cpu(lambda: evaluate(ruleset, data, states, after.date(), window=False),
                    args.repeat)
        store.close()

    print(f"full-history pass (backtest, {len(ruleset.rules)} rules)   {full:6.3f} s")
    print(f"replay of 3 months, in process             {replayed:6.3f} s  "
          f"ratio {replayed / full:5.2f} (target <= 3)")
    print(f"one live evaluation (window, carried state) {one:6.3f} s  "
          f"ratio {one / full:5.2f} (target <= 0.2)")
    print(f"the same, a new row in {len(daily)} daily series     {anew:6.3f} s  "
          f"ratio {anew / full:5.2f}")
    print(f"the same over all history (window=False)    {whole:6.3f} s  "
          f"ratio {whole / full:5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
