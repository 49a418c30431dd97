"""The audit chain: append-only, hash-chained record of every state change.

Every service writes its audit event through :func:`record` inside the same
unit of work as the change itself, so a change without its event (or an event
without its change) can never be committed. Each event carries the hash of the
one before it; :func:`verify_chain` recomputes the chain and names the first
event that was edited, deleted or reordered.

The chain head lives in a one-row table that writers lock (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite serialises writers already), so concurrent
writers append in a single order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from mlsteward.errors import InvalidInput
from mlsteward.results import Result, Timestamp
from mlsteward.store.base import metadata
from mlsteward.store.types import JSONType, UTCDateTime, utcnow

__all__ = [
    "GENESIS",
    "AuditEvent",
    "ChainProblem",
    "ChainReport",
    "audit_events",
    "event_hash",
    "list_events",
    "record",
    "verify_chain",
]

GENESIS = "0" * 64

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("object_type", String(50), nullable=False),
    Column("object_id", String(300), nullable=False, index=True),
    Column("details", JSONType, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("note", Text, nullable=True),
)


class AuditEvent(Result):
    seq: int
    at: Timestamp
    actor: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def from_row(cls, r: Any) -> AuditEvent:
        """The event of one ``audit_events`` row."""
        return cls(
            seq=r.seq,
            at=r.at,
            actor=r.actor,
            action=r.action,
            object_type=r.object_type,
            object_id=r.object_id,
            details=r.details,
            prev_hash=r.prev_hash,
            hash=r.hash,
        )


def _canonical_time(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *,
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """The sha256 of an event's canonical JSON, chained to ``prev_hash``."""
    body = json.dumps(
        {
            "seq": seq,
            "at": _canonical_time(at),
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "details": details,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction."""
    details = json.loads(json.dumps(details or {}, default=str, allow_nan=False))
    head = session.execute(
        select(audit_head.c.seq, audit_head.c.hash)
        .where(audit_head.c.id == 1)
        .with_for_update()
    ).first()
    if head is None:
        prev_seq, prev_hash = 0, GENESIS
        session.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS))
    else:
        prev_seq, prev_hash = int(head.seq), str(head.hash)
    seq = prev_seq + 1
    # Microsecond precision survives both databases unchanged.
    at = utcnow()
    digest = event_hash(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details,
        prev_hash=prev_hash,
    )
    session.execute(
        insert(audit_events).values(
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            details=details,
            prev_hash=prev_hash,
            hash=digest,
        )
    )
    session.execute(
        update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=digest)
    )
    return AuditEvent(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details,
        prev_hash=prev_hash,
        hash=digest,
    )


class ChainProblem(Result):
    seq: int | None
    problem: str


class ChainReport(Result):
    """The verdict of :func:`verify_chain`, as ``GET /audit/verify`` shows it."""

    events: int
    ok: bool
    problems: list[ChainProblem]


def verify_chain(session: Session) -> tuple[int, list[ChainProblem]]:
    """Recompute the chain; return the number of events and every problem."""
    problems: list[ChainProblem] = []
    expected_prev = GENESIS
    expected_seq = 1
    n = 0
    rows = session.execute(select(audit_events).order_by(audit_events.c.seq))
    for row in rows:
        n += 1
        if row.seq != expected_seq:
            problems.append(
                ChainProblem(
                    seq=row.seq,
                    problem=f"sequence gap: expected event {expected_seq}, "
                    f"found {row.seq} (an event was deleted)",
                )
            )
        if row.prev_hash != expected_prev:
            problems.append(
                ChainProblem(
                    seq=row.seq,
                    problem="previous-hash link broken (an event before it was edited, "
                    "deleted or reordered)",
                )
            )
        recomputed = event_hash(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            object_type=row.object_type,
            object_id=row.object_id,
            details=row.details,
            prev_hash=row.prev_hash,
        )
        if recomputed != row.hash:
            problems.append(
                ChainProblem(
                    seq=row.seq, problem="content does not match its hash (edited)"
                )
            )
        expected_prev = row.hash
        expected_seq = row.seq + 1
    head = session.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
    ).first()
    if head is not None and (
        head.seq != expected_seq - 1 or head.hash != expected_prev
    ):
        problems.append(
            ChainProblem(
                seq=int(head.seq),
                problem=f"chain head records event {head.seq} but the log ends at "
                f"{expected_seq - 1} (events at the end were deleted or added)",
            )
        )
    return n, problems


def list_events(
    session: Session,
    *,
    object_id: str | None = None,
    object_type: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 1000,
) -> list[AuditEvent]:
    """The newest ``limit`` events that pass every filter given, oldest first.

    The one query behind the audit log of the SDK, the CLI and the REST API
    (through ``AuditService.log``).

    Args:
        session: The session to read through.
        object_id: Only events about this object (``credit-risk/3``).
        object_type: Only events about this kind of object (``deployment``).
        actor: Only events by this actor.
        action: Only actions starting with this prefix (``alias.``).
        since: Only events at or after this time (with a time zone).
        until: Only events before this time (with a time zone).
        limit: At most this many events, the newest; at least 1.

    Raises:
        InvalidInput: ``limit`` below 1, or a time without a time zone.

    Example:
        >>> with store.read() as session:  # doctest: +SKIP
        ...     events = list_events(session, action="alias.", limit=10)
    """
    if limit < 1:
        raise InvalidInput("limit must be at least 1", field="limit")
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(
                f"{name} {value.isoformat()!r} has no time zone; give one, "
                "e.g. 2025-07-01T00:00:00Z",
                field=name,
            )
    c = audit_events.c
    q = select(audit_events).order_by(c.seq.desc()).limit(limit)
    if object_id is not None:
        q = q.where(c.object_id == object_id)
    if object_type is not None:
        q = q.where(c.object_type == object_type)
    if actor is not None:
        q = q.where(c.actor == actor)
    if action is not None:
        q = q.where(c.action.startswith(action))
    if since is not None:
        q = q.where(c.at >= since)
    if until is not None:
        q = q.where(c.at < until)
    return [AuditEvent.from_row(r) for r in session.execute(q)][::-1]
