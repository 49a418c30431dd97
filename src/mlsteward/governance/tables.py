"""Notification sinks: where governance events are sent."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table, Text

from mlsteward.store import JSONType, UTCDateTime, metadata

notification_sinks = Table(
    "notification_sinks",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("url", Text, nullable=False),
    # Action prefixes this sink wants, e.g. ["approval.", "alias.set"].
    Column("actions", JSONType, nullable=False),
    # Audit sequence number of the last event delivered: delivery resumes
    # after it, so an event is never skipped, whatever failed before.
    Column("cursor", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("last_attempt_at", UTCDateTime(), nullable=True),
)
