"""retraining tables: policies, retrainings, approval requests

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import mlsteward.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return mlsteward.store.types.JSONType


def upgrade() -> None:
    utc = mlsteward.store.types.UTCDateTime
    op.create_table(
        "policies",
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("document", _json(), nullable=False),
        sa.Column("updated_at", utc(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("model_name", name=op.f("pk_policies")),
    )
    op.create_table(
        "retrainings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("trigger", _json(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("champion", sa.String(length=250), nullable=True),
        sa.Column("challenger", sa.String(length=250), nullable=True),
        sa.Column("holdout", sa.String(length=250), nullable=True),
        sa.Column("gates", _json(), nullable=False),
        sa.Column("comparison", _json(), nullable=False),
        sa.Column("decision", sa.String(length=30), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", utc(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("finished_at", utc(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrainings")),
    )
    with op.batch_alter_table("retrainings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_retrainings_model_name"), ["model_name"], unique=False
        )
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("retraining_id", sa.String(length=32), nullable=True),
        sa.Column("champion_version", sa.Integer(), nullable=True),
        sa.Column("evidence", _json(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", utc(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", utc(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_requests")),
    )
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_approval_requests_model_name"),
            ["model_name"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("approval_requests")
    op.drop_table("retrainings")
    op.drop_table("policies")
