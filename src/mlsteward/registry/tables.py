"""Registry tables: runs, registered models, versions, aliases, evaluations."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Table,
    Text,
    false,
)

from mlsteward.store import JSONType, UTCDateTime, metadata

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("created_by", String(200), nullable=False),
    Column("params", JSONType, nullable=False),
    Column("tags", JSONType, nullable=False),
    Column("git_sha", String(64), nullable=True),
    Column("environment", JSONType, nullable=False),
)

run_metrics = Table(
    "run_metrics",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=False, index=True),
    Column("key", String(200), nullable=False),
    Column("value", Float, nullable=False),
    Column("step", Integer, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("dataset_name", String(200), primary_key=True),
    Column("dataset_version", Integer, primary_key=True),
    Column("context", String(50), nullable=False),
    ForeignKeyConstraint(
        ["dataset_name", "dataset_version"],
        ["dataset_versions.name", "dataset_versions.version"],
    ),
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("description", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("tags", JSONType, nullable=False),
    # Governed: the champion moves only through an approved request.
    Column("governed", Boolean, nullable=False, server_default=false()),
    # The policy's largest canary share a developer may set alone.
    Column("canary_share", Float, nullable=True),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String(200), ForeignKey("registered_models.name"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("state", String(20), nullable=False),
    Column("flavor", String(50), nullable=False),
    Column("artifact_sha256", String(64), nullable=False),
    Column("artifact_size", BigInteger, nullable=False),
    Column("signature", JSONType, nullable=False),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=True),
    Column("parent_version", Integer, nullable=True),
    Column("description", Text, nullable=False),
    Column("tags", JSONType, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("state_changed_at", UTCDateTime(), nullable=False),
    # Whether its retraining gates passed (None: never judged).
    Column("gates_passed", Boolean, nullable=True),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("alias", String(128), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(200), nullable=False),
    ForeignKeyConstraint(
        ["name", "version"], ["model_versions.name", "model_versions.version"]
    ),
)

evaluations = Table(
    "evaluations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("model_name", String(200), nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("dataset_name", String(200), nullable=True),
    Column("dataset_version", Integer, nullable=True),
    Column("label", String(200), nullable=False),
    Column("threshold", Float, nullable=False),
    Column("metrics", JSONType, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    ForeignKeyConstraint(
        ["model_name", "model_version"],
        ["model_versions.name", "model_versions.version"],
    ),
)
