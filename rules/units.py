"""Units of the values in rules.yaml and the one formatter that shows them to people."""

from __future__ import annotations

import math
from typing import Literal, get_args

Unit = Literal[
    "%", "pp", "bp", "$ mn", "$ bn", "$ tn", "$ per oz", "ratio", "count", "index",
    "percentile", "yes/no", "points",
]
UNITS: tuple[str, ...] = get_args(Unit)
MINUS = "\u2212"  # a real minus sign: a hyphen reads as a dash on a phone
DOLLAR_SCALES = {"$ mn": 1e6, "$ bn": 1e9, "$ tn": 1e12}
UNKNOWN = {"en": "unknown", "zh": "未知"}
YES_NO = {"en": ("no", "yes"), "zh": ("否", "是")}
WORDS = {
    "en": {"pp": "pp", "bp": "bp", "points": "points", "count": "", "per_oz": " per oz"},
    "zh": {"pp": "个百分点", "bp": "个基点", "points": "分", "count": "", "per_oz": "/盎司"},
}
DOLLAR_SUFFIX = {
    "en": ((1e12, " tn"), (1e9, " bn"), (1e6, " mn"), (1.0, "")),
    "zh": ((1e12, "万亿"), (1e8, "亿"), (1e4, "万"), (1.0, "")),
}


def check_unit(value: str | None) -> str | None:
    """`value` when it is a known unit (None passes); ValueError naming the list otherwise."""
    if value is not None and value not in UNITS:
        raise ValueError(f"unknown unit {value!r}; use one of: {', '.join(UNITS)}")
    return value


def _digits(value: float, places: int = 2) -> str:
    """3 significant-ish digits: 6.54, 45.2, 312, 4,542; trailing zeros dropped."""
    size = abs(value)
    if size >= 1000:
        text = f"{size:,.0f}"
    else:
        if size >= 100:
            places = 0
        elif size >= 10:
            places = min(places, 1)
        text = f"{size:.{places}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    if text in ("0", ""):
        return "0"
    return (MINUS if value < 0 else "") + text


def ordinal(n: int, lang: str) -> str:
    """1st / 2nd / 3rd / 11th in English, 第3 in Chinese."""
    if lang == "zh":
        return f"第{n}"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _dollars(value: float, unit: str, lang: str) -> str:
    raw = value * DOLLAR_SCALES[unit]
    for scale, suffix in DOLLAR_SUFFIX["zh" if lang == "zh" else "en"]:
        if abs(raw) >= scale or scale == 1.0:
            number = _digits(raw / scale)
            sign = MINUS if number.startswith(MINUS) else ""
            number = number.removeprefix(MINUS)
            return f"{sign}{number}{suffix}美元" if lang == "zh" else f"{sign}${number}{suffix}"
    return ""  # pragma: no cover - the loop always returns


def format_value(value: float | None, unit: str | None, lang: str = "en") -> str:
    """A number as a person reads it: `$6.54 tn`, `4.5 %`, `−0.75 pp`, `3rd percentile`."""
    lang = "zh" if lang == "zh" else "en"
    if value is None or not isinstance(value, int | float) or math.isnan(value):
        return UNKNOWN[lang]
    words = WORDS[lang]
    if unit in DOLLAR_SCALES:
        return _dollars(value, unit, lang)
    if unit == "$ per oz":
        return f"{_digits(value)}美元{words['per_oz']}" if lang == "zh" else f"${_digits(value)}"\
            f"{words['per_oz']}"
    if unit == "%":
        return f"{_digits(value)} %"
    if unit in ("pp", "bp", "points"):
        number = _digits(value, 0 if unit == "bp" else 2)
        return f"{number}{words[unit]}" if lang == "zh" else f"{number} {words[unit]}"
    if unit == "percentile":
        rank = max(0, min(100, round(value)))
        word = "百分位" if lang == "zh" else " percentile"
        return f"{ordinal(rank, lang)}{word}"
    if unit == "yes/no":
        return YES_NO[lang][1 if value else 0]
    if unit == "count":
        return _digits(value, 1)
    return _digits(value)


def format_signed(value: float | None, unit: str | None, lang: str = "en") -> str:
    """A change with its sign always shown: `+0.2 %`, `−0.75 pp`."""
    text = format_value(value, unit, lang)
    if value is not None and not math.isnan(value) and value > 0 and unit != "yes/no":
        return "+" + text
    return text


def change_unit(unit: str | None) -> str | None:
    """The unit of a difference of `unit`: a change of a percentage is in points."""
    return "pp" if unit == "%" else unit


UNIT_LABELS = {
    "zh": {"$ tn": "万亿美元", "$ bn": "十亿美元", "$ mn": "百万美元", "$ per oz": "美元/盎司",
           "pp": "个百分点", "bp": "个基点", "count": "项", "points": "分", "ratio": "倍",
           "index": "指数", "percentile": "百分位", "yes/no": "是/否"},
}


def unit_label(unit: str | None, lang: str = "en") -> str:
    """The unit as an axis or column label: `$ tn`, or `万亿美元` in Chinese."""
    if unit is None:
        return ""
    return UNIT_LABELS.get(lang, {}).get(unit, unit)
