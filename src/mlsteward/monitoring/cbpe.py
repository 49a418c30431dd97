"""Estimated performance without labels: confidence-based estimation (CBPE).

If a model's score ``p`` is a calibrated probability of bad, each
application is "bad" with probability ``p`` and "good" with ``1 - p``. For
every threshold the *expected* confusion matrix follows by summing those
probabilities (expected true positives at threshold ``t`` are
``sum(p_i for s_i >= t)``, expected false positives
``sum(1 - p_i for s_i >= t)``, and so on); the expected ROC curve runs
through these points and its area is the estimated AUC. This is the method
NannyML calls CBPE. In closed form it is the Mann-Whitney AUC in which row
``i`` counts as a bad with weight ``p_i`` and as a good with weight
``1 - p_i`` (ties, including a row with itself, count one half), which is
how :func:`estimate_auc` computes it, exactly, in one sort; it equals
``sklearn.metrics.roc_auc_score`` on the rows doubled with those sample
weights.

Calibration
    ``p`` must be calibrated *on the population being scored*. A model's raw
    score often is not (an over-fitted model is over-confident); a
    calibration map fitted on labelled reference data (isotonic regression,
    :func:`fit_calibration`) corrects the reference's miscalibration. Rows
    are still ranked by the raw score, so calibration never changes the
    order, only the weights.

What it cannot see
    The estimate assumes that ``P(bad | score)`` in the window is what it was
    in the reference: only the mix of applicants (covariate shift) may
    change. When the relation between the inputs and default changes
    (concept shift: a segment the model thinks safe starts to default),
    scores and therefore the estimate do not move, and the estimate is
    wrong without any sign of it. Only realised performance, once outcomes
    arrive, reveals it; monitors show it beside the estimate.

This module is pure: no database, no web framework.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlsteward.errors import InvalidInput

__all__ = [
    "CANNOT_SEE",
    "Calibration",
    "CbpeEstimate",
    "estimate_auc",
    "estimate_performance",
    "fit_calibration",
    "hanley_mcneil_se",
]

#: What the estimate cannot see, said in every result.
CANNOT_SEE = (
    "estimated from the scores alone, assuming P(bad | score) is unchanged since "
    "the reference: it follows a change in who applies (covariate shift) but "
    "cannot see a change in how inputs relate to default (concept shift); only "
    "realised performance, once outcomes arrive, reveals that"
)


def _probabilities(values: Any, field: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field} must be numbers: {exc}", field=field) from exc
    if arr.ndim != 1:
        raise InvalidInput(f"{field} must be one-dimensional", field=field)
    if arr.size and not (np.isfinite(arr) & (arr >= 0) & (arr <= 1)).all():
        raise InvalidInput(
            f"{field} must be probabilities: finite numbers in [0, 1]", field=field
        )
    return arr


@dataclass(frozen=True)
class Calibration:
    """A monotone map from raw score to calibrated probability of bad.

    Stored as knots ``x`` (ascending scores) and ``y`` (probabilities);
    applied by linear interpolation, clipped at both ends, which is exactly
    what scikit-learn's ``IsotonicRegression(out_of_bounds="clip")``
    predicts.

    Example:
        >>> Calibration([0.0, 1.0], [0.1, 0.9]).apply([0.5]).tolist()
        [0.5]
    """

    x: list[float]
    y: list[float]

    def apply(self, scores: Any) -> np.ndarray:
        s = _probabilities(scores, "scores")
        return np.clip(np.interp(s, self.x, self.y), 0.0, 1.0)

    def to_dict(self) -> dict[str, list[float]]:
        return {"x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        return cls([float(v) for v in d["x"]], [float(v) for v in d["y"]])


def fit_calibration(scores: Any, labels: Any) -> Calibration:
    """Fit an isotonic calibration map of ``scores`` to 0/1 ``labels``.

    Raises:
        InvalidInput: Fewer than 2 rows, lengths differ, labels not 0/1.

    Example:
        >>> cal = fit_calibration([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
        >>> cal.apply([0.15, 0.85]).tolist()
        [0.0, 1.0]
    """
    from sklearn.isotonic import IsotonicRegression

    s = _probabilities(scores, "scores")
    y = np.asarray(labels, dtype=np.float64)
    if s.size != y.size or s.size < 2:
        raise InvalidInput(
            "calibration needs at least two labelled scores, one label per score",
            field="labels",
        )
    if not np.isin(y, (0.0, 1.0)).all():
        raise InvalidInput("labels must be 0 (good) or 1 (bad)", field="labels")
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(s, y)
    return Calibration(
        [float(v) for v in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_]
    )


def estimate_auc(scores: Any, probabilities: Any | None = None) -> float:
    """Expected AUC of ``scores`` if each row is bad with its probability.

    Args:
        scores: The ranking score of each row.
        probabilities: Calibrated probability of bad of each row; the scores
            themselves when omitted.

    Returns:
        The estimated AUC in ``[0, 1]``.

    Raises:
        InvalidInput: Empty input, lengths differ, non-probabilities, or all
            probabilities 0 (or all 1): no expected bads (or goods).

    Example:
        >>> round(estimate_auc([0.1, 0.9]), 6)
        0.9
    """
    s = np.asarray(scores, dtype=np.float64)
    p = s if probabilities is None else _probabilities(probabilities, "probabilities")
    if s.ndim != 1 or s.size == 0 or not np.isfinite(s).all():
        raise InvalidInput(
            "scores must be a non-empty list of finite numbers", field="scores"
        )
    if p.size != s.size:
        raise InvalidInput("one probability per score is needed", field="probabilities")
    _probabilities(p, "probabilities")
    order = np.argsort(s, kind="stable")
    ss, ps = s[order], p[order]
    start = np.empty(ss.size, dtype=bool)
    start[0] = True
    np.not_equal(ss[1:], ss[:-1], out=start[1:])
    idx = np.flatnonzero(start)
    bads = np.add.reduceat(ps, idx)
    goods = np.add.reduceat(1.0 - ps, idx)
    total_bad, total_good = float(bads.sum()), float(goods.sum())
    if total_bad <= 0 or total_good <= 0:
        raise InvalidInput(
            "every probability is 0 (or every one is 1): no expected bads "
            "(or goods), so AUC is undefined",
            field="probabilities",
        )
    goods_below = np.cumsum(goods) - goods
    return float(np.sum(bads * (goods_below + 0.5 * goods)) / (total_bad * total_good))


def hanley_mcneil_se(auc: float, n_bad: float, n_good: float) -> float:
    """Standard error of an AUC (Hanley and McNeil, 1982).

    Example:
        >>> round(hanley_mcneil_se(0.75, 100, 200), 4)
        0.0315
    """
    if n_bad <= 1 or n_good <= 1:
        return math.inf
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    var = (
        auc * (1 - auc)
        + (n_bad - 1) * (q1 - auc * auc)
        + (n_good - 1) * (q2 - auc * auc)
    ) / (n_bad * n_good)
    return math.sqrt(max(var, 0.0))


@dataclass(frozen=True)
class CbpeEstimate:
    """Estimated figures of one window.

    Attributes:
        auc: Estimated AUC.
        sampling_error: Hanley-McNeil standard error at the expected numbers
            of bads and goods (sampling noise only, not model error).
        n: Rows.
        expected_bad_rate: Mean calibrated probability of bad.
        calibrated: Whether a calibration map was applied.
    """

    auc: float
    sampling_error: float
    n: int
    expected_bad_rate: float
    calibrated: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimated_auc": self.auc,
            "estimated_gini": 2 * self.auc - 1,
            "sampling_error": self.sampling_error
            if math.isfinite(self.sampling_error)
            else None,
            "n": self.n,
            "expected_bad_rate": self.expected_bad_rate,
            "calibrated": self.calibrated,
            "cannot_see": CANNOT_SEE,
        }


def estimate_performance(
    scores: Any, calibration: Calibration | None = None
) -> CbpeEstimate:
    """CBPE of one window's scores, calibrated first when a map is given.

    Example:
        >>> est = estimate_performance([0.1, 0.2, 0.7, 0.9])
        >>> round(est.auc, 3), est.n
        (0.863, 4)
    """
    s = _probabilities(scores, "scores")
    if s.size == 0:
        raise InvalidInput("the window has no scores", field="scores")
    p = calibration.apply(s) if calibration is not None else s
    value = estimate_auc(s, p)
    n_bad = float(p.sum())
    return CbpeEstimate(
        auc=value,
        sampling_error=hanley_mcneil_se(value, n_bad, float(s.size) - n_bad),
        n=int(s.size),
        expected_bad_rate=n_bad / s.size,
        calibrated=calibration is not None,
    )
