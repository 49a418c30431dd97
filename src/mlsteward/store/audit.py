"""The audit chain: append-only, hash-chained record of every state change.

Every service writes its audit event through :func:`record` inside the same
unit of work as the change itself, so a change without its event (or an event
without its change) can never be committed. Each event carries the hash of the
one before it; :func:`verify_chain` recomputes the chain and names the first
event that was edited, deleted or reordered.

The chain head lives in a one-row table that writers lock (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite serialises writers already), so concurrent
writers append in a single order.

The database cannot vouch for itself: whoever can write it can cut the tail
off (and move the head row back), or rewrite history and recompute every
hash. Two anchors outside it close that gap. A head copied elsewhere
(:func:`chain_head`, ``mlsteward audit head``, and every notification) is
checked with ``expect_head``: the chain must still reach that event with that
hash. And with a secret key outside the database (``MLSTEWARD_AUDIT_KEY``,
handed to the :class:`~mlsteward.store.Store`), every event carries an
HMAC-SHA256 of its hash, which nobody without the key can recompute.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac as hmaclib
import json
import re
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

from mlsteward.errors import IntegrityError, InvalidInput
from mlsteward.results import Result, Timestamp
from mlsteward.store.base import metadata
from mlsteward.store.engine import AUDIT_KEY_INFO, Store
from mlsteward.store.types import JSONType, UTCDateTime, utcnow

__all__ = [
    "GENESIS",
    "AuditEvent",
    "ChainHead",
    "ChainProblem",
    "ChainReport",
    "audit_events",
    "chain_head",
    "chain_report",
    "event_hash",
    "event_hmac",
    "list_events",
    "read_head",
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
    # HMAC-SHA256 of ``hash`` under MLSTEWARD_AUDIT_KEY; NULL when written
    # without the key.
    Column("hmac", String(64), nullable=True),
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
    hmac: str | None = None

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
            hmac=r.hmac,
        )


_HEAD_RE = re.compile(r"^(\d{1,18}):([0-9a-f]{64})$")


class ChainHead(Result):
    """The newest event of the chain: its number and hash (``0`` and
    :data:`GENESIS` for an empty chain). Written ``SEQ:HASH``.

    Example:
        >>> ChainHead.parse("0:" + GENESIS).seq
        0
    """

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str, *, field: str = "expect_head") -> ChainHead:
        """``SEQ:HASH`` as :func:`chain_head` printed it.

        Raises:
            InvalidInput: Not a number, a colon and 64 lowercase hex digits.
        """
        m = _HEAD_RE.match(text.strip().lower())
        if m is None:
            raise InvalidInput(
                f"{field} {text!r} is not SEQ:HASH (an event number, a colon and "
                "its 64-hex-digit sha256), as `mlsteward audit head` prints it",
                field=field,
            )
        return cls(seq=int(m.group(1)), hash=m.group(2))


def event_hmac(key: str, digest: str) -> str:
    """The HMAC-SHA256 of an event's hash under the audit key."""
    return hmaclib.new(
        key.encode("utf-8"), digest.encode("ascii"), "sha256"
    ).hexdigest()


def _key(session: Session) -> str | None:
    key = session.info.get(AUDIT_KEY_INFO)
    return str(key) if key else None


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


def _lock_head(session: Session) -> tuple[int, str]:
    """Lock the head row and return it, once it agrees with the log's end.

    A chain whose head row is missing or does not match the newest event is
    not extended: that would crash on a duplicate event number, or bury the
    tampering under new events.
    """
    head = session.execute(
        select(audit_head.c.seq, audit_head.c.hash)
        .where(audit_head.c.id == 1)
        .with_for_update()
    ).first()
    last = _last_event(session)
    if head is None:
        if last.seq != 0:
            raise IntegrityError(
                f"the audit chain head row is missing although the log holds "
                f"events up to {last.seq}: it was deleted. Nothing was written; "
                "run `mlsteward audit verify --expect-head SEQ:HASH` against a "
                "head kept outside the database (docs/audit.md: restoring it)",
                field="audit_head",
                log_ends_at=last.seq,
            )
        prev_seq, prev_hash = 0, GENESIS
        session.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS))
    else:
        prev_seq, prev_hash = int(head.seq), str(head.hash)
        if (prev_seq, prev_hash) != (last.seq, last.hash):
            raise IntegrityError(
                f"the audit chain head row records event {prev_seq} but the log "
                f"ends at event {last.seq}: the chain was cut or the head row "
                "edited. Nothing was written; run `mlsteward audit verify "
                "--expect-head SEQ:HASH` against a head kept outside the database "
                "(docs/audit.md: restoring it)",
                field="audit_head",
                head_seq=prev_seq,
                log_ends_at=last.seq,
            )
    return prev_seq, prev_hash


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
    prev_seq, prev_hash = _lock_head(session)
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
    key = _key(session)
    mac = event_hmac(key, digest) if key else None
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
            hmac=mac,
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
        hmac=mac,
    )


def _last_event(session: Session) -> ChainHead:
    row = session.execute(
        select(audit_events.c.seq, audit_events.c.hash)
        .order_by(audit_events.c.seq.desc())
        .limit(1)
    ).first()
    return (
        ChainHead(seq=0, hash=GENESIS)
        if row is None
        else ChainHead(seq=int(row.seq), hash=str(row.hash))
    )


def chain_head(session: Session) -> ChainHead:
    """The newest event's number and hash, to keep outside the database.

    Example:
        >>> with store.read() as session:  # doctest: +SKIP
        ...     print(chain_head(session))
        42:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    """
    return _last_event(session)


def read_head(store: Store) -> ChainHead:
    """:func:`chain_head` in a read of its own, for whoever sends it out."""
    with store.read() as session:
        return chain_head(session)


class ChainProblem(Result):
    seq: int | None
    problem: str


class ChainReport(Result):
    """The verdict of :func:`chain_report`, as ``GET /audit/verify`` shows it.

    Attributes:
        events: How many events the log holds.
        ok: No problem found.
        problems: Every problem, in chain order.
        head: The newest event (what to keep outside the database).
        expected_head: The head the chain was checked against, if one was given.
        keyed: The HMACs were checked (``MLSTEWARD_AUDIT_KEY`` is set).
    """

    events: int
    ok: bool
    problems: list[ChainProblem]
    head: ChainHead | None = None
    expected_head: ChainHead | None = None
    keyed: bool = False


def verify_chain(
    session: Session, *, expect_head: ChainHead | None = None
) -> tuple[int, list[ChainProblem]]:
    """Recompute the chain; return the number of events and every problem.

    With the audit key in the session (``Session.info``, put there by the
    store) every HMAC is checked too; with ``expect_head`` the chain must
    still reach that event, with that hash.
    """
    key = _key(session)
    problems: list[ChainProblem] = []
    expected_prev = GENESIS
    expected_seq = 1
    n = 0
    first_keyed: int | None = None
    at_expected: str | None = None
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
        if key is not None:
            first_keyed = _check_hmac(key, row, first_keyed, problems)
        if expect_head is not None and row.seq == expect_head.seq:
            at_expected = row.hash
        expected_prev = row.hash
        expected_seq = row.seq + 1
    last = expected_seq - 1
    if key is not None and n and first_keyed is None:
        problems.append(
            ChainProblem(
                seq=last,
                problem="no event carries an HMAC although MLSTEWARD_AUDIT_KEY is "
                "set: the HMACs were stripped (history rewritten without the key), "
                "or nothing was recorded since the key was set (the next change "
                "writes the first keyed event)",
            )
        )
    problems.extend(_head_row_problems(session, n, last, expected_prev))
    if expect_head is not None:
        problems.extend(_expected_head_problems(expect_head, at_expected, last))
    return n, problems


def _check_hmac(
    key: str, row: Any, first_keyed: int | None, problems: list[ChainProblem]
) -> int | None:
    """Check one event's HMAC; return the first keyed event seen so far."""
    if row.hmac is None:
        if first_keyed is not None:
            problems.append(
                ChainProblem(
                    seq=row.seq,
                    problem=f"no HMAC although event {first_keyed} and later "
                    "carry one (written or rewritten without MLSTEWARD_AUDIT_KEY)",
                )
            )
        return first_keyed
    if not hmaclib.compare_digest(str(row.hmac), event_hmac(key, row.hash)):
        problems.append(
            ChainProblem(
                seq=row.seq,
                problem="HMAC does not match (rewritten without MLSTEWARD_AUDIT_KEY, "
                "or checked with another key)",
            )
        )
    return row.seq if first_keyed is None else first_keyed


def _head_row_problems(
    session: Session, n: int, last: int, last_hash: str
) -> list[ChainProblem]:
    head = session.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
    ).first()
    if head is None:
        if n == 0:
            return []
        return [
            ChainProblem(
                seq=None,
                problem=f"the chain head row is missing although {n} events exist "
                "(it was deleted; the next change is refused until it is restored)",
            )
        ]
    if head.seq != last or head.hash != last_hash:
        return [
            ChainProblem(
                seq=int(head.seq),
                problem=f"chain head records event {head.seq} but the log ends at "
                f"{last} (events at the end were deleted or added)",
            )
        ]
    return []


def _expected_head_problems(
    expect: ChainHead, found: str | None, last: int
) -> list[ChainProblem]:
    if expect.seq == 0:
        if expect.hash != GENESIS:
            return [
                ChainProblem(
                    seq=0,
                    problem=f"expected head 0:{expect.hash[:12]}... is not the "
                    "empty chain's head (0 and 64 zeros)",
                )
            ]
        return []
    if found is None:
        return [
            ChainProblem(
                seq=expect.seq,
                problem=f"the chain no longer reaches the expected head, event "
                f"{expect.seq}: it ends at {last} (events at the end were deleted)"
                if expect.seq > last
                else f"the expected head, event {expect.seq}, is missing from the "
                "chain (deleted)",
            )
        ]
    if found != expect.hash:
        return [
            ChainProblem(
                seq=expect.seq,
                problem=f"event {expect.seq} has hash {found[:12]}..., not the "
                f"expected {expect.hash[:12]}... (history up to it was rewritten)",
            )
        ]
    return []


def chain_report(
    session: Session, *, expect_head: ChainHead | None = None
) -> ChainReport:
    """:func:`verify_chain` as a typed report, with the head to keep."""
    n, problems = verify_chain(session, expect_head=expect_head)
    return ChainReport(
        events=n,
        ok=not problems,
        problems=problems,
        head=chain_head(session),
        expected_head=expect_head,
        keyed=_key(session) is not None,
    )


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
