"""`cyclewatch chat --data DIR` over a store that already holds the data starts at once (issue
20, item 4): the session's clock is the stored data's end, nothing is read before the prompt,
and once the refresh has brought later data the clock moves on to them. Synthetic series
(TESTX) and rules; the session runs in this process with its input fed line by line."""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from bot.store import Store
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
WAIT_SECONDS = 60.0
PAUSE_SECONDS = 5.0  # between questions: the chat's rate limit refills one command per 5 s


def write_weeks(path: Path, values: list[float]) -> None:
    dates = pd.date_range("2026-01-07", periods=len(values), freq="7D")
    path.write_text("observation_date,TESTX\n" + "".join(
        f"{d.date()},{v}\n" for d, v in zip(dates, values, strict=True)))


class Lines(io.TextIOBase):
    """Standard input whose lines the test hands over one at a time (None ends it)."""

    def __init__(self) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()

    def isatty(self) -> bool:
        return False

    def __iter__(self) -> Iterator[str]:
        while (line := self.lines.get()) is not None:
            yield line + "\n"


class Printed(io.StringIO):
    """Standard output another thread reads while the session writes."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            return super().write(text)

    def text(self) -> str:
        with self.lock:
            return self.getvalue()


def ask_until(stdin: Lines, stdout: Printed, wanted: str) -> None:
    """Ask /regime, again after each answer, until one says `wanted`; then end the input."""
    deadline = time.monotonic() + WAIT_SECONDS
    asked, answered_at = 0, 0.0
    while time.monotonic() < deadline and wanted not in stdout.text():
        if stdout.text().count("Regime as of") == asked:
            answered_at = answered_at or time.monotonic()
            if not asked or time.monotonic() - answered_at >= PAUSE_SECONDS:
                stdin.lines.put("/regime")
                asked, answered_at = asked + 1, 0.0
        time.sleep(0.05)
    stdin.lines.put(None)


def test_a_warm_session_starts_from_the_stored_data_then_follows_it(
    run_main: Main, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    write_weeks(data / "TESTX.csv", [1, 2, 20])  # to 2026-01-21
    first = run_main("chat", "--data", str(data), "--rules", str(rules), stdin="/regime\n")
    assert first.returncode == 0, first.stderr
    assert "the session's clock set to 2026-01-21" in first.stdout  # an empty store: loaded
    assert "Regime as of 2026-01-21: " in first.stdout
    write_weeks(data / "TESTX.csv", [1, 2, 20, 3])  # one more week: 2026-01-28
    stdin, stdout = Lines(), Printed()
    asker = threading.Thread(target=ask_until, args=(stdin, stdout, "as of 2026-01-28"))
    asker.start()
    again = run_main("chat", "--data", str(data), "--rules", str(rules), stdin=stdin,
                     stdout=stdout)
    asker.join()
    assert again.returncode == 0, again.stderr
    # The prompt came before any read: the clock is the stored end, not the file's ...
    assert "the session's clock set to 2026-01-21" in again.stdout
    # ... and once the refresh stored the new week, the session's day is that week.
    assert "Regime as of 2026-01-28: " in again.stdout
    # The refresh stamps what it stores with the wall clock, as the first load did: the new
    # week is the one row it adds (not a second vintage of every week, dated the session's day).
    (db,) = (Path(cli_env["XDG_STATE_HOME"]) / "cyclewatch").glob("chat-*.db")
    store = Store(f"sqlite:///{db}")
    try:
        assert [s.rows for s in store.status()] == [4]
    finally:
        store.close()
