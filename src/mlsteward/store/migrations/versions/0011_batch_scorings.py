"""batch scorings: how far each batch scoring got into the prediction log

A retried batch-scoring job resumes its log writes where the killed attempt
stopped, so every row is logged once.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import mlsteward.store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _time() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return mlsteward.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "batch_scorings",
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=220), nullable=False),
        sa.Column("deployment", sa.String(length=200), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=False),
        sa.Column("rows_logged", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_batch_scorings")),
    )


def downgrade() -> None:
    op.drop_table("batch_scorings")
