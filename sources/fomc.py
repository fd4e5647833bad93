"""FOMC statements from the Fed's monetary press-release RSS: decision, target range, and the
balance-sheet decisions in the text; plus a check against DFEDTARU/DFEDTARL.

As a `Source` it offers `fomc_target_upper`, `fomc_target_lower` (percent) and
`fomc_decision` (-1 cut, 0 hold, +1 hike), dated by the statement day (US Eastern); each fetch
also hands back the statements as release records.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import httpx
import pandas as pd

from sources.base import Fetched, SourceError, to_series
from sources.rss import FeedItem, ReleaseRecord, page_text, sentences
from sources.web import get_bytes, read_feed

SOURCE = "fomc"
STATEMENT_TITLE = "Federal Reserve issues FOMC statement"
Decision = Literal["cut", "hike", "hold"]
EASTERN = ZoneInfo("America/New_York")
SERIES = ("fomc_target_upper", "fomc_target_lower", "fomc_decision")
DIRECTION: dict[Decision, float] = {"cut": -1.0, "hold": 0.0, "hike": 1.0}

_LEVEL = r"\d+(?:\.\d+)?(?:-\d+/\d+)?|\d+/\d+"
_DECISION = re.compile(
    r"decided to (?P<verb>lower|reduce|raise|increase|maintain)\s+the target range for the"
    r" federal funds rate(?:\s+by\s+\S+\s+(?:percentage|basis) points?)?\s+(?:to|at)\s+"
    rf"(?P<low>{_LEVEL})\s+to\s+(?P<high>{_LEVEL})\s+percent",
    re.IGNORECASE,
)
_VERBS: dict[str, Decision] = {
    "lower": "cut", "reduce": "cut", "raise": "hike", "increase": "hike", "maintain": "hold",
}
_DECISIONS: dict[str, Decision] = {"cut": "cut", "hike": "hike", "hold": "hold"}
_BALANCE_SHEET = re.compile(
    r"securities holdings|balance sheet|runoff|reserve management purchases|Treasury bills"
    r"|shorter-term Treasury securities|reinvest|redemption cap",
    re.IGNORECASE,
)
_ENDS_RUNOFF = re.compile(
    r"conclude the reduction of its aggregate securities holdings|end (?:balance sheet )?runoff"
    r"|stop reducing its securities holdings",
    re.IGNORECASE,
)
_RESERVE_PURCHASES = re.compile(
    r"reserve management purchases|purchases of (?:shorter-term )?Treasury (?:bills|securities)",
    re.IGNORECASE,
)


def level(text: str) -> float:
    """A rate as the Fed writes it: "3-3/4" -> 3.75, "1/4" -> 0.25, "4" -> 4.0, "3.75"."""
    whole, _, fraction = text.partition("-") if "-" in text else ("", "", text)
    if "/" not in fraction:
        return float(text)
    numerator, denominator = fraction.split("/")
    return (float(whole) if whole else 0.0) + int(numerator) / int(denominator)


@dataclass(frozen=True)
class FomcDecision:
    """What one FOMC statement decided."""

    published_at: datetime
    url: str
    decision: Decision
    lower: float
    upper: float
    sentence: str
    balance_sheet: tuple[str, ...]
    ends_runoff: bool
    reserve_purchases: bool

    @classmethod
    def from_record(cls, record: ReleaseRecord) -> FomcDecision:
        """The decision stored by `to_record` (KeyError/ValueError when the data are not one)."""
        data = record.data
        decision = _DECISIONS.get(str(data["decision"]))
        if decision is None:
            raise ValueError(f"not a decision: {data['decision']!r}")
        return cls(
            published_at=record.published_at, url=record.url or record.key,
            decision=decision,
            lower=float(data["lower"]), upper=float(data["upper"]),
            sentence=str(data.get("sentence", "")),
            balance_sheet=tuple(str(s) for s in data.get("balance_sheet", [])),
            ends_runoff=bool(data.get("ends_runoff")),
            reserve_purchases=bool(data.get("reserve_purchases")),
        )

    def to_record(self) -> ReleaseRecord:
        """The `releases` row (kind fomc_statement, keyed by the statement URL)."""
        verb = {"cut": "cut", "hike": "raised", "hold": "held"}[self.decision]
        summary = f"FOMC {verb} the target range to {self.lower:g}-{self.upper:g}%"
        if self.ends_runoff:
            summary += "; ends balance-sheet runoff"
        if self.reserve_purchases:
            summary += "; reserve-management purchases of Treasury bills"
        return ReleaseRecord(
            kind="fomc_statement", key=self.url, published_at=self.published_at,
            title=STATEMENT_TITLE, url=self.url, summary=summary,
            data={
                "decision": self.decision, "lower": self.lower, "upper": self.upper,
                "sentence": self.sentence, "balance_sheet": list(self.balance_sheet),
                "ends_runoff": self.ends_runoff, "reserve_purchases": self.reserve_purchases,
            },
        )


def parse_statement(text: str, published_at: datetime, url: str) -> FomcDecision:
    """The decision in a statement's text; ValueError when no decision sentence is found."""
    flat = re.sub(r"\s+", " ", text)
    found = _DECISION.search(flat)
    if found is None:
        raise ValueError("no sentence deciding the target range for the federal funds rate")
    lower, upper = level(found["low"]), level(found["high"])
    if not 0 <= lower < upper <= 25:
        raise ValueError(f"implausible target range {found['low']} to {found['high']} percent")
    notes = tuple(s for s in sentences(flat) if _BALANCE_SHEET.search(s))[:5]
    return FomcDecision(
        published_at=published_at, url=url, decision=_VERBS[found["verb"].lower()],
        lower=lower, upper=upper,
        sentence=next((s for s in sentences(flat) if found[0] in s), found[0]),
        balance_sheet=notes, ends_runoff=bool(_ENDS_RUNOFF.search(flat)),
        reserve_purchases=bool(_RESERVE_PURCHASES.search(flat)),
    )


class FomcSource:
    """Reads `press_monetary.xml` and the statement pages it links to (injected httpx client).

    Statement pages never change once published, so each is read and parsed once; the feed
    itself is reused for `reuse_feed_for` seconds, so that one poll of the three series reads
    it once (0 reads it on every call).
    """

    name = SOURCE
    label = "Fed press releases"

    def __init__(
        self, feeds_url: str, client: httpx.Client, *, timeout: float | None = None,
        reuse_feed_for: float = 0.0, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.feed_url = feeds_url.rstrip("/") + "/press_monetary.xml"
        self.client = client
        self.timeout = timeout
        self.reuse_feed_for = reuse_feed_for
        self.clock = clock
        self._feed: tuple[float, list[FeedItem]] | None = None
        self._parsed: dict[str, FomcDecision] = {}

    def series_ids(self) -> list[str]:
        """Every series this adapter offers."""
        return list(SERIES)

    def statement_items(self) -> list[FeedItem]:
        """Feed items titled exactly like an FOMC statement, newest first."""
        now = self.clock()
        if self._feed is not None and now - self._feed[0] < self.reuse_feed_for:
            return self._feed[1]
        items = read_feed(self.client, self.feed_url, source=SOURCE)
        statements = [i for i in items if i.title == STATEMENT_TITLE]
        self._feed = (now, statements)
        return statements

    def decisions(self, since: datetime | None = None) -> list[FomcDecision]:
        """Decisions of statements published after `since` (all in the feed when None)."""
        return [self._decision(i) for i in self.statement_items()
                if since is None or i.published_at > since]

    def _decision(self, item: FeedItem) -> FomcDecision:
        known = self._parsed.get(item.link)
        if known is not None and known.published_at == item.published_at:
            return known
        page = get_bytes(self.client, item.link, source=SOURCE, timeout=self.timeout)
        try:
            decision = parse_statement(page_text(page), item.published_at, item.link)
        except ValueError as err:
            raise SourceError(SOURCE, None, f"{item.link}: {err}") from err
        self._parsed[item.link] = decision
        return decision

    # --- the Source protocol -----------------------------------------------------------

    def last_updated(self, series_id: str) -> datetime | None:
        """When the newest statement in the feed was published (None when there is none)."""
        self._check(series_id)
        items = self.statement_items()
        return max((i.published_at for i in items), default=None)

    def fetch(self, series_id: str, since: date | None = None) -> Fetched:
        """The series from the statements of `since` on (every one in the feed when None),
        with those statements as release records."""
        self._check(series_id)
        items = [i for i in self.statement_items()
                 if since is None or statement_day(i.published_at) >= since]
        decisions = [self._decision(i) for i in items]
        values = {statement_day(d.published_at): _value(series_id, d) for d in decisions}
        return Fetched(
            series_id, to_series(values, series_id),
            last_updated=max((i.published_at for i in items), default=None),
            releases=tuple(d.to_record() for d in decisions),
        )

    def _check(self, series_id: str) -> None:
        if series_id not in SERIES:
            raise SourceError(SOURCE, series_id,
                              f"unknown FOMC series {series_id!r} (offered: {', '.join(SERIES)})")


def statement_day(published_at: datetime) -> date:
    """The day of a statement in Washington (a 2 pm statement is 18:00 or 19:00 UTC)."""
    return published_at.astimezone(EASTERN).date()


def _value(series_id: str, decision: FomcDecision) -> float:
    if series_id == "fomc_target_upper":
        return decision.upper
    if series_id == "fomc_target_lower":
        return decision.lower
    return DIRECTION[decision.decision]


@dataclass(frozen=True)
class Confirmation:
    """Whether FRED's target-range series agree with a decision."""

    status: Literal["confirmed", "mismatch", "pending"]
    detail: str


def confirm(decision: FomcDecision, upper: pd.Series, lower: pd.Series) -> Confirmation:
    """Check a decision against DFEDTARU/DFEDTARL on its effective day (FRED dates the new
    range the day after the statement); pending until that day's values exist."""
    day = pd.Timestamp(decision.published_at.date())
    window = slice(day + timedelta(days=1), day + timedelta(days=7))
    after_upper, after_lower = upper.loc[window].dropna(), lower.loc[window].dropna()
    if after_upper.empty or after_lower.empty:
        return Confirmation("pending", f"no DFEDTARU/DFEDTARL values after {day.date()} yet")
    have = (float(after_lower.iloc[0]), float(after_upper.iloc[0]))
    want = (decision.lower, decision.upper)
    when = min(after_upper.index[0], after_lower.index[0]).date()
    if have == want:
        return Confirmation("confirmed", f"FRED shows {have[0]:g}-{have[1]:g}% from {when}")
    return Confirmation(
        "mismatch",
        f"statement says {want[0]:g}-{want[1]:g}% but FRED shows {have[0]:g}-{have[1]:g}%"
        f" on {when}",
    )
