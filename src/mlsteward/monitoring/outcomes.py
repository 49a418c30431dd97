"""Outcome use cases: load late labels by request id, all or nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mlsteward.context import Context
from mlsteward.errors import Conflict, InvalidInput
from mlsteward.identity.access import internal, use_case
from mlsteward.monitoring.tables import outcomes
from mlsteward.results import Result
from mlsteward.serving.log.service import PredictionLog
from mlsteward.store import audit, utcnow

__all__ = ["LoadResult", "OutcomeService"]

_CHUNK = 500


class LoadResult(Result):
    """Outcomes joined by a load, and those already there with the same label."""

    loaded: int
    unchanged: int


def _labels(values: pd.Series) -> np.ndarray:
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise InvalidInput(f"label is missing in row {row + 1}", field="label")
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype="int64")
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isin(numbers, (0.0, 1.0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = values.iloc[row]
        value = value.item() if hasattr(value, "item") else value
        raise InvalidInput(
            f"label must be 0 (good) or 1 (bad); row {row + 1} has {value!r}",
            field="label",
            row=row + 1,
        )
    arr = numbers
    return arr.astype("int64")


def _read(path: str | Path) -> pd.DataFrame:
    """A table file of outcomes (any format :mod:`mlsteward.datasets.io`
    reads); request ids are read as text, so ``"007"`` stays ``"007"``."""
    from mlsteward.datasets.io import read_table

    return read_table(path, "path", text_columns=["request_id"])


def _checked(
    data: pd.DataFrame, now: dt.datetime
) -> tuple[list[str], np.ndarray, list[dt.datetime]] | None:
    """Request ids, labels and observation times of an outcomes frame, every
    row checked (None for an empty frame); a bad row names its column."""
    for col in ("request_id", "label"):
        if col not in data.columns:
            raise InvalidInput(
                f"outcomes need a {col!r} column; found {list(data.columns)}",
                field=col,
            )
    if data.empty:
        return None
    ids = data["request_id"].astype("string")
    if ids.isna().any():
        raise InvalidInput("request_id is missing in some rows", field="request_id")
    dup = ids[ids.duplicated()]
    if not dup.empty:
        raise InvalidInput(
            f"request id {dup.iloc[0]!r} appears more than once in the file",
            field="request_id",
        )
    labels = _labels(data["label"])
    if "observed_at" not in data.columns:
        return ids.tolist(), labels, [now] * len(data)
    try:
        observed = pd.to_datetime(data["observed_at"], utc=True)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            "observed_at must be ISO-8601 times", field="observed_at"
        ) from exc
    if observed.isna().any():
        raise InvalidInput("observed_at is missing in some rows", field="observed_at")
    return ids.tolist(), labels, [t.to_pydatetime() for t in observed]


def _existing(session: Session, ids: list[str]) -> dict[str, int]:
    """The labels already loaded for these request ids."""
    existing: dict[str, int] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        existing.update(
            {
                r.request_id: r.label
                for r in session.execute(
                    select(outcomes.c.request_id, outcomes.c.label).where(
                        outcomes.c.request_id.in_(chunk)
                    )
                )
            }
        )
    return existing


class OutcomeService:
    """Join true outcomes to logged predictions.

    Loading is idempotent: a request id that already has the same label is
    left as it is; a different label for it is a conflict. Any bad row fails
    the whole load, and nothing is written.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @use_case("outcomes.load", "developer")
    def load(self, data: pd.DataFrame | str | Path) -> LoadResult:
        """Load a frame or table file with ``request_id``, ``label`` and
        optionally ``observed_at`` (UTC; default now).

        Example:
            >>> OutcomeService(ctx).load("outcomes.csv").loaded  # doctest: +SKIP
            412
        """
        if not isinstance(data, pd.DataFrame):
            data = _read(data)
        now = utcnow()
        checked = _checked(data, now)
        if checked is None:
            return LoadResult(loaded=0, unchanged=0)
        id_list, labels, observed = checked
        with self.ctx.store.unit_of_work() as session:
            known = PredictionLog(self.ctx).logged(id_list, session=session)
            unknown = [i for i in id_list if i not in known]
            if unknown:
                raise InvalidInput(
                    f"{len(unknown)} request id(s) are not in the prediction log, "
                    f"for example {unknown[:3]}; nothing was loaded",
                    field="request_id",
                )
            existing = _existing(session, id_list)
            rows, unchanged = [], 0
            for rid, label, seen in zip(id_list, labels, observed, strict=True):
                if rid in existing:
                    if existing[rid] != int(label):
                        raise Conflict(
                            f"request id {rid!r} already has outcome "
                            f"{existing[rid]}, not {int(label)}; nothing was loaded",
                            field="label",
                        )
                    unchanged += 1
                    continue
                rows.append(
                    {
                        "request_id": rid,
                        "label": int(label),
                        "observed_at": seen,
                        "loaded_at": now,
                        "loaded_by": self.ctx.actor,
                    }
                )
            for start in range(0, len(rows), 1000):
                session.execute(outcomes.insert(), rows[start : start + 1000])
            if rows:
                audit.record(
                    session,
                    actor=self.ctx.actor,
                    action="outcomes.loaded",
                    object_type="outcomes",
                    object_id=f"batch-{now.strftime('%Y%m%dT%H%M%S%f')}",
                    details={"loaded": len(rows), "unchanged": unchanged},
                )
        return LoadResult(loaded=len(rows), unchanged=unchanged)

    @use_case("outcomes.labelled_window", "viewer")
    def labelled_window(
        self,
        *,
        deployment: str,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> pd.DataFrame:
        """Predictions of a window joined to their outcomes (``label`` is NaN
        where none has arrived yet)."""
        preds = PredictionLog(self.ctx).read(
            deployment=deployment, since=since, until=until
        )
        if preds.empty:
            preds["label"] = pd.Series(dtype="float64")
            return preds
        ids = preds["request_id"].tolist()
        labels: dict[str, int] = {}
        with self.ctx.store.read() as session:
            for start in range(0, len(ids), _CHUNK):
                labels.update(
                    {
                        r.request_id: r.label
                        for r in session.execute(
                            select(outcomes.c.request_id, outcomes.c.label).where(
                                outcomes.c.request_id.in_(ids[start : start + _CHUNK])
                            )
                        )
                    }
                )
        preds["label"] = preds["request_id"].map(labels).astype("float64")
        return preds

    @internal("read by retraining triggers")
    def new_labels(self, deployment: str, *, since: dt.datetime | None = None) -> int:
        """How many of the deployment's records got an outcome loaded at or
        after ``since`` (all of them without it).

        Example:
            >>> svc.new_labels("credit-risk", since=last)  # doctest: +SKIP
            412
        """
        q = select(outcomes.c.request_id)
        if since is not None:
            q = q.where(outcomes.c.loaded_at >= since)
        with self.ctx.store.read() as session:
            ids = list(session.execute(q).scalars())
        return len(PredictionLog(self.ctx).logged(ids, deployment=deployment))

    @internal("retention.apply deleting old outcomes")
    def forget(
        self, request_ids: Sequence[str], *, session: Session | None = None
    ) -> int:
        """Delete the outcomes of these requests; returns how many there were.

        Args:
            request_ids: The requests whose outcomes go.
            session: The caller's session, to delete inside its transaction
                (retention deletes the records themselves in the same one).

        Example:
            >>> OutcomeService(ctx).forget(["r-1", "r-2"])  # doctest: +SKIP
            2
        """
        ids = list(request_ids)
        gone = 0
        with self.ctx.store.within(session, write=True) as s:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                result = s.execute(
                    delete(outcomes).where(outcomes.c.request_id.in_(chunk))
                )
                gone += int(result.rowcount)  # type: ignore[attr-defined]
        return gone
