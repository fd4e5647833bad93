"""Release calendar: UTC instants across DST and holidays, and the polling plan's behaviour."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest

from bot.ingest.calendar import (
    CalendarError,
    PollState,
    ReleaseCalendar,
    SourceSchedule,
    is_fed_business_day,
    is_treasury_business_day,
    parse_fed_calendar,
    plan_polls,
)

CAL = ReleaseCalendar()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def h41(start: str, end: str) -> list[datetime]:
    return [r.at for r in CAL.releases("h41", date.fromisoformat(start), date.fromisoformat(end))]


def test_h41_is_thursday_1630_eastern_on_both_sides_of_dst() -> None:
    # DST began 2026-03-08 and ends 2026-11-01.
    assert h41("2026-03-01", "2026-03-13") == [utc("2026-03-05 21:30"), utc("2026-03-12 20:30")]
    assert h41("2026-10-25", "2026-11-06") == [utc("2026-10-29 20:30"), utc("2026-11-05 21:30")]


@pytest.mark.parametrize(
    ("week_start", "expected"),
    [
        ("2026-11-23", "2026-11-27 21:30"),  # Thanksgiving Thu 26 -> Fri 27 (EST)
        ("2024-11-25", "2024-11-29 21:30"),  # Thanksgiving 2024
        ("2024-07-01", "2024-07-05 20:30"),  # July 4 on a Thursday -> Friday (EDT)
        ("2025-12-22", "2025-12-26 21:30"),  # Christmas Thursday
        ("2025-06-16", "2025-06-20 20:30"),  # Juneteenth Thursday
        ("2027-11-08", "2027-11-12 21:30"),  # Veterans Day Thursday
        ("2024-12-23", "2024-12-26 21:30"),  # Christmas on Wednesday: Thursday as usual
        ("2026-06-29", "2026-07-02 20:30"),  # July 4 on Saturday: the Fed is open Friday 3rd
    ],
)
def test_h41_moves_to_the_next_business_day_when_thursday_is_a_holiday(
    week_start: str, expected: str
) -> None:
    start = date.fromisoformat(week_start)
    assert h41(week_start, str(start + timedelta(days=6))) == [utc(expected)]


def test_fed_and_treasury_business_days_differ_on_saturday_holidays() -> None:
    friday = date(2026, 7, 3)  # Independence Day falls on Saturday the 4th
    assert is_fed_business_day(friday)
    assert not is_treasury_business_day(friday)
    assert not is_fed_business_day(date(2027, 7, 5))  # Sunday holiday observed Monday
    assert not is_fed_business_day(date(2026, 11, 26))


def test_fomc_statement_is_2pm_eastern_in_summer_and_winter() -> None:
    at = [r.at for r in CAL.releases("fomc", date(2026, 1, 1), date(2026, 12, 31))]
    assert len(at) == 8
    assert at[0] == utc("2026-01-28 19:00")
    assert at[1] == utc("2026-03-18 18:00")  # ten days after DST began
    assert at[6] == utc("2026-10-28 18:00")  # four days before DST ends
    assert at[7] == utc("2026-12-09 19:00")


def test_fed_calendar_json_with_bom_replaces_the_built_in_list() -> None:
    doc = {"events": [
        {"title": "FOMC Meeting", "time": "2:00 p.m.", "month": "2028-01", "days": "25-26",
         "type": "FOMC"},
        {"title": "FOMC Minutes", "time": "2:00 p.m.", "month": "2027-11", "days": "17",
         "type": "FOMC", "description": "Meeting of October 26-27"},
        {"title": "FOMC Meeting", "month": "2027-12", "days": "7 - 8", "type": "FOMC"},
        {"title": "FOMC Meeting", "month": "bad", "days": "", "type": "FOMC"},
        {"title": "Speech", "month": "2027-12", "days": "1", "type": "Speech"},
    ]}
    raw = b"\xef\xbb\xbf" + json.dumps(doc).encode()
    days = parse_fed_calendar(raw)
    assert days == [date(2027, 12, 8), date(2028, 1, 26)]
    cal = ReleaseCalendar(days)
    assert [r.at for r in cal.releases("fomc", date(2028, 1, 1), date(2028, 2, 1))] == [
        utc("2028-01-26 19:00")
    ]


@pytest.mark.parametrize("raw", [b"<html>", b"\xef\xbb\xbf{\"events\": 3}", b"\xff\xfe"])
def test_a_bad_calendar_document_is_a_clear_error(raw: bytes) -> None:
    with pytest.raises(CalendarError, match=r"calendar\.json"):
        parse_fed_calendar(raw)


def test_mspd_is_the_fourth_treasury_business_day() -> None:
    days = CAL.days("mspd", date(2026, 12, 1), date(2027, 1, 31))
    assert days == [date(2026, 12, 4), date(2027, 1, 7)]  # Jan 1 2027 is a holiday


def test_refunding_monday_and_wednesday_of_the_first_week() -> None:
    fin = CAL.releases("refunding_financing", date(2025, 11, 1), date(2026, 2, 28))
    stm = CAL.releases("refunding_statement", date(2025, 11, 1), date(2026, 2, 28))
    assert [r.at for r in fin] == [utc("2025-11-03 20:00"), utc("2026-02-02 20:00")]
    assert [r.at for r in stm] == [utc("2025-11-05 13:30"), utc("2026-02-04 13:30")]


H41 = SourceSchedule(name="fred", kinds=("h41",), window=timedelta(hours=2),
                     fast_every=timedelta(minutes=2), safety_every=timedelta(hours=6))


def test_plan_waits_for_the_release_instant_then_polls_often() -> None:
    before = utc("2026-11-27 19:00")  # Friday after Thanksgiving, release at 21:30
    state = PollState(last_poll=utc("2026-11-27 18:00"))
    [poll] = plan_polls(before, [H41], {"fred": state}, CAL)
    assert poll.at == utc("2026-11-27 21:30")
    inside = utc("2026-11-27 21:33")
    [poll] = plan_polls(inside, [H41], {"fred": PollState(last_poll=utc("2026-11-27 21:32"))},
                        CAL)
    assert (poll.at, poll.reason) == (utc("2026-11-27 21:34"), "h41 window: waiting for update")


def test_plan_backs_off_once_the_series_updated() -> None:
    now = utc("2026-11-27 21:40")
    state = PollState(last_poll=utc("2026-11-27 21:39"), last_change=utc("2026-11-27 21:39"))
    [poll] = plan_polls(now, [H41], {"fred": state}, CAL)
    assert (poll.at, poll.reason) == (utc("2026-11-28 03:39"), "safety poll")


def test_rate_limit_floor_wins_over_a_faster_wish() -> None:
    greedy = SourceSchedule(name="treasury", kinds=("mspd",), fast_every=timedelta(seconds=5),
                            rate_floor=timedelta(seconds=30))
    state = PollState(last_poll=utc("2026-12-04 17:01:00"))
    [poll] = plan_polls(utc("2026-12-04 17:01:10"), [greedy], {"treasury": state}, CAL)
    assert poll.at == utc("2026-12-04 17:01:30")


def test_simulated_release_day_polls_until_update_then_stops() -> None:
    update_at = utc("2026-03-12 20:37")  # FRED shows the new H.4.1 7 minutes after 16:30 EDT
    now, state, polls = utc("2026-03-12 12:00"), PollState(), []
    while now < utc("2026-03-13 06:00"):
        [poll] = plan_polls(now, [H41], {"fred": state}, CAL)
        now = poll.at
        polls.append(now)
        state = PollState(last_poll=now,
                          last_change=now if now >= update_at else state.last_change)
        now += timedelta(seconds=1)
    in_window = [p for p in polls if utc("2026-03-12 20:30") <= p <= update_at + timedelta(
        minutes=2)]
    assert in_window[0] == utc("2026-03-12 20:30")
    assert 4 <= len(in_window) <= 6
    assert all(b - a <= timedelta(minutes=2, seconds=1) for a, b in pairwise(in_window))
    later = [p for p in polls if p > update_at + timedelta(minutes=2)]
    assert later and all(b - a >= timedelta(hours=6) for a, b in pairwise([update_at, *later]))


def test_a_window_that_passes_without_update_falls_back_to_safety() -> None:
    state = PollState(last_poll=utc("2026-03-12 22:29"))
    [poll] = plan_polls(utc("2026-03-12 22:31"), [H41], {"fred": state}, CAL)
    assert poll.reason == "safety poll"


def test_plan_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_polls(datetime(2026, 1, 1), [H41], {}, CAL)  # noqa: DTZ001


def test_default_schedules_meet_the_fomc_statement_at_2pm() -> None:
    from bot.ingest.calendar import DEFAULT_SCHEDULES

    now = utc("2026-12-09 18:00")
    states = {s.name: PollState(last_poll=utc("2026-12-09 17:55")) for s in DEFAULT_SCHEDULES}
    plan = {p.source: p for p in plan_polls(now, DEFAULT_SCHEDULES, states, CAL)}
    assert set(plan) == {"fred", "treasury", "fomc", "refunding"}
    assert (plan["fomc"].at, plan["fomc"].reason) == (utc("2026-12-09 19:00"), "fomc release")
    assert plan["refunding"].reason == "safety poll"
