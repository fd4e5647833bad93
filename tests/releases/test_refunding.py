"""Quarterly refunding statements: classification of coupon-size guidance and the feed ->
release record path against the fake Treasury press feed."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from bot.ingest.releases import poll_refunding, stored_releases, upsert_releases
from bot.store import Store
from sources.base import SourceError
from sources.refunding import RefundingSource, classify
from sources.rss import ReleaseRecord
from tests.fakes.fedrss import FedFeedsFake

KEPT = [
    "The Treasury is offering $125 billion of Treasury securities to refund approximately"
    " $90 billion of privately-held securities maturing on November 15.",
    "Based on current projected borrowing needs, Treasury anticipates maintaining nominal coupon"
    " and FRN auction sizes for at least the next several quarters.",
    "Treasury continues to evaluate structural demand and may consider future increases in"
    " nominal coupon and FRN auction sizes.",
]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (" ".join(KEPT), "kept"),
        ("Treasury will increase the auction sizes of the 2-, 3-, and 5-year by $1 billion per"
         " month.", "raised"),
        ("Treasury is reducing the auction sizes of the 20-year bond by $1 billion.", "cut"),
        ("Treasury will hold its buyback operations as announced.", "unclear"),
    ],
)
def test_coupon_size_guidance_is_classified(text: str, kind: str) -> None:
    found, sentence = classify(text)
    assert found == kind
    if kind != "unclear":
        assert "size" in sentence


@pytest.fixture
def press() -> FedFeedsFake:
    fake = FedFeedsFake()
    fake.add_treasury("Treasury Announces Marketable Borrowing Estimates",
                      datetime(2025, 11, 3, 20, tzinfo=UTC), ["Treasury expects to borrow."])
    fake.add_treasury(
        "Quarterly Refunding Statement of Assistant Secretary for Financial Markets",
        datetime(2025, 11, 5, 13, 30, tzinfo=UTC), KEPT,
    )
    return fake


def test_a_new_refunding_statement_becomes_a_release_record(
    press: FedFeedsFake, http: httpx.Client, sqlite_url: str
) -> None:
    store = Store(sqlite_url)
    source = RefundingSource(press.treasury_press_url, http)
    now = datetime(2026, 2, 4, 14, tzinfo=UTC)
    with press.server.running():
        [first] = poll_refunding(store.engine, source, now)
        assert poll_refunding(store.engine, source, now) == []
        url = press.add_treasury(
            "Quarterly Refunding Statement of Assistant Secretary for Financial Markets",
            datetime(2026, 2, 4, 13, 30, tzinfo=UTC),
            ["Treasury will increase the auction sizes of the 2-, 3-, and 5-year notes."],
        )
        [second] = poll_refunding(store.engine, source, now)
    assert first.data["coupon_sizes"] == "kept"
    assert "anticipates maintaining nominal coupon and FRN auction sizes" in first.data[
        "guidance"]
    assert "kept coupon auction sizes unchanged; bills will cover the gap" in first.summary
    assert (second.key, second.data["coupon_sizes"]) == (url, "raised")
    assert [r.key for r in stored_releases(store.engine, "refunding_statement")] == [
        first.key, url]
    store.close()


def test_a_malformed_press_feed_raises_and_stores_nothing(
    press: FedFeedsFake, http: httpx.Client, sqlite_url: str
) -> None:
    store = Store(sqlite_url)
    press.server.inject("nonjson")
    with press.server.running(), pytest.raises(SourceError, match=r"not an RSS 2\.0 channel"):
        poll_refunding(store.engine, RefundingSource(press.treasury_press_url, http),
                       datetime(2026, 2, 4, tzinfo=UTC))
    assert stored_releases(store.engine, "refunding_statement") == []
    store.close()


def test_upsert_is_keyed_by_kind_and_key(store: Store) -> None:
    now = datetime(2026, 2, 4, tzinfo=UTC)
    record = ReleaseRecord("refunding_statement", "k1", now, "t", "u", "first", {"a": 1})
    assert upsert_releases(store.engine, [record], now) == 1
    revised = ReleaseRecord("refunding_statement", "k1", now, "t", "u", "second", {"a": 2})
    other_kind = ReleaseRecord("fomc_statement", "k1", now, "t", "u", "x", {})
    assert upsert_releases(store.engine, [revised, other_kind], now) == 1
    [stored] = stored_releases(store.engine, "refunding_statement")
    assert (stored.summary, stored.data) == ("second", {"a": 2})
    assert stored.published_at == now
