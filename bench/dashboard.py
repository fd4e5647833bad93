"""First view of the dashboard with the full history (1990–today): cold (a fresh model, as
after new data) vs cached (the next visitor); the page plus every JSON the page fetches."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.app.dashboard import DashboardModel  # noqa: E402
from bot.app.dashboard.model import HISTORY_START  # noqa: E402
from bot.app.dashboard.page import render  # noqa: E402
from bot.cli.dashboard import file_insight  # noqa: E402
from bot.cli.rules import read_data_dir, read_rules  # noqa: E402


def first_view(model: DashboardModel) -> float:
    started = time.perf_counter()
    today = model.today()
    render(model, "en", today)
    model.history(HISTORY_START, today, "month", "en")
    for rule in model.insight.ruleset.rules:
        model.chart(rule.id)
    return time.perf_counter() - started


def main() -> None:
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data"
    ruleset = read_rules(REPO / "rules.yaml")
    started = time.perf_counter()
    data = read_data_dir(ruleset, data_dir)
    print(f"read {len(data)} series: {time.perf_counter() - started:.2f} s")
    colds, cached = [], []
    for _ in range(3):
        model = DashboardModel(file_insight(ruleset, data),
                               lambda: datetime.now(UTC).date())
        colds.append(first_view(model))
        cached.append(min(first_view(model) for _ in range(5)))
    print(f"first view, cold (fresh model): best {min(colds):.3f} s, worst {max(colds):.3f} s")
    print(f"first view, cached:             best {min(cached) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
