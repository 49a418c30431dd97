"""retraining steps: what each recorded step of a retraining made

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import mlsteward.store.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("retrainings") as batch:
        batch.add_column(
            sa.Column("steps", mlsteward.store.types.JSONType, nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("retrainings") as batch:
        batch.drop_column("steps")
