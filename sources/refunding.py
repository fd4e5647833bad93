"""Quarterly refunding statements from the Treasury press-release RSS feed.

Each statement becomes a release record with its coupon-size guidance and a classification:
`kept` (coupon auction sizes unchanged), `raised`, `cut`, or `unclear` when the text says
nothing we recognise (shown as such, never guessed).

As a `Source` it offers `refunding_coupon_sizes`: +1 raised, 0 kept, -1 cut, dated by the
statement day (US Eastern); an `unclear` statement is a release record but no observation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

import httpx

from sources.base import Fetched, SourceError, to_series
from sources.rss import FeedItem, ReleaseRecord, page_text, sentences
from sources.web import get_bytes, read_feed

SOURCE = "refunding"
SERIES = ("refunding_coupon_sizes",)
EASTERN = ZoneInfo("America/New_York")
TITLE = re.compile(r"\bquarterly refunding statement\b", re.IGNORECASE)
CouponSizes = Literal["kept", "raised", "cut", "unclear"]

_ABOUT_SIZES = re.compile(r"coupon|auction sizes", re.IGNORECASE)
# Decisive wording first: "consider future increases" is not an increase.
_RAISED = re.compile(
    r"\b(?:will|plans to|is) increas\w*|\bincreasing the (?:auction )?sizes?", re.IGNORECASE
)
_CUT = re.compile(
    r"\b(?:will|plans to|is) (?:decreas|reduc|cut)\w*|\b(?:decreasing|reducing|cutting) the"
    r" (?:auction )?sizes?",
    re.IGNORECASE,
)
_KEPT = re.compile(
    r"\bmaintain\w*\b[^.]*\bsizes\b|\bsizes\b[^.]*\b(?:unchanged|steady)\b|\bno changes?\b[^.]*"
    r"\bcoupon",
    re.IGNORECASE,
)
NOTICE = {
    "kept": "the Treasury kept coupon auction sizes unchanged; bills will cover the gap",
    "raised": "the Treasury raised coupon auction sizes: more duration for the market to absorb",
    "cut": "the Treasury cut coupon auction sizes: financing shifts further to bills",
    "unclear": "the statement's coupon-size guidance could not be classified",
}


@dataclass(frozen=True)
class RefundingStatement:
    """One quarterly refunding statement and what it says about coupon auction sizes."""

    published_at: datetime
    title: str
    url: str
    guidance: str
    coupon_sizes: CouponSizes

    def to_record(self) -> ReleaseRecord:
        """The `releases` row (kind refunding_statement, keyed by URL)."""
        return ReleaseRecord(
            kind="refunding_statement", key=self.url, published_at=self.published_at,
            title=self.title, url=self.url, summary=NOTICE[self.coupon_sizes],
            data={"coupon_sizes": self.coupon_sizes, "guidance": self.guidance},
        )


def classify(text: str) -> tuple[CouponSizes, str]:
    """The coupon-size decision and the sentence that states it."""
    about = [s for s in sentences(text) if _ABOUT_SIZES.search(s)]
    checks: tuple[tuple[CouponSizes, re.Pattern[str]], ...] = (
        ("raised", _RAISED), ("cut", _CUT), ("kept", _KEPT),
    )
    for kind, pattern in checks:
        for sentence in about:
            if pattern.search(sentence):
                return kind, sentence[:400]
    return "unclear", (about[0][:400] if about else "")


class RefundingSource:
    """Reads the Treasury press-release feed and the refunding statements it links to."""

    name = SOURCE
    label = "Treasury press releases"

    def __init__(self, press_feed_url: str, client: httpx.Client, *,
                 timeout: float | None = None) -> None:
        self.feed_url = press_feed_url
        self.client = client
        self.timeout = timeout
        self._read: dict[tuple[str, datetime], RefundingStatement] = {}

    def series_ids(self) -> list[str]:
        """Every series this adapter offers."""
        return list(SERIES)

    def statement_items(self) -> list[FeedItem]:
        """Feed items titled as a quarterly refunding statement, newest first."""
        items = read_feed(self.client, self.feed_url, source=SOURCE)
        return [i for i in items if TITLE.search(i.title)]

    def statements(self, since: datetime | None = None) -> list[RefundingStatement]:
        """Statements published after `since` (all in the feed when None)."""
        return [self._statement(i) for i in self.statement_items()
                if since is None or i.published_at > since]

    def _statement(self, item: FeedItem) -> RefundingStatement:
        known = self._read.get((item.link, item.published_at))
        if known is not None:  # a published statement does not change
            return known
        text = page_text(get_bytes(self.client, item.link, source=SOURCE, timeout=self.timeout))
        kind, guidance = classify(text or item.description)
        statement = RefundingStatement(item.published_at, item.title, item.link, guidance, kind)
        self._read[(item.link, item.published_at)] = statement
        return statement

    # --- the Source protocol -----------------------------------------------------------

    def last_updated(self, series_id: str) -> datetime | None:
        """When the newest refunding statement in the feed was published."""
        self._check(series_id)
        return max((i.published_at for i in self.statement_items()), default=None)

    def fetch(self, series_id: str, since: date | None = None) -> Fetched:
        """Coupon-size guidance of the statements from `since` on, with their records."""
        self._check(series_id)
        items = [i for i in self.statement_items()
                 if since is None or i.published_at.astimezone(EASTERN).date() >= since]
        found = [self._statement(i) for i in items]
        values = {s.published_at.astimezone(EASTERN).date(): DIRECTION[s.coupon_sizes]
                  for s in found if s.coupon_sizes in DIRECTION}
        return Fetched(
            series_id, to_series(values, series_id),
            last_updated=max((i.published_at for i in items), default=None),
            releases=tuple(s.to_record() for s in found),
        )

    def _check(self, series_id: str) -> None:
        if series_id not in SERIES:
            raise SourceError(SOURCE, series_id, f"unknown refunding series {series_id!r} "
                              f"(offered: {', '.join(SERIES)})")


DIRECTION: dict[str, float] = {"raised": 1.0, "kept": 0.0, "cut": -1.0}
