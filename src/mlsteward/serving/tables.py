"""The prediction log."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Integer, String, Table

from mlsteward.store import JSONType, UTCDateTime, metadata

predictions = Table(
    "predictions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("request_id", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False, index=True),
    Column("deployment", String(200), nullable=False, index=True),
    Column("model_name", String(200), nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("route", String(20), nullable=False),
    Column("inputs", JSONType, nullable=False),
    Column("outputs", JSONType, nullable=False),
    Column("latency_ms", Float, nullable=True),
)
