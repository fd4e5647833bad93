"""Per-chat time zone and quiet hours; outbox rows held until a quiet window ends.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("tz", sa.String(64)))
        batch.add_column(sa.Column("quiet", sa.String(64)))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("held", sa.Boolean, nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("held")
    with op.batch_alter_table("chats") as batch:
        batch.drop_column("quiet")
        batch.drop_column("tz")
