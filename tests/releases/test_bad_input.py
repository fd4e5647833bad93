"""Bad input of any kind gets a clear, typed error (bounded property tests), never a crash
of another kind."""

from __future__ import annotations

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ingest.calendar import CalendarError, parse_fed_calendar
from sources.base import SourceError
from sources.fiscal import RowError, number
from sources.rss import FeedError, parse_rss
from sources.treasury import AUCTIONS_ENDPOINT, TreasurySource
from tests.fakes.fiscaldata import FiscalDataFake

RSS_HEAD = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.builds(lambda b: RSS_HEAD + b, st.binary(max_size=200)))
def test_any_bytes_are_a_feed_or_a_feed_error(raw: bytes) -> None:
    try:
        items = parse_rss(raw)
    except FeedError:
        return
    assert all(i.published_at.tzinfo is not None for i in items)


def test_a_feed_declaring_an_unknown_encoding_is_a_feed_error() -> None:
    try:
        parse_rss(b'<?xml version="1.0" encoding="x-unknown"?><rss version="2.0"/>')
    except FeedError as err:
        assert "unknown encoding" in str(err)
    else:
        raise AssertionError("expected a FeedError")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=200).map(lambda t: t.encode()))
def test_any_bytes_are_a_calendar_or_a_calendar_error(raw: bytes) -> None:
    try:
        days = parse_fed_calendar(raw)
    except CalendarError:
        return
    assert days == sorted(set(days))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_any_cell_is_a_number_none_or_a_row_error(cell: str) -> None:
    try:
        value = number({"x": cell}, "x", "row 1")
    except RowError as err:
        assert "row 1: x = " in str(err)
        return
    assert value is None or isinstance(value, float)


def test_a_field_the_api_does_not_know_is_a_clear_non_retryable_error() -> None:
    fake = FiscalDataFake()
    fake.datasets[AUCTIONS_ENDPOINT] = [{"auction_date": "2026-01-05", "security_type": "Bill"}]
    with fake.server.running(), httpx.Client(timeout=5) as http:
        source = TreasurySource(fake.url, http, retry_wait=0)
        try:
            source.fetch("coupon_bid_to_cover")
        except SourceError as err:
            assert not err.retryable
            assert "HTTP 400" in str(err) and "Invalid query parameter 'fields'" in str(err)
        else:
            raise AssertionError("expected a SourceError")
    assert len(fake.server.requests) == 1  # a 400 is not retried
