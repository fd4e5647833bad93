"""`cyclewatch chat --data DIR` over a store that already holds the data starts at once (issue
20, item 4): the session's clock is the stored data's end, nothing is read before the prompt,
the refresh comes after. Synthetic series (TESTX) and rules."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.cli.conftest import Main

RULES = """\
series:
  x: {source: fred, id: TESTX, fresh: 100y}
rules:
  - {id: x_high, title: Test series above its line, when: "x > 10"}
regimes:
  gauges:
    - {id: high, title: {en: x above 10}, when: "x > 10"}
  choose:
    - {id: easing_into_bubble, when: "high"}
    - {id: neutral, when: "not high"}
"""


def write_weeks(path: Path, values: list[float]) -> None:
    dates = pd.date_range("2026-01-07", periods=len(values), freq="7D")
    path.write_text("observation_date,TESTX\n" + "".join(
        f"{d.date()},{v}\n" for d, v in zip(dates, values, strict=True)))


def test_a_warm_session_starts_from_the_stored_data(
    run_main: Main, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    write_weeks(data / "TESTX.csv", [1, 2, 20])  # to 2026-01-21
    first = run_main("chat", "--data", str(data), "--rules", str(rules), stdin="/regime\n")
    assert first.returncode == 0, first.stderr
    assert "the session's clock set to 2026-01-21" in first.stdout  # an empty store: loaded
    write_weeks(data / "TESTX.csv", [1, 2, 20, 3])  # one more week, 2026-01-28
    again = run_main("chat", "--data", str(data), "--rules", str(rules), stdin="/quit\n")
    assert again.returncode == 0, again.stderr
    # The prompt came before any read: the clock is the stored end, not the file's.
    assert "the session's clock set to 2026-01-21" in again.stdout
