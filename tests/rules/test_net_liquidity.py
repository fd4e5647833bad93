"""net_liquidity_turns_up against the record (docs/rules.md, "Net liquidity"): it finds QE2,
the end of QT1 with the repo crisis, and 2026's turn after QT2; never QT2's start in 2022."""

from __future__ import annotations

from datetime import date

from rules import Event, RuleSet
from tests.rules.record import episodes

RULE = "net_liquidity_turns_up"


def _starts(history_events: tuple[Event, ...]) -> list[date]:
    return [start for start, _ in episodes(history_events, RULE)]


def test_the_turns_the_record_has(history_events: tuple[Event, ...]) -> None:
    starts = _starts(history_events)
    for first, last, what in ((date(2010, 11, 3), date(2011, 3, 31), "QE2"),
                              (date(2019, 7, 1), date(2019, 12, 31), "QT1's end, repo crisis"),
                              (date(2025, 12, 10), date(2026, 6, 30), "after QT2, 2026")):
        assert any(first <= s <= last for s in starts), what
    assert not [s for s in starts if s.year == 2022]  # QT2 began: liquidity drained


def test_its_value_is_net_liquidity_in_dollars(ruleset: RuleSet) -> None:
    assert ruleset.file.metric_units["net_liquidity"] == "$ bn"
    spec = ruleset.rule(RULE).spec
    assert spec.unit == "$ bn" and spec.value == "net_liquidity"
