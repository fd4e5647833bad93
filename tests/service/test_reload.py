"""Rules hot reload: validate, then swap; a bad file keeps the running rules."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path

import pandas as pd
import pytest

from bot.evaluate.reload import ReloadResult, RulesHolder, watch_rules

GOOD = """\
series:
  assets: {source: fred, id: WALCL}
rules:
  - id: grows
    title: Assets grow
    when: "change(assets, 1) > 0"
"""


def write(path: Path, text: str | bytes) -> None:
    """Replace the file's content (a plain function: the edit an admin makes)."""
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD)
    return path


async def test_bad_file_keeps_running_rules_and_lists_positions(rules_file: Path) -> None:
    holder = RulesHolder(rules_file)
    running = holder.load()
    write(rules_file, GOOD.replace("change(assets, 1)", "change(asets, 1)"))
    result = await holder.reload()
    assert not result.ok
    (problem,) = result.problems
    assert re.fullmatch(
        rf'{re.escape(str(rules_file))}:6:\d+: rule "grows": unknown series "asets" '
        r'\(did you mean "assets"\?\)', problem
    ), problem
    assert holder.current is running
    assert "running rules stay in place" in result.summary()


async def test_good_file_is_swapped_whole_and_changes_are_named(rules_file: Path) -> None:
    holder = RulesHolder(rules_file)
    running = holder.load()
    write(rules_file,
        GOOD.replace("> 0", "> 10")
        + "  - id: shrinks\n    title: Assets shrink\n    when: \"change(assets, 1) < 0\"\n"
    )
    result = await holder.reload()
    assert result.ok and result.changed == ("grows",) and result.added == ("shrinks",)
    assert holder.current is not running and holder.current is not None
    assert [r.id for r in holder.current.rules] == ["grows", "shrinks"]
    assert await holder.reload() == ReloadResult(ok=True, unchanged_file=True)


async def test_unreadable_file_is_a_problem_not_a_crash(rules_file: Path) -> None:
    holder = RulesHolder(rules_file)
    running = holder.load()
    write(rules_file, b"\xff\xfe not utf-8")
    result = await holder.reload()
    assert not result.ok and "cannot read" in result.problems[0]
    Path.unlink(rules_file)
    assert not (await holder.reload()).ok
    assert holder.current is running


async def test_watcher_reloads_on_write_and_announces(rules_file: Path) -> None:
    holder = RulesHolder(rules_file)
    holder.load()
    announced: asyncio.Queue[ReloadResult] = asyncio.Queue()
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_rules(holder, announced.put, stop, debounce_ms=50))
    await asyncio.sleep(0.3)  # let the watcher start
    try:
        write(rules_file, "series: {}\n")
        bad = await asyncio.wait_for(announced.get(), timeout=10)
        assert not bad.ok and bad.problems[0].startswith(f"{rules_file}:1:")
        write(rules_file, GOOD.replace("> 0", ">= 0"))
        good = await asyncio.wait_for(announced.get(), timeout=10)
        assert good.ok and good.changed == ("grows",)
    finally:
        stop.set()
        await asyncio.wait_for(watcher, timeout=10)


async def test_a_stored_history_that_never_arrives_does_not_hold_the_reload(
    rules_file: Path,
) -> None:
    release = threading.Event()

    def stuck(_rules: object) -> dict[str, pd.Series]:
        release.wait(60)  # a database that does not answer: no CPU spent
        return {}

    holder = RulesHolder(rules_file, history=stuck, stuck_seconds=0.5)
    running = holder.load()
    write(rules_file, GOOD.replace("> 0", "> 1"))
    try:
        result = await asyncio.wait_for(holder.reload(), 60)
    finally:
        release.set()
    assert not result.ok and holder.current is running
    assert result.problems == (f"{rules_file}: the stored history was not read within 0.5 s "
                               "(is the database answering?); the file was not tried",)
