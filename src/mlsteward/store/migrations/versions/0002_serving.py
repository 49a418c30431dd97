"""serving tables: deployments, their changes, shadow predictions, flags

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import mlsteward.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _id() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return mlsteward.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "shadow_predictions",
        sa.Column("id", _id(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("deployment", sa.String(length=200), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("outputs", _json(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_predictions")),
        sa.UniqueConstraint(
            "request_id",
            "model_version",
            name=op.f("uq_shadow_predictions_request_id_model_version"),
        ),
    )
    with op.batch_alter_table("shadow_predictions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shadow_predictions_deployment"), ["deployment"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_shadow_predictions_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "deployments",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("champion_version", sa.Integer(), nullable=False),
        sa.Column("canary_version", sa.Integer(), nullable=True),
        sa.Column("canary_share", sa.Float(), nullable=False),
        sa.Column("sticky_field", sa.String(length=200), nullable=True),
        sa.Column("shadow_versions", _json(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("unseen_policy", sa.String(length=20), nullable=False),
        sa.Column("inputs", _json(), nullable=False),
        sa.Column("log_columns", _json(), nullable=False),
        sa.Column("pii_columns", _json(), nullable=False),
        sa.Column("previous_champions", _json(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_name", "champion_version"],
            ["model_versions.name", "model_versions.version"],
            name=op.f("fk_deployments_model_name_model_versions"),
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deployments")),
    )
    op.create_table(
        "deployment_changes",
        sa.Column("id", _id(), nullable=False),
        sa.Column("deployment", sa.String(length=200), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("details", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment"],
            ["deployments.name"],
            name=op.f("fk_deployment_changes_deployment_deployments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_changes")),
        sa.UniqueConstraint(
            "deployment",
            "revision",
            name=op.f("uq_deployment_changes_deployment_revision"),
        ),
    )
    with op.batch_alter_table("deployment_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deployment_changes_deployment"), ["deployment"], unique=False
        )

    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flags", _json(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_column("flags")
    with op.batch_alter_table("deployment_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployment_changes_deployment"))
    op.drop_table("deployment_changes")
    op.drop_table("deployments")
    with op.batch_alter_table("shadow_predictions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shadow_predictions_request_id"))
        batch_op.drop_index(batch_op.f("ix_shadow_predictions_deployment"))
    op.drop_table("shadow_predictions")
