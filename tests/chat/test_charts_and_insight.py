"""Charts (PNG, cached per data version), the store-backed rules bridge, /history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date

import pandas as pd

from bot.alerts.payload import AlertPayload, event_payload
from bot.alerts.pipeline import Pipeline
from bot.chat import charts
from bot.chat.commands import CommandContext, handle
from bot.chat.types import Caller
from bot.chat.views import alert_chart
from bot.evaluate.insight import Insight
from bot.store import Store
from rules import RuleSet, backtest
from sources.base import Fetched
from tests.chat.conftest import FakeClock

AS_OF = date(2026, 11, 23)


def test_dashboard_is_png_and_cached_per_version(
    history_data: Mapping[str, pd.Series], ruleset: RuleSet
) -> None:
    first = charts.regime_dashboard(history_data, AS_OF, "test-v1", ruleset)
    assert charts.is_png(first)
    assert charts.regime_dashboard(history_data, AS_OF, "test-v1", ruleset) is first
    other = charts.regime_dashboard({}, AS_OF, "test-v2", ruleset)  # new data, new picture
    assert charts.is_png(other) and other != first


def test_rule_chart(history_data: Mapping[str, pd.Series], ruleset: RuleSet) -> None:
    png = charts.rule_chart(history_data, ruleset, "qt_ends", AS_OF, "test-v1")
    assert png is not None and charts.is_png(png)
    assert charts.rule_chart(history_data, ruleset, "no_such_rule", AS_OF, "test-v1") is None


def test_alert_chart_for_a_stored_payload(files_insight: Insight) -> None:
    event = backtest(files_insight.ruleset, files_insight.data()[1], only=["rate_cut"])[-1]
    chart_for = alert_chart(files_insight)
    png = chart_for(AlertPayload.from_payload(event_payload(event)))
    assert png is not None and charts.is_png(png)
    gone = AlertPayload.from_payload({"rule": "no_such_rule", "date": "2025-01-02"})
    assert chart_for(gone) is None  # a rule removed since: the alert goes without a chart


async def test_regime_and_why_attach_charts(ctx: CommandContext) -> None:
    charted = replace(ctx, charts=True)
    caller = Caller("slack", "C9", "U9")
    regime = await handle(charted, caller, "/regime 2020-04-30")
    why = await handle(charted, caller, "/why rate_cut")
    assert regime.chart_png and charts.is_png(regime.chart_png)
    assert why.chart_png and charts.is_png(why.chart_png)


def test_insight_from_store_follows_new_data(
    sqlite_url: str, clock: FakeClock, ruleset: RuleSet, history_data: Mapping[str, pd.Series]
) -> None:
    store = Store(sqlite_url)
    subset = {k: history_data[k] for k in ("WALCL", "TREAST", "WSHOMCB")}
    for series_id, values in subset.items():
        store.record("fred", Fetched(series_id, values), clock.now)
    from_store = Insight.from_store(ruleset, store)
    from_dict = Insight(ruleset, lambda: subset)
    as_of = date(2026, 10, 1)
    states = [(v.id, v.state, v.since) for v in from_store.rules(as_of)]
    assert states == [(v.id, v.state, v.since) for v in from_dict.rules(as_of)]
    version, data = from_store.data()
    newest = subset["WALCL"].index.max() + pd.Timedelta(days=7)
    store.record("fred", Fetched("WALCL", pd.Series([1.0], index=[newest])), clock.now)
    new_version, new_data = from_store.data()
    assert new_version != version and len(new_data["WALCL"]) == len(data["WALCL"]) + 1
    store.close()


async def test_history_lists_recorded_alerts_in_the_chat_language(
    ctx: CommandContext, files_insight: Insight
) -> None:
    found = backtest(files_insight.ruleset, files_insight.data()[1], only=["rate_cut"])[-2:]
    Pipeline(ctx.store).record(found, ctx.clock())
    en = await handle(ctx, Caller("telegram", "1", "u1"), "/history")
    await handle(ctx, Caller("telegram", "2", "u2"), "/lang zh")
    zh = await handle(ctx, Caller("telegram", "2", "u2"), "/history")
    for event in found:
        assert f"{event.date.isoformat()} 🟢 {event.render('en')[0]}" in en.text
        assert event.render("zh")[0] in zh.text
    newest_first = en.text.index(found[-1].date.isoformat()) < en.text.index(
        found[0].date.isoformat())
    assert newest_first
