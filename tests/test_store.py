"""The store keeps vintages: revisions add rows, "as known on D" returns what was published."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import sqlalchemy as sa

from bot.store import Store
from bot.store.schema import observations
from sources.base import Fetched

# Plainly synthetic values: these tests check bookkeeping, not history.
DATES = pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01"])


def fetched(values: list[float], published: date) -> Fetched:
    return Fetched("SYNTH", pd.Series(values, index=DATES), realtime_start=published)


def test_same_values_twice_add_nothing(store: Store, now: datetime) -> None:
    assert store.record("test", fetched([1.0, 2.0, 3.0], date(2020, 4, 1)), now) == 3
    assert store.record("test", fetched([1.0, 2.0, 3.0], date(2020, 5, 1)), now) == 0


def test_revision_adds_a_vintage_and_keeps_the_old_value(store: Store, now: datetime) -> None:
    store.record("test", fetched([1.0, 2.0, 3.0], date(2020, 4, 1)), now)
    assert store.record("test", fetched([1.0, 2.5, 3.0], date(2020, 5, 1)), now) == 1

    assert store.series("SYNTH").tolist() == [1.0, 2.5, 3.0]
    assert store.series("SYNTH", as_of=date(2020, 4, 30)).tolist() == [1.0, 2.0, 3.0]
    assert store.series("SYNTH", vintage="first").tolist() == [1.0, 2.0, 3.0]
    assert store.series("SYNTH", as_of=date(2020, 3, 31)).empty
    assert store.has_vintages("SYNTH")
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(observations)).scalar() == 4


def test_status_lists_last_observation_and_errors(store: Store, now: datetime) -> None:
    store.record("files", fetched([1.0, 2.0, 3.0], date(2020, 4, 1)), now)
    later = datetime(2026, 11, 24, tzinfo=UTC)
    store.note_failure("SYNTH", "files", "boom", later)
    (row,) = store.status()
    assert row.series == "SYNTH"
    assert row.last_obs_date == date(2020, 3, 1)
    assert row.last_success_at == now
    assert row.last_fetch_at == later
    assert row.last_error == "boom"
    assert row.rows == 3


def test_upgrade_from_an_empty_database_reaches_head(db_url: str) -> None:
    store = Store(db_url, migrate=False)
    assert store.schema_revision() is None
    store.migrate()
    assert store.schema_revision() == Store.head_revision()
    store.migrate()  # idempotent
    store.close()


def test_kv_round_trip(store: Store, now: datetime) -> None:
    store.set_kv("last_run", {"at": "x"}, now)
    store.set_kv("last_run", {"at": "y"}, now)
    assert store.get_kv("last_run") == {"at": "y"}
    assert store.get_kv("missing", 7) == 7
