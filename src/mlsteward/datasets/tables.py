"""Dataset tables on the shared metadata."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text, UniqueConstraint

from mlsteward.store import JSONType, UTCDateTime, metadata

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("n_columns", Integer, nullable=False),
    Column("columns", JSONType, nullable=False),
    Column("profile", JSONType, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("tags", JSONType, nullable=False),
    UniqueConstraint("name", "sha256"),
)
