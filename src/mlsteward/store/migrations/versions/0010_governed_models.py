"""governed models: the facts serving checks before it moves traffic

A governed model's champion moves only through an approved request; its
canary share is capped by its policy; a canary or shadow carries only a
version whose gates passed.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registered_models") as batch:
        batch.add_column(
            sa.Column(
                "governed", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(sa.Column("canary_share", sa.Float(), nullable=True))
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("gates_passed", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("gates_passed")
    with op.batch_alter_table("registered_models") as batch:
        batch.drop_column("canary_share")
        batch.drop_column("governed")
