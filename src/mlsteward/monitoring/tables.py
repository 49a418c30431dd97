"""Outcomes: true labels joined back to predictions by request id."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table

from mlsteward.store import UTCDateTime, metadata

outcomes = Table(
    "outcomes",
    metadata,
    Column(
        "request_id",
        String(64),
        ForeignKey("predictions.request_id"),
        primary_key=True,
    ),
    Column("label", Integer, nullable=False),
    Column("observed_at", UTCDateTime(), nullable=False),
    Column("loaded_at", UTCDateTime(), nullable=False),
    Column("loaded_by", String(200), nullable=False),
)
