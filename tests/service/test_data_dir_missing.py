"""A data directory that lacks a series the rules read: named once, never a failed fetch."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.app.sources import held_by
from sources.files import FileSource


def test_a_series_the_directory_lacks_is_named_once_and_not_asked_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "SYNTH.csv").write_text("observation_date,SYNTH\n2026-01-01,1.0\n")
    wanted = ["SYNTH", "fomc_decision"]
    ids = held_by(FileSource(tmp_path), lambda: wanted)
    with caplog.at_level(logging.WARNING, logger="cyclewatch.fetch"):
        assert ids() == ["SYNTH"]
        assert ids() == ["SYNTH"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "fomc_decision" in warnings[0] and "SYNTH" not in warnings[0]
    (tmp_path / "fomc_decision.csv").write_text("observation_date,fomc_decision\n2026-01-28,0\n")
    assert ids() == wanted  # a file added later is read from the next poll on
