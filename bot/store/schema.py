"""The store's tables (SQLAlchemy Core). Alembic migrations in `migrations/` create them."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()


class OutboxStatus(StrEnum):
    """Where an outbox row stands (column `outbox.status`)."""

    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # claimed by claimed_by at claimed_at
    SENT = "sent"
    FAILED = "failed"  # a permanent error or retries exhausted; last_error says which
    BLOCKED = "blocked"  # the chat blocked or left the bot
    MIGRATED = "migrated"  # the chat moved and its new id already had this alert


# One row per (series, observation date, publication date): a revision adds a row, never
# overwrites, so "as known on D" is answerable. realtime_start is the publisher's date when
# it gives one (ALFRED), else the date we first saw the value.
observations = Table(
    "observations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("series", String(64), nullable=False),
    Column("obs_date", Date, nullable=False),
    Column("value", Float, nullable=True),
    Column("realtime_start", Date, nullable=False),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("series", "obs_date", "realtime_start", name="uq_observation_vintage"),
    Index("ix_observations_series_date", "series", "obs_date"),
)

# What we know about each series: where it comes from, when we last looked, when it changed.
series_meta = Table(
    "series_meta",
    metadata,
    Column("series", String(64), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("title", Text),
    Column("units", Text),
    Column("frequency", String(32)),
    Column("last_updated", DateTime(timezone=True)),
    Column("last_fetch_at", DateTime(timezone=True)),
    Column("last_success_at", DateTime(timezone=True)),
    Column("last_obs_date", Date),
    Column("last_error", Text),
)

# The per-rule state machine, so a restart resumes where the last run stopped.
rule_states = Table(
    "rule_states",
    metadata,
    Column("rule_id", String(128), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("since", Date),
    Column("last_obs_date", Date),
    Column("definition_hash", String(64)),
    Column("data", JSON),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Every transition of every rule, once: unique per rule, state and observation date.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", String(128), nullable=False),
    Column("state", String(16), nullable=False),
    Column("obs_date", Date, nullable=False),
    Column("value", Float),
    Column("severity", String(32)),
    Column("payload", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("rule_id", "state", "obs_date", name="uq_event_transition"),
)

# Chats known to the bot (Telegram or Slack), with their language and admin-ness.
chats = Table(
    "chats",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("chat_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False, default="private"),
    Column("lang", String(8), nullable=False, default="en"),
    Column("active", Boolean, nullable=False, default=True),
    Column("migrated_to", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("tz", String(64)),  # IANA zone; NULL: the service's CYCLEWATCH_TZ
    Column("quiet", String(64)),  # quiet hours as `QuietHours.spec` ("23:00-07:00 hold ...")
    Column("briefing", String(16)),  # "weekly": the briefing after each H.4.1; NULL: none
)

# What a chat wants: `target` is a rule id, a severity, or "all".
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("target", String(128), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("platform", "chat_id", "target", name="uq_subscription"),
)

mutes = Table(
    "mutes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("rule_id", String(128), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per (event, recipient): the delivery guarantee lives here. Workers claim rows
# (FOR UPDATE SKIP LOCKED on PostgreSQL), send, and record the platform's message id.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("status", String(16), nullable=False, default=OutboxStatus.PENDING.value),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("claimed_by", String(64)),
    Column("claimed_at", DateTime(timezone=True)),
    Column("message_ids", JSON),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    # Due at the end of the chat's quiet hours (next_attempt_at): sent then as one digest.
    Column("held", Boolean, nullable=False, default=False, server_default=false()),
    UniqueConstraint("event_id", "platform", "chat_id", name="uq_outbox_delivery"),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

# Each delivering process's lease on its outbox claims, renewed while it runs: once
# `expires_at` has passed (the process died or hangs), its claims are anyone's to take.
outbox_leases = Table(
    "outbox_leases",
    metadata,
    Column("owner", String(64), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Releases that are not numeric series: FOMC statements, refunding statements.
releases = Table(
    "releases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("key", String(256), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("title", Text, nullable=False),
    Column("url", Text),
    Column("summary", Text),
    Column("data", JSON),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("kind", "key", name="uq_release"),
)

# The files a series was last read from (an offline data directory, a csv file): their
# total size, newest modification time and content hash when the read was recorded, and a
# hash of how they were read (a csv series' options; empty for fixed formats). A file whose
# size and mtime match is not read again; one touched but identical (same hash) is not parsed
# again; kept in the store so that a restart skips them too.
file_fingerprints = Table(
    "file_fingerprints",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("series", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("reading", String(64), nullable=False, server_default=""),
)

# Small key/value facts the service keeps (last run, last digest, rules hash, ...).
kv = Table(
    "kv",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", JSON),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
