"""The weekly briefing: its numbers against the CSVs (computed here independently), the
Chinese text without English words, `/briefing weekly|off`, and one briefing per H.4.1 over
January 2026 through the outbox for a chat in Asia/Shanghai (none twice after a restart)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from bot.alerts.outbox import DeliveryWorker
from bot.briefing.attach import with_briefing_chart
from bot.briefing.deliver import Briefings
from bot.briefing.facts import briefing
from bot.briefing.text import render
from bot.chat.commands import handle
from bot.chat.ratelimit import TokenBucket
from bot.chat.registry import CommandContext
from bot.chat.types import Caller
from bot.chat.views import alert_chart
from bot.cli.main import main
from bot.cli.replaykit import SimClock
from bot.evaluate.insight import Insight
from bot.store import Store
from bot.store.chats import Subscriptions
from bot.store.quiet import QuietHours
from rules.units import format_signed
from tests.chat.recording import RecordingNotifier

WEEK = date(2026, 1, 7)
NEW_YORK = ZoneInfo("America/New_York")


def _csv(history_dir: Path, series_id: str) -> pd.Series:
    frame = pd.read_csv(history_dir / "fred" / f"{series_id}.csv", index_col=0, parse_dates=True)
    return pd.Series(frame.iloc[:, 0])


def _change_bn(history_dir: Path, series_id: str, weeks: int) -> float:
    values = _csv(history_dir, series_id)
    now, before = pd.Timestamp(WEEK), pd.Timestamp(WEEK - timedelta(weeks=weeks))
    return float(values[now] - values[before]) / 1000  # H.4.1 lines are in $ mn


def _line(body: str, title: str) -> str:
    return next(line for line in body.splitlines() if line.startswith(f"• {title} "))


def test_cli_briefing_of_2026_01_09_matches_the_csvs(
    history_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["briefing", "--data", str(history_dir), "--as-of", "2026-01-09"]) == 0
    out = capsys.readouterr().out
    assert "the H.4.1 of 2026-01-07" in out
    for title, series_id in (("Reserve balances", "WRESBAL"),
                             ("Fed Treasury holdings", "TREAST")):
        line = _line(out, title)
        week, month = (_change_bn(history_dir, series_id, n) for n in (1, 4))
        assert f"{format_signed(week, '$ bn')} this week" in line
        assert f"{format_signed(month, '$ bn')} over 4 weeks" in line
    assert "3 cuts, −75 bp in 6 months" in out  # Sep, Oct and Dec 2025 (the last 2025-12-10)
    assert "• H.4.1 (Fed balance sheet): Thu 2026-01-15 16:30 EST" in out
    assert "FOMC statement: Wed 2026-01-28" in out


def test_the_chinese_briefing_has_no_english_words(insight: Insight) -> None:
    found = briefing(insight, WEEK, zone="America/New_York")
    title, body = render(found, insight.ruleset, "zh", ZoneInfo("Asia/Shanghai"))
    words = re.findall(r"[A-Za-z]{2,}", f"{title}\n{body}")
    assert [w for w in words if not w.isupper()] == []  # codes like FOMC, MSPD, UTC stay
    assert "2026-01-09(周五)05:30(UTC+8)" in body  # the H.4.1's 4:30 pm ET in Shanghai
    assert "🟢 美联储扩表推动银行准备金增长:触发(2026-01-07)" in body  # reserves_grow


def _store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'briefing.db'}")


def test_briefing_command_sets_and_clears_the_chat_setting(tmp_path: Path) -> None:
    store = _store(tmp_path)
    clock = SimClock(datetime(2026, 1, 5, 12, tzinfo=UTC))
    ctx = CommandContext(store, clock, None, limiter=TokenBucket(capacity=100))
    caller = Caller("telegram", "7", "7")
    reply = asyncio.run(handle(ctx, caller, "/briefing weekly"))
    assert "Thu 2026-01-08 16:30 EST" in reply.text  # the next H.4.1
    chat = Subscriptions(store.engine).find("telegram", "7")
    assert chat is not None and chat.briefing == "weekly"
    asyncio.run(handle(ctx, caller, "/briefing off"))
    chat = Subscriptions(store.engine).find("telegram", "7")
    assert chat is not None and chat.briefing is None
    asyncio.run(handle(ctx, caller, "/briefing weekly"))
    assert "Weekly briefing: on" in asyncio.run(handle(ctx, caller, "/status")).text
    asyncio.run(handle(ctx, caller, "/briefing off"))
    assert "/briefing weekly|off" in asyncio.run(handle(ctx, caller, "/briefing")).text
    store.close()


# The H.4.1s of January 2026's Wednesdays come out Thursdays at 4:30 pm ET (21:30 UTC).
THURSDAYS = [datetime(2026, 1, d, 21, 30, tzinfo=UTC) for d in (8, 15, 22, 29)]


def _replay(store: Store, insight: Insight, notifier: RecordingNotifier, start: datetime,
            end: datetime = datetime(2026, 2, 1, tzinfo=UTC),
            extra: tuple[datetime, ...] = ()) -> list[datetime]:
    """Every six hours from `start` to `end`, at each H.4.1's release and at `extra`: record
    what is due, deliver what is due; when each message went out."""
    steps = {start + timedelta(hours=6 * k) for k in range(int((end - start) / timedelta(hours=6)))}
    steps |= {at for at in (*THURSDAYS, *extra) if start <= at < end}
    clock = SimClock(start)
    briefings = Briefings(store, lambda: insight, default_zone="America/New_York")
    worker = DeliveryWorker(store, {"telegram": notifier}, clock=clock, worker_id="test")
    worker.chart_for = with_briefing_chart(alert_chart(insight), insight)
    sent_at: list[datetime] = []

    async def run() -> None:
        for step in sorted(steps):
            clock.now = step
            briefings.record_due(clock.now)
            before = len(notifier.sent)
            await worker.drain()
            sent_at.extend([clock.now] * (len(notifier.sent) - before))

    asyncio.run(run())
    return sent_at


def _chat(store: Store, *words: str) -> None:
    subs = Subscriptions(store.engine)
    subs.ensure_chat("telegram", "42", is_group=False, language_code="en",
                     now=datetime(2026, 1, 1, tzinfo=UTC))
    subs.set_zone("telegram", "42", "Asia/Shanghai")
    subs.set_briefing("telegram", "42", "weekly")
    if words:
        subs.set_quiet("telegram", "42", QuietHours.parse(list(words)),
                       datetime(2026, 1, 1, tzinfo=UTC))


def test_one_briefing_per_h41_in_january_2026_and_none_twice_after_a_restart(
    tmp_path: Path, insight: Insight
) -> None:
    store = _store(tmp_path)
    _chat(store)
    notifier = RecordingNotifier()
    # From two days after the H.4.1 of 2025-12-31 (out 2026-01-02): the four of January's
    # Wednesdays, each on its Thursday at 4:30 pm ET.
    sent_at = _replay(store, insight, notifier, datetime(2026, 1, 4, tzinfo=UTC))
    titles = [m.title for _, m in notifier.sent]
    assert titles == [f"Weekly briefing: the H.4.1 of 2026-01-{d:02d}" for d in (7, 14, 21, 28)]
    assert sent_at == THURSDAYS  # each at its release
    first = notifier.sent[0][1]
    assert "Fri 2026-01-09 05:30 CST (Asia/Shanghai)" in first.body  # the chat's zone
    assert first.chart_png and first.chart_png.startswith(b"\x89PNG")
    assert not first.buttons
    # A restart replays the month again on the same store: nothing is sent twice.
    _replay(store, insight, notifier, datetime(2026, 1, 4, tzinfo=UTC))
    assert len(notifier.sent) == 4
    store.close()


def test_quiet_hours_that_hold_deliver_the_briefing_at_their_end(
    tmp_path: Path, insight: Insight
) -> None:
    store = _store(tmp_path)
    _chat(store, "23:00-07:00", "hold")  # Shanghai nights: the H.4.1 comes out at 05:30
    notifier = RecordingNotifier()
    window_end = datetime(2026, 1, 8, 23, 0, tzinfo=UTC)
    sent_at = _replay(store, insight, notifier, datetime(2026, 1, 8, tzinfo=UTC),
                      datetime(2026, 1, 10, tzinfo=UTC), (window_end - timedelta(minutes=1),
                                                           window_end))
    assert sent_at == [window_end]  # 07:00 in Shanghai, not before
    [(_, message)] = notifier.sent
    assert message.title == "Weekly briefing: the H.4.1 of 2026-01-07"
    assert message.chart_png is not None
    store.close()


def test_net_liquidity_is_unknown_once_reverse_repos_stop(insight: Insight) -> None:
    # RRPONTSYD ends 2026-09-30 in the data; the H.4.1 of 2026-10-07 has the rest
    found = {line.name: line for line in briefing(insight, date(2026, 10, 7)).lines}
    assert found["total_assets"].level is not None and found["tga"].level is not None
    assert found["net_liquidity"].level is None
    assert found["net_liquidity"].changes == (None, None)
