"""The shared SQLAlchemy metadata every capability's ``tables.py`` adds to."""

from __future__ import annotations

from sqlalchemy import MetaData

__all__ = ["metadata"]

# Stable constraint names, so Alembic migrations are identical on SQLite and
# PostgreSQL and can be dropped or altered by name later.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
