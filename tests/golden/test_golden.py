"""What a person reads, byte for byte: Telegram HTML, Slack Block Kit and console text, en and
zh, for real events of the history in ../shared/data. Regenerate on purpose with
`make golden` (CYCLEWATCH_GOLDEN=update), then read the diff as a reviewer would."""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bot.alerts.payload import AlertPayload
from bot.alerts.render import render_alert, render_group
from bot.chat.seedtext import regime_facts
from bot.chat.views import alert_numbers, regime_text
from bot.evaluate.insight import Insight
from bot.notifiers.base import Message
from bot.notifiers.console import ConsoleNotifier
from bot.notifiers.textsplit import TELEGRAM_CAPTION_LIMIT, TELEGRAM_TEXT_LIMIT, telegram_html_parts
from bot.platforms.slack.notifier import slack_blocks
from rules import Event, RuleSet, Transition, backtest

HERE = Path(__file__).parent
RULES_FILE = HERE.parents[1] / "rules.yaml"
UPDATE = os.environ.get("CYCLEWATCH_GOLDEN") == "update"
LANGS = ("en", "zh")


def _events(ruleset: RuleSet, history: Mapping[str, pd.Series], day: date,
            only: list[str], state: Transition = Transition.FIRING) -> list[Event]:
    found = backtest(ruleset, dict(history), only=only)
    chosen = [e for e in found if e.state == state and e.date == day]
    assert sorted(e.rule_id for e in chosen) == sorted(only), found
    return sorted(chosen, key=lambda e: e.rule_id)


def _messages(case: str, ruleset: RuleSet, history: Mapping[str, pd.Series],
              lang: str) -> Message:
    numbers = alert_numbers(Insight(ruleset, lambda: history))  # as the delivery worker adds
    if case == "qt_ends_2025-12-17":
        (event,) = _events(ruleset, history, date(2025, 12, 17), ["qt_ends"])
        alert = AlertPayload.from_event(event)
        return render_alert(alert, lang, numbers=numbers(alert, lang))
    if case == "rate_cut_2024-09-19":
        found = _events(ruleset, history, date(2024, 9, 19), ["easing_cycle_starts", "rate_cut"])
        alerts = [AlertPayload.from_event(e) for e in found]
        lines = dict.fromkeys(line for a in alerts for line in numbers(a, lang))
        return render_group(alerts, lang, numbers=list(lines))
    if case == "bubble_conditions_resolved_2022-04-27":
        (event,) = _events(ruleset, history, date(2022, 4, 27), ["bubble_conditions"],
                           Transition.RESOLVED)
        return render_alert(AlertPayload.from_event(event), lang)
    day = date.fromisoformat(case.rsplit("_", 1)[1])
    insight = Insight(ruleset, lambda: history)  # as /regime answers: with each rule's state
    found = insight.regime(day, lang)  # ... the last event of each one-off rule, the numbers
    return Message(title="", body=regime_text(found, lang, insight.rules(day, lang),
                                              regime_facts(insight, day, lang)))


def _console(message: Message) -> str:
    stream = io.StringIO()
    asyncio.run(ConsoleNotifier(stream, width=100).send("golden", message))
    return stream.getvalue()


def _renderings(message: Message) -> dict[str, str]:
    parts = telegram_html_parts(message.title, message.body, limit=TELEGRAM_TEXT_LIMIT,
                                first_limit=TELEGRAM_CAPTION_LIMIT if message.title else None)
    buttons = "".join(f"\n[{b.label}] → {b.action}" for b in message.buttons)
    return {
        "telegram.html": "\n<!-- next message -->\n".join(parts) + buttons + "\n",
        "slack.json": json.dumps(slack_blocks(message.title, message.body, message.buttons),
                                 ensure_ascii=False, indent=1) + "\n",
        "console.txt": _console(message),
    }


CASES = ("qt_ends_2025-12-17", "rate_cut_2024-09-19", "bubble_conditions_resolved_2022-04-27",
         "regime_2021-12-31", "regime_stale_2026-11-30", "regime_2026-06-30")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, lang: str, ruleset: RuleSet,
                history: Mapping[str, pd.Series]) -> None:
    for kind, shown in _renderings(_messages(case, ruleset, history, lang)).items():
        path = HERE / f"{case}.{lang}.{kind}"
        if UPDATE:
            path.write_text(shown, encoding="utf-8")
        assert path.exists(), f"{path.name} missing: run `make golden` and review it"
        assert shown == path.read_text(encoding="utf-8"), f"{path.name} changed"
