"""Monitoring tables: outcomes, monitors, their results as a time series, alerts.

``monitor_results`` and ``alerts`` carry the monitor's id *and* name and no
foreign key to ``monitors``: deleting a monitor removes its definition but
keeps every result and alert it produced (a risk reviewer may still need
them); a new monitor with the same name gets a new id and a fresh history.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from mlsteward.store import JSONType, UTCDateTime, metadata

__all__ = ["alerts", "monitor_results", "monitors", "outcomes"]

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

monitors = Table(
    "monitors",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("deployment", String(200), nullable=False, index=True),
    Column("model", String(200), nullable=False),
    # Interval seconds ("3600") or a five-field cron expression, UTC.
    Column("schedule", String(200), nullable=False),
    # {"type": "last_n", "n": ...} | {"type": "range", "seconds": ...}
    # | {"type": "period", "period": "month", "lookback": ...}
    Column("window", JSONType, nullable=False),
    # "champion" (the training data of the model that scored the window) or a
    # dataset version ref "name/N".
    Column("reference", String(300), nullable=False),
    # Every check with its thresholds; drift methods per column fixed here.
    Column("checks", JSONType, nullable=False),
    # {"sinks": [...], "cooldown_seconds": ...}
    Column("alerting", JSONType, nullable=False),
    # Routes of the deployment watched (champion by default; not shadows).
    Column("routes", JSONType, nullable=False),
    Column("description", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("last_run_at", UTCDateTime(), nullable=True),
    Column("next_run_at", UTCDateTime(), nullable=True, index=True),
    # Derived reference figures cached per (model version, dataset version).
    Column("state", JSONType, nullable=False),
)

monitor_results = Table(
    "monitor_results",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("monitor_id", String(32), nullable=False),
    Column("monitor", String(200), nullable=False),
    Column("run_id", String(32), nullable=False, index=True),
    Column("check", String(100), nullable=False),
    Column("column", String(300), nullable=False),
    Column("window_start", UTCDateTime(), nullable=False),
    Column("window_end", UTCDateTime(), nullable=False),
    Column("window_label", String(100), nullable=False),
    Column("value", Float, nullable=True),
    Column("status", String(20), nullable=False),
    Column("details", JSONType, nullable=False),
    Column("computed_at", UTCDateTime(), nullable=False),
    Index("ix_monitor_results_series", "monitor_id", "check", "window_start"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("monitor_id", String(32), nullable=False),
    Column("monitor", String(200), nullable=False, index=True),
    Column("check", String(100), nullable=False),
    Column("column", String(300), nullable=False),
    Column("severity", String(20), nullable=False),
    # pending (not yet delivered to every sink), sent, failed (gave up).
    Column("status", String(20), nullable=False, index=True),
    Column("dedupe_key", String(700), nullable=False, index=True),
    Column("message", Text, nullable=False),
    Column("value", Float, nullable=True),
    Column("window_label", String(100), nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("count", Integer, nullable=False),
    # Sinks to deliver to, those done, and every attempt.
    Column("sinks", JSONType, nullable=False),
    Column("delivered", JSONType, nullable=False),
    Column("sink_attempts", JSONType, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("claimed_until", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
)
