"""FOMC statements: parsing, the feed -> decision record path against the fake, and the
check against DFEDTARU/DFEDTARL from history."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from bot.ingest.releases import (
    confirm_fomc_releases,
    load_release_calendar,
    poll_fomc,
    stored_releases,
)
from bot.store import Store
from sources.base import SourceError
from sources.files import FileSource
from sources.fomc import FomcSource, confirm, level, parse_statement
from tests.fakes.fedrss import FedFeedsFake

# Synthetic statements in the Fed's wording; the rates match what DFEDTARU/L later show.
DEC_2025 = [
    "Available indicators suggest that economic activity has been expanding at a moderate pace.",
    "In support of its goals and in light of the shift in the balance of risks, the Committee"
    " decided to lower the target range for the federal funds rate by 1/4 percentage point to"
    " 3-1/2 to 3-3/4 percent.",
    "The Committee judges that reserve balances have declined to ample levels and will initiate"
    " purchases of shorter-term Treasury securities as needed to maintain an ample supply of"
    " reserves on an ongoing basis.",
]
SEP_2026 = [
    "Inflation has moved up and remains elevated.",
    "The Committee decided to raise the target range for the federal funds rate by 1/4"
    " percentage point to 3-3/4 to 4 percent.",
]
HOLD = [
    "The Committee decided to maintain the target range for the federal funds rate at"
    " 4-1/4 to 4-1/2 percent.",
    "The Committee will continue reducing its holdings of Treasury securities and agency debt.",
]
WHEN = datetime(2025, 12, 10, 19, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "value"),
    [("3-3/4", 3.75), ("1/4", 0.25), ("0", 0.0), ("4", 4.0), ("3.75", 3.75), ("5-1/2", 5.5)],
)
def test_levels_as_the_fed_writes_them(text: str, value: float) -> None:
    assert level(text) == value


@pytest.mark.parametrize(
    ("text", "decision", "lower", "upper"),
    [
        (" ".join(DEC_2025), "cut", 3.5, 3.75),
        (" ".join(SEP_2026), "hike", 3.75, 4.0),
        (" ".join(HOLD), "hold", 4.25, 4.5),
        ("the Committee decided to lower the target range for the federal funds rate to 0 to"
         " 1/4 percent.", "cut", 0.0, 0.25),
        ("The Committee decided to lower the target range for the federal funds rate by 0.25"
         " percentage point to 3.50 to 3.75 percent.", "cut", 3.5, 3.75),
    ],
)
def test_decision_and_range_are_parsed(text: str, decision: str, lower: float,
                                       upper: float) -> None:
    parsed = parse_statement(text, WHEN, "u")
    assert (parsed.decision, parsed.lower, parsed.upper) == (decision, lower, upper)
    assert "target range" in parsed.sentence


def test_balance_sheet_decisions_are_captured() -> None:
    purchases = parse_statement(" ".join(DEC_2025), WHEN, "u")
    assert purchases.reserve_purchases and not purchases.ends_runoff
    assert any("shorter-term Treasury securities" in s for s in purchases.balance_sheet)
    ending = parse_statement(
        " ".join(HOLD[:1]) + " The Committee decided to conclude the reduction of its aggregate"
        " securities holdings on December 1.", WHEN, "u")
    assert ending.ends_runoff and not ending.reserve_purchases
    assert "ends balance-sheet runoff" in ending.to_record().summary
    assert not parse_statement(" ".join(HOLD), WHEN, "u").ends_runoff


def test_statement_without_a_decision_is_refused() -> None:
    with pytest.raises(ValueError, match="no sentence deciding"):
        parse_statement("The Committee will meet again in January.", WHEN, "u")
    with pytest.raises(ValueError, match="implausible"):
        parse_statement("decided to raise the target range for the federal funds rate to 4 to"
                        " 3 percent", WHEN, "u")


@pytest.fixture
def fed() -> FedFeedsFake:
    fake = FedFeedsFake()
    fake.add_monetary("Minutes of the Federal Open Market Committee, October 28-29, 2025",
                      datetime(2025, 11, 19, 19, 0, tzinfo=UTC))
    fake.add_fomc_statement(WHEN, DEC_2025)
    return fake


def test_a_new_statement_becomes_a_decision_record_within_one_poll(
    fed: FedFeedsFake, http: httpx.Client, sqlite_url: str
) -> None:
    store = Store(sqlite_url)
    source = FomcSource(fed.feeds_url, http)
    with fed.server.running():
        first = poll_fomc(store.engine, source, WHEN)
        assert [r.data["decision"] for r in first] == ["cut"]
        assert poll_fomc(store.engine, source, WHEN) == []
        url = fed.add_fomc_statement(datetime(2026, 9, 16, 18, 0, tzinfo=UTC), SEP_2026)
        second = poll_fomc(store.engine, source, WHEN)
    assert [(r.key, r.data["decision"], r.data["upper"]) for r in second] == [(url, "hike", 4.0)]
    stored = stored_releases(store.engine, "fomc_statement")
    assert [r.published_at for r in stored] == [WHEN, datetime(2026, 9, 16, 18, tzinfo=UTC)]
    assert stored[0].data["reserve_purchases"] is True
    store.close()


@pytest.mark.parametrize(("fault", "retryable"), [("nonjson", False), ("500", True),
                                                  ("truncated", True)])
def test_a_broken_feed_raises_and_stores_nothing(
    fed: FedFeedsFake, http: httpx.Client, sqlite_url: str, fault: str, retryable: bool
) -> None:
    store = Store(sqlite_url)
    fed.server.inject(fault)
    with fed.server.running(), pytest.raises(SourceError) as caught:
        poll_fomc(store.engine, FomcSource(fed.feeds_url, http), WHEN)
    assert caught.value.retryable is retryable
    assert stored_releases(store.engine, "fomc_statement") == []
    store.close()


def test_a_statement_page_without_a_decision_stores_nothing(
    fed: FedFeedsFake, http: httpx.Client, sqlite_url: str
) -> None:
    store = Store(sqlite_url)
    fed.add_fomc_statement(datetime(2026, 1, 28, 19, tzinfo=UTC), ["Page under maintenance."])
    with fed.server.running(), pytest.raises(SourceError, match=r"monetary20260128a\.htm"):
        poll_fomc(store.engine, FomcSource(fed.feeds_url, http), WHEN)
    assert stored_releases(store.engine, "fomc_statement") == []
    store.close()


def test_decisions_are_confirmed_against_fred_target_range(history_dir: Path) -> None:
    files = FileSource(history_dir)
    upper, lower = files.fetch("DFEDTARU").values, files.fetch("DFEDTARL").values
    dec = parse_statement(" ".join(DEC_2025), WHEN, "u")
    assert confirm(dec, upper, lower).status == "confirmed"
    sep = parse_statement(" ".join(SEP_2026), datetime(2026, 9, 16, 18, tzinfo=UTC), "u")
    result = confirm(sep, upper, lower)
    assert (result.status, result.detail) == ("confirmed", "FRED shows 3.75-4% from 2026-09-17")
    wrong = parse_statement(" ".join(SEP_2026), WHEN, "u")  # a hike dated on the Dec 2025 cut
    assert confirm(wrong, upper, lower).status == "mismatch"
    future = parse_statement(" ".join(HOLD), datetime(2026, 10, 28, 18, tzinfo=UTC), "u")
    assert confirm(future, upper, lower).status == "pending"


def test_release_calendar_merges_the_fed_calendar_json(http: httpx.Client) -> None:
    fake = FedFeedsFake()
    fake.calendar_json = b"\xef\xbb\xbf" + json.dumps({"events": [
        {"title": "FOMC Meeting", "month": "2028-03", "days": "14-15", "type": "FOMC"},
    ]}).encode()
    with fake.server.running():
        cal = load_release_calendar(http, fake.feeds_url)
        fake.server.inject("500")
        fallback = load_release_calendar(http, fake.feeds_url)
    assert cal.days("fomc", date(2026, 12, 1), date(2028, 12, 31))[0] == date(2026, 12, 9)
    assert cal.days("fomc", date(2028, 1, 1), date(2028, 12, 31)) == [date(2028, 3, 15)]
    assert fallback.days("fomc", date(2028, 1, 1), date(2028, 12, 31)) == []
    assert fallback.days("fomc", date(2027, 1, 1), date(2027, 2, 1)) == [date(2027, 1, 27)]


def test_stored_decisions_are_confirmed_once_fred_has_the_range(
    fed: FedFeedsFake, http: httpx.Client, sqlite_url: str, history_dir: Path
) -> None:
    fed.add_fomc_statement(datetime(2026, 10, 28, 18, tzinfo=UTC), HOLD)  # after FRED's data
    store = Store(sqlite_url)
    with fed.server.running():
        poll_fomc(store.engine, FomcSource(fed.feeds_url, http), WHEN)
    files = FileSource(history_dir)
    upper, lower = files.fetch("DFEDTARU").values, files.fetch("DFEDTARL").values
    [(record, result)] = confirm_fomc_releases(store.engine, upper, lower, WHEN)
    assert (record.published_at, result.status) == (WHEN, "confirmed")
    by_time = {r.published_at: r.data for r in stored_releases(store.engine, "fomc_statement")}
    assert by_time[WHEN]["confirmation"] == "confirmed"
    assert "confirmation" not in by_time[datetime(2026, 10, 28, 18, tzinfo=UTC)]
    assert confirm_fomc_releases(store.engine, upper, lower, WHEN) == []
    store.close()
