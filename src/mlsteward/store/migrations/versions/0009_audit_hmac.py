"""audit hmac: a keyed HMAC beside each event's hash; the head row always there

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("hmac", sa.String(length=64), nullable=True))
    # The head row exists from the start, so a missing one always means it
    # was deleted (and the first writers never race to insert it). Where
    # events exist without a head row, the row was deleted already: leave it
    # missing, for `audit verify` to report.
    conn = op.get_bind()
    has_head = conn.execute(sa.text("SELECT COUNT(*) FROM audit_head")).scalar()
    has_events = conn.execute(sa.text("SELECT COUNT(*) FROM audit_events")).scalar()
    if not has_head and not has_events:
        conn.execute(
            sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :g)"),
            {"g": GENESIS},
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("hmac")
