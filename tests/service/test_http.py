"""/healthz and /metrics over real HTTP, on a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta

import aiohttp
import pandas as pd
import pytest
import sqlalchemy as sa
from aiohttp import web

from bot.app.health import HealthLimits, ServiceState, check_health
from bot.app.http import HttpServer, build_app
from bot.ingest.poller import PollHealth
from bot.runtime.metrics import Metrics
from bot.store import Store
from bot.store.schema import events, outbox
from sources.base import Fetched

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = Store(sqlite_url)
    yield s
    s.close()


def _record(store: Store, series: str, source: str, at: datetime) -> None:
    values = pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2026-11-11", "2026-11-18"]))
    store.record(source, Fetched(series, values), at)


def _pending_delivery(store: Store, due: datetime) -> None:
    with store.engine.begin() as conn:
        inserted = conn.execute(
            events.insert().values(rule_id="qt_ends", state="firing", obs_date=date(2026, 11, 18),
                                   payload={}, created_at=due)
        ).inserted_primary_key
        assert inserted is not None
        event_id = inserted[0]
        conn.execute(outbox.insert().values(
            event_id=event_id, platform="console", chat_id="console", status="pending",
            attempts=0, next_attempt_at=due, created_at=due,
        ))


def test_fresh_sources_and_recent_evaluation_are_healthy(store: Store) -> None:
    _record(store, "WALCL", "fred", START)
    state = ServiceState(started_at=START, last_evaluation_at=START,
                         polls={"fred": PollHealth(last_ok_at=START)})
    health = check_health(store, state, HealthLimits(), START + timedelta(minutes=10))
    assert health.ok, health.body
    assert health.body["series"]["fred"]["newest_observation"] == "2026-11-18"
    assert health.body["sources"]["fred"]["age_seconds"] == 600
    assert health.body["outbox"]["depth"] == 0


def test_stale_source_failing_evaluation_and_stuck_outbox_are_each_reported(store: Store) -> None:
    limits = HealthLimits()
    _record(store, "WALCL", "fred", START)
    store.note_failure("WALCL", "fred", "connection refused", START + timedelta(hours=1))
    now = START + timedelta(hours=7)
    polls = {"fred": PollHealth(last_ok_at=START, last_error="connection refused", failures=9),
             "treasury": PollHealth(last_ok_at=now)}
    state = ServiceState(started_at=START, last_evaluation_at=now, polls=polls)
    health = check_health(store, state, limits, now)
    assert not health.ok
    assert health.body["problems"] == ["source fred stale"]
    assert health.body["sources"]["fred"]["consecutive_failures"] == 9
    assert health.body["series"]["fred"]["errors"] == ["WALCL: connection refused"]
    assert health.body["sources"]["treasury"]["ok"]

    state.last_evaluation_error = "rules.yaml: bad"
    _pending_delivery(store, now - limits.outbox_stuck_after - timedelta(seconds=1))
    health = check_health(store, state, limits, now)
    assert health.body["problems"] == [
        "source fred stale", "evaluation stale or failing", "outbox stuck"
    ]
    assert health.body["outbox"]["depth"] == 1


def test_a_source_never_reached_is_stale_only_after_the_startup_grace(store: Store) -> None:
    limits = HealthLimits()
    # (a second source answers: "every source failing" is its own problem, tested apart)
    state = ServiceState(started_at=START, last_evaluation_at=START,
                         polls={"fred": PollHealth(failures=2),
                                "fiscal": PollHealth(last_ok_at=START)})
    assert check_health(store, state, limits, START + timedelta(seconds=30)).ok
    late = START + limits.startup_grace + timedelta(seconds=1)
    assert check_health(store, state, limits, late).body["problems"] == ["source fred stale"]


def test_a_follower_is_not_blamed_for_sources_or_evaluations(store: Store) -> None:
    state = ServiceState(started_at=START, leader=False, polls={"fred": PollHealth()})
    assert check_health(store, state, HealthLimits(), START + timedelta(days=1)).ok


@pytest.fixture
async def served(store: Store) -> AsyncIterator[tuple[str, ServiceState, Metrics]]:
    state = ServiceState(started_at=START, last_evaluation_at=START,
                         polls={"fred": PollHealth(last_ok_at=START)})
    clock = {"now": START}
    metrics = Metrics()

    async def slack(request: web.Request) -> web.Response:
        return web.Response(text=f"slack got {await request.text()}")

    app = build_app(lambda: check_health(store, state, HealthLimits(), clock["now"]), metrics,
                    slack_commands=slack)
    server = HttpServer(app, "127.0.0.1:0")
    await server.start()
    yield f"http://127.0.0.1:{server.bound_port}", state, metrics
    await server.stop()


async def test_healthz_status_follows_the_report(
    served: tuple[str, ServiceState, Metrics], store: Store
) -> None:
    base, state, _ = served
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["status"] == "ok"
        state.last_evaluation_error = "boom"
        async with session.get(f"{base}/healthz") as response:
            assert response.status == 503
            assert (await response.json())["problems"] == ["evaluation stale or failing"]
        store.engine.dispose()
        with store.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE outbox"))
        async with session.get(f"{base}/healthz") as response:
            assert response.status == 503
            assert "health check failed" in (await response.json())["problems"][0]


async def test_metrics_are_exposed_and_slack_route_is_mounted(
    served: tuple[str, ServiceState, Metrics],
) -> None:
    base, _, metrics = served
    metrics.fetches.labels("fred", "ok").inc(3)
    metrics.fetch_seconds.labels("fred").observe(0.3)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/metrics") as response:
            text = await response.text()
            assert response.headers["Content-Type"].startswith("text/plain")
        async with session.post(f"{base}/slack/commands", data="command=%2Fregime") as response:
            assert await response.text() == "slack got command=%2Fregime"
    assert 'cyclewatch_fetches_total{outcome="ok",source="fred"} 3.0' in text
    assert 'cyclewatch_fetch_seconds_bucket{le="0.5",source="fred"} 1.0' in text
