"""Release calendar and polling plan (pure: no I/O, no clock; `now` is always passed in).

Rules implemented (times are US Eastern, returned as UTC instants, correct across DST):

- **Business days.** Federal Reserve: weekdays that are not US federal holidays; a holiday on
  a Saturday is *not* moved to Friday for the Fed (Reserve Banks stay open), a Sunday holiday
  closes Monday. Treasury (MSPD): the federal (OPM) rule, so a Saturday holiday closes Friday.
- **H.4.1**: every Thursday 4:30 pm; when that Thursday is a Fed holiday (Thanksgiving, a
  Thursday July 4, Christmas or New Year's Day, Juneteenth, Veterans Day) the release moves to
  the next Fed business day, e.g. Friday 2024-11-29 after Thanksgiving. A holiday on the
  Wednesday does not move it.
- **FOMC statement**: 2:00 pm on the last day of each scheduled meeting (built-in list
  2024-2027, replaceable by the Fed's calendar.json via `parse_fed_calendar`).
- **MSPD**: the 4th Treasury business day of each month, from noon (the hour is not published).
- **Quarterly refunding**: in Feb, May, Aug and Nov, financing estimates on the Monday at
  3:00 pm and the policy statement on the Wednesday at 8:30 am of the week holding the month's
  first Wednesday. The Treasury has occasionally moved it a week earlier (Jul 31, 2024); the
  slow safety poll still catches such a release.
- **Daily** series: every Fed business day (4:30 pm by default).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

from sources.registry import REGISTRY, PollHints

EASTERN = ZoneInfo("America/New_York")

FOMC_MEETING_END_DATES: tuple[date, ...] = tuple(
    date.fromisoformat(d)
    for d in (
        "2024-01-31", "2024-03-20", "2024-05-01", "2024-06-12",
        "2024-07-31", "2024-09-18", "2024-11-07", "2024-12-18",
        "2025-01-29", "2025-03-19", "2025-05-07", "2025-06-18",
        "2025-07-30", "2025-09-17", "2025-10-29", "2025-12-10",
        "2026-01-28", "2026-03-18", "2026-04-29", "2026-06-17",
        "2026-07-29", "2026-09-16", "2026-10-28", "2026-12-09",
        "2027-01-27", "2027-03-17", "2027-04-28", "2027-06-09",
        "2027-07-28", "2027-09-15", "2027-10-27", "2027-12-08",
    )
)

RELEASE_TIMES: dict[str, time] = {
    "h41": time(16, 30),
    "fomc": time(14, 0),
    "mspd": time(12, 0),
    "refunding_financing": time(15, 0),
    "refunding_statement": time(8, 30),
    "daily": time(16, 30),
}


class CalendarError(ValueError):
    """The Fed calendar document is not what we expect."""


@cache
def _federal(year: int) -> dict[date, str]:
    return dict(holidays.country_holidays("US", years=year, observed=True).items())


def is_fed_business_day(day: date) -> bool:
    """A weekday that is not a Federal Reserve holiday (no Friday closing for Saturday ones)."""
    if day.weekday() >= 5:
        return False
    name = _federal(day.year).get(day)
    if name is None:
        return True
    return day.weekday() == 4 and "(observed)" in name


def is_treasury_business_day(day: date) -> bool:
    """A weekday that is not a US federal holiday as observed by federal offices."""
    return day.weekday() < 5 and day not in _federal(day.year)


def next_fed_business_day(day: date) -> date:
    """`day` itself when it is a Fed business day, else the next one."""
    while not is_fed_business_day(day):
        day += timedelta(days=1)
    return day


def nth_treasury_business_day(year: int, month: int, n: int) -> date:
    """The n-th Treasury business day of a month (n from 1)."""
    day, count = date(year, month, 1), 0
    while True:
        if is_treasury_business_day(day):
            count += 1
            if count == n:
                return day
        day += timedelta(days=1)


def eastern(day: date, at: time) -> datetime:
    """The UTC instant of a wall-clock time in New York on `day`."""
    return datetime.combine(day, at, tzinfo=EASTERN).astimezone(UTC)


@dataclass(frozen=True, order=True)
class Release:
    """One scheduled publication: when (UTC) and what."""

    at: datetime
    kind: str


def parse_fed_calendar(raw: bytes) -> list[date]:
    """FOMC decision days (the last day of each meeting) from the Fed's calendar.json."""
    try:
        document = json.loads(raw.decode("utf-8-sig"))
        events = document["events"] if isinstance(document, dict) else document
        if not isinstance(events, list):
            raise TypeError("no list of events")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise CalendarError(f"calendar.json is not the Fed's calendar: {err}") from err
    found = set()
    for event in events:
        if not isinstance(event, dict) or event.get("type") != "FOMC":
            continue
        if "meeting" not in str(event.get("title", "")).lower():
            continue
        month = re.fullmatch(r"(\d{4})-(\d{2})", str(event.get("month", "")))
        days = re.findall(r"\d+", str(event.get("days", "")))
        if not month or not days:
            continue  # a malformed row is skipped, the rest still counts
        try:
            found.add(date(int(month[1]), int(month[2]), int(days[-1])))
        except ValueError:
            continue
    return sorted(found)


class ReleaseCalendar:
    """Every scheduled release between two dates, by kind."""

    def __init__(self, fomc_dates: Iterable[date] = FOMC_MEETING_END_DATES) -> None:
        self.fomc_dates = tuple(sorted(set(fomc_dates)))

    def days(self, kind: str, start: date, end: date) -> list[date]:
        """Release days of `kind` in [start, end]."""
        if kind == "fomc":
            return [d for d in self.fomc_dates if start <= d <= end]
        out: set[date] = set()
        if kind == "h41":
            thursday = start - timedelta(days=(start.weekday() - 3) % 7 + 7)
            while thursday <= end:
                out.add(next_fed_business_day(thursday))
                thursday += timedelta(days=7)
        elif kind == "daily":
            out = {start + timedelta(days=i) for i in range((end - start).days + 1)}
            out = {d for d in out if is_fed_business_day(d)}
        else:
            for year in range(start.year - 1, end.year + 1):
                out |= self._monthly(kind, year)
        return sorted(d for d in out if start <= d <= end)

    @staticmethod
    def _monthly(kind: str, year: int) -> set[date]:
        if kind == "mspd":
            return {nth_treasury_business_day(year, m, 4) for m in range(1, 13)}
        if kind in ("refunding_financing", "refunding_statement"):
            out = set()
            for month in (2, 5, 8, 11):
                first = date(year, month, 1)
                wednesday = first + timedelta(days=(2 - first.weekday()) % 7)
                out.add(wednesday - timedelta(days=2) if kind == "refunding_financing" else
                        wednesday)
            return out
        raise ValueError(f"unknown release kind {kind!r}")

    def releases(self, kind: str, start: date, end: date) -> list[Release]:
        """Release instants (UTC) of `kind` on days in [start, end]."""
        return [Release(eastern(d, RELEASE_TIMES[kind]), kind) for d in self.days(kind, start, end)]

    def around(self, kinds: Sequence[str], now: datetime, days: int = 45) -> list[Release]:
        """All releases of `kinds` within `days` either side of `now`, in time order."""
        today = now.astimezone(EASTERN).date()
        span = timedelta(days=days)
        return sorted(r for k in kinds for r in self.releases(k, today - span, today + span))


# What /next lists; "refunding" is the next of its two parts.
NEXT_KINDS = ("h41", "fomc", "mspd", "refunding")
_PARTS = {"refunding": ("refunding_financing", "refunding_statement")}
# FRED serves every release: its FOMC-set series by id, the H.4.1's weekly ones by their W.
_FRED_FOMC = frozenset({"DFEDTARU", "DFEDTARL", "DFEDTAR", "IORB", "IOER"})
_FRED_H41 = frozenset({"TREAST", "RESPPANWW"})


def release_of(source: str, series_id: str) -> str | None:
    """Which of NEXT_KINDS updates a series (None: a daily or monthly series of no release)."""
    if source == "fred":
        if series_id in _FRED_FOMC:
            return "fomc"
        return "h41" if series_id in _FRED_H41 or series_id.startswith("W") else None
    kinds = next((e.hints.kinds for e in REGISTRY if e.name == source), ())
    return next((k for k in NEXT_KINDS if k in kinds or set(_PARTS.get(k, ())) & set(kinds)),
                None)


def next_release(calendar: ReleaseCalendar, kind: str, now: datetime) -> Release | None:
    """The first release of `kind` (a NEXT_KINDS entry) after `now`; None past the calendar."""
    today = now.astimezone(EASTERN).date()
    found = [r for part in _PARTS.get(kind, (kind,))
             for r in calendar.releases(part, today, today + timedelta(days=400)) if r.at > now]
    return min(found) if found else None


@dataclass(frozen=True, kw_only=True)
class SourceSchedule(PollHints):
    """How one source is polled: its registry hints under its name."""

    name: str


@dataclass(frozen=True)
class PollState:
    """What the poller knows of a source: its last poll and when it last saw new data."""

    last_poll: datetime | None = None
    last_change: datetime | None = None


@dataclass(frozen=True, order=True)
class PlannedPoll:
    """The next instant (UTC) to poll a source, and why."""

    at: datetime
    source: str
    reason: str


def plan_polls(
    now: datetime,
    schedules: Sequence[SourceSchedule],
    states: Mapping[str, PollState],
    calendar: ReleaseCalendar,
) -> list[PlannedPoll]:
    """The polling plan: inside a release window poll often until the data change, else the
    release instant itself or a slow safety poll, whichever comes first."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    plan = []
    for schedule in schedules:
        state = states.get(schedule.name, PollState())
        plan.append(_next_poll(now, schedule, state, calendar.around(schedule.kinds, now)))
    return sorted(plan)


def _next_poll(
    now: datetime, schedule: SourceSchedule, state: PollState, releases: list[Release]
) -> PlannedPoll:
    open_window = [r for r in releases if r.at <= now < r.at + schedule.window]
    if open_window:
        release = open_window[-1]
        seen = state.last_change is not None and state.last_change >= release.at
        if not seen:
            step = max(schedule.fast_every, schedule.rate_floor)
            at = now if state.last_poll is None else max(now, state.last_poll + step)
            return PlannedPoll(at, schedule.name, f"{release.kind} window: waiting for update")
    safety = now if state.last_poll is None else max(now, state.last_poll + schedule.safety_every)
    upcoming = [r for r in releases if r.at > now]
    if upcoming and upcoming[0].at <= safety:
        return PlannedPoll(upcoming[0].at, schedule.name, f"{upcoming[0].kind} release")
    return PlannedPoll(safety, schedule.name, "safety poll")


def schedule_of(name: str, hints: PollHints) -> SourceSchedule:
    """The polling schedule of a source from its registry hints (sources.registry)."""
    return SourceSchedule(name=name, **{f.name: getattr(hints, f.name) for f in fields(hints)})


# One schedule per source that follows the release calendar, from the registry's hints.
DEFAULT_SCHEDULES: tuple[SourceSchedule, ...] = tuple(
    schedule_of(e.name, e.hints) for e in REGISTRY if e.network and e.hints.kinds
)
