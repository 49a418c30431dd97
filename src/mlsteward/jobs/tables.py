"""Jobs tables: the queue itself and each job's log lines."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from mlsteward.store import JSONType, UTCDateTime, metadata

__all__ = ["batch_scorings", "job_logs", "jobs"]

#: One row per job. A worker claims a due row (``queued`` or ``failed`` with
#: ``run_after`` passed, or ``running`` with its lease expired), marks it
#: ``running`` with a lease, and must renew the lease by heartbeats; the
#: ``attempts`` count doubles as the fencing token that stops a worker whose
#: lease was taken over from recording a result.
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(100), nullable=False, index=True),
    Column("payload", JSONType, nullable=False),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("run_after", UTCDateTime(), nullable=False),
    # A trigger that fires twice names the same key and gets the same job.
    Column("idempotency_key", String(200), nullable=True, unique=True),
    Column("claimed_by", String(200), nullable=True),
    Column("claimed_at", UTCDateTime(), nullable=True),
    Column("heartbeat_at", UTCDateTime(), nullable=True),
    Column("lease_expires_at", UTCDateTime(), nullable=True),
    Column("result", JSONType, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    # What a worker scans when it looks for work.
    Index("ix_jobs_state_run_after", "state", "run_after"),
)

#: Lines a job's handler wrote while it ran, tagged with the attempt.
job_logs = Table(
    "job_logs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("job_id", String(32), ForeignKey("jobs.id"), nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("level", String(10), nullable=False),
    Column("message", Text, nullable=False),
)

#: One row per batch scoring that reached its log phase, keyed by its batch id
#: (a job's batch id is the job's id, the same for every attempt). Each
#: prediction-log transaction of the batch moves ``rows_logged`` past the
#: records it wrote, so the next attempt starts there and adds none twice;
#: ``model`` pins the version the first attempt resolved.
batch_scorings = Table(
    "batch_scorings",
    metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("model", String(220), nullable=False),
    Column("deployment", String(200), nullable=False),
    Column("output", Text, nullable=False),
    Column("rows_total", BigInteger, nullable=False),
    Column("rows_logged", BigInteger, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
