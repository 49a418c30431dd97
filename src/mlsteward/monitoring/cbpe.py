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
    score often is not (an over-fitted model is over-confident). A map
    fitted on labelled data the model did not train on corrects that:
    ``platt`` (a logistic curve on the score's logit) or ``isotonic_cv``
    (the average of five isotonic maps, each fitted without one fold).
    Rows are still ranked by the raw score, so calibration never changes the
    order, only the weights. Measured on the bundled credit data under
    covariate shift (``bench/cbpe_calibration.py``), a map fitted on the
    training rows makes the estimate worse than raw scores, whichever the
    method; one fitted on held-out rows makes it better, Platt most.

Uncertainty
    Every estimate carries its sampling error and a 95 % band: the AUCs a
    window of this size would realise if its probabilities were right, from
    a seeded parametric bootstrap (:func:`bootstrap_aucs`: label vectors
    drawn from the calibrated probabilities, vectorised over draws).

What it cannot see
    The estimate assumes that ``P(bad | score)`` in the window is what it was
    in the reference: only the mix of applicants (covariate shift) may
    change. When the relation between the inputs and default changes
    (concept shift: a segment the model thinks safe starts to default),
    scores and therefore the estimate do not move. Only realised
    performance, once outcomes arrive, reveals it: :func:`concept_shift`
    checks whether the realised AUC of the labelled rows lies in the band
    CBPE gives for the same rows, and monitors raise it as
    ``estimated.concept_shift`` as soon as a window's outcomes mature.

This module is pure: no database, no web framework.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from mlsteward.errors import InvalidInput

__all__ = [
    "ALERT_LEVEL",
    "BAND_LEVEL",
    "BOOTSTRAP_DRAWS",
    "CALIBRATIONS",
    "CANNOT_SEE",
    "Calibration",
    "CbpeEstimate",
    "ConceptShift",
    "bootstrap_aucs",
    "concept_shift",
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


#: Calibration methods offered (see :func:`fit_calibration`).
CALIBRATIONS = ("platt", "isotonic_cv")
#: Folds of the cross-fitted isotonic map.
CV_FOLDS = 5
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, _EPS, 1 - _EPS)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


@dataclass(frozen=True)
class Calibration:
    """A monotone map from raw score to calibrated probability of bad.

    ``isotonic`` and ``isotonic_cv`` maps are stored as knots ``x``
    (ascending scores) and ``y`` (probabilities), applied by linear
    interpolation clipped at both ends, which is exactly what
    scikit-learn's ``IsotonicRegression(out_of_bounds="clip")`` predicts.
    A ``platt`` map is ``sigmoid(a * logit(score) + b)`` (``x = [a]``,
    ``y = [b]``).

    Example:
        >>> Calibration([0.0, 1.0], [0.1, 0.9]).apply([0.5]).tolist()
        [0.5]
        >>> Calibration([1.0], [0.0], "platt").apply([0.25]).tolist()
        [0.25]
    """

    x: list[float]
    y: list[float]
    method: str = "isotonic"

    def apply(self, scores: Any) -> np.ndarray:
        s = _probabilities(scores, "scores")
        if self.method == "platt":
            z = self.x[0] * _logit(s) + self.y[0]
            return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)
        return np.clip(np.interp(s, self.x, self.y), 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return {"x": list(self.x), "y": list(self.y), "method": self.method}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        return cls(
            [float(v) for v in d["x"]],
            [float(v) for v in d["y"]],
            str(d.get("method", "isotonic")),
        )


def _isotonic(s: np.ndarray, y: np.ndarray) -> Calibration:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(s, y)
    return Calibration(
        [float(v) for v in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_]
    )


def _isotonic_cv(s: np.ndarray, y: np.ndarray, seed: int) -> Calibration:
    # One isotonic map per fold left out, averaged on the union of their
    # knots: the steps of each map fall in different places, so the average
    # is smoother and reaches 0 or 1 only where every fold agrees.
    folds = np.random.default_rng(seed).permutation(s.size) % CV_FOLDS
    maps = [_isotonic(s[folds != k], y[folds != k]) for k in range(CV_FOLDS)]
    knots = np.unique(np.concatenate([m.x for m in maps]))
    mean = np.mean([m.apply(knots) for m in maps], axis=0)
    return Calibration(knots.tolist(), mean.tolist(), "isotonic_cv")


def _platt(s: np.ndarray, y: np.ndarray) -> Calibration:
    from sklearn.linear_model import LogisticRegression

    # Nearly unpenalised: two parameters need no shrinking.
    lr = LogisticRegression(C=1e6).fit(_logit(s).reshape(-1, 1), y)
    return Calibration([float(lr.coef_[0, 0])], [float(lr.intercept_[0])], "platt")


def fit_calibration(
    scores: Any, labels: Any, method: str = "isotonic", *, seed: int = 0
) -> Calibration:
    """Fit a calibration map of ``scores`` to 0/1 ``labels``.

    Methods: ``platt`` (a logistic curve on the score's logit: two
    parameters, never exactly 0 or 1), ``isotonic_cv`` (the average of
    :data:`CV_FOLDS` isotonic maps, each fitted without one fold) and
    ``isotonic`` (one isotonic fit; kept for comparison, not offered to
    monitors: fitted once on a few hundred rows it maps whole score ranges
    to exactly 0 or 1 and made the estimate worse than raw scores on the
    bundled data, see docs/monitoring.md).

    Raises:
        InvalidInput: Fewer than 2 rows (10 for ``isotonic_cv``), lengths
            differ, labels not 0/1 or of one class only, unknown method.

    Example:
        >>> cal = fit_calibration([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
        >>> cal.apply([0.15, 0.85]).tolist()
        [0.0, 1.0]
    """
    s = _probabilities(scores, "scores")
    y = np.asarray(labels, dtype=np.float64)
    fewest = 2 * CV_FOLDS if method == "isotonic_cv" else 2
    if s.size != y.size or s.size < fewest:
        raise InvalidInput(
            f"calibration needs at least {fewest} labelled scores, one label per score",
            field="labels",
        )
    if not np.isin(y, (0.0, 1.0)).all():
        raise InvalidInput("labels must be 0 (good) or 1 (bad)", field="labels")
    if method == "isotonic":
        return _isotonic(s, y)
    if 0 < y.sum() < y.size and method == "isotonic_cv":
        return _isotonic_cv(s, y, seed)
    if 0 < y.sum() < y.size and method == "platt":
        return _platt(s, y)
    if method not in CALIBRATIONS:
        raise InvalidInput(
            f"calibration method {method!r} is not one of {[*CALIBRATIONS]}",
            field="calibration",
            allowed=[*CALIBRATIONS],
        )
    raise InvalidInput("labels must hold both goods and bads", field="labels")


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


#: Label vectors drawn by the parametric bootstrap.
BOOTSTRAP_DRAWS = 1000
#: The confidence band's level; the concept-shift check warns outside it and
#: alerts outside :data:`ALERT_LEVEL`.
BAND_LEVEL = 0.95
ALERT_LEVEL = 0.99
# Cells of one block of drawn labels (draws x rows): bounds the memory used.
_BLOCK = 4_000_000


def bootstrap_aucs(
    scores: Any, probabilities: Any, *, draws: int = BOOTSTRAP_DRAWS, seed: int = 0
) -> np.ndarray:
    """AUCs of ``scores`` under label vectors drawn from ``probabilities``.

    Each draw gives row ``i`` the label bad with probability ``p_i``,
    independently: the realised AUCs a window of this size would show if
    the probabilities were right. Vectorised: the ranks of the scores (ties
    averaged) are computed once, and each draw's AUC is the Mann-Whitney
    statistic of its bads' rank sum. Draws with no bad or no good are
    dropped.

    Example:
        >>> a = bootstrap_aucs([0.1, 0.4, 0.6, 0.9], [0.1, 0.4, 0.6, 0.9], draws=50)
        >>> bool((a >= 0).all() and (a <= 1).all())
        True
    """
    from scipy.stats import rankdata

    s = np.asarray(scores, dtype=np.float64)
    p = _probabilities(probabilities, "probabilities")
    ranks = rankdata(s)
    n = s.size
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    step = max(1, _BLOCK // max(n, 1))
    for start in range(0, draws, step):
        bad = rng.random((min(step, draws - start), n)) < p
        n1 = bad.sum(axis=1).astype(np.float64)
        n0 = n - n1
        rank_sum = bad @ ranks
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append((rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0))
    aucs = np.concatenate(out) if out else np.empty(0)
    return aucs[np.isfinite(aucs)]


def _band(aucs: np.ndarray, level: float) -> tuple[float | None, float | None]:
    if aucs.size < 20:
        return None, None
    lo, hi = np.quantile(aucs, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


@dataclass(frozen=True)
class CbpeEstimate:
    """Estimated figures of one window.

    Attributes:
        auc: Estimated AUC.
        sampling_error: Standard deviation of the AUC a window of this size
            would realise if its probabilities were right (parametric
            bootstrap of :data:`BOOTSTRAP_DRAWS` label vectors): sampling
            noise only, not model error.
        band: The central :data:`BAND_LEVEL` interval of those AUCs; a
            realised AUC outside it is more than noise.
        n: Rows.
        expected_bad_rate: Mean calibrated probability of bad.
        calibrated: Whether a calibration map was applied.
        calibration: Its method (``None`` when not calibrated).
    """

    auc: float
    sampling_error: float
    n: int
    expected_bad_rate: float
    calibrated: bool
    band: tuple[float | None, float | None] = (None, None)
    calibration: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimated_auc": self.auc,
            "estimated_gini": 2 * self.auc - 1,
            "sampling_error": self.sampling_error
            if math.isfinite(self.sampling_error)
            else None,
            "band_low": self.band[0],
            "band_high": self.band[1],
            "band_level": BAND_LEVEL,
            "n": self.n,
            "expected_bad_rate": self.expected_bad_rate,
            "calibrated": self.calibrated,
            "calibration": self.calibration,
            "cannot_see": CANNOT_SEE,
        }


def _calibrated(s: np.ndarray, calibration: Calibration | None) -> np.ndarray:
    return calibration.apply(s) if calibration is not None else s


def estimate_performance(
    scores: Any, calibration: Calibration | None = None, *, seed: int = 0
) -> CbpeEstimate:
    """CBPE of one window's scores, calibrated first when a map is given,
    with its sampling error and confidence band (seeded: the same window
    gives the same band).

    Example:
        >>> est = estimate_performance([0.1, 0.2, 0.7, 0.9])
        >>> round(est.auc, 3), est.n
        (0.863, 4)
    """
    s = _probabilities(scores, "scores")
    if s.size == 0:
        raise InvalidInput("the window has no scores", field="scores")
    p = _calibrated(s, calibration)
    value = estimate_auc(s, p)
    aucs = bootstrap_aucs(s, p, seed=seed)
    n_bad = float(p.sum())
    se = (
        float(aucs.std(ddof=1))
        if aucs.size >= 20
        else hanley_mcneil_se(value, n_bad, float(s.size) - n_bad)
    )
    return CbpeEstimate(
        auc=value,
        sampling_error=se,
        n=int(s.size),
        expected_bad_rate=n_bad / s.size,
        calibrated=calibration is not None,
        band=_band(aucs, BAND_LEVEL),
        calibration=calibration.method if calibration is not None else None,
    )


@dataclass(frozen=True)
class ConceptShift:
    """Realised AUC of a window's labelled rows against CBPE's band for them.

    ``status`` is ``ok`` inside the :data:`BAND_LEVEL` band, ``warn``
    outside it and ``alert`` outside the :data:`ALERT_LEVEL` band: the
    realised AUC is further from the estimate than sampling noise explains,
    so ``P(bad | score)`` has changed since the reference (concept shift,
    or a calibration that never held).
    """

    realised: float
    estimated: float
    band: tuple[float | None, float | None]
    alert_band: tuple[float | None, float | None]
    n: int
    status: Literal["ok", "warn", "alert"]

    @property
    def gap(self) -> float:
        return self.realised - self.estimated

    def to_dict(self) -> dict[str, Any]:
        return {
            "realised_auc": self.realised,
            "estimated_auc": self.estimated,
            "band_low": self.band[0],
            "band_high": self.band[1],
            "band_level": BAND_LEVEL,
            "alert_low": self.alert_band[0],
            "alert_high": self.alert_band[1],
            "alert_level": ALERT_LEVEL,
            "n_labelled": self.n,
            "rule": f"realised AUC outside the {BAND_LEVEL:.0%} band of CBPE on "
            f"the same rows: warn; outside the {ALERT_LEVEL:.0%} band: alert",
        }


def concept_shift(
    scores: Any, labels: Any, calibration: Calibration | None = None, *, seed: int = 0
) -> ConceptShift:
    """Compare the realised AUC of labelled rows with CBPE's band for them.

    Args:
        scores: Scores of the labelled rows.
        labels: Their outcomes, 0 (good) or 1 (bad), both present.
        calibration: The map the estimate uses.
        seed: Seed of the bootstrap.

    Raises:
        InvalidInput: Labels not 0/1, of one class only, or lengths differ.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> s = rng.uniform(size=500)
        >>> y = (rng.uniform(size=500) < s).astype(int)
        >>> concept_shift(s, y).status
        'ok'
    """
    from mlsteward.metrics import auc

    s = _probabilities(scores, "scores")
    y = np.asarray(labels, dtype=np.float64)
    if (
        y.shape != s.shape
        or not np.isin(y, (0.0, 1.0)).all()
        or not 0 < y.sum() < y.size
    ):
        raise InvalidInput(
            "concept shift needs one 0/1 label per score, with goods and bads",
            field="labels",
        )
    p = _calibrated(s, calibration)
    aucs = bootstrap_aucs(s, p, seed=seed)
    band, wide = _band(aucs, BAND_LEVEL), _band(aucs, ALERT_LEVEL)
    realised = auc(y, s)

    def outside(b: tuple[float | None, float | None]) -> bool:
        return b[0] is not None and b[1] is not None and not b[0] <= realised <= b[1]

    status: Literal["ok", "warn", "alert"] = (
        "alert" if outside(wide) else "warn" if outside(band) else "ok"
    )
    return ConceptShift(realised, estimate_auc(s, p), band, wide, int(s.size), status)
