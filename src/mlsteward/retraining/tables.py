"""Retraining tables: policies, retraining runs with their gates, approvals."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text

from mlsteward.store import JSONType, UTCDateTime, metadata

policies = Table(
    "policies",
    metadata,
    Column("model_name", String(200), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("document", JSONType, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(200), nullable=False),
)

retrainings = Table(
    "retrainings",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("model_name", String(200), nullable=False, index=True),
    Column("trigger", JSONType, nullable=False),
    Column("status", String(20), nullable=False),
    Column("champion", String(250), nullable=True),
    Column("challenger", String(250), nullable=True),
    Column("holdout", String(250), nullable=True),
    Column("gates", JSONType, nullable=False),
    Column("comparison", JSONType, nullable=False),
    Column("decision", String(30), nullable=True),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    # What each recorded step made (see mlsteward.retraining.steps): a retry
    # of the job resumes after the last recorded step.
    Column("steps", JSONType, nullable=True),
)

approval_requests = Table(
    "approval_requests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("model_name", String(200), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("action", String(30), nullable=False),
    Column("status", String(20), nullable=False),
    Column("retraining_id", String(32), nullable=True),
    Column("champion_version", Integer, nullable=True),
    Column("evidence", JSONType, nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("decided_by", String(200), nullable=True),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("comment", Text, nullable=False),
)
