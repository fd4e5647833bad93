"""The durable store: observations with vintages, series metadata, and the app's state tables.

Other parts of bot/ (outbox, subscriptions, rule states) use `Store.engine` and the tables in
`bot.store.schema` directly; this module owns the observation and series-metadata logic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from bot.store.faults import recycle_on_fault
from bot.store.schema import file_fingerprints, kv, observations, series_meta
from sources.base import Fetched
from sources.files import Fingerprint, Stat

MIGRATIONS = Path(__file__).parent / "migrations"

Vintage = Literal["latest", "first"]


@dataclass(frozen=True)
class SeriesStatus:
    """One line of `cyclewatch status`."""

    series: str
    source: str
    last_obs_date: date | None
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    rows: int


def create_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets its directory, WAL and a busy timeout."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    recycle_on_fault(engine)
    return engine


def _alembic_config(connection: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


class Store:
    """Observations with vintages plus access to every state table, on SQLite or PostgreSQL."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = create_engine(url)
        if migrate:
            self.migrate()

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision`, keeping every row an older version wrote."""
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # Several processes may start at once; one migrates, the others wait.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(4242001)"))
            command.upgrade(_alembic_config(conn), revision)

    def schema_revision(self) -> str | None:
        """The revision the database is at (None for an empty database)."""
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @staticmethod
    def head_revision() -> str | None:
        """The newest revision this code knows."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return ScriptDirectory.from_config(cfg).get_current_head()

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    # --- observations -------------------------------------------------------------------

    def record(self, source: str, fetched: Fetched, now: datetime) -> int:
        """Store what a fetch returned; return how many rows were new (new dates or revisions).

        A value equal to the one already known for its date adds nothing; a different value
        adds a vintage row and leaves the old one in place.
        """
        default_rt = fetched.realtime_start or now.date()
        incoming = [_frame(v.values, v.realtime_start) for v in fetched.vintages]
        incoming.append(_frame(fetched.values, default_rt))
        new = pd.concat(incoming, ignore_index=True)
        series = fetched.series_id
        with self.engine.begin() as conn:
            known = self._rows(conn, series)
            known["known"] = True
            new["known"] = False
            merged = pd.concat([known, new], ignore_index=True)
            merged = merged.drop_duplicates(["obs_date", "realtime_start"], keep="first")
            merged = merged.sort_values(["obs_date", "realtime_start"], kind="stable")
            previous = merged.groupby("obs_date", sort=False)["value"].shift()
            changed = ~_same(merged["value"], previous)
            fresh = merged[~merged["known"].astype(bool) & changed]
            if not fresh.empty:
                _insert_observations(conn, series, fresh, now)
            self._touch_meta(conn, series, source, now, fetched.last_updated)
        return len(fresh)

    def series(
        self, series: str, *, as_of: date | None = None, vintage: Vintage = "latest"
    ) -> pd.Series:
        """The series as known on `as_of` (everything when None): latest or first release."""
        # Ordered by the index; the dates come as the database keeps them (ISO text on
        # SQLite) and are converted at once: a row-by-row conversion was most of the cost.
        query = (
            sa.select(sa.type_coerce(observations.c.obs_date, sa.String), observations.c.value)
            .where(observations.c.series == series)
            .order_by(observations.c.obs_date, observations.c.realtime_start)
        )
        if as_of is not None:
            query = query.where(observations.c.realtime_start <= as_of)
        with self.engine.connect() as conn:
            # The driver's own tuples: a Row object per observation was half the read's cost.
            rows = conn.execute(query).cursor.fetchall()
        if not rows:
            return pd.Series([], index=pd.DatetimeIndex([]).as_unit("s"), name=series,
                             dtype="float64")
        days, raw = zip(*rows, strict=True)
        stamps = pd.DatetimeIndex(pd.to_datetime(pd.Index(days, dtype=object))).as_unit("s")
        values = np.array(raw, dtype="float64")
        same = stamps[1:] == stamps[:-1]
        keep = np.r_[~same, True] if vintage == "latest" else np.r_[True, ~same]
        keep &= ~np.isnan(values)
        return pd.Series(values[keep], index=stamps[keep], name=series)

    def frame(
        self, names: Iterable[str], *, as_of: date | None = None, vintage: Vintage = "latest"
    ) -> dict[str, pd.Series]:
        """Several series at once, keyed by id (series with no rows are left out)."""
        result = {}
        for name in names:
            values = self.series(name, as_of=as_of, vintage=vintage)
            if not values.empty:
                result[name] = values
        return result

    def has_vintages(self, series: str) -> bool:
        """Whether any date of `series` has more than one published value."""
        query = (
            sa.select(observations.c.obs_date)
            .where(observations.c.series == series)
            .group_by(observations.c.obs_date)
            .having(sa.func.count() > 1)
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    @staticmethod
    def _rows(conn: sa.Connection, series: str, as_of: date | None = None) -> pd.DataFrame:
        query = sa.select(
            observations.c.obs_date, observations.c.realtime_start, observations.c.value
        ).where(observations.c.series == series)
        if as_of is not None:
            query = query.where(observations.c.realtime_start <= as_of)
        rows = conn.execute(query).all()
        days, starts, values = zip(*rows, strict=True) if rows else ((), (), ())
        return pd.DataFrame({"obs_date": pd.Series(days, dtype=object),
                             "realtime_start": pd.Series(starts, dtype=object),
                             "value": np.array(values, dtype="float64")})

    # --- series metadata ----------------------------------------------------------------

    def _touch_meta(
        self,
        conn: sa.Connection,
        series: str,
        source: str,
        now: datetime,
        last_updated: datetime | None,
    ) -> None:
        last_obs = conn.execute(
            sa.select(sa.func.max(observations.c.obs_date)).where(observations.c.series == series)
        ).scalar()
        values: dict[str, Any] = {
            "source": source,
            "last_fetch_at": now,
            "last_success_at": now,
            "last_obs_date": last_obs,
            "last_error": None,
        }
        if last_updated is not None:
            values["last_updated"] = last_updated
        self._upsert_meta(conn, series, values)

    def note_failure(self, series: str, source: str, error: str, now: datetime) -> None:
        """Record that fetching `series` failed (its data stay as they were)."""
        with self.engine.begin() as conn:
            self._upsert_meta(
                conn, series, {"source": source, "last_fetch_at": now, "last_error": error}
            )

    def note_unchanged(self, series: str, source: str, now: datetime) -> None:
        """Record a successful check that found nothing new."""
        with self.engine.begin() as conn:
            self._upsert_meta(
                conn,
                series,
                {"source": source, "last_fetch_at": now, "last_success_at": now,
                 "last_error": None},
            )

    def set_series_info(self, series: str, source: str, **info: Any) -> None:
        """Store descriptive facts (title, units, frequency) read from the source."""
        with self.engine.begin() as conn:
            self._upsert_meta(conn, series, {"source": source, **info})

    @staticmethod
    def _upsert_meta(conn: sa.Connection, series: str, values: dict[str, Any]) -> None:
        updated = conn.execute(
            series_meta.update().where(series_meta.c.series == series).values(**values)
        )
        if updated.rowcount == 0:
            conn.execute(series_meta.insert().values(series=series, **values))

    def last_updated(self, series: str) -> datetime | None:
        """The publisher's last-updated stamp we saw for `series`."""
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(series_meta.c.last_updated).where(series_meta.c.series == series)
            ).scalar()
        return _aware(value)

    def status(self) -> list[SeriesStatus]:
        """Freshness of every series the store knows, sorted by id."""
        counts = (
            sa.select(observations.c.series, sa.func.count().label("rows"))
            .group_by(observations.c.series)
            .subquery()
        )
        query = (
            sa.select(series_meta, sa.func.coalesce(counts.c.rows, 0).label("rows"))
            .select_from(series_meta.outerjoin(counts, counts.c.series == series_meta.c.series))
            .order_by(series_meta.c.series)
        )
        with self.engine.connect() as conn:
            return [
                SeriesStatus(
                    series=row.series,
                    source=row.source,
                    last_obs_date=row.last_obs_date,
                    last_fetch_at=_aware(row.last_fetch_at),
                    last_success_at=_aware(row.last_success_at),
                    last_error=row.last_error,
                    rows=int(row.rows),
                )
                for row in conn.execute(query)
            ]

    # --- file fingerprints -------------------------------------------------------------

    def file_fingerprint(self, source: str, series: str) -> Fingerprint | None:
        """The fingerprint of the files `series` was last recorded from (None: never)."""
        table = file_fingerprints
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table.c.size, table.c.mtime_ns, table.c.sha256,
                                         table.c.reading).where(
                table.c.source == source, table.c.series == series)).first()
        return None if row is None else Fingerprint(Stat(row.size, row.mtime_ns), row.sha256,
                                                    row.reading)

    def keep_fingerprint(
        self, source: str, series: str, found: Fingerprint, now: datetime
    ) -> None:
        """Remember the fingerprint of the files `series` was just recorded from."""
        table = file_fingerprints
        values = {"size": found.stat.size, "mtime_ns": found.stat.mtime_ns,
                  "sha256": found.sha256, "reading": found.reading, "recorded_at": now}
        with self.engine.begin() as conn:
            updated = conn.execute(table.update().where(
                table.c.source == source, table.c.series == series).values(**values))
            if updated.rowcount == 0:
                conn.execute(table.insert().values(source=source, series=series, **values))

    # --- small facts --------------------------------------------------------------------

    def get_kv(self, key: str, default: Any = None) -> Any:
        """A JSON value the service kept under `key`."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(kv.c.value).where(kv.c.key == key)).first()
        return default if row is None else row.value

    def set_kv(self, key: str, value: Any, now: datetime) -> None:
        """Keep a JSON value under `key`."""
        with self.engine.begin() as conn:
            updated = conn.execute(
                kv.update().where(kv.c.key == key).values(value=value, updated_at=now)
            )
            if updated.rowcount == 0:
                conn.execute(kv.insert().values(key=key, value=value, updated_at=now))


INSERTED = ("series", "obs_date", "value", "realtime_start", "fetched_at")


def _insert_observations(
    conn: sa.Connection, series: str, fresh: pd.DataFrame, now: datetime
) -> None:
    """Insert the rows in one executemany at the driver, without SQLAlchemy's per-row
    statement work (most of the time of a first history of ~100,000 rows). Dates go as ISO
    text: SQLite's Date storage format, and a literal PostgreSQL casts (`::DATE`); the
    constant stamp goes through its type's bind processor once."""
    dialect = conn.dialect
    compiled = observations.insert().compile(dialect=dialect, column_keys=list(INSERTED),
                                             for_executemany=True)
    stamp_type = observations.c.fetched_at.type.dialect_impl(dialect)
    process = stamp_type.bind_processor(dialect)
    stamp = process(now) if process is not None else now
    values = fresh["value"].to_numpy(dtype="float64")
    columns: dict[str, list[Any]] = {
        "series": [series] * len(fresh),
        "obs_date": [day.isoformat() for day in fresh["obs_date"]],
        "value": [None if value != value else float(value) for value in values],  # NaN → NULL
        "realtime_start": [day.isoformat() for day in fresh["realtime_start"]],
        "fetched_at": [stamp] * len(fresh),
    }
    order = compiled.positiontup if compiled.positional else None
    rows: list[Any] = (
        list(zip(*(columns[key] for key in order), strict=True)) if order else
        [dict(zip(INSERTED, row, strict=True))
         for row in zip(*(columns[key] for key in INSERTED), strict=True)])
    conn.exec_driver_sql(str(compiled), rows)


def _frame(values: pd.Series, realtime_start: date) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "obs_date": [ts.date() for ts in pd.DatetimeIndex(values.index)],
            "realtime_start": realtime_start,
            "value": values.to_numpy(dtype="float64"),
        }
    )


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a == b) | (a.isna() & b.isna())


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stamp we write is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
