"""Serving tables: the prediction log, deployments and their change history."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

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
    # What the server noticed about the record, e.g. {"unseen": {"purpose":
    # "spaceship"}} when an unseen category was mapped to unknown.
    Column("flags", JSONType, nullable=True),
    # A deployment's records of a window, newest first (the dashboard's
    # distribution of a feature, a monitor's window): one range scan.
    Index("ix_predictions_deployment_created_at", "deployment", "created_at"),
)

#: Outputs of shadow versions: scored on a copy of the request, never returned.
shadow_predictions = Table(
    "shadow_predictions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("request_id", String(64), nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("deployment", String(200), nullable=False, index=True),
    Column("model_name", String(200), nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("outputs", JSONType, nullable=False),
    Column("latency_ms", Float, nullable=True),
    UniqueConstraint("request_id", "model_version"),
)

#: A named endpoint: what serves it now. Every change bumps ``revision``,
#: which running servers poll to pick the change up without a restart.
deployments = Table(
    "deployments",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("model_name", String(200), nullable=False),
    Column("champion_version", Integer, nullable=False),
    Column("canary_version", Integer, nullable=True),
    Column("canary_share", Float, nullable=False),
    # Record field whose value keeps a caller on one route (sticky canary).
    Column("sticky_field", String(200), nullable=True),
    Column("shadow_versions", JSONType, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("unseen_policy", String(20), nullable=False),
    # The request contract, fixed at creation: the champion's signature
    # inputs then. Later versions must accept it, so a promotion never turns
    # a valid request into a failed one.
    Column("inputs", JSONType, nullable=False),
    Column("log_columns", JSONType, nullable=False),
    Column("pii_columns", JSONType, nullable=False),
    # Champions replaced by promotions, oldest first; rollback pops the last.
    Column("previous_champions", JSONType, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(200), nullable=False),
    ForeignKeyConstraint(
        ["model_name", "champion_version"],
        ["model_versions.name", "model_versions.version"],
    ),
)

#: One row per change of a deployment, with the routes after it.
deployment_changes = Table(
    "deployment_changes",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column(
        "deployment",
        String(200),
        ForeignKey("deployments.name"),
        nullable=False,
        index=True,
    ),
    Column("revision", Integer, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(50), nullable=False),
    Column("details", JSONType, nullable=False),
    UniqueConstraint("deployment", "revision"),
)
