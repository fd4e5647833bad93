"""`/regime D` for a date the data cannot answer is a one-line reply, not a computation
(issue 20 item 6), in both languages."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pandas as pd
import pytest

from bot.chat.commands import CommandContext, handle
from bot.chat.ratelimit import TokenBucket
from bot.evaluate.dates import insight_answerable
from bot.evaluate.insight import Insight
from bot.i18n import text
from bot.store import Store
from rules import RuleSet
from tests.chat.conftest import FakeClock, private

SINCE = pd.Timestamp("2003-01-01")


@pytest.fixture
def recent(ruleset: RuleSet, history_data: Mapping[str, pd.Series]) -> Insight:
    """The rules over the real history cut to 2003 on (a store filled from then)."""
    data = {k: v[v.index >= SINCE] for k, v in history_data.items() if (v.index >= SINCE).any()}
    return Insight(ruleset, lambda: data)


@pytest.fixture
def ctx(chat_store: Store, clock: FakeClock, recent: Insight) -> CommandContext:
    return CommandContext(store=chat_store, clock=clock, insight=recent, admins=frozenset(),
                          limiter=TokenBucket(capacity=1000, per_second=100,
                                              clock=clock.monotonic), charts=False)


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_a_date_before_the_data_is_one_line_and_nothing_is_computed(
    ctx: CommandContext, recent: Insight, lang: str
) -> None:
    reply = await handle(ctx, private(lang=lang), "/regime 1950-06-30")
    span = insight_answerable(recent)
    assert span is not None and span.first == date(2003, 1, 1)
    assert span.until > max(v.index.max().date() for v in recent.data()[1].values())
    expected = text(lang, "date_outside_data", as_of="1950-06-30", first="2003-01-01",
                    until=span.until.isoformat())
    assert reply.text == expected and reply.ephemeral and "\n" not in reply.text
    assert not recent.holds(("regime", date(1950, 6, 30), lang))
    assert not recent.holds(("rules", date(1950, 6, 30), lang))


async def test_a_date_the_data_cover_is_answered(ctx: CommandContext, recent: Insight) -> None:
    reply = await handle(ctx, private(), "/regime 2021-06-30")
    # the files alone (no CAPE): the valuation leg is the stock market over GDP, over 140 % by then
    assert reply.text.startswith("Easing into a bubble since 2021-01-12: ")
    assert recent.holds(("regime", date(2021, 6, 30), "en"))
