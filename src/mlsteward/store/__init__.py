"""Metadata store: SQLAlchemy engine, units of work, Alembic migrations."""

from mlsteward.store.base import metadata
from mlsteward.store.engine import TABLE_MODULES, Store, load_all_tables
from mlsteward.store.types import JSONType, UTCDateTime, like_escape, utcnow

__all__ = [
    "TABLE_MODULES",
    "JSONType",
    "Store",
    "UTCDateTime",
    "like_escape",
    "load_all_tables",
    "metadata",
    "utcnow",
]
