"""Every unit as a person reads it, against strings worked out by hand (rules/units.py).

Each row says the arithmetic: a `$ bn` value is multiplied by 10^9 before the suffix is
chosen, so a wrong scale shows up as a wrong suffix or a wrong number."""

from __future__ import annotations

import math

import pytest

from rules.units import UNITS, change_unit, format_signed, format_value, ordinal, unit_label

CASES = [
    # $ bn: 21.5 × 10^9 = 2.15 × 10^10 -> 21.5 bn; 6,540 × 10^9 = 6.54 × 10^12 -> 6.54 tn
    (21.5, "$ bn", "en", "$21.5 bn"),
    (6540, "$ bn", "en", "$6.54 tn"),
    (0.85, "$ bn", "en", "$850 mn"),  # 8.5 × 10^8
    (-120, "$ bn", "en", "−$120 bn"),  # the sign before the dollar
    (2.0, "$ bn", "en", "$2 bn"),  # trailing zeros dropped
    (21.5, "$ bn", "zh", "215亿美元"),  # 2.15 × 10^10 = 215 × 10^8 (亿)
    (6540, "$ bn", "zh", "6.54万亿美元"),  # 6.54 × 10^12 (万亿)
    (0.05, "$ bn", "zh", "5,000万美元"),  # 5 × 10^7 = 5,000 × 10^4 (万)
    # $ tn: 1.234 × 10^12 -> 1.23 tn; 0.5 × 10^12 = 500 × 10^9
    (1.234, "$ tn", "en", "$1.23 tn"),
    (0.5, "$ tn", "en", "$500 bn"),
    (-0.0123, "$ tn", "en", "−$12.3 bn"),
    (0.5, "$ tn", "zh", "5,000亿美元"),
    (36.2, "$ tn", "zh", "36.2万亿美元"),
    # $ mn: 6,540,000 × 10^6 = 6.54 × 10^12; 950 × 10^6 = 9.5 × 10^8
    (6_540_000, "$ mn", "en", "$6.54 tn"),
    (950, "$ mn", "en", "$950 mn"),
    (0.25, "$ mn", "en", "$250,000"),
    (950, "$ mn", "zh", "9.5亿美元"),
    # bp: whole basis points
    (25, "bp", "en", "25 bp"),
    (7.6, "bp", "en", "8 bp"),
    (-12.4, "bp", "en", "−12 bp"),
    (25, "bp", "zh", "25个基点"),
    # pp: two places below 10, one below 100
    (-0.75, "pp", "en", "−0.75 pp"),
    (1.5, "pp", "en", "1.5 pp"),
    (12.34, "pp", "en", "12.3 pp"),
    (0.004, "pp", "en", "0 pp"),
    (1.5, "pp", "zh", "1.5个百分点"),
    # %: a space before the sign, the same in both languages
    (4.5, "%", "en", "4.5 %"),
    (12.345, "%", "en", "12.3 %"),
    (-3.25, "%", "en", "−3.25 %"),
    (104.6, "%", "en", "105 %"),
    (4.5, "%", "zh", "4.5 %"),
    # $ per oz: gold, thousands grouped
    (2345.6, "$ per oz", "en", "$2,346 per oz"),
    (412.25, "$ per oz", "en", "$412 per oz"),
    (35.5, "$ per oz", "en", "$35.5 per oz"),
    (2345.6, "$ per oz", "zh", "2,346美元/盎司"),
    # the rest of the list
    (12.34, "points", "en", "12.3 points"),
    (12.34, "points", "zh", "12.3分"),
    (3, "count", "en", "3"),
    (2.5, "count", "en", "2.5"),
    (2.437, "ratio", "en", "2.44"),
    (4542.4, "index", "en", "4,542"),
    (21, "percentile", "en", "21st percentile"),
    (22, "percentile", "en", "22nd percentile"),
    (13, "percentile", "en", "13th percentile"),
    (101, "percentile", "en", "100th percentile"),
    (0.0, "yes/no", "en", "no"),
    (1.0, "yes/no", "en", "yes"),
    (0.0, "yes/no", "zh", "否"),
    (0.126, None, "en", "0.13"),
]


@pytest.mark.parametrize(("value", "unit", "lang", "shown"), CASES)
def test_each_unit_reads_as_worked_out_by_hand(
    value: float, unit: str | None, lang: str, shown: str
) -> None:
    assert format_value(value, unit, lang) == shown


def test_every_unit_of_the_list_has_a_hand_computed_case() -> None:
    assert {unit for _, unit, _, _ in CASES} >= set(UNITS)


@pytest.mark.parametrize("unit", [*UNITS, None])
def test_a_missing_value_is_unknown_in_every_unit(unit: str | None) -> None:
    assert format_value(None, unit, "en") == "unknown"
    assert format_value(math.nan, unit, "zh") == "未知"


@pytest.mark.parametrize(("value", "unit", "shown"), [
    (0.2, "%", "+0.2 %"),
    (-0.75, "pp", "−0.75 pp"),
    (25, "bp", "+25 bp"),
    (150, "$ bn", "+$150 bn"),
    (-0.3, "$ tn", "−$300 bn"),
    (0, "%", "0 %"),
    (1, "yes/no", "yes"),
    (None, "%", "unknown"),
])
def test_a_change_always_shows_its_sign(value: float | None, unit: str, shown: str) -> None:
    assert format_signed(value, unit) == shown


def test_the_change_of_a_percentage_is_in_points_and_other_units_keep_theirs() -> None:
    assert change_unit("%") == "pp"
    assert [change_unit(u) for u in ("$ bn", "bp", "pp", None)] == ["$ bn", "bp", "pp", None]


@pytest.mark.parametrize(("unit", "lang", "label"), [
    ("$ bn", "en", "$ bn"),
    ("$ bn", "zh", "十亿美元"),
    ("$ tn", "zh", "万亿美元"),
    ("$ per oz", "zh", "美元/盎司"),
    ("bp", "zh", "个基点"),
    ("%", "zh", "%"),
    (None, "en", ""),
])
def test_axis_labels(unit: str | None, lang: str, label: str) -> None:
    assert unit_label(unit, lang) == label


@pytest.mark.parametrize(("n", "shown"), [
    (1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th"),
    (21, "21st"), (101, "101st"), (111, "111th"),
])
def test_ordinals(n: int, shown: str) -> None:
    assert ordinal(n, "en") == shown
    assert ordinal(n, "zh") == f"第{n}"
