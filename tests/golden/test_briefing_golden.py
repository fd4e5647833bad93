"""The weekly briefing of the H.4.1 of 2026-01-07 as each platform shows it (Telegram HTML,
Slack Block Kit, console), in English for a chat in New York and in Chinese for one in
Shanghai, byte for byte; `make golden` rewrites them."""

from __future__ import annotations

from datetime import date

import pytest

from bot.alerts.payload import AlertPayload
from bot.alerts.render import render_alert
from bot.briefing.deliver import payload
from bot.briefing.facts import briefing
from bot.evaluate.insight import Insight
from tests.golden.test_golden import HERE, UPDATE, _renderings

WEEK = date(2026, 1, 7)
ZONES = {"en": "America/New_York", "zh": "Asia/Shanghai"}


@pytest.mark.parametrize("lang", sorted(ZONES))
def test_briefing_golden(lang: str, insight: Insight) -> None:
    found = briefing(insight, WEEK, zone="America/New_York")
    stored = payload(found, insight, "America/New_York", {ZONES[lang]})
    message = render_alert(AlertPayload.from_payload(stored), lang, zone=ZONES[lang])
    for kind, shown in _renderings(message).items():
        path = HERE / f"briefing_{WEEK}.{lang}.{kind}"
        if UPDATE:
            path.write_text(shown, encoding="utf-8")
        assert path.exists(), f"{path.name} missing: run `make golden` and review it"
        assert shown == path.read_text(encoding="utf-8"), f"{path.name} changed"
