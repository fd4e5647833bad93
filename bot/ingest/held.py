"""Values held back because the nature of their series doubts them, until a fetch confirms them.

`plausibility.suspect` names the first doubtful observation of a fetch. It is held (nothing of
that fetch is recorded) and accepted only when a fetch at least `CONFIRM_AFTER` later still
brings the same value for the same date (the publisher stood by it past a re-poll; a severe
one, a stock x5 or negative or a policy rate off its steps, needs `SEVERE_CONFIRM_AFTER`,
about two weekly releases). A confirmed observation is not judged again. Every live
`HeldValues` is listed by `held_back()`, which /healthz reads.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

from bot.ingest.plausibility import Suspect, suspect
from bot.runtime.clock import Clock

CONFIRM_AFTER = timedelta(hours=20)
SEVERE_CONFIRM_AFTER = timedelta(days=15)
_LIVE: weakref.WeakSet[HeldValues] = weakref.WeakSet()
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Held:
    """One observation held back: what, why and since when."""

    found: Suspect
    since: datetime

    def confirmed_by(self, again: Suspect, now: datetime) -> bool:
        """The same value for the same date, late enough to count as a confirmation."""
        wait = SEVERE_CONFIRM_AFTER if self.found.severe else CONFIRM_AFTER
        same = again.day == self.found.day and again.value == self.found.value
        return same and now - self.since >= wait

    def describe(self) -> str:
        """The reason and since when, for the log, /status and /healthz."""
        wait = SEVERE_CONFIRM_AFTER if self.found.severe else CONFIRM_AFTER
        until = (self.since + wait).isoformat(timespec="minutes")
        return (f"{self.found.reason}; held since {self.since.isoformat(timespec='minutes')}, "
                f"accepted if still sent after {until}")


class HeldValues:
    """The held and the confirmed observations of one fetcher's series."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.held: dict[str, Held] = {}
        self.confirmed: dict[str, dict[date, float]] = {}
        with _LOCK:
            _LIVE.add(self)

    def judge(self, series_id: str, stored: pd.Series, fetched: pd.Series) -> str | None:
        """Why this fetch is held back (None: record it). Confirms a held value when due."""
        now = self.clock()
        while True:
            found = suspect(series_id, self._with_confirmed(series_id, stored), fetched)
            if found is None:
                self.held.pop(series_id, None)
                return None
            held = self.held.get(series_id)
            if held is not None and held.confirmed_by(found, now):
                self.confirmed.setdefault(series_id, {})[found.day] = found.value
                del self.held[series_id]
                continue  # judge the rest of the fetch with the confirmed value known
            if held is None or (held.found.day, held.found.value) != (found.day, found.value):
                held = Held(found, now)
                self.held[series_id] = held
            return held.describe()

    def _with_confirmed(self, series_id: str, stored: pd.Series) -> pd.Series:
        extra = self.confirmed.get(series_id)
        if not extra:
            return stored
        more = pd.Series(extra, dtype="float64")
        more.index = pd.DatetimeIndex(more.index)
        both = pd.concat([stored.astype("float64"), more])
        return both[~both.index.duplicated(keep="last")].sort_index()

    def snapshot(self) -> dict[str, str]:
        """Held series -> why, for /healthz."""
        return {series: held.describe() for series, held in sorted(self.held.items())}


def held_back() -> dict[str, str]:
    """Every held value of every live fetcher in this process, by series."""
    with _LOCK:
        live = list(_LIVE)
    found: dict[str, str] = {}
    for values in live:
        found.update(values.snapshot())
    return dict(sorted(found.items()))
