"""Prediction log use cases: record answered predictions, read them back."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import select

from mlsteward.context import Context
from mlsteward.errors import Conflict, InvalidInput
from mlsteward.serving.tables import predictions

__all__ = ["REDACTED", "PredictionLog", "PredictionRecord", "redact"]

REDACTED = "[redacted]"


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
    if isinstance(v, (dt.datetime, pd.Timestamp)):
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
        }


class PredictionLog:
    """Append predictions and read them back as a DataFrame."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def append(self, records: Iterable[PredictionRecord]) -> int:
        """Write records in one transaction; a duplicate request id fails all."""
        rows = [r.row() for r in records]
        if not rows:
            return 0
        ids = [r["request_id"] for r in rows]
        if len(set(ids)) != len(ids):
            raise InvalidInput("duplicate request ids in one batch", field="request_id")
        with self.ctx.store.unit_of_work() as session:
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

    def read(
        self,
        *,
        deployment: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Predictions as a DataFrame, one row each, inputs flattened as
        ``input.<column>`` and outputs as ``<output>`` columns."""
        q = select(predictions).order_by(predictions.c.created_at, predictions.c.id)
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
        records = []
        for r in rows:
            rec: dict[str, Any] = {
                "request_id": r.request_id,
                "created_at": r.created_at,
                "deployment": r.deployment,
                "model_version": r.model_version,
                "route": r.route,
                "latency_ms": r.latency_ms,
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
                    "score",
                    "decision",
                ]
            )
        return frame
