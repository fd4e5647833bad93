"""A one-off milestone says what happened, with its date and size, not "off" the day after;
/regime carries the seed's numbers with units (issue 21 items 1 and 6), in en and zh."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bot.alerts.outbox import DeliveryWorker
from bot.alerts.pipeline import Pipeline
from bot.chat.commands import CommandContext, handle
from bot.chat.ratelimit import TokenBucket
from bot.chat.views import alert_numbers
from bot.evaluate.insight import Insight
from bot.store import Store
from bot.store.chats import Subscriptions
from rules import load_rules
from sources.files import FileSource
from tests.chat.conftest import FakeClock, private
from tests.chat.recording import RecordingNotifier
from tests.conftest import RULES_FILE


@pytest.fixture
def full(chat_store: Store, clock: FakeClock, insight: Insight) -> CommandContext:
    """Commands over the whole history, gold and Shiller's series included."""
    return CommandContext(store=chat_store, clock=clock, insight=insight, admins=frozenset(),
                          limiter=TokenBucket(capacity=1000, per_second=100,
                                              clock=clock.monotonic), charts=False)


def _row(reply: str, title: str) -> str:
    (line,) = [line for line in reply.splitlines() if title in line]
    return line


async def test_the_december_cut_with_its_size_and_the_six_month_pace(
        full: CommandContext) -> None:
    en = (await handle(full, private(), "/regime 2025-12-31")).text
    row = _row(en, "The Fed cut its policy rate")
    assert row.startswith("🔹 event ") and " off " not in row
    assert "last cut 2025-12-11, −0.25 pp to 3.75 %; 3 cuts, −75 bp in 6 months" in row
    assert "last fired 2024-09-19: a cut, −0.5 pp to 5 %" in _row(en, "easing cycle")
    zh = (await handle(full, private("101", lang="zh"), "/regime 2025-12-31")).text
    assert "最近一次降息:2025-12-11,−0.25个百分点至 3.75 %;6个月内降息3次,累计−75个基点" in \
        _row(zh, "美联储降息")


@pytest.mark.parametrize(("lang", "words"), [
    ("en", "last hike 2026-09-17, +0.25 pp to 4 %; 1 hike, +25 bp in 6 months"),
    ("zh", "最近一次加息:2026-09-17,+0.25个百分点至 4 %"),
])
async def test_eight_days_after_the_hike_tightening_says_so(
        full: CommandContext, lang: str, words: str) -> None:
    reply = (await handle(full, private(lang=lang), "/regime 2026-09-25")).text
    assert words in _row(reply, "货币紧缩开始" if lang == "zh" else "Monetary tightening")


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", ["The seed's numbers",
            "• Added since QT ended (2025-12-17): Treasuries +$299 bn (to 2026-06-24), "
            "reserves +$93.1 bn (to 2026-06-24)",
            "• Policy rate 3.75 %: 0 bp over 6 months (no move), −75 bp over 12 months (3 cuts)",
            "• Gold +38.6 % over 12 months (to 2026-05, $4,587 per oz) against the 10y yield "
            "4.44 % and CPI inflation 4.17 % (to 2026-05)"]),
    ("zh", ["种子文本关注的数字",
            "• 缩表结束(2025-12-17)以来新增:国债 +2,994亿美元(至 2026-06-24),"
            "准备金 +931亿美元(至 2026-06-24)",
            "• 政策利率 3.75 %:6个月变化0个基点(未调整),12个月变化−75个基点(降息3次)"]),
])
async def test_the_seed_numbers_on_2026_06_30(
        full: CommandContext, lang: str, expected: list[str]) -> None:
    reply = (await handle(full, private(lang=lang), "/regime 2026-06-30")).text
    lines = reply.splitlines()
    for line in expected:
        assert line in lines, reply
    share = [line for line in lines if "净发行" in line or "net marketable" in line]
    assert len(share) == 1  # the Fed's share: a number, or why it cannot be computed


async def test_why_a_cut_says_what_happened(full: CommandContext, clock: FakeClock) -> None:
    reply = (await handle(full, private(), "/why rate_cut")).text
    assert "Now: not firing" not in reply
    assert reply.splitlines()[1].startswith("Now: last cut ")


async def test_a_delivered_alert_carries_the_numbers_that_bear_on_it(
        chat_store: Store, clock: FakeClock, insight: Insight) -> None:
    subs = Subscriptions(chat_store.engine)
    for chat, lang in (("en-chat", "en"), ("zh-chat", "zh")):
        subs.ensure_chat("telegram", chat, is_group=False, language_code=lang, now=clock.now)
        subs.subscribe("telegram", chat, "all", clock.now)
    qt_ends = insight.last_event("qt_ends", date(2025, 12, 31))
    assert qt_ends is not None and qt_ends.date == date(2025, 12, 17)
    Pipeline(chat_store).record([qt_ends], clock.now)
    notifier = RecordingNotifier()
    worker = DeliveryWorker(chat_store, {"telegram": notifier}, clock=clock,
                            rng=random.Random(1))
    worker.numbers_for = alert_numbers(insight)
    assert await worker.drain() == 2
    sent = dict(notifier.sent)
    assert "The seed's numbers\n• Added since QT ended (2025-12-17): Treasuries +$15.4 bn" in \
        sent["en-chat"].body
    assert "种子文本关注的数字\n• 缩表结束(2025-12-17)以来新增:国债 +154亿美元" in \
        sent["zh-chat"].body
    assert "Policy rate" not in sent["en-chat"].body  # only the numbers of its kind


async def test_rules_lists_a_cut_by_what_happened(full: CommandContext) -> None:
    reply = (await handle(full, private(), "/rules")).text
    (line,) = [line for line in reply.splitlines() if "rate_cut" in line]
    assert line.startswith("🔹 rate_cut — ") and "last cut " in line and "not firing" not in line


MARKETABLE_LINE = (
    "  marketable_debt: {source: treasury, id: mspd_marketable, lag: 7d, "
    "title: {en: Total marketable Treasury debt, zh: 可流通国债总额}, unit: $ mn}\n")


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "• The Fed's share of net marketable Treasury issuance: 37.8 % (+$271 bn of "
           "+$716 bn, 2025-11-30 to 2026-05-31)"),
    ("zh", "• 美联储在可流通国债净发行中的占比:37.8 %(美联储 +2,707亿美元,净发行 +7,160亿美元,"
           "2025-11-30 至 2026-05-31)"),
])
async def test_the_fed_share_of_issuance_once_the_rules_read_marketable_debt(
        chat_store: Store, clock: FakeClock, history: Mapping[str, pd.Series],
        history_dir: Path, lang: str, expected: str) -> None:
    source = RULES_FILE.read_text(encoding="utf-8")
    if "mspd_marketable" not in source:  # the series the share needs, as rules.yaml would
        source = source.replace("\nseries:\n", "\nseries:\n" + MARKETABLE_LINE, 1)
    ruleset = load_rules(source, "rules.yaml")
    data = {**history, "mspd_marketable": FileSource(history_dir).fetch("mspd_marketable").values}
    ctx = CommandContext(store=chat_store, clock=clock, insight=Insight(ruleset, lambda: data),
                         admins=frozenset(), charts=False,
                         limiter=TokenBucket(capacity=1000, per_second=100,
                                             clock=clock.monotonic))
    reply = (await handle(ctx, private(lang=lang), "/regime 2026-06-30")).text
    assert expected in reply.splitlines(), reply
