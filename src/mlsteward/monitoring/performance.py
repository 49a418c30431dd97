"""Realised performance of a window once its outcomes have arrived.

Figures (label 1 = bad, score = probability of bad; every figure comes from
:mod:`mlsteward.metrics`, which agrees with scikit-learn and scipy):

``performance.labelled_share``
    Share of the window's predictions that have an outcome. Always written,
    so a reader sees how far each window has matured.
``performance.auc`` / ``.gini`` / ``.ks`` / ``.brier``
    On the labelled rows, once the labelled share reaches
    ``min_labelled_share`` (the window has *matured*) and both outcomes are
    present; before that they are written with status ``pending``. AUC is
    judged by its drop below a baseline (the champion's cross-validated AUC
    by default, see :mod:`mlsteward.monitoring.monitors`); Gini, KS and
    Brier are informational.
``performance.calibration``
    Observed bad rate against mean score in ten quantile bands of the
    window's scores (:func:`mlsteward.metrics.calibration_by_band`); the
    value is the row-weighted mean absolute gap. Informational unless a
    threshold is set: small windows make band gaps noisy.
``performance.bad_rate_by_band``
    Bad rate per score band, with the bands fixed by the reference's score
    deciles, so the same band can be followed from month to month; the value
    is the window's overall bad rate.

This module is pure: no database, no web framework.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlsteward import metrics
from mlsteward.monitoring.checks import CheckResult, Threshold

__all__ = ["METRICS", "bad_rate_by_band", "performance_checks"]

#: Figures written once a window has matured.
METRICS = ("auc", "gini", "ks", "brier")


def bad_rate_by_band(
    labels: Any, scores: Any, cuts: Sequence[float]
) -> list[dict[str, Any]]:
    """Outcomes per score band; band ``i`` holds ``cuts[i-1] <= s < cuts[i]``.

    Args:
        labels: 0/1 outcomes.
        scores: Scores of the same rows.
        cuts: Ascending interior cut points (``k`` cuts make ``k + 1`` bands).

    Returns:
        One dict per band with ``band`` (1-based), ``lower`` / ``upper``
        (the cut points, ``None`` for the open ends), ``n``, ``n_bad``,
        ``bad_rate`` (``None`` for an empty band) and ``mean_score``.

    Example:
        >>> rows = bad_rate_by_band([0, 1, 1, 0], [0.1, 0.2, 0.8, 0.9], [0.5])
        >>> [(r["n"], r["bad_rate"]) for r in rows]
        [(2, 0.5), (2, 0.5)]
    """
    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    edges = np.asarray(list(cuts), dtype=np.float64)
    band = np.searchsorted(edges, s, side="right")
    k = edges.size + 1
    n = np.bincount(band, minlength=k)
    bad = np.bincount(band, weights=y, minlength=k)
    total = np.bincount(band, weights=s, minlength=k)
    rows = []
    for i in range(k):
        rows.append(
            {
                "band": i + 1,
                "lower": float(edges[i - 1]) if i > 0 else None,
                "upper": float(edges[i]) if i < k - 1 else None,
                "n": int(n[i]),
                "n_bad": round(float(bad[i])),
                "bad_rate": float(bad[i] / n[i]) if n[i] else None,
                "mean_score": float(total[i] / n[i]) if n[i] else None,
            }
        )
    return rows


def _unjudged(
    n: int, n_lab: int, min_labelled_share: float, y: np.ndarray
) -> tuple[str | None, Any]:
    """Why the window's performance cannot be judged (None: it can)."""
    if n == 0:
        return "the window has no predictions", "no_data"
    if n_lab / n < min_labelled_share:
        return (
            f"labels have not matured: {n_lab} of {n} predictions "
            f"({n_lab / n:.1%}) have an outcome, {min_labelled_share:.0%} needed",
            "pending",
        )
    if y.sum() == 0 or y.sum() == y.size:
        return "the labelled rows hold only one outcome", "no_data"
    return None, "pending"


def _auc(
    ev: dict[str, Any],
    common: dict[str, Any],
    baseline_auc: float | None,
    baseline_source: str | None,
    auc_drop: Threshold | None,
) -> CheckResult:
    """Realised AUC, judged by its drop below the baseline where one is set."""
    details = dict(common)
    status: Any = "ok"
    if baseline_auc is not None:
        drop = baseline_auc - ev["auc"]
        details.update(
            baseline_auc=baseline_auc, baseline_source=baseline_source, drop=drop
        )
        if auc_drop is not None:
            status = auc_drop.status(drop)
            details["threshold"] = {"auc_drop": auc_drop.to_dict()}
    return CheckResult("performance.auc", "*", ev["auc"], status, details)


def _bands(
    y: np.ndarray,
    s: np.ndarray,
    ev: dict[str, Any],
    calibration: Threshold | None,
    band_cuts: Sequence[float] | None,
    n_bands: int,
) -> list[CheckResult]:
    """Calibration by score band and the bad rate by (reference) score band."""
    out: list[CheckResult] = []
    table = metrics.calibration_by_band(y, s, n_bands=n_bands)
    gap = float(sum(r["n"] * abs(r["gap"]) for r in table) / len(y))
    out.append(
        CheckResult(
            "performance.calibration",
            "*",
            gap,
            calibration.status(gap) if calibration is not None else "ok",
            {"bands": table, "mean_absolute_gap": gap},
        )
    )
    cuts = (
        list(band_cuts)
        if band_cuts is not None
        else [r["lower"] for r in metrics.calibration_by_band(y, s, n_bands)[1:]]
    )
    out.append(
        CheckResult(
            "performance.bad_rate_by_band",
            "*",
            ev["bad_rate"],
            "ok",
            {
                "bands": bad_rate_by_band(y, s, cuts),
                "bands_from": "reference" if band_cuts is not None else "window",
            },
        )
    )
    return out


def performance_checks(
    window: pd.DataFrame,
    *,
    min_labelled_share: float = 0.9,
    baseline_auc: float | None = None,
    baseline_source: str | None = None,
    auc_drop: Threshold | None = None,
    calibration: Threshold | None = None,
    band_cuts: Sequence[float] | None = None,
    n_bands: int = 10,
) -> list[CheckResult]:
    """Realised-performance results of one window.

    Args:
        window: One row per prediction with ``score`` and ``label`` (NaN
            where no outcome has arrived).
        min_labelled_share: Share of labelled rows from which the window
            counts as matured.
        baseline_auc: AUC the drop is measured from (``None``: no judgement).
        baseline_source: Where the baseline came from, for the details.
        auc_drop: Threshold on ``baseline_auc - auc``.
        calibration: Optional threshold on the mean absolute calibration gap.
        band_cuts: Score cut points of ``bad_rate_by_band`` (the reference's
            score deciles); the window's own quantiles when ``None``.
        n_bands: Bands of the calibration table.

    Returns:
        ``performance.labelled_share`` always; the metrics when matured,
        else ``pending`` (or ``no_data`` for an empty window).

    Example:
        >>> w = pd.DataFrame({"score": [0.1, 0.4, 0.35, 0.8], "label": [0, 0, 1, 1]})
        >>> {r.check: r.value for r in performance_checks(w)}["performance.auc"]
        0.75
    """
    n = len(window)
    labels = pd.to_numeric(window["label"], errors="coerce") if n else pd.Series([])
    labelled = window[labels.notna().to_numpy()] if n else window
    n_lab = len(labelled)
    share = n_lab / n if n else None
    out = [
        CheckResult(
            "performance.labelled_share",
            "*",
            share,
            "ok" if n else "no_data",
            {"n": n, "n_labelled": n_lab, "min_labelled_share": min_labelled_share},
        )
    ]
    y = labelled["label"].to_numpy(dtype=np.float64) if n_lab else np.empty(0)
    s = labelled["score"].to_numpy(dtype=np.float64) if n_lab else np.empty(0)
    reason, status = _unjudged(n, n_lab, min_labelled_share, y)
    if reason is not None:
        for name in (*METRICS, "calibration", "bad_rate_by_band"):
            out.append(
                CheckResult(
                    f"performance.{name}", "*", None, status, {"reason": reason}
                )
            )
        return out
    ev = metrics.evaluate(y, s)
    common = {"n_labelled": n_lab, "n_bad": ev["n_bad"], "bad_rate": ev["bad_rate"]}
    out.append(_auc(ev, common, baseline_auc, baseline_source, auc_drop))
    for name in ("gini", "ks", "brier"):
        out.append(CheckResult(f"performance.{name}", "*", ev[name], "ok", common))
    out += _bands(y, s, ev, calibration, band_cuts, n_bands)
    return out
