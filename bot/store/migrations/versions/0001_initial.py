"""Initial schema: observations with vintages, series metadata, rules, events, chat, outbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("series", sa.String(64), nullable=False),
        sa.Column("obs_date", sa.Date, nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("realtime_start", sa.Date, nullable=False),
        sa.Column("fetched_at", TZ, nullable=False),
        sa.UniqueConstraint("series", "obs_date", "realtime_start", name="uq_observation_vintage"),
    )
    op.create_index("ix_observations_series_date", "observations", ["series", "obs_date"])
    op.create_table(
        "series_meta",
        sa.Column("series", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("units", sa.Text),
        sa.Column("frequency", sa.String(32)),
        sa.Column("last_updated", TZ),
        sa.Column("last_fetch_at", TZ),
        sa.Column("last_success_at", TZ),
        sa.Column("last_obs_date", sa.Date),
        sa.Column("last_error", sa.Text),
    )
    op.create_table(
        "rule_states",
        sa.Column("rule_id", sa.String(128), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("since", sa.Date),
        sa.Column("last_obs_date", sa.Date),
        sa.Column("definition_hash", sa.String(64)),
        sa.Column("data", sa.JSON),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule_id", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("obs_date", sa.Date, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("severity", sa.String(32)),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("rule_id", "state", "obs_date", name="uq_event_transition"),
    )
    op.create_table(
        "chats",
        sa.Column("platform", sa.String(16), primary_key=True),
        sa.Column("chat_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("migrated_to", sa.String(64)),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("platform", "chat_id", "target", name="uq_subscription"),
    )
    op.create_table(
        "mutes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("rule_id", sa.String(128), nullable=False),
        sa.Column("until", TZ, nullable=False),
        sa.Column("created_by", sa.String(64)),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id"), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("claimed_at", TZ),
        sa.Column("message_ids", sa.JSON),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("sent_at", TZ),
        sa.UniqueConstraint("event_id", "platform", "chat_id", name="uq_outbox_delivery"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(256), nullable=False),
        sa.Column("published_at", TZ, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("summary", sa.Text),
        sa.Column("data", sa.JSON),
        sa.Column("fetched_at", TZ, nullable=False),
        sa.UniqueConstraint("kind", "key", name="uq_release"),
    )
    op.create_table(
        "kv",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.JSON),
        sa.Column("updated_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "kv", "releases", "outbox", "mutes", "subscriptions", "chats", "events",
        "rule_states", "series_meta", "observations",
    ):
        op.drop_table(table)
