"""Prediction log use cases: record answered predictions, read them back."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from mlsteward.context import Context
from mlsteward.errors import Conflict, InvalidInput, NotFound
from mlsteward.identity.access import internal, use_case
from mlsteward.serving.log.rows import sqlite_insert
from mlsteward.serving.tables import deployments, predictions, shadow_predictions

if TYPE_CHECKING:  # imported on use: the serving hot path never needs pandas
    import pandas as pd

__all__ = [
    "REDACTED",
    "PredictionLog",
    "PredictionRecord",
    "insert_journal_records",
    "journal_rows",
    "redact",
]

REDACTED = "[redacted]"

#: Request ids per ``IN (...)`` list when looking records up by id.
_CHUNK = 500


def redact(inputs: dict[str, Any], pii: Sequence[str]) -> dict[str, Any]:
    """A copy of ``inputs`` with every pii column's value replaced."""
    return {k: (REDACTED if k in pii else v) for k, v in inputs.items()}


def _json_value(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):  # numpy scalars
        v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
    if isinstance(v, dt.datetime):  # pandas Timestamps are datetimes too
        return v.isoformat()
    if isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


@dataclass
class PredictionRecord:
    request_id: str
    created_at: dt.datetime
    deployment: str
    model_name: str
    model_version: int
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    route: str = "champion"
    latency_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "created_at": self.created_at,
            "deployment": self.deployment,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "route": self.route,
            "inputs": {k: _json_value(v) for k, v in self.inputs.items()},
            "outputs": {k: _json_value(v) for k, v in self.outputs.items()},
            "latency_ms": self.latency_ms,
            "flags": self.extra.get("flags"),
        }


class PredictionLog:
    """Append predictions and read them back as a DataFrame."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @internal("the serving runtime writing its log")
    def append(
        self, records: Iterable[PredictionRecord], *, session: Session | None = None
    ) -> int:
        """Write records in one transaction (the caller's ``session`` if
        given); a duplicate request id fails all."""
        rows = [r.row() for r in records]
        if not rows:
            return 0
        ids = [r["request_id"] for r in rows]
        if len(set(ids)) != len(ids):
            raise InvalidInput("duplicate request ids in one batch", field="request_id")
        with self.ctx.store.within(session, write=True) as session:
            clash = session.execute(
                select(predictions.c.request_id)
                .where(predictions.c.request_id.in_(ids[:1000]))
                .limit(1)
            ).scalar()
            if clash is not None:
                raise Conflict(
                    f"request id {clash!r} is already in the prediction log",
                    field="request_id",
                )
            for start in range(0, len(rows), 1000):
                session.execute(predictions.insert(), rows[start : start + 1000])
        return len(rows)

    @internal("the log shipper")
    def ingest(
        self, records: Iterable[Mapping[str, Any]], conn: Connection | None = None
    ) -> int:
        """Write journal records (see :func:`journal_rows`), skipping request
        ids already logged, so replaying a journal twice changes nothing.

        Args:
            records: Journal records: predictions and shadow outputs.
            conn: A connection to write through (the server's log writer
                keeps one); default a new unit of work.

        Returns:
            The number of records handed in.
        """
        records = list(records)
        if not records:
            return 0
        if conn is not None:
            with conn.begin():
                self._insert_ignoring(conn, records)
        else:
            with self.ctx.store.unit_of_work() as session:
                self._insert_ignoring(session.connection(), records)
        return len(records)

    def _insert_ignoring(
        self, conn: Connection, records: list[Mapping[str, Any]]
    ) -> None:
        insert_journal_records(conn, records)

    @use_case("deployments.shadow_predictions", "viewer")
    def read_shadows(
        self,
        *,
        deployment: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Shadow outputs as a DataFrame: ``request_id``, ``created_at``,
        ``deployment``, ``model_version``, ``latency_ms`` and the outputs."""
        import pandas as pd

        t = shadow_predictions
        q = select(t).order_by(t.c.created_at, t.c.id)
        if deployment is not None:
            q = q.where(t.c.deployment == deployment)
        if since is not None:
            q = q.where(t.c.created_at >= since)
        if until is not None:
            q = q.where(t.c.created_at < until)
        if limit is not None:
            q = q.limit(limit)
        with self.ctx.store.read() as session:
            rows = session.execute(q).all()
        columns = [
            "request_id",
            "created_at",
            "deployment",
            "model_version",
            "latency_ms",
            "score",
            "decision",
        ]
        frame = pd.DataFrame.from_records(
            [
                {
                    "request_id": r.request_id,
                    "created_at": r.created_at,
                    "deployment": r.deployment,
                    "model_version": r.model_version,
                    "latency_ms": r.latency_ms,
                    **r.outputs,
                }
                for r in rows
            ]
        )
        return pd.DataFrame(columns=columns) if frame.empty else frame

    @use_case("predictions.read", "viewer")
    def read(
        self,
        *,
        deployment: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
        newest: bool = False,
        known: bool = False,
    ) -> pd.DataFrame:
        """Predictions as a DataFrame, oldest first, one row each, inputs
        flattened as ``input.<column>`` and outputs as ``<output>`` columns.

        ``limit`` keeps the oldest ``limit`` records, or the newest with
        ``newest=True``. With ``known=True`` a ``deployment`` that neither
        exists nor has records is refused (:class:`NotFound`, naming those
        that do) instead of answering an empty frame.
        """
        import pandas as pd

        order = (predictions.c.created_at, predictions.c.id)
        q = select(predictions).order_by(
            *(c.desc() for c in order) if newest else order
        )
        if deployment is not None:
            q = q.where(predictions.c.deployment == deployment)
        if since is not None:
            q = q.where(predictions.c.created_at >= since)
        if until is not None:
            q = q.where(predictions.c.created_at < until)
        if limit is not None:
            q = q.limit(limit)
        with self.ctx.store.read() as session:
            rows = session.execute(q).all()
            if known and not rows and deployment is not None:
                _require_known(session, deployment)
        if newest:
            rows = rows[::-1]
        records = []
        for r in rows:
            rec: dict[str, Any] = {
                "request_id": r.request_id,
                "created_at": r.created_at,
                "deployment": r.deployment,
                "model_version": r.model_version,
                "route": r.route,
                "latency_ms": r.latency_ms,
                "model_name": r.model_name,
                "flags": r.flags,
            }
            rec.update(r.outputs)
            rec.update({f"input.{k}": v for k, v in r.inputs.items()})
            records.append(rec)
        frame = pd.DataFrame.from_records(records)
        if frame.empty:
            frame = pd.DataFrame(
                columns=[
                    "request_id",
                    "created_at",
                    "deployment",
                    "model_version",
                    "route",
                    "latency_ms",
                    "model_name",
                    "flags",
                    "score",
                    "decision",
                ]
            )
        return frame

    @use_case("predictions.values", "viewer")
    def values(
        self,
        deployment: str,
        column: str,
        *,
        since: dt.datetime,
        until: dt.datetime,
        limit: int = 50_000,
    ) -> list[Any]:
        """The logged values of input ``column`` of ``deployment``'s records
        made in ``[since, until)``, the newest ``limit`` of them; a record
        without the column gives ``None``. Lighter than :meth:`read` for one
        column of a large window: nothing else is built.

        Example:
            >>> log.values("cr", "age", since=t0, until=t1)[:3]  # doctest: +SKIP
            [31, 45, 27]
        """
        # The database extracts the one key: the rest of each record's
        # inputs is neither sent nor decoded.
        q = (
            select(predictions.c.inputs[column])
            .where(
                predictions.c.deployment == deployment,
                predictions.c.created_at >= since,
                predictions.c.created_at < until,
            )
            .order_by(predictions.c.created_at.desc())
            .limit(limit)
        )
        with self.ctx.store.read() as session:
            return [value for (value,) in session.execute(q)]

    # -- what other capabilities ask of the log ----------------------------
    # Monitoring, jobs, retraining and governance read and delete records only
    # through these methods, so the log can change its storage alone.
    @internal("read by monitoring")
    def logged(
        self,
        request_ids: Iterable[str],
        *,
        deployment: str | None = None,
        session: Session | None = None,
    ) -> set[str]:
        """The request ids among ``request_ids`` that are in the log.

        Args:
            request_ids: The ids to look up.
            deployment: Only records of this deployment.
            session: The caller's session, to read inside its transaction.

        Returns:
            The ids found.

        Example:
            >>> PredictionLog(ctx).logged(["r-1", "unknown"])  # doctest: +SKIP
            {'r-1'}
        """
        ids = list(request_ids)
        found: set[str] = set()
        with self.ctx.store.within(session) as s:
            for start in range(0, len(ids), _CHUNK):
                q = select(predictions.c.request_id).where(
                    predictions.c.request_id.in_(ids[start : start + _CHUNK])
                )
                if deployment is not None:
                    q = q.where(predictions.c.deployment == deployment)
                found.update(s.execute(q).scalars())
        return found

    @internal("read by monitoring")
    def latest_model(self, deployment: str) -> str | None:
        """The model that answered the deployment's newest record, if any.

        Example:
            >>> PredictionLog(ctx).latest_model("credit-risk")  # doctest: +SKIP
            'credit-risk'
        """
        with self.ctx.store.read() as session:
            name = session.execute(
                select(predictions.c.model_name)
                .where(predictions.c.deployment == deployment)
                .order_by(predictions.c.id.desc())
                .limit(1)
            ).scalar()
        return None if name is None else str(name)

    @internal("read by monitoring")
    def last_times(
        self, deployment: str, *, routes: Iterable[str], at: dt.datetime, n: int
    ) -> list[dt.datetime]:
        """When the newest ``n`` records of the deployment's ``routes`` up to
        and including ``at`` were made, newest first.

        Example:
            >>> PredictionLog(ctx).last_times(  # doctest: +SKIP
            ...     "credit-risk", routes=["champion"], at=utcnow(), n=500
            ... )[-1]
            datetime.datetime(2025, 7, 1, 9, 30, tzinfo=datetime.timezone.utc)
        """
        q = (
            select(predictions.c.created_at)
            .where(
                predictions.c.deployment == deployment,
                predictions.c.route.in_(list(routes)),
                predictions.c.created_at <= at,
            )
            .order_by(predictions.c.created_at.desc(), predictions.c.id.desc())
            .limit(n)
        )
        with self.ctx.store.read() as session:
            return list(session.execute(q).scalars())

    @internal("read by retention")
    def older_than(
        self, cutoff: dt.datetime, *, session: Session | None = None
    ) -> list[str]:
        """The request ids of every record made before ``cutoff``.

        Example:
            >>> len(PredictionLog(ctx).older_than(cutoff))  # doctest: +SKIP
            1200
        """
        q = select(predictions.c.request_id).where(predictions.c.created_at < cutoff)
        with self.ctx.store.within(session) as s:
            return list(s.execute(q).scalars())

    @internal("retention.apply")
    def delete_older_than(
        self, cutoff: dt.datetime, *, session: Session | None = None
    ) -> int:
        """Delete every record made before ``cutoff``; returns how many.

        Outcomes refer to records: delete theirs first, in the same session.

        Example:
            >>> PredictionLog(ctx).delete_older_than(cutoff)  # doctest: +SKIP
            1200
        """
        with self.ctx.store.within(session, write=True) as s:
            gone = s.execute(
                delete(predictions).where(predictions.c.created_at < cutoff)
            )
        return int(gone.rowcount)  # type: ignore[attr-defined]


def insert_journal_records(
    conn: Connection, records: Sequence[Mapping[str, Any]]
) -> None:
    """Insert journal records in the caller's transaction, skipping request
    ids (and shadow outputs) already logged."""
    if conn.dialect.name == "sqlite":
        _sqlite_insert(conn, records)
        return
    preds, shadows = journal_rows(records)
    for table, rows, keys in (
        (predictions, preds, ["request_id"]),
        (shadow_predictions, shadows, ["request_id", "model_version"]),
    ):
        for start in range(0, len(rows), 500):
            stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
            conn.execute(stmt, rows[start : start + 500])


def _sqlite_insert(conn: Connection, records: Sequence[Mapping[str, Any]]) -> None:
    """Insert journal records through the driver, in the caller's transaction.

    The server writes thousands of records a second; SQLAlchemy's per-value
    type processing cost more CPU than the requests themselves.
    """
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        sqlite_insert(cursor, records)
    finally:
        cursor.close()


def journal_rows(
    records: Iterable[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Table rows of journal records.

    A prediction record is ``{"t": "p", "id", "ts", "d", "m", "v", "r",
    "in", "out", "ms", "f"}`` (request id, epoch seconds, deployment, model,
    version, route, logged inputs, outputs, latency in ms, flags); a shadow
    record is ``{"t": "s", "id", "ts", "d", "m", "v", "out", "ms"}``.
    """
    preds: list[dict[str, Any]] = []
    shadows: list[dict[str, Any]] = []
    for r in records:
        at = dt.datetime.fromtimestamp(float(r["ts"]), dt.UTC)
        if r.get("t") == "s":
            shadows.append(
                {
                    "request_id": r["id"],
                    "created_at": at,
                    "deployment": r["d"],
                    "model_name": r["m"],
                    "model_version": int(r["v"]),
                    "outputs": r["out"],
                    "latency_ms": r.get("ms"),
                }
            )
        else:
            preds.append(
                {
                    "request_id": r["id"],
                    "created_at": at,
                    "deployment": r["d"],
                    "model_name": r["m"],
                    "model_version": int(r["v"]),
                    "route": r.get("r", "champion"),
                    "inputs": {k: _json_value(v) for k, v in r["in"].items()},
                    "outputs": r["out"],
                    "latency_ms": r.get("ms"),
                    "flags": r.get("f"),
                }
            )
    return preds, shadows


def _require_known(session: Session, deployment: str) -> None:
    """An empty answer for a deployment that never existed is a typo, not an
    empty log: name what exists (deployments, and names in the log)."""
    known = set(session.execute(select(deployments.c.name)).scalars())
    if deployment in known:
        return
    logged = session.execute(select(predictions.c.deployment).distinct()).scalars()
    known.update(logged)
    if deployment not in known:
        raise NotFound(
            f"deployment {deployment!r} not found; deployments with predictions "
            f"or routes: {sorted(known) or 'none yet'}",
            field="deployment",
        )
