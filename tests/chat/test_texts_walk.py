"""Every default rule's alert texts, in both languages: titles instead of identifiers, and every
number with its unit (events from the real history in ../shared/data)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bot.alerts.payload import AlertPayload
from bot.alerts.render import render_alert
from bot.chat.views import regime_name, regime_text
from bot.evaluate.insight import Insight
from bot.i18n import text
from rules import Event, Regime, RuleSet, Transition
from rules.explain import make_event
from rules.units import UNITS, check_unit, format_value

LANGS = ("en", "zh")
RULES_FILE = Path(__file__).resolve().parents[2] / "rules.yaml"
# A number a person reads: digits with optional sign, grouping and decimals.
NUMBER = r"[−+-]?\d[\d,]*(?:\.\d+)?"
UNIT_AFTER = (
    r"(?: %| pp| bp| points| tn| bn| mn|个百分点|个基点|分|万亿美元|亿美元|万美元|美元"
    r"|(?:st|nd|rd|th) percentile|百分位)"
)


@pytest.fixture(scope="module")
def events(ruleset: RuleSet, history_events: tuple[Event, ...]) -> dict[str, list[Event]]:
    """The first firing and the first resolve of each rule over history; a rule that never
    fired in the data gets a made-up event (its numbers are not history, only its words)."""
    found: dict[str, list[Event]] = {r.id: [] for r in ruleset.rules}
    for event in history_events:
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
    # QT1's end gives way when QE4's buying takes over (March 2020)
    assert message.body.startswith("Ended on 2020-03-")
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


# --- /regime in both languages, on the real data (csv series included) at several dates ---

REGIME_DATES = (date(2008, 10, 15), date(2019, 9, 30), date(2021, 12, 31), date(2024, 9, 19),
                date(2026, 11, 30))  # the last one: most inputs stale, undetermined
WORD = r"[A-Za-z0-9_]+"


def _title_texts(node: object, key: str = "") -> Iterator[str]:
    """Every title-like text of rules.yaml (what a person is meant to read)."""
    if isinstance(node, dict):
        for k, v in node.items():
            keep = k in ("en", "zh") or key == "metric_titles"  # metric_titles: {name: {en,zh}}
            yield from _title_texts(v, key if keep else str(k))
    elif isinstance(node, list):
        for v in node:
            yield from _title_texts(v, key)
    elif isinstance(node, str) and key in ("title", "value_title", "detail", "metric_titles"):
        yield node


def _identifiers(ruleset: RuleSet) -> set[str]:
    """Ids a person should never read outside parentheses: series, metrics, values, rules.

    Only ids that look like ids (an underscore, a digit, or an upper-case code such as DFF);
    a word that rules.yaml itself uses in a title (GDP, IORB, 10y) is a word, not an id.
    """
    file = ruleset.file
    names = set(file.series) | {s.id for s in file.series.values()} | set(file.metrics)
    names |= {r.id for r in ruleset.rules} | {v for r in ruleset.rules for v in r.spec.values}
    raw = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    words = {w for t in _title_texts(raw) for w in re.findall(WORD, t)}
    looks = re.compile(r".*[_0-9].*|[A-Z]{3,}")
    return {n for n in names if looks.fullmatch(n) and n not in words}


def _regime_answer(insight: Insight, day: date, lang: str) -> tuple[Regime, str]:
    found = insight.regime(day, lang)
    return found, regime_text(found, lang, insight.rules(day, lang))  # as /regime builds it


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("day", REGIME_DATES, ids=str)
def test_regime_answer_shows_titles_not_ids(
    ruleset: RuleSet, insight: Insight, day: date, lang: str
) -> None:
    found, shown = _regime_answer(insight, day, lang)
    ids = _identifiers(ruleset)
    codes = {s.id for s in ruleset.file.series.values()}
    # A title may cite its source code in parentheses: "Effective fed funds rate (DFF)".
    cited = "|".join(map(re.escape, sorted(codes)))
    outside = re.sub(rf"\((?:{cited})\)", "", shown)
    leaked = sorted(set(re.findall(WORD, outside)) & ids)
    assert not leaked, (day, lang, leaked, shown)
    if lang == "zh":  # acronyms (GDP, CAPE, QT) are how Chinese readers write them too
        english = re.findall(r"[A-Za-z]*[a-z][A-Za-z]*", outside)
        assert not english, (day, english, shown)
    for line in shown.splitlines():  # a known state with an unknown value is not a bare "yes"
        if line.startswith("🟢"):
            assert format_value(None, None, lang) not in line, (day, lang, line)
    for number in re.finditer(r"(?<![\d-])\d+\.\d+(?![\d-])", shown):
        rest, line = shown[number.end():], shown[:number.end()].rsplit("\n", 1)[-1]
        plain = any(c.unit in ("ratio", "index", "count") and c.title in line
                    for c in found.checks)
        assert plain or re.match(UNIT_AFTER, rest), (day, lang, line + rest.split("\n")[0])


@pytest.mark.parametrize("lang", LANGS)
def test_undetermined_answer_says_its_verdict_once(insight: Insight, lang: str) -> None:
    found, shown = _regime_answer(insight, date(2026, 11, 30), lang)
    assert not found.determined
    header = shown.split("\n\n" + text(lang, "gauges_heading"), 1)[0]
    assert header.count("2026-11-30") == 1, header  # the verdict and its date, said once
    assert shown.count(regime_name("undetermined", lang)) <= 1, shown
    waiting = next(line for line in header.splitlines()
                   if line.startswith(text(lang, "regime_waiting", series="").rstrip(".。")))
    assert len(waiting) < 160, waiting  # short: grouped or capped, not every series
