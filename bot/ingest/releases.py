"""The `releases` table: FOMC and refunding statements, upserted by (kind, key), and the
one-poll helpers that turn new feed items into stored records."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bot.ingest.calendar import (
    FOMC_MEETING_END_DATES,
    CalendarError,
    ReleaseCalendar,
    parse_fed_calendar,
)
from bot.store import Store
from bot.store.schema import releases
from sources.base import SourceError
from sources.fomc import Confirmation, FomcDecision, FomcSource, confirm
from sources.refunding import RefundingSource
from sources.rss import ReleaseRecord
from sources.web import get_bytes

log = logging.getLogger(__name__)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def upsert_releases(engine: Engine, records: Iterable[ReleaseRecord], now: datetime) -> int:
    """Insert or refresh records keyed by (kind, key); return how many keys were new."""
    rows = [
        {
            "kind": r.kind, "key": r.key, "published_at": r.published_at, "title": r.title,
            "url": r.url, "summary": r.summary, "data": r.data, "fetched_at": now,
        }
        for r in records
    ]
    if not rows:
        return 0
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    new = 0
    with engine.begin() as conn:
        for row in rows:
            exists = conn.execute(
                sa.select(releases.c.id).where(
                    releases.c.kind == row["kind"], releases.c.key == row["key"]
                )
            ).first()
            new += exists is None
            statement = dialect.insert(releases).values(**row)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[releases.c.kind, releases.c.key],
                    set_={k: statement.excluded[k] for k in row if k not in ("kind", "key")},
                )
            )
    return new


def stored_releases(engine: Engine, kind: str) -> list[ReleaseRecord]:
    """Every stored release of `kind`, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(releases).where(releases.c.kind == kind).order_by(releases.c.published_at)
        ).mappings()
        return [
            ReleaseRecord(
                kind=r["kind"], key=r["key"], published_at=_aware(r["published_at"]),
                title=r["title"], url=r["url"], summary=r["summary"] or "", data=r["data"] or {},
            )
            for r in rows
        ]


def _latest(engine: Engine, kind: str) -> datetime | None:
    with engine.connect() as conn:
        newest = conn.execute(
            sa.select(sa.func.max(releases.c.published_at)).where(releases.c.kind == kind)
        ).scalar()
    return _aware(newest) if newest is not None else None


def poll_fomc(engine: Engine, source: FomcSource, now: datetime) -> list[ReleaseRecord]:
    """One poll: statements newer than the newest stored one become decision records."""
    records = [d.to_record() for d in source.decisions(since=_latest(engine, "fomc_statement"))]
    upsert_releases(engine, records, now)
    return records


def poll_refunding(engine: Engine, source: RefundingSource, now: datetime) -> list[ReleaseRecord]:
    """One poll: new quarterly refunding statements become release records."""
    since = _latest(engine, "refunding_statement")
    records = [s.to_record() for s in source.statements(since=since)]
    upsert_releases(engine, records, now)
    return records


def calendar_json_url(feeds_url: str) -> str:
    """The Fed's calendar.json beside its feeds (https://www.federalreserve.gov/json/...)."""
    return feeds_url.rstrip("/").removesuffix("/feeds") + "/json/calendar.json"


def load_release_calendar(client: httpx.Client, feeds_url: str) -> ReleaseCalendar:
    """The release calendar with FOMC dates from the Fed's calendar.json merged into the
    built-in list; on any failure the built-in list alone (logged, never fatal)."""
    url = calendar_json_url(feeds_url)
    try:
        days = parse_fed_calendar(get_bytes(client, url, source="fomc"))
    except (SourceError, CalendarError) as err:
        log.warning("FOMC calendar unavailable, using the built-in dates: %s", err)
        return ReleaseCalendar()
    return ReleaseCalendar([*FOMC_MEETING_END_DATES, *days])


def confirm_fomc_releases(
    engine: Engine, upper: pd.Series, lower: pd.Series, now: datetime
) -> list[tuple[ReleaseRecord, Confirmation]]:
    """Check stored FOMC decisions not yet settled against DFEDTARU/DFEDTARL; store and return
    those whose outcome is now known (confirmed or mismatch)."""
    settled = []
    for record in stored_releases(engine, "fomc_statement"):
        if record.data.get("confirmation") in ("confirmed", "mismatch"):
            continue
        result = confirm(FomcDecision.from_record(record), upper, lower)
        if result.status == "pending":
            continue
        data = {**record.data, "confirmation": result.status, "confirmation_detail": result.detail}
        updated = replace(record, data=data)
        upsert_releases(engine, [updated], now)
        settled.append((updated, result))
    return settled


def confirm_decisions(store: Store, now: datetime) -> list[tuple[ReleaseRecord, Confirmation]]:
    """Settle stored FOMC decisions against the stored DFEDTARU/DFEDTARL (run after a FRED
    or FOMC poll brought rows); a mismatch is logged as a warning, a confirmation as info."""
    settled = confirm_fomc_releases(
        store.engine, store.series("DFEDTARU"), store.series("DFEDTARL"), now
    )
    for record, result in settled:
        level = logging.INFO if result.status == "confirmed" else logging.WARNING
        log.log(level, "FOMC statement of %s %s: %s", record.published_at.date(),
                result.status, result.detail)
    return settled
