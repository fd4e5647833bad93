"""Every default rule's alert texts, in both languages: titles instead of identifiers, and every
number with its unit (events from the real history in ../shared/data)."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd
import pytest

from bot.alerts.payload import AlertPayload
from bot.alerts.render import render_alert
from rules import Event, RuleSet, Transition, backtest
from rules.explain import make_event
from rules.units import UNITS, check_unit, format_value

LANGS = ("en", "zh")
# A number a person reads: digits with optional sign, grouping and decimals.
NUMBER = r"[−+-]?\d[\d,]*(?:\.\d+)?"
UNIT_AFTER = (
    r"(?: %| pp| bp| points| tn| bn| mn|个百分点|个基点|分|万亿美元|亿美元|万美元|美元"
    r"|(?:st|nd|rd|th) percentile|百分位)"
)


@pytest.fixture(scope="module")
def events(ruleset: RuleSet, history_data: Mapping[str, pd.Series]) -> dict[str, list[Event]]:
    """The first firing and the first resolve of each rule over history; a rule that never
    fired in the data gets a made-up event (its numbers are not history, only its words)."""
    found: dict[str, list[Event]] = {r.id: [] for r in ruleset.rules}
    for event in backtest(ruleset, dict(history_data)):
        kinds = {e.state for e in found[event.rule_id]}
        if event.state not in kinds:
            found[event.rule_id].append(event)
    for rule in ruleset.rules:
        if not found[rule.id]:
            day = pd.Timestamp("2000-01-03").date()
            found[rule.id].append(make_event(rule, Transition.FIRING, day, 1.5, rule.spec.threshold,
                                             {name: 2.5 for name in rule.spec.values}, day))
    return found


def test_every_shown_value_declares_unit_and_title(ruleset: RuleSet) -> None:
    for rule in ruleset.rules:
        spec = rule.spec
        if spec.value is not None:
            assert spec.unit in UNITS and spec.value_title, rule.id
        for name in spec.values:
            entry = spec.value_spec(name)
            assert entry.unit in UNITS, (rule.id, name)
            assert isinstance(entry.title, dict) and entry.title.get("zh"), (rule.id, name)


@pytest.mark.parametrize("lang", LANGS)
def test_texts_show_titles_and_units_never_identifiers(
    ruleset: RuleSet, events: dict[str, list[Event]], lang: str
) -> None:
    identifiers = {r.id for r in ruleset.rules} | set(ruleset.file.metrics)
    identifiers |= {name for r in ruleset.rules for name in r.spec.values}
    for rule_id, found in events.items():
        for event in found:
            message = render_alert(AlertPayload.from_event(event), lang)
            shown = f"{message.title}\n{message.body}"
            words = set(re.findall(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+", shown))
            assert not words & identifiers, (rule_id, lang, words & identifiers, shown)
            assert "n/a" not in shown and "[resolved]" not in shown and "[已解除]" not in shown
            assert shown.count(message.title.split(": ", 1)[-1]) >= 1
            for line in shown.splitlines():
                if not line.startswith("• "):
                    continue
                value = re.split(r": | is now |:|现为", line, maxsplit=1)[-1]
                for number in re.finditer(NUMBER + r"(?!\d)", value):
                    rest = value[number.end():]
                    unitless = rule_unitless(event, line)
                    assert unitless or re.match(UNIT_AFTER, rest), (rule_id, lang, line)
            if lang == "zh":  # acronyms (GDP, CAPE, QT) are how Chinese readers write them too
                assert not re.search(r"[a-z]{2,}", shown.replace("pp", "")), (rule_id, shown)


def rule_unitless(event: Event, line: str) -> bool:
    """Ratios, counts and index levels are plain numbers by design; every other unit shows."""
    spec = event.rule.spec
    plain = {"ratio", "count", "index"}
    if spec.unit in plain and format_value(event.value, spec.unit) in line.replace("现为 ", ""):
        return True
    for name in spec.values:
        entry = spec.value_spec(name)
        shown = format_value(event.values.get(name), entry.unit)
        if entry.unit in plain and shown in line:
            return True
    return False


def test_resolved_alert_says_so_once(events: dict[str, list[Event]]) -> None:
    resolved = events["qt_ends"][1]
    message = render_alert(AlertPayload.from_event(resolved), "en")
    assert message.title == "No longer holds: Quantitative tightening has ended"
    shown = f"{message.title}\n{message.body}"
    assert shown.count("No longer") == 1 and shown.count("Quantitative tightening has ended") == 1
    assert message.body.startswith("Ended on 2022-07-")
    assert ", after holding " in message.body and "is now " in message.body


def test_units_outside_the_list_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown unit"):
        check_unit("furlongs")


@pytest.mark.parametrize(("value", "unit", "lang", "shown"), [
    (6_540_000, "$ mn", "en", "$6.54 tn"),
    (6_540_000, "$ mn", "zh", "6.54万亿美元"),
    (-0.75, "pp", "en", "−0.75 pp"),
    (4.5, "%", "en", "4.5 %"),
    (3, "percentile", "en", "3rd percentile"),
    (12, "percentile", "en", "12th percentile"),
    (3, "percentile", "zh", "第3百分位"),
    (None, "%", "zh", "未知"),
    (1.0, "yes/no", "zh", "是"),
    (2.437, "ratio", "en", "2.44"),
])
def test_format_value(value: float | None, unit: str, lang: str, shown: str) -> None:
    assert format_value(value, unit, lang) == shown


def test_a_unit_outside_the_list_is_a_check_error_with_its_position() -> None:
    from rules import RulesError, load_rules

    text = ("series:\n  x: {id: X, unit: \"%\"}\nrules:\n  - id: r\n    title: R\n"
            "    when: x > 1\n    unit: furlongs\n")
    with pytest.raises(RulesError) as err:
        load_rules(text, "bad.yaml")
    assert [str(p).split(": ")[0] for p in err.value.problems] == ["bad.yaml:7:11"]
    assert "'$ tn'" in str(err.value.problems[0])
