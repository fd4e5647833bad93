"""Charts for a phone, in the chat's language: 1280 px wide, Chinese without missing glyphs."""

from __future__ import annotations

import logging
import struct
import warnings
from collections.abc import Mapping
from datetime import date

import pandas as pd
import pytest

from bot.chat import charts, chartstyle
from bot.chat.views import regime_name
from rules import RuleSet, classify_regime


def _size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def _drawn_without_missing_glyphs(draw: object, caplog: pytest.LogCaptureFixture) -> bytes:
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        png = draw()  # type: ignore[operator]
    problems = [str(w.message) for w in caught if "missing" in str(w.message).lower()]
    problems += [r.getMessage() for r in caplog.records if "glyph" in r.getMessage().lower()]
    assert problems == []
    assert isinstance(png, bytes)
    return png


def test_a_cjk_font_is_installed() -> None:
    assert chartstyle.cjk_font() in chartstyle.CJK_FONTS


def test_zh_regime_chart_has_every_glyph_and_phone_width(
    ruleset: RuleSet, history_data: Mapping[str, pd.Series], caplog: pytest.LogCaptureFixture
) -> None:
    day = date(2021, 12, 31)
    found = classify_regime(ruleset, history_data, day, "zh")
    png = _drawn_without_missing_glyphs(lambda: charts.regime_dashboard(
        history_data, day, "zh-test", ruleset, lang="zh", regime=regime_name(found.regime, "zh")),
        caplog)
    assert _size(png)[0] == 1280


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_rule_charts_are_1280_px_wide_in_both_languages(
    ruleset: RuleSet, history_data: Mapping[str, pd.Series], caplog: pytest.LogCaptureFixture,
    lang: str,
) -> None:
    for rule_id in ("qt_ends", "rate_cut", "bubble_conditions"):
        png = _drawn_without_missing_glyphs(lambda rule_id=rule_id: charts.rule_chart(
            history_data, ruleset, rule_id, date(2025, 12, 17), "phone-test", lang=lang), caplog)
        width, height = _size(png)
        assert width == 1280 and 600 <= height <= 2600


def test_text_is_at_least_12_px_on_a_390_px_phone() -> None:
    smallest_px = chartstyle.SMALL * chartstyle.DPI / 72  # points to pixels in the PNG
    assert smallest_px * 390 / (chartstyle.WIDTH_IN * chartstyle.DPI) >= 12


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_charted_series_has_a_title(ruleset: RuleSet, lang: str) -> None:
    for rule in ruleset.rules:
        for name in filter(None, (rule.spec.chart, rule.spec.on)):
            assert charts._title_of(name, ruleset, lang) != name, (rule.id, name)
    for name in charts.DASHBOARD:
        assert charts._title_of(name, ruleset, lang) != name, name
