"""The reference a window is compared with.

A monitor's reference is either ``"champion"`` or a dataset version
(``"german-credit-train/1"``):

* ``champion`` follows the model: for each window, the version that scored
  most of the window's predictions is found in the log, and the dataset its
  training run read (``inputs`` of the run, context ``training``) is the
  reference. After a promotion the new champion's windows are compared with
  its own training data. A version without a recorded training dataset
  falls back to the dataset resolved when the monitor was created.
* a dataset version is used for every window, whichever version scored.

From the reference dataset and the scoring version, figures that need the
model are derived once and cached in the monitor's ``state``: the score's
profile (the version's scores on the reference rows: the score-drift
reference and the fixed bands of ``bad_rate_by_band``), the baseline AUC of
the performance checks and, if asked for, the CBPE calibration map.

Baseline AUC, in order: ``checks.performance.baseline_auc`` if set; the
scoring run's metric ``baseline_metric`` (``cv_auc`` by default: an honest,
cross-validated figure); the version's latest evaluation AUC; its AUC on the
reference rows (in sample, so optimistic; the details say so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlsteward.context import Context
from mlsteward.datasets.models import DatasetVersion
from mlsteward.datasets.profile import compute_profile
from mlsteward.datasets.service import DatasetService
from mlsteward.errors import InvalidInput, NotFound
from mlsteward.metrics import auc
from mlsteward.monitoring.cbpe import Calibration, estimate_auc, fit_calibration
from mlsteward.registry.evaluation import EvaluationService
from mlsteward.registry.models import ModelVersion
from mlsteward.registry.runs import RunService
from mlsteward.registry.service import ModelRegistry

__all__ = ["Reference", "ReferenceResolver", "training_dataset"]

_CACHE_SIZE = 8


def training_dataset(ctx: Context, version: ModelVersion) -> DatasetVersion | None:
    """The dataset version the version's training run read, if recorded."""
    if version.run_id is None:
        return None
    try:
        run = RunService(ctx).get(version.run_id)
    except NotFound:
        return None
    refs = [i["dataset"] for i in run.inputs if i.get("context") == "training"]
    refs = refs or [i["dataset"] for i in run.inputs]
    return DatasetService(ctx).get(refs[0]) if refs else None


@dataclass
class Reference:
    """What one window is compared with."""

    dataset: DatasetVersion
    version: ModelVersion | None
    derived: dict[str, Any]

    @property
    def columns(self) -> dict[str, Any]:
        return dict(self.dataset.profile["columns"])

    @property
    def score_profile(self) -> dict[str, Any] | None:
        """Profile of the scoring version's scores on the reference rows."""
        return self.derived.get("score_profile")

    @property
    def score(self) -> dict[str, Any] | None:
        """The score's column of :attr:`score_profile`."""
        prof = self.score_profile
        return prof["columns"]["score"] if prof else None

    @property
    def calibration(self) -> Calibration | None:
        raw = self.derived.get("calibration")
        return Calibration.from_dict(raw) if raw else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.ref,
            "model": self.version.ref if self.version else None,
        }


class ReferenceResolver:
    """Resolve and cache references for one monitor during one run.

    Args:
        ctx: The services' context.
        model: The monitor's registered model name.
        reference: ``"champion"`` or a dataset ref.
        checks: The monitor's checks (for the baseline and calibration).
        state: The monitor's ``state`` dict; derived figures are cached in
            ``state["derived"]`` (the caller stores it back).
    """

    def __init__(
        self,
        ctx: Context,
        *,
        model: str,
        reference: str,
        checks: dict[str, Any],
        state: dict[str, Any],
    ) -> None:
        self.ctx = ctx
        self.model = model
        self.reference = reference
        self.checks = checks
        self.state = state
        self._registry = ModelRegistry(ctx)

    def version_of(self, model_versions: Any) -> ModelVersion | None:
        """The version that scored most rows (``None`` for an empty window:
        then the current champion, if any)."""
        values = [int(v) for v in model_versions if v is not None and v == v]
        if values:
            top = max(set(values), key=lambda v: (values.count(v), v))
            return self._registry.get(f"{self.model}/{top}")
        try:
            return self._registry.get(f"{self.model}@champion")
        except NotFound:
            return None

    def dataset_for(self, version: ModelVersion | None) -> DatasetVersion:
        datasets = DatasetService(self.ctx)
        if self.reference != "champion":
            return datasets.get(self.reference)
        found = training_dataset(self.ctx, version) if version else None
        if found is not None:
            return found
        fallback = self.state.get("reference_at_creation")
        if fallback:
            return datasets.get(fallback)
        raise NotFound(
            f"model {version.ref if version else self.model!r} has no training "
            "dataset recorded; start its run with inputs=[dataset ref] or give "
            "the monitor a reference dataset",
            field="reference",
        )

    def resolve(self, model_versions: Any) -> Reference:
        version = self.version_of(model_versions)
        dataset = self.dataset_for(version)
        return Reference(dataset, version, self._derived(version, dataset))

    # -- derived figures --------------------------------------------------
    def _derived(
        self, version: ModelVersion | None, dataset: DatasetVersion
    ) -> dict[str, Any]:
        if version is None:
            return {}
        estimated = self.checks.get("estimated", {})
        method = estimated.get("calibration") or "none"
        calibrate = method != "none"
        cal_ref = estimated.get("calibration_dataset") if calibrate else None
        key = "|".join(
            [
                version.ref,
                dataset.ref,
                dataset.sha256[:12],
                method,
                str(cal_ref),
            ]
        )
        cache: dict[str, Any] = self.state.setdefault("derived", {})
        if key in cache:
            return dict(cache[key])
        frame = DatasetService(self.ctx).load(dataset.ref)
        missing = [c for c in version.signature.feature_names if c not in frame]
        if missing:
            raise InvalidInput(
                f"reference {dataset.ref} lacks inputs of {version.ref}: "
                f"{missing[:5]}; choose a reference dataset with the model's inputs",
                field="reference",
            )
        scores = self._registry.load(version.ref).predict_proba(frame)
        scores = np.asarray(scores, dtype=np.float64)
        out: dict[str, Any] = {
            "score_profile": compute_profile(
                pd.DataFrame({"score": scores}), {"score": "numeric"}
            )
        }
        target = dataset.target
        labels = None
        if target is not None and target in frame:
            y = frame[target].to_numpy(dtype=np.float64)
            if np.isin(y, (0.0, 1.0)).all() and 0 < y.sum() < y.size:
                labels = y
        baseline, source = self._baseline(version, scores, labels)
        out["baseline_auc"], out["baseline_source"] = baseline, source
        if calibrate:
            cal, out["calibration_source"] = self._calibration(version, method, cal_ref)
            out["calibration"] = cal.to_dict()
            scores_for_estimate = cal.apply(scores)
        else:
            scores_for_estimate = scores
        # CBPE on the reference rows themselves: above the honest baseline, the
        # scores are over-confident and so will every estimate be.
        if 0 < scores_for_estimate.sum() < scores_for_estimate.size:
            out["reference_estimated_auc"] = estimate_auc(scores, scores_for_estimate)
        cache[key] = out
        while len(cache) > _CACHE_SIZE:
            cache.pop(next(iter(cache)))
        return dict(out)

    def _calibration(
        self, version: ModelVersion, method: str, cal_ref: str | None
    ) -> tuple[Calibration, str]:
        """The map fitted on held-out labelled data (never the training rows:
        measured, that makes the estimate worse than raw scores)."""
        field = "checks.estimated.calibration_dataset"
        if not cal_ref:
            raise InvalidInput(
                f"checks.estimated.calibration is {method!r} but no "
                "calibration_dataset is set: name labelled data the model did "
                "not train on",
                field=field,
            )
        datasets = DatasetService(self.ctx)
        cal_ds = datasets.get(cal_ref)
        trained_on = training_dataset(self.ctx, version)
        if trained_on is not None and trained_on.ref == cal_ds.ref:
            raise InvalidInput(
                f"checks.estimated.calibration_dataset {cal_ds.ref} is the data "
                f"{version.ref} was trained on; calibrate on labelled data the "
                "model did not see",
                field=field,
            )
        frame = datasets.load(cal_ds.ref)
        t = cal_ds.target
        if t is None or t not in frame:
            raise InvalidInput(
                f"checks.estimated.calibration is {method!r} but {cal_ds.ref} has "
                "no 0/1 target to calibrate on",
                field=field,
            )
        scores = self._registry.load(version.ref).predict_proba(frame)
        labels = frame[t].to_numpy(dtype=np.float64)
        return fit_calibration(scores, labels, method), cal_ds.ref

    def _baseline(
        self, version: ModelVersion, scores: np.ndarray, labels: np.ndarray | None
    ) -> tuple[float | None, str | None]:
        perf = self.checks.get("performance", {})
        if perf.get("baseline_auc") is not None:
            return float(perf["baseline_auc"]), "checks.performance.baseline_auc"
        metric = perf.get("baseline_metric") or "cv_auc"
        if version.run_id is not None:
            try:
                value = RunService(self.ctx).get(version.run_id).metrics.get(metric)
            except NotFound:
                value = None
            if value is not None and math.isfinite(value):
                return float(value), f"run {version.run_id} metric {metric}"
        evaluations = EvaluationService(self.ctx).list(version.ref)
        if evaluations:
            last = evaluations[-1]
            return float(last.metrics["auc"]), f"evaluation {last.label}"
        if labels is not None:
            return auc(labels, scores), "reference rows (in sample)"
        return None, None
