"""Standard evaluation of a model version on a dataset, stored with the version."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
from sqlalchemy import select

from mlsteward import metrics as m
from mlsteward.context import Context
from mlsteward.errors import InvalidInput
from mlsteward.identity.access import use_case
from mlsteward.registry.models import Evaluation
from mlsteward.registry.service import ModelRegistry
from mlsteward.registry.specs import Evaluate
from mlsteward.registry.tables import evaluations
from mlsteward.store import audit, utcnow

__all__ = ["EvaluationService", "binary_labels"]


def binary_labels(values: pd.Series, field: str = "target") -> np.ndarray:
    """Labels as 0/1 ints; refuses anything but 0/1 or booleans, naming the field."""
    if values.isna().any():
        raise InvalidInput(f"{field!r} has missing labels", field=field)
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype="int64")
    if not pd.api.types.is_numeric_dtype(values.dtype):
        raise InvalidInput(
            f"{field!r} must hold 0/1 labels (1 = bad); got {values.dtype} values "
            f"such as {values.iloc[0]!r}",
            field=field,
        )
    arr = values.to_numpy(dtype="float64")
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        raise InvalidInput(
            f"{field!r} must hold 0/1 labels (1 = bad); found {arr[bad][0]!r}",
            field=field,
        )
    return arr.astype("int64")


class EvaluationService:
    """Evaluate versions and read their evaluations."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.registry = ModelRegistry(ctx)

    @use_case("models.evaluate", "developer")
    def evaluate(
        self,
        ref: str,
        data: pd.DataFrame | str,
        spec: Evaluate | None = None,
    ) -> Evaluation:
        """Score ``data`` with the version and store AUC, Gini, KS, Brier, log
        loss, calibration by score band and the rates at ``spec.threshold``.

        Args:
            ref: The model version: ``name/N``, ``name@alias`` or ``name``.
            data: A DataFrame or a dataset ref (``german-credit/1``); the
                target column defaults to the dataset's target role.
            spec: Target, threshold and label
                (:class:`~mlsteward.registry.specs.Evaluate`).

        Raises:
            InvalidInput: No target column, or labels that are not 0/1.

        Example:
            >>> svc.evaluate("credit-risk/2", "german-credit/1",
            ...              Evaluate(threshold=0.4))  # doctest: +SKIP
        """
        spec = spec or Evaluate()
        frame, dataset, target = self._frame(data, spec.target)
        loaded = self.registry.load(ref)
        y = binary_labels(frame[target], target)
        result = m.evaluate(y, loaded.predict_proba(frame), threshold=spec.threshold)
        mv = loaded.version
        label = spec.label or dataset or "dataframe"
        ev = Evaluation(
            id=uuid.uuid4().hex,
            model=mv.ref,
            dataset=dataset,
            label=label,
            threshold=spec.threshold,
            metrics=result,
            created_at=utcnow(),
            created_by=self.ctx.actor,
        )
        with self.ctx.store.unit_of_work() as session:
            session.execute(
                evaluations.insert().values(
                    id=ev.id,
                    model_name=mv.name,
                    model_version=mv.version,
                    dataset_name=dataset.rsplit("/", 1)[0] if dataset else None,
                    dataset_version=int(dataset.rsplit("/", 1)[1]) if dataset else None,
                    label=label,
                    threshold=spec.threshold,
                    metrics=result,
                    created_at=ev.created_at,
                    created_by=self.ctx.actor,
                )
            )
            audit.record(
                session,
                actor=self.ctx.actor,
                action="model_version.evaluated",
                object_type="model_version",
                object_id=mv.ref,
                details={
                    "evaluation": ev.id,
                    "label": label,
                    "auc": result.get("auc"),
                    "ks": result.get("ks"),
                },
            )
        return ev

    def _frame(
        self, data: pd.DataFrame | str, target: str | None
    ) -> tuple[pd.DataFrame, str | None, str]:
        """The table to evaluate on, its dataset ref (if it is one) and its
        target column, checked to be there."""
        dataset: str | None = None
        if isinstance(data, str):
            from mlsteward.datasets.service import DatasetService

            ds_svc = DatasetService(self.ctx)
            dv = ds_svc.get(data)
            dataset = dv.ref
            target = target or dv.target
            frame = ds_svc.load(dv.ref)
        else:
            frame = data
        if not target:
            raise InvalidInput(
                "no target column: pass target= or register the dataset with a "
                "'target' role",
                field="target",
            )
        if target not in frame.columns:
            raise InvalidInput(
                f"target column {target!r} is not in the data", field="target"
            )
        return frame, dataset, target

    @use_case("models.evaluations", "viewer")
    def list(self, ref: str) -> list[Evaluation]:
        mv = self.registry.get(ref)
        with self.ctx.store.read() as session:
            rows = session.execute(
                select(evaluations)
                .where(
                    evaluations.c.model_name == mv.name,
                    evaluations.c.model_version == mv.version,
                )
                .order_by(evaluations.c.created_at)
            ).all()
        return [
            Evaluation(
                id=r.id,
                model=f"{r.model_name}/{r.model_version}",
                dataset=(
                    f"{r.dataset_name}/{r.dataset_version}" if r.dataset_name else None
                ),
                label=r.label,
                threshold=r.threshold,
                metrics=r.metrics,
                created_at=r.created_at,
                created_by=r.created_by,
            )
            for r in rows
        ]
