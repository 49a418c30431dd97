"""notification sinks

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import mlsteward.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = mlsteward.store.types.UTCDateTime
    op.create_table(
        "notification_sinks",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("actions", mlsteward.store.types.JSONType, nullable=False),
        sa.Column(
            "cursor",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("created_at", utc(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", utc(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_notification_sinks")),
    )


def downgrade() -> None:
    op.drop_table("notification_sinks")
