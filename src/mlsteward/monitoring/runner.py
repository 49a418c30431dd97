"""Every check of a monitor on one window: the pure middle of a monitor run.

:func:`compute_window` takes the window's predictions (with outcomes where
they have arrived), the resolved reference and the monitor's checks, and
returns :class:`~mlsteward.monitoring.checks.CheckResult` rows. It reads and
writes nothing; :mod:`mlsteward.monitoring.monitors` does that.

Drift rows (from :func:`mlsteward.monitoring.drift.compute.compute_drift`, with the
methods recorded when the monitor was created):

* ``drift.<method>`` per column, the method's statistic as the value and
  the drift engine's status mapped ``stable``/``watch``/``drift`` to
  ``ok``/``warn``/``alert``;
* ``drift`` on ``*``: the number of drifted columns, the dataset verdict as
  status (the worst column: no share-of-columns rule);
* ``score_drift.<method>`` on ``score``: the score against the scoring
  model's scores on the reference rows.

Estimated performance (``estimated.auc``): CBPE
(:mod:`mlsteward.monitoring.cbpe`), judged by its drop below the same
baseline as realised AUC, with its sampling error and 95 % band (a
parametric bootstrap of labels drawn from the calibrated probabilities).
Once the window's labels mature (the performance check judges them),
``estimated.concept_shift`` compares the realised AUC of the labelled rows
with CBPE's band for the same rows: ``warn`` outside the 95 % band,
``alert`` outside the 99 % band; ``pending`` until then.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlsteward.errors import MlstewardError
from mlsteward.monitoring.cbpe import CANNOT_SEE, concept_shift, estimate_performance
from mlsteward.monitoring.checks import CheckResult
from mlsteward.monitoring.fairness import fairness_checks
from mlsteward.monitoring.models import Window
from mlsteward.monitoring.performance import performance_checks
from mlsteward.monitoring.quality import quality_checks, volume_check
from mlsteward.monitoring.reference import Reference
from mlsteward.monitoring.spec import Checks, DriftCheck, EstimatedCheck

__all__ = ["STATUS_OF_DRIFT", "compute_window", "inputs_of"]

#: Drift engine statuses as check statuses.
STATUS_OF_DRIFT = {"stable": "ok", "watch": "warn", "drift": "alert"}
_PREFIX = "input."


def inputs_of(window: pd.DataFrame) -> pd.DataFrame:
    """The logged inputs of a window, columns without the ``input.`` prefix."""
    cols = [c for c in window.columns if c.startswith(_PREFIX)]
    out = window[cols].copy()
    out.columns = [c[len(_PREFIX) :] for c in cols]
    return out.reset_index(drop=True)


def _guard(family: str, fn: Any, *args: Any, **kwargs: Any) -> list[CheckResult]:
    """Run one check family; a domain error becomes one ``error`` row."""
    try:
        out: list[CheckResult] = fn(*args, **kwargs)
        return out
    except MlstewardError as exc:
        return [
            CheckResult(
                family, "*", None, "error", {"error": exc.message, "field": exc.field}
            )
        ]


def _drift(
    options: DriftCheck,
    current: pd.DataFrame,
    scores: np.ndarray,
    ref: Reference,
) -> list[CheckResult]:
    from mlsteward.monitoring.drift.compute import compute_drift

    methods = options.methods
    monitored = options.columns or []
    present = [c for c in monitored if c in current.columns]
    absent = [c for c in monitored if c not in current.columns]
    if len(current) == 0:
        return [CheckResult("drift", "*", None, "no_data", {"reason": "empty window"})]
    out: list[CheckResult] = []
    thresholds = options.thresholds
    alpha = options.alpha
    common = {"reference": ref.to_dict()}
    if present:
        result = compute_drift(
            ref.dataset.profile,
            current[present],
            methods={c: methods[c] for c in present},
            thresholds=thresholds,
            alpha=alpha,
        )
        for row in result.rows:
            out.append(_drift_row("drift", row))
        summary = result.to_dict()
        summary.pop("rows")
        skipped = {**summary.pop("skipped"), **dict.fromkeys(absent, "not logged")}
        out.append(
            CheckResult(
                "drift",
                "*",
                float(len(result.drifted)),
                STATUS_OF_DRIFT[result.verdict],  # type: ignore[arg-type]
                {**summary, "skipped": skipped, **common},
            )
        )
    else:
        out.append(
            CheckResult(
                "drift",
                "*",
                None,
                "error",
                {"error": f"no monitored column is logged: {absent}", **common},
            )
        )
    if options.score and ref.score_profile is not None and scores.size:
        score = compute_drift(
            ref.score_profile,
            pd.DataFrame({"score": scores}),
            methods={"score": list(options.score_methods)},
            thresholds=thresholds,
            alpha=alpha,
        )
        out.extend(_drift_row("score_drift", row) for row in score.rows)
    return out


def _drift_row(prefix: str, row: Any) -> CheckResult:
    details = {
        k: getattr(row, k)
        for k in (
            "kind",
            "effect",
            "test",
            "p_value",
            "p_method",
            "p_adjusted",
            "watch_threshold",
            "threshold",
            "n_reference",
            "n_current",
            "missing_reference",
            "missing_current",
            "unseen_current",
            "error_bound",
            "note",
        )
    }
    details["drift_status"] = row.status
    return CheckResult(
        f"{prefix}.{row.method}",
        row.column,
        row.statistic,
        STATUS_OF_DRIFT[row.status],  # type: ignore[arg-type]
        details,
    )


def _estimated(
    options: EstimatedCheck,
    scores: np.ndarray,
    ref: Reference,
    realised: CheckResult | None,
    frame: pd.DataFrame,
) -> list[CheckResult]:
    if scores.size < options.min_rows:
        return [
            CheckResult(
                "estimated.auc",
                "*",
                None,
                "no_data",
                {
                    "reason": f"{scores.size} scores; CBPE needs at least "
                    f"{options.min_rows}",
                    "cannot_see": CANNOT_SEE,
                },
            )
        ]
    est = estimate_performance(scores, ref.calibration)
    details: dict[str, Any] = est.to_dict()
    status: Any = "ok"
    baseline = ref.derived.get("baseline_auc")
    if baseline is not None:
        drop = baseline - est.auc
        details.update(
            baseline_auc=baseline,
            baseline_source=ref.derived.get("baseline_source"),
            drop=drop,
        )
        ref_est = ref.derived.get("reference_estimated_auc")
        if ref_est is not None:
            # How far CBPE overshoots the honest baseline on the reference
            # itself: the part of any gap below that comes from calibration.
            details["reference_estimated_auc"] = ref_est
            details["reference_overconfidence"] = ref_est - baseline
        level = options.auc_drop.judge()
        status = level.status(drop)
        details["threshold"] = {"auc_drop": level.to_dict()}
    if realised is not None and realised.value is not None:
        details["realised_auc"] = realised.value
        details["realised_minus_estimated"] = realised.value - est.auc
    else:
        details["realised_auc"] = None
    labels = (
        pd.to_numeric(frame["label"], errors="coerce").to_numpy(dtype=np.float64)
        if "label" in frame
        else np.full(scores.size, np.nan)
    )
    estimated = CheckResult("estimated.auc", "*", est.auc, status, details)
    return [estimated, _concept_shift(scores, labels, ref, realised)]


def _concept_shift(
    scores: np.ndarray,
    labels: np.ndarray,
    ref: Reference,
    realised: CheckResult | None,
) -> CheckResult:
    """Once the window's outcomes have matured (the performance check
    judged them), is their realised AUC where CBPE put it, within sampling
    noise? The blind spot of the estimate, caught as soon as labels allow."""
    name = "estimated.concept_shift"
    if realised is None or realised.value is None:
        why = (
            "outcomes have not matured (performance.auc is not judged yet)"
            if realised is not None
            else "needs the performance check, which reads the outcomes"
        )
        return CheckResult(name, "*", None, "pending", {"reason": why})
    known = ~np.isnan(labels)
    shift = concept_shift(scores[known], labels[known], ref.calibration)
    return CheckResult(name, "*", shift.gap, shift.status, shift.to_dict())


def compute_window(
    checks: Checks,
    window: Window,
    frame: pd.DataFrame,
    ref: Reference,
    *,
    at: dt.datetime,
    volume_history: Sequence[float] = (),
) -> list[CheckResult]:
    """Every configured check of one window.

    Args:
        checks: The monitor's checks (:meth:`Checks.load` of the stored ones).
        window: The window's span and label.
        frame: Its predictions: ``input.<column>``, ``score``, ``decision``,
            ``created_at``, ``label`` (NaN where no outcome yet).
        ref: The resolved reference.
        at: The run's time (the end of a window still open).
        volume_history: Predictions per day of earlier windows, newest first.
    """
    n = len(frame)
    current = inputs_of(frame) if n else pd.DataFrame()
    scores = (
        frame["score"].to_numpy(dtype=np.float64)
        if n and "score" in frame
        else np.empty(0)
    )
    out: list[CheckResult] = []
    if checks.drift is not None:
        out += _guard("drift", _drift, checks.drift, current, scores, ref)
    if checks.quality is not None:
        q = checks.quality
        levels = {k: t.judge() for k, t in q.thresholds.items()}
        cols = [c for c in q.columns or [] if c in ref.columns]
        out += _guard("quality", quality_checks, ref.columns, current, cols, levels)
        if window.label.startswith("last "):
            span = 0.0
            if n:
                times = pd.to_datetime(frame["created_at"], utc=True)
                span = (times.max() - times.min()).total_seconds()
        else:
            span = (
                min(window.end, max(at, window.start)) - window.start
            ).total_seconds()
        out.append(
            volume_check(n, span / 86400.0, list(volume_history), levels.get("volume"))
        )
    realised: CheckResult | None = None
    if checks.performance is not None:
        p = checks.performance
        labels = frame["label"] if n else pd.Series(dtype="float64")
        perf_frame = pd.DataFrame({"score": scores, "label": labels.to_numpy()})
        cuts = (ref.score or {}).get("cuts")
        perf = _guard(
            "performance",
            performance_checks,
            perf_frame,
            min_labelled_share=p.min_labelled_share,
            baseline_auc=ref.derived.get("baseline_auc"),
            baseline_source=ref.derived.get("baseline_source"),
            auc_drop=p.auc_drop.judge(),
            calibration=p.calibration.judge() if p.calibration else None,
            band_cuts=cuts,
        )
        out += perf
        realised = next((r for r in perf if r.check == "performance.auc"), None)
    if checks.estimated is not None:
        out += _guard(
            "estimated", _estimated, checks.estimated, scores, ref, realised, frame
        )
    if checks.fairness is not None:
        f = checks.fairness
        out += _guard(
            "fairness",
            fairness_checks,
            frame,
            list(f.protected or []),
            bands=f.bands,
            min_group_size=f.min_group_size,
            approval_ratio=f.approval_ratio.judge(),
            tpr_difference=f.tpr_difference.judge(),
            threshold=f.threshold,
        )
    for r in out:
        if r.value is not None and not math.isfinite(r.value):
            r.value = None
    return out
