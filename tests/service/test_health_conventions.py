"""/healthz and /metrics conventions: degraded when everything of a kind fails (also while
starting), no SQL or parameters on the page, process_* and per-rule and per-series gauges,
no `_created` series."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pandas as pd
import pytest

from bot.app.health import HealthLimits, ServiceState, check_health
from bot.app.http import HttpServer, build_app
from bot.ingest.poller import PollHealth
from bot.runtime.metrics import Metrics
from bot.store import Store
from sources.base import Fetched
from tests.service.test_produce import NOW as PRODUCE_NOW
from tests.service.test_produce import baseline_then_news

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LIMITS = HealthLimits()
SQL_ERROR = ("OperationalError: (sqlite3.OperationalError) database is locked\n"
             "[SQL: INSERT INTO chats (chat_id, token) VALUES (?, ?)]\n"
             "[parameters: ('42', 's3cr3t-value')]\n"
             "(Background on this error at: https://sqlalche.me/e/20/e3q8)")


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = Store(sqlite_url)
    yield s
    s.close()


def _failing(error: str = "ConnectError: no route") -> PollHealth:
    return PollHealth(last_ok_at=None, last_error=error, failures=1)


def test_every_source_failing_is_degraded_and_says_starting_during_the_grace(
    store: Store,
) -> None:
    state = ServiceState(started_at=START, polls={"fred": _failing(), "fiscal": _failing()})
    early = check_health(store, state, LIMITS, START + timedelta(seconds=30))
    assert not early.ok and early.body["status"] == "starting"
    assert early.body["problems"] == [
        "every source failing (fiscal: ConnectError: no route; fred: ConnectError: no route)"]
    late = check_health(store, state, LIMITS, START + LIMITS.startup_grace * 2)
    assert late.body["status"] == "degraded" and "every source failing" in \
        " ".join(late.body["problems"])
    state.polls["fred"] = PollHealth(last_ok_at=START + timedelta(seconds=20))
    assert check_health(store, state, LIMITS, START + timedelta(seconds=30)).ok
    follower = ServiceState(started_at=START, leader=False, polls={"fred": _failing()})
    assert check_health(store, follower, LIMITS, START + timedelta(seconds=30)).ok


def test_every_rule_skipped_is_degraded(store: Store) -> None:
    state = ServiceState(started_at=START, last_evaluation_at=START, rules_loaded=2,
                         evaluations=1, skipped_rules={"qt_ends": "WALCL stale"})
    assert check_health(store, state, LIMITS, START).ok  # one of two is only a skip
    state.skipped_rules["cut"] = "no data for DFF"
    health = check_health(store, state, LIMITS, START)
    assert not health.ok and health.body["problems"] == [
        "every rule skipped (cut: no data for DFF; qt_ends: WALCL stale)"]


def test_the_page_shows_no_sql_parameters_or_credentials(store: Store) -> None:
    store.record("fred", Fetched("WALCL", pd.Series(
        [1.0], index=pd.DatetimeIndex(["2026-11-18"]))), START)
    store.note_failure("WALCL", "fred", SQL_ERROR, START)
    state = ServiceState(
        started_at=START, last_evaluation_at=START, last_evaluation_error=SQL_ERROR,
        polls={"fred": PollHealth(last_ok_at=START, last_error=SQL_ERROR),
               "pg": PollHealth(last_ok_at=START,
                                last_error="connect to postgresql://bot:pw123@db/x failed")},
        failing_rules={"qt_ends": SQL_ERROR})
    text = str(check_health(store, state, LIMITS, START).body)
    assert "database is locked" in text  # the reason stays readable
    for leaked in ("[SQL", "INSERT INTO", "parameters", "s3cr3t", "pw123", "sqlalche.me"):
        assert leaked not in text, leaked


@pytest.fixture
async def metrics_url(store: Store) -> AsyncIterator[tuple[str, Metrics]]:
    metrics = Metrics()
    metrics.watch_series(lambda: [(r.series, r.last_obs_date) for r in store.status()],
                         lambda: START.date())
    state = ServiceState(started_at=START)
    app = build_app(lambda: check_health(store, state, LIMITS, START), metrics)
    server = HttpServer(app, "127.0.0.1:0")
    await server.start()
    yield f"http://127.0.0.1:{server.bound_port}/metrics", metrics
    await server.stop()


async def test_metrics_have_process_rule_state_and_series_age_and_no_created(
    metrics_url: tuple[str, Metrics], store: Store, tmp_path: Path,
) -> None:
    url, metrics = metrics_url
    store.record("fred", Fetched("WALCL", pd.Series(
        [1.0], index=pd.DatetimeIndex(["2026-11-18"]))), START)
    metrics.set_rule_states({"qt_ends": "firing", "cut": "inactive"}, ["cut"])
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
    lines = set(text.splitlines())
    assert any(line.startswith("process_resident_memory_bytes ") for line in lines)
    assert 'cyclewatch_series_age_days{series="WALCL"} 5.0' in lines
    assert 'cyclewatch_rule_state{rule="qt_ends",state="firing"} 1.0' in lines
    assert 'cyclewatch_rule_state{rule="qt_ends",state="inactive"} 0.0' in lines
    assert 'cyclewatch_rule_state{rule="cut",state="skipped"} 1.0' in lines
    assert 'cyclewatch_rule_state{rule="cut",state="inactive"} 0.0' in lines
    assert "_created" not in text
    assert any(line.startswith("cyclewatch_build_info{") for line in lines)


async def test_each_evaluation_sets_the_rule_state_gauge(tmp_path: Path) -> None:
    made, poll, store, _ = await baseline_then_news(tmp_path)
    rendered = made.evaluator.metrics.render().decode()
    assert 'cyclewatch_rule_state{rule="x_high",state="inactive"} 1.0' in rendered
    await made.produce("files", poll, PRODUCE_NOW)
    rendered = made.evaluator.metrics.render().decode()
    assert 'cyclewatch_rule_state{rule="x_high",state="firing"} 1.0' in rendered
    assert 'cyclewatch_rule_state{rule="x_high",state="inactive"} 0.0' in rendered
    assert made.state.skipped_rules == {}
    store.close()
