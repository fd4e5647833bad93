"""History end to end: the live rules evaluation replayed week by week over the real data
(late 2025) -> pipeline -> outbox -> notifier. Every transition the backtest finds in the span
reaches every subscribed chat once, in that chat's language."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pandas as pd

from bot.alerts.outbox import DeliveryWorker
from bot.alerts.pipeline import Pipeline
from bot.store import Store
from bot.store.chats import Subscriptions
from rules import RuleSet, backtest, evaluate
from tests.chat.conftest import FakeClock
from tests.chat.recording import RecordingNotifier


async def test_weekly_replay_delivers_each_transition_once(
    sqlite_url: str, clock: FakeClock, ruleset: RuleSet, history_data: Mapping[str, pd.Series]
) -> None:
    store = Store(sqlite_url)
    subs = Subscriptions(store.engine)
    for chat, lang in (("en-chat", "en"), ("zh-chat", "zh")):
        subs.ensure_chat("telegram", chat, is_group=False, language_code=lang, now=clock.now)
        subs.subscribe("telegram", chat, "all", clock.now)
    pipeline = Pipeline(store)
    worker = DeliveryWorker(store, {"telegram": (notifier := RecordingNotifier())}, clock=clock)
    weeks = pd.date_range("2025-09-04", "2025-12-31", freq="W-THU")
    _, states, _ = evaluate(ruleset, history_data, {}, (weeks[0] - pd.Timedelta(days=7)).date())
    found: list[Any] = []
    for week in weeks:
        events, states, _ = evaluate(ruleset, history_data, states, week.date())
        states = json.loads(json.dumps(states))  # as stored between runs
        pipeline.record(events, clock.now)
        found += events
        await worker.drain()
    expected = {
        (e.rule_id, e.state, e.date.isoformat())
        for e in backtest(ruleset, history_data)
        if (weeks[0] - pd.Timedelta(days=6)).date() <= e.date <= weeks[-1].date()
    }
    assert expected and {(e.rule_id, e.state, e.date.isoformat()) for e in found} == expected
    # Transitions of one evaluation go out as one grouped message (tagged with its rules and
    # its newest date): each member counts as delivered, dated as the week's event.
    singles = [(chat, m) for chat, m in notifier.sent if m.tags["state"] != "group"]
    members = []
    for chat, m in notifier.sent:
        if m.tags["state"] == "group":
            newest = pd.Timestamp(m.tags["date"]).date()
            for rule in m.tags["rule"].split(","):
                (event,) = [e for e in found if e.rule_id == rule
                            and 0 <= (newest - e.date).days < 7]
                members.append((chat, rule, str(event.state), event.date.isoformat()))
    delivered = Counter(
        [(chat, m.tags["rule"], m.tags["state"], m.tags["date"]) for chat, m in singles]
        + members
    )
    assert set(delivered.values()) == {1}
    for chat in ("en-chat", "zh-chat"):
        assert {k[1:] for k in delivered if k[0] == chat} == expected
    by_event = {(e.rule_id, e.date.isoformat()): e for e in found}
    for chat, message in singles:
        event = by_event[(message.tags["rule"], message.tags["date"])]
        lang = "zh" if chat == "zh-chat" else "en"
        assert event.render(lang)[0] in message.title
    # a resolve carries the ids of the same chat's firing message (Slack edits it in place)
    # (a member of a group answers the group's message)
    ids = {(chat, rule, m.tags["state"] if m.tags["state"] != "group" else "firing"):
           f"{chat}:{n}"
           for n, (chat, m) in enumerate(notifier.sent, start=1)
           for rule in m.tags["rule"].split(",")}
    resolved = [(chat, m) for chat, m in singles if m.tags["state"] == "resolved"]
    assert resolved
    for chat, message in resolved:
        assert message.replaces == (ids[(chat, message.tags["rule"], "firing")],)
    store.close()
