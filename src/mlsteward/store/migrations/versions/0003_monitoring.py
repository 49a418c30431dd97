"""monitoring tables: monitors, monitor_results, alerts

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import mlsteward.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("monitor_id", sa.String(length=32), nullable=False),
        sa.Column("monitor", sa.String(length=200), nullable=False),
        sa.Column("check", sa.String(length=100), nullable=False),
        sa.Column("column", sa.String(length=300), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("dedupe_key", sa.String(length=700), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("window_label", sa.String(length=100), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column(
            "first_seen",
            mlsteward.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "last_seen",
            mlsteward.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column(
            "sinks",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column(
            "delivered",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column(
            "sink_attempts",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "claimed_until",
            mlsteward.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "created_at",
            mlsteward.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "sent_at", mlsteward.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alerts_dedupe_key"), ["dedupe_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_alerts_monitor"), ["monitor"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_alerts_status"), ["status"], unique=False)

    op.create_table(
        "monitor_results",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("monitor_id", sa.String(length=32), nullable=False),
        sa.Column("monitor", sa.String(length=200), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("check", sa.String(length=100), nullable=False),
        sa.Column("column", sa.String(length=300), nullable=False),
        sa.Column(
            "window_start",
            mlsteward.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "window_end",
            mlsteward.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("window_label", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column(
            "computed_at",
            mlsteward.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_results")),
    )
    with op.batch_alter_table("monitor_results", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_results_run_id"), ["run_id"], unique=False
        )
        batch_op.create_index(
            "ix_monitor_results_series",
            ["monitor_id", "check", "window_start"],
            unique=False,
        )

    op.create_table(
        "monitors",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("deployment", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("schedule", sa.String(length=200), nullable=False),
        sa.Column(
            "window",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("reference", sa.String(length=300), nullable=False),
        sa.Column(
            "checks",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column(
            "alerting",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column(
            "routes",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            mlsteward.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "updated_at",
            mlsteward.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "last_run_at",
            mlsteward.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "next_run_at",
            mlsteward.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "state",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitors")),
        sa.UniqueConstraint("name", name=op.f("uq_monitors_name")),
    )
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitors_deployment"), ["deployment"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_monitors_next_run_at"), ["next_run_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitors_next_run_at"))
        batch_op.drop_index(batch_op.f("ix_monitors_deployment"))

    op.drop_table("monitors")
    with op.batch_alter_table("monitor_results", schema=None) as batch_op:
        batch_op.drop_index("ix_monitor_results_series")
        batch_op.drop_index(batch_op.f("ix_monitor_results_run_id"))

    op.drop_table("monitor_results")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_status"))
        batch_op.drop_index(batch_op.f("ix_alerts_monitor"))
        batch_op.drop_index(batch_op.f("ix_alerts_dedupe_key"))

    op.drop_table("alerts")
