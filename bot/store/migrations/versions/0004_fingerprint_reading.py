"""How a fingerprinted file was read (a csv series' options): another reading re-reads it.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("file_fingerprints") as batch:
        batch.add_column(sa.Column("reading", sa.String(64), nullable=False,
                                   server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("file_fingerprints") as batch:
        batch.drop_column("reading")
