"""`cyclewatch replay`: history through the service's own pipeline on a simulated clock."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from bot.cli.replay import Replay
from bot.config import load_settings
from bot.ingest.calendar import ReleaseCalendar
from bot.ingest.knownat import release_instants
from bot.store import Store
from bot.store.chats import Subscriptions
from tests.cli.conftest import REPO, Cli
from tests.fakes.telegram import FakeTelegram


def published_at(index: pd.DatetimeIndex, lag: str | None,
                 calendar: ReleaseCalendar) -> list[datetime]:
    return [datetime.fromtimestamp(int(ns) / 1e9, UTC)
            for ns in release_instants(index, lag, calendar)]


def test_releases_appear_on_the_day_they_were_published() -> None:
    calendar = ReleaseCalendar()
    weekly = pd.date_range("2025-10-01", "2025-12-31", freq="W-WED")
    thanksgiving_week = published_at(weekly, None, calendar)[list(weekly).index(
        pd.Timestamp("2025-11-26"))]
    # H.4.1: Wednesday levels on Thursday 4:30 pm ET; Thanksgiving moves it to Friday
    assert thanksgiving_week == datetime(2025, 11, 28, 21, 30, tzinfo=UTC)
    daily = pd.date_range("2025-12-01", "2025-12-14", freq="D")
    by_day = dict(zip(daily.date, published_at(daily, None, calendar), strict=True))
    assert by_day[date(2025, 12, 11)] == datetime(2025, 12, 11, 21, 30, tzinfo=UTC)
    assert by_day[date(2025, 12, 13)] == datetime(2025, 12, 15, 21, 30, tzinfo=UTC)  # Sat
    monthly = pd.DatetimeIndex(["2025-10-01", "2025-11-01"])
    cpi = published_at(monthly, "45d", calendar)  # the rules' lag, at 8:30 am ET
    assert cpi == [datetime(2025, 11, 15, 13, 30, tzinfo=UTC),
                   datetime(2025, 12, 16, 13, 30, tzinfo=UTC)]


def test_the_december_cut_and_the_end_of_qt_come_in_order_with_their_dates(
    cli: Cli, history_dir: Path, cli_env: dict[str, str]
) -> None:
    done = cli("replay", "--data", str(history_dir), "--from", "2025-12-08",
               "--until", "2025-12-19")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = done.stdout[done.stdout.index("alert(s) replayed:"):]
    lines = [line.strip() for line in summary.splitlines()[1:] if line.strip()]
    assert lines == [
        "2025-12-11 16:30 EST  Milestone crossed: The Fed cut its policy rate",
        "2025-12-18 16:30 EST  Milestone crossed: Quantitative tightening has ended",
    ]
    # each alert printed as the service renders it, marked as a replay of its day
    assert "[REPLAY 2025-12-11 16:30 EST] Milestone crossed: The Fed cut" in done.stdout
    assert "(a replay of history, not a live alert)" in done.stdout
    assert "Observation date 2025-12-17" in done.stdout  # the Wednesday level, out Thursday
    # nothing from before --from is announced, and the live store is left alone
    assert not re.search(r"REPLAY 2025-1[01]-|REPLAY 2025-12-0[1-7]", done.stdout)
    assert not (Path(cli_env["XDG_STATE_HOME"]) / "cyclewatch" / "cyclewatch.db").exists()


def test_to_chats_needs_a_chat_platform(cli: Cli, history_dir: Path) -> None:
    done = cli("replay", "--data", str(history_dir), "--from", "2025-12-08", "--to-chats")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "cyclewatch replay: --to-chats needs a chat platform (TELEGRAM_BOT_TOKEN or "
        "SLACK_BOT_TOKEN)"]


async def test_to_chats_sends_to_the_live_subscribers_marked_as_a_replay(
    history_dir: Path, tmp_path: Path
) -> None:
    telegram = await FakeTelegram().start()
    live_url = f"sqlite:///{tmp_path / 'live.db'}"
    live = Store(live_url)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    subs = Subscriptions(live.engine)
    subs.ensure_chat("telegram", "4242", is_group=False, language_code="en", now=now)
    subs.subscribe("telegram", "4242", "rate_cut", now)
    live.close()
    settings = load_settings(
        CYCLEWATCH_DB_URL=live_url, TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_URL=telegram.base_url, CYCLEWATCH_RULES=REPO / "rules.yaml",
    )
    replay = Replay(settings, history_dir, f"sqlite:///{tmp_path / 'replay.db'}", True)
    try:
        assert await replay.run(date(2025, 12, 8), date(2025, 12, 19)) == 0
    finally:
        await telegram.close()
    texts = telegram.texts("4242")
    assert len(texts) == 1  # subscribed to rate_cut only: the end of QT is not sent
    assert "REPLAY 2025-12-11" in texts[0] and "The Fed cut its policy rate" in texts[0]
    assert "not a live alert" in texts[0]
    # the live store got no events, outbox rows or rule states from the replay
    live = Store(live_url)
    with live.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from events")).scalar() == 0
        assert conn.execute(sa.text("select count(*) from outbox")).scalar() == 0
    live.close()


ALERTS = [
    "2025-11-05 16:30 EST  Milestone crossed: The yield curve has un-inverted",
    "2025-12-01 16:30 EST  No longer holds: Real yields are falling in a bubble",
    "2025-12-11 16:30 EST  Milestone crossed: The Fed cut its policy rate",
    "2025-12-18 16:30 EST  Milestone crossed: Quantitative tightening has ended",
    "2026-01-08 16:30 EST  Milestone crossed: Reserves are growing because the Fed is adding "
    "assets",
]


async def test_three_months_announce_their_alerts_at_their_release_times(
    history_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(CYCLEWATCH_DB_URL=f"sqlite:///{tmp_path / 'live.db'}",
                             CYCLEWATCH_RULES=REPO / "rules.yaml")
    replay = Replay(settings, history_dir, f"sqlite:///{tmp_path / 'replay.db'}", False)
    assert await replay.run(date(2025, 11, 1), date(2026, 1, 31)) == 0
    out = capsys.readouterr().out
    summary = out[out.index(f"{len(ALERTS)} alert(s) replayed:"):]
    # each at the instant its newest input was public: H.4.1 Thursdays and daily rates at
    # 4:30 pm ET
    assert [line.strip() for line in summary.splitlines()[1:] if line.strip()] == ALERTS
    # the 10y TIPS yield of Monday Dec 1 is public at 4:30 pm: the stepwise loop of old judged
    # that day at 8:30 am on Friday's yield and announced the end three days late, on Dec 4
    assert "Ended on 2025-12-01, after holding 2 months (since 2025-09-16)." in out
    assert "Change in the 10y TIPS yield over 13 weeks is now 0.03 pp" in out
    assert "Observation date 2025-12-17." in out  # QT's end: the Wednesday level, out Thursday
    assert out.count("(a replay of history, not a live alert)") == len(ALERTS)


def test_daily_releases_follow_the_fed_calendar_in_every_year() -> None:
    calendar = ReleaseCalendar()
    days = pd.bdate_range("1990-01-01", "2027-12-31")
    released = published_at(pd.DatetimeIndex(days), None, calendar)
    for day, when in zip(days.date, released, strict=True):
        if day in (date(2025, 12, 25), date(2024, 11, 28), date(2026, 10, 12)):
            assert when.date() > day  # Christmas, Thanksgiving, Columbus Day: the next day
    business = {d for d in days.date if d.weekday() < 5}
    expected = calendar.days("daily", date(1990, 1, 1), date(2027, 12, 31))
    # a weekday's value is out on its own day when the Fed is open, else on the next open day
    assert {w.date() for w in released} <= set(expected) | business
    assert [d for d, w in zip(days.date, released, strict=True) if w.date() == d] == expected
