"""The words of an alert: opening sentence, numbers with units and titles, what would falsify it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from rules.model import RulesFile, RuleSpec, pick_language
from rules.units import change_unit, format_value

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "opening": "{date} — {meaning}",
        "resolved": "Ended on {date}{held}.",
        "held": ", after holding {span} (since {since})",
        "value": "• {title}: {value}",
        "line": " (line {threshold}, {relation})",
        "now": "• {title} is now {value}",
        "above": "{d} above",
        "below": "{d} below",
        "at": "right on it",
        "falsify": "What would prove it wrong: {falsify}",
        "as_of": "Data as of {as_of}.",
        "value_title": "Value",
    },
    "zh": {
        "opening": "{date}:{meaning}",
        "resolved": "于 {date} 结束{held}。",
        "held": ",此前持续{span}(始于 {since})",
        "value": "• {title}:{value}",
        "line": "(界线 {threshold},{relation})",
        "now": "• {title}现为 {value}",
        "above": "高出{d}",
        "below": "低{d}",
        "at": "恰在界线上",
        "falsify": "何种情况可证伪:{falsify}",
        "as_of": "数据截至 {as_of}。",
        "value_title": "当前值",
    },
}
SPANS = {
    "en": ("{n} day", "{n} days", "{n} week", "{n} weeks", "{n} month", "{n} months",
           "{n} year", "{n} years"),
    "zh": ("{n}天", "{n}天", "{n}周", "{n}周", "{n}个月", "{n}个月", "{n}年", "{n}年"),
}


def span(days: int, lang: str) -> str:
    """A duration a person says: 12 days, 5 weeks, 4 months, 2 years."""
    words = SPANS["zh" if lang == "zh" else "en"]
    for limit, size, index in ((14, 1, 0), (70, 7, 2), (730, 30.44, 4)):
        if days < limit:
            n = max(1, round(days / size))
            return words[index + (n != 1)].format(n=n)
    n = round(days / 365.25)
    return words[6 + (n != 1)].format(n=n)


def relation(distance: float, unit: str | None, lang: str) -> str:
    """`0.5 pp above` / `低0.5个百分点` / `right on it`: where a value sits from its line."""
    key = "above" if distance > 0 else "below" if distance < 0 else "at"
    return PHRASES[lang][key].format(d=format_value(abs(distance), change_unit(unit), lang))


def value_line(
    spec: RuleSpec, value: float | None, threshold: float | None, lang: str, *, now: bool = False
) -> str:
    """`• Title: 4.5 % (line 4 %, 0.5 pp above)` for the rule's deciding value."""
    words = PHRASES[lang]
    title = pick_language(spec.value_title, lang) or words["value_title"]
    line = words["now" if now else "value"].format(
        title=title, value=format_value(value, spec.unit, lang)
    )
    if threshold is not None and value is not None:
        line += words["line"].format(
            threshold=format_value(threshold, spec.unit, lang),
            relation=relation(value - threshold, spec.unit, lang),
        )
    return line


def named_lines(spec: RuleSpec, values: Mapping[str, float | None], lang: str) -> list[str]:
    """One `• Title: value` line per named value, in the order rules.yaml gives them."""
    lines = []
    for name in spec.values:
        if name not in values:
            continue
        entry = spec.value_spec(name)
        title = pick_language(entry.title, lang) or name
        shown = format_value(values[name], entry.unit, lang)
        lines.append(PHRASES[lang]["value"].format(title=title, value=shown))
    return lines


def resolved_sentence(
    title: str, date: dt.date, since: dt.date | None, lang: str
) -> str:
    """`X: no longer holds as of D, after holding 4 months (since S).`"""
    words = PHRASES[lang]
    held = ""
    if since is not None and since <= date:
        held = words["held"].format(span=span((date - since).days, lang), since=since.isoformat())
    return words["resolved"].format(title=title, date=date.isoformat(), held=held)


def input_titles(file: RulesFile, lang: str) -> dict[str, tuple[str, str | None]]:
    """What a person reads for each input, keyed by its name and by its series id: (title in
    `lang`, the public code to cite in parentheses or None). The code is a FRED id (DFF) that
    a reader can look up; a computed id (bill_share) is never shown. No title: the id itself."""
    out: dict[str, tuple[str, str | None]] = {}
    for name, spec in file.series.items():
        title = pick_language(spec.title, lang)
        code = spec.id if spec.source == "fred" and title else None
        out[name] = (title or spec.id, code)
        out.setdefault(spec.id, out[name])
    return out
