"""Users and API tokens."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, String, Table, Text

from mlsteward.store import UTCDateTime, metadata

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

#: Browser sessions of the dashboard: a token exchanged for a cookie. Only the
#: sha256 of the cookie's secret is kept; each session stays bound to the
#: token it was opened with, so revoking the token ends the session too.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("token_id", String(16), ForeignKey("api_tokens.id"), nullable=False),
    Column("user_name", String(128), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime(), nullable=True),
)
