"""Users, API tokens and notification sinks."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
)

from mlsteward.store import JSONType, UTCDateTime, metadata

users = Table(
    "users",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
)

tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column(
        "user_name", String(128), ForeignKey("users.name"), nullable=False, index=True
    ),
    # sha256 of the secret: tokens are 256 random bits, so a fast hash is as
    # strong as a slow one, and the secret itself is never stored.
    Column("secret_hash", String(64), nullable=False),
    Column("scope", String(300), nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

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
