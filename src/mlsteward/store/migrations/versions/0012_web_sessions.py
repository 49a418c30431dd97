"""web sessions: the dashboard's cookie sessions, bound to the token used;
an index on a deployment's predictions by time

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import mlsteward.store.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column(
            "token_id",
            sa.String(length=16),
            sa.ForeignKey("api_tokens.id"),
            nullable=False,
        ),
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            mlsteward.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "expires_at",
            mlsteward.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "ended_at", mlsteward.store.types.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.create_index("ix_web_sessions_user_name", "web_sessions", ["user_name"])
    op.create_index(
        "ix_predictions_deployment_created_at",
        "predictions",
        ["deployment", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_predictions_deployment_created_at", table_name="predictions")
    op.drop_index("ix_web_sessions_user_name", table_name="web_sessions")
    op.drop_table("web_sessions")
