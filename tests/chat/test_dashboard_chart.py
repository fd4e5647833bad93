"""The regime dashboard (issue 11): the regime in its title, each period's regime shaded behind
the panels exactly as the regime history has it, and Chinese without missing glyphs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from itertools import pairwise

import pandas as pd
import pytest
from matplotlib.dates import num2date
from matplotlib.patches import Rectangle

from bot.chat import charts, chartstyle
from bot.chat.regimebands import GID, regime_label
from rules import RuleSet, classify_regime, regime_history
from tests.chat.test_charts_phone import _drawn_without_missing_glyphs, _size

AS_OF = date(2021, 12, 31)
SPAN = (date(2019, 1, 1), date(2021, 12, 31))


def _bands(ax: object) -> list[tuple[pd.Timestamp, pd.Timestamp, str]]:
    found = []
    for patch in ax.patches:  # type: ignore[attr-defined]
        gid = patch.get_gid() or ""
        if gid.startswith(GID):
            assert isinstance(patch, Rectangle)
            left, right = patch.get_x(), patch.get_x() + patch.get_width()
            found.append((pd.Timestamp(num2date(left)).tz_localize(None),
                          pd.Timestamp(num2date(right)).tz_localize(None), gid[len(GID):]))
    return sorted(found)


def test_bands_match_the_regime_history_over_2019_to_2021(
    ruleset: RuleSet, history: Mapping[str, pd.Series]
) -> None:
    with chartstyle.style("en"):
        fig = charts.dashboard_figure(history, AS_OF, ruleset, "en")
    panels = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert len(panels) == len(charts.DASHBOARD)
    bands = _bands(panels[0])
    assert all(_bands(ax) == bands for ax in panels)  # the same bands behind every panel
    for (_, right, _), (left, _, _) in pairwise(bands):
        assert right == left  # no gaps, no overlaps
    days = [d.date() for d in pd.bdate_range(*SPAN)]
    expected = {d: r.regime for d, r in zip(days, regime_history(ruleset, history, days),
                                            strict=True)}
    end = pd.Timestamp(AS_OF)  # the last band ends on the chart's last day, which it covers
    for day, regime in expected.items():
        stamp = pd.Timestamp(day)
        drawn = [r for left, right, r in bands if left <= stamp < right or stamp == right == end]
        assert drawn == [regime], day
    shown = {r for _, right, r in bands if right > pd.Timestamp(SPAN[0])}
    assert {"tightening_into_bubble", "easing_into_bubble", "easing_into_downturn"} <= shown
    legend = [text.get_text().replace("\n", " ") for ax in fig.axes if ax.get_legend()
              for text in ax.get_legend().get_texts()]
    for regime in shown:
        assert regime_label(regime, ruleset, "en") in legend


def test_the_title_states_the_regime_of_the_day(
    ruleset: RuleSet, history: Mapping[str, pd.Series]
) -> None:
    with chartstyle.style("en"):
        fig = charts.dashboard_figure(history, AS_OF, ruleset, "en")
    regime = classify_regime(ruleset, history, AS_OF).regime
    title = fig.get_suptitle().replace("\n", " ")
    assert title.startswith(regime_label(regime, ruleset, "en"))
    assert AS_OF.isoformat() in title


def test_zh_dashboard_has_every_glyph_and_chinese_regimes(
    ruleset: RuleSet, history: Mapping[str, pd.Series], caplog: pytest.LogCaptureFixture
) -> None:
    png = _drawn_without_missing_glyphs(lambda: charts.regime_dashboard(
        history, AS_OF, "zh-dashboard-test", ruleset, lang="zh"), caplog)
    assert _size(png)[0] == 1280
    with chartstyle.style("zh"):
        fig = charts.dashboard_figure(history, AS_OF, ruleset, "zh")
    assert fig.get_suptitle().startswith(regime_label("easing_into_bubble", ruleset, "zh"))
    assert "泡沫" in fig.get_suptitle()
