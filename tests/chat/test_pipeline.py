"""Pipeline: route to subscriptions, drop muted chats, dedup, one transaction with the event."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa

from bot.alerts.pipeline import Pipeline, Recipient, event_payload
from bot.store import Store
from bot.store.chats import Subscriptions
from bot.store.schema import events, outbox
from rules import Event, RuleSet, backtest
from tests.chat.conftest import FakeClock


def _subscribe(store: Store, clock: FakeClock, chat: str, *targets: str, lang: str = "en") -> None:
    subs = Subscriptions(store.engine)
    subs.ensure_chat("telegram", chat, is_group=False, language_code=lang, now=clock.now)
    for target in targets:
        subs.subscribe("telegram", chat, target, clock.now)


def _rows(store: Store) -> set[tuple[str, str, str]]:
    query = sa.select(events.c.rule_id, outbox.c.chat_id, events.c.state).join(
        events, events.c.id == outbox.c.event_id)
    with store.engine.connect() as conn:
        return {(r.rule_id, r.chat_id, r.state) for r in conn.execute(query)}


def history_events(ruleset: RuleSet, data: Mapping[str, pd.Series], rule: str) -> list[Event]:
    """The rule's real transitions over the history."""
    return backtest(ruleset, data, only=[rule])


def test_routes_by_rule_severity_and_all(
    store: Store, clock: FakeClock, ruleset: RuleSet, history_data: Mapping[str, pd.Series]
) -> None:
    _subscribe(store, clock, "all", "all")
    _subscribe(store, clock, "qt", "qt_ends")
    _subscribe(store, clock, "milestones", "milestone")
    _subscribe(store, clock, "cuts", "rate_cut")
    _subscribe(store, clock, "both", "all", "qt_ends")  # still one delivery per event
    qt = history_events(ruleset, history_data, "qt_ends")[-1]
    assert Pipeline(store).record([qt], clock.now) == 1
    assert ruleset.rule("qt_ends").spec.severity == "milestone"
    expected = {("qt_ends", chat, qt.state) for chat in ("all", "qt", "milestones", "both")}
    assert _rows(store) == expected


def test_same_event_twice_is_stored_once(
    store: Store, clock: FakeClock, ruleset: RuleSet, history_data: Mapping[str, pd.Series]
) -> None:
    _subscribe(store, clock, "a", "all")
    found = history_events(ruleset, history_data, "rate_cut")[-3:]
    pipeline = Pipeline(store)
    assert pipeline.record(found, clock.now) == len(found)
    clock.advance(hours=1)
    assert pipeline.record(found, clock.now) == 0
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar() == len(found)
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar() == len(found)


def test_muted_chat_is_skipped_until_the_mute_ends(
    sqlite_url: str, clock: FakeClock, ruleset: RuleSet
) -> None:
    store = Store(sqlite_url)
    _subscribe(store, clock, "a", "all")
    _subscribe(store, clock, "b", "all")
    Subscriptions(store.engine).mute("telegram", "a", "qt_ends", clock.now + timedelta(days=1),
                                     "u1", clock.now)
    rule = ruleset.rule("qt_ends")  # plainly synthetic transitions
    first = Event(rule=rule, state="firing", date=date(2030, 1, 2), value=1.0, threshold=0.2)
    Pipeline(store).record([first], clock.now)
    assert _rows(store) == {("qt_ends", "b", "firing")}
    other_rule = Event(rule=ruleset.rule("rate_cut"), state="firing", date=date(2030, 1, 3))
    Pipeline(store).record([other_rule], clock.now)
    assert ("rate_cut", "a", "firing") in _rows(store)
    clock.advance(days=2)
    second = Event(rule=rule, state="resolved", date=date(2030, 1, 9), value=0.1, threshold=0.2)
    Pipeline(store).record([second], clock.now)
    assert ("qt_ends", "a", "resolved") in _rows(store)
    store.close()


def test_inactive_chats_and_implicit_console(
    sqlite_url: str, clock: FakeClock, ruleset: RuleSet
) -> None:
    store = Store(sqlite_url)
    _subscribe(store, clock, "gone", "all")
    with store.engine.begin() as conn:
        Subscriptions(store.engine).deactivate_chat(conn, "telegram", "gone")
    event = Event(rule=ruleset.rule("qt_ends"), state="firing", date=date(2030, 1, 2))
    Pipeline(store, implicit=[Recipient("console", "console")]).record([event], clock.now)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.platform, outbox.c.chat_id)).all()
    assert [tuple(r) for r in rows] == [("console", "console")]
    store.close()


def test_payload_carries_both_languages(ruleset: RuleSet) -> None:
    event = Event(rule=ruleset.rule("qt_ends"), state="firing", date=date(2030, 1, 2), value=1.0)
    payload = event_payload(event)
    assert payload["texts"]["en"]["title"] == event.render("en")[0]
    assert payload["texts"]["zh"]["title"] == event.render("zh")[0]
    assert payload["texts"]["zh"]["title"] != payload["texts"]["en"]["title"]
