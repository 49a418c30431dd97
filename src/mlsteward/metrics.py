"""Evaluation of binary scores: discrimination, calibration, decision rates.

Convention: label ``1`` is the *bad* outcome (default), label ``0`` good, and
a score is the predicted probability of bad. Everything is numpy; AUC and KS
come from one sort with tie groups, in exact integer arithmetic up to a final
division, and agree with scikit-learn and scipy.

Inputs are validated the same way everywhere: ``y`` and ``p`` are 1-D and of
equal length; ``y`` holds only 0/1 (bool or numbers); ``p`` holds finite
numbers in ``[0, 1]``. AUC, Gini and KS also need both classes present.
Violations raise :class:`~mlsteward.errors.InvalidInput` with ``field`` set
to ``"y"`` or ``"scores"``. Every figure is a plain Python ``float``.

Example:
    >>> y = [0, 0, 1, 1]
    >>> p = [0.1, 0.4, 0.35, 0.8]
    >>> auc(y, p), gini(y, p), ks(y, p)
    (0.75, 0.5, 0.5)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlsteward.errors import InvalidInput

__all__ = [
    "auc",
    "brier",
    "calibration_by_band",
    "evaluate",
    "gini",
    "ks",
    "log_loss",
]

_Y = "y"
_P = "scores"


# -- validation -----------------------------------------------------------------
def _as_1d(values: Any, field: str) -> np.ndarray:
    """1-D float64 array; NaN for missing; non-numbers refused."""
    if isinstance(values, pd.DataFrame):
        raise InvalidInput(
            f"{field} must be one-dimensional, got a DataFrame", field=field
        )
    if isinstance(values, (pd.Series, pd.Index)):
        s = pd.Series(values, copy=False)
        if pd.api.types.is_bool_dtype(s.dtype) or (
            pd.api.types.is_numeric_dtype(s.dtype)
            and not pd.api.types.is_complex_dtype(s.dtype)
        ):
            return s.to_numpy(dtype=np.float64, na_value=np.nan)
        arr = s.to_numpy()
    else:
        arr = np.asarray(values)
    if arr.ndim != 1:
        hint = (
            "; for predict_proba output pass the bad-class column, p[:, 1]"
            if field == _P and arr.ndim == 2
            else ""
        )
        raise InvalidInput(
            f"{field} must be one-dimensional, got shape {arr.shape}{hint}",
            field=field,
        )
    kind = arr.dtype.kind
    if kind in "biuf":
        return arr.astype(np.float64, copy=False)
    if kind == "O":
        inferred = pd.api.types.infer_dtype(arr, skipna=True)
        if inferred in (
            "integer",
            "floating",
            "mixed-integer-float",
            "boolean",
            "empty",
        ):
            return pd.to_numeric(pd.Series(arr, copy=False)).to_numpy(
                dtype=np.float64, na_value=np.nan
            )
    raise InvalidInput(f"{field} must be numbers, got dtype {arr.dtype}", field=field)


def _check(
    y: Any, p: Any, *, both_classes: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    yy = _as_1d(y, _Y)
    pp = _as_1d(p, _P)
    if yy.size == 0:
        raise InvalidInput("y is empty; need at least one labelled row", field=_Y)
    if pp.size != yy.size:
        raise InvalidInput(
            f"scores has {pp.size} values but y has {yy.size}; expected one score "
            "per label",
            field=_P,
        )
    bad_y = ~((yy == 0) | (yy == 1))
    if bad_y.any():
        raise InvalidInput(
            f"y must hold only 0 (good) and 1 (bad); found {yy[bad_y][0]!r}",
            field=_Y,
        )
    bad_p = ~(np.isfinite(pp) & (pp >= 0) & (pp <= 1))
    if bad_p.any():
        raise InvalidInput(
            "scores must be probabilities of bad: finite numbers in [0, 1]; "
            f"found {pp[bad_p][0]!r}",
            field=_P,
        )
    if both_classes:
        n_bad = int(yy.sum())
        if n_bad == 0 or n_bad == yy.size:
            raise InvalidInput(
                "y must hold both classes (0 = good and 1 = bad) for AUC, Gini "
                f"and KS; found only {int(yy[0])}",
                field=_Y,
            )
    return yy, pp


def _tie_groups(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bads and goods per distinct score, in ascending score order (int64)."""
    order = np.argsort(p, kind="stable")
    ps = p[order]
    ys = y[order].astype(np.int64)
    start = np.empty(ps.size, dtype=bool)
    start[0] = True
    np.not_equal(ps[1:], ps[:-1], out=start[1:])
    idx = np.flatnonzero(start)
    bads = np.add.reduceat(ys, idx)
    sizes = np.diff(np.append(idx, ps.size))
    return bads, sizes - bads


# -- discrimination ---------------------------------------------------------------
def auc(y: Any, p: Any) -> float:
    """Area under the ROC curve: P(score of a bad > score of a good), ties 1/2.

    Computed as the Mann-Whitney U statistic over tie groups in integer
    arithmetic; equals ``sklearn.metrics.roc_auc_score(y, p)``.

    Args:
        y: Labels, 1 = bad.
        p: Scores, probability of bad.

    Raises:
        InvalidInput: See the module docstring; both classes are required.

    Example:
        >>> auc([0, 1, 0, 1], [0.2, 0.2, 0.1, 0.9])
        0.875
    """
    yy, pp = _check(y, p, both_classes=True)
    return _auc(*_tie_groups(yy, pp))


def _auc(bads: np.ndarray, goods: np.ndarray) -> float:
    goods_below = np.cumsum(goods) - goods
    # 2 * U = sum over groups of bads * (2 * goods strictly below + goods tied)
    twice_u = int(np.sum(bads * (2 * goods_below + goods)))
    return twice_u / (2 * int(bads.sum()) * int(goods.sum()))


def gini(y: Any, p: Any) -> float:
    """Gini coefficient (accuracy ratio): ``2 * AUC - 1``.

    Example:
        >>> gini([0, 1, 0, 1], [0.2, 0.2, 0.1, 0.9])
        0.75
    """
    return 2.0 * auc(y, p) - 1.0


def ks(y: Any, p: Any) -> float:
    """Kolmogorov-Smirnov statistic: max distance between the score CDFs of
    bads and goods, ``max_t |F_bad(t) - F_good(t)|``.

    Equals ``max |TPR - FPR|`` over the ROC curve and the statistic of
    ``scipy.stats.ks_2samp(p[y == 1], p[y == 0])``.

    Example:
        >>> ks([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.5
    """
    yy, pp = _check(y, p, both_classes=True)
    return _ks(*_tie_groups(yy, pp))


def _ks(bads: np.ndarray, goods: np.ndarray) -> float:
    cdf_bad = np.cumsum(bads) / bads.sum()
    cdf_good = np.cumsum(goods) / goods.sum()
    return float(np.max(np.abs(cdf_bad - cdf_good)))


# -- probability quality ----------------------------------------------------------
def brier(y: Any, p: Any) -> float:
    """Brier score: mean squared difference between score and label.

    Example:
        >>> round(brier([0, 1], [0.2, 0.6]), 12)  # (0.2**2 + 0.4**2) / 2
        0.1
    """
    yy, pp = _check(y, p)
    return float(np.mean((pp - yy) ** 2))


def log_loss(y: Any, p: Any, eps: float = 1e-15) -> float:
    """Mean negative log-likelihood, natural log, scores clipped to
    ``[eps, 1 - eps]`` so that a score of exactly 0 or 1 gives a large finite
    loss. (scikit-learn clips at the float64 machine epsilon instead, so the
    two agree except for scores within ``eps`` of 0 or 1.)

    Example:
        >>> round(log_loss([0, 1], [0.2, 0.6]), 6)  # -(ln .8 + ln .6) / 2
        0.366985
    """
    if (
        isinstance(eps, bool)
        or not isinstance(eps, (int, float))
        or not (0.0 < eps < 0.5)
    ):
        raise InvalidInput(f"eps must be in (0, 0.5), got {eps!r}", field="eps")
    yy, pp = _check(y, p)
    pc = np.clip(pp, eps, 1.0 - eps)
    ll = np.where(yy == 1, np.log(pc), np.log(1.0 - pc))
    return float(-np.mean(ll))


def calibration_by_band(y: Any, p: Any, n_bands: int = 10) -> list[dict[str, Any]]:
    """Observed bad rate against mean predicted score, per score band.

    Bands are quantile bands of ``p`` with the same rule as the dataset
    profile's bins: with ``n`` scores sorted as ``ps``, the cuts are
    ``unique(ps[k * n // n_bands] for k in 1..n_bands-1)`` without the
    minimum, and band ``i`` holds ``cuts[i-1] <= p < cuts[i]``. Tied scores
    share a band, so tied data can give fewer bands; no band is empty.

    Args:
        y: Labels, 1 = bad.
        p: Scores, probability of bad.
        n_bands: Requested number of bands (positive integer).

    Returns:
        One dict per band, lowest scores first, with ``band`` (1-based),
        ``lower`` / ``upper`` (smallest and largest score in the band), ``n``,
        ``n_bad``, ``mean_predicted``, ``observed_bad_rate`` and ``gap``
        (observed minus predicted). The ``n`` sum to ``len(y)``.

    Example:
        >>> rows = calibration_by_band([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], n_bands=2)
        >>> [(r["n"], r["observed_bad_rate"]) for r in rows]
        [(2, 0.0), (2, 1.0)]
    """
    if (
        isinstance(n_bands, bool)
        or not isinstance(n_bands, (int, np.integer))
        or (n_bands < 1)
    ):
        raise InvalidInput(
            f"n_bands must be a positive integer, got {n_bands!r}", field="n_bands"
        )
    yy, pp = _check(y, p)
    n = pp.size
    ps = np.sort(pp)
    cuts = np.unique(ps[np.arange(1, int(n_bands), dtype=np.int64) * n // n_bands])
    cuts = cuts[cuts > ps[0]]
    band = np.searchsorted(cuts, pp, side="right")
    k = cuts.size + 1
    size = np.bincount(band, minlength=k)
    n_bad = np.bincount(band, weights=yy, minlength=k)
    sum_p = np.bincount(band, weights=pp, minlength=k)
    # Bands are contiguous runs of the sorted scores.
    ends = np.cumsum(size)
    lower = ps[ends - size]
    upper = ps[ends - 1]
    rows = []
    for i in range(k):
        mean_pred = float(sum_p[i] / size[i])
        rate = float(n_bad[i] / size[i])
        rows.append(
            {
                "band": i + 1,
                "lower": float(lower[i]),
                "upper": float(upper[i]),
                "n": int(size[i]),
                "n_bad": round(float(n_bad[i])),
                "mean_predicted": mean_pred,
                "observed_bad_rate": rate,
                "gap": rate - mean_pred,
            }
        )
    return rows


# -- everything at once -------------------------------------------------------------
def evaluate(y: Any, p: Any, threshold: float = 0.5) -> dict[str, Any]:
    """All evaluation figures of one model on one labelled dataset.

    A case is declined (predicted bad) when ``p >= threshold`` and approved
    when ``p < threshold``.

    Args:
        y: Labels, 1 = bad.
        p: Scores, probability of bad.
        threshold: Decision threshold in ``[0, 1]``.

    Returns:
        ``n, n_bad, bad_rate, auc, gini, ks, brier, log_loss, threshold,
        approval_rate, tp, fp, tn, fn, tpr`` (share of bads declined),
        ``fpr`` (share of goods declined), ``precision`` (share of bads among
        the declined; ``None`` when nobody is declined), and ``calibration``
        (:func:`calibration_by_band` with 10 bands).

    Raises:
        InvalidInput: Bad ``y`` / ``scores`` (both classes required) or
            ``threshold``.

    Example:
        >>> r = evaluate([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> r["auc"], r["approval_rate"], r["tpr"], r["fpr"], r["precision"]
        (0.75, 0.75, 0.5, 0.0, 1.0)
    """
    if isinstance(threshold, bool) or not isinstance(
        threshold, (int, float, np.number)
    ):
        raise InvalidInput(
            f"threshold must be a number in [0, 1], got {threshold!r}",
            field="threshold",
        )
    t = float(threshold)
    if not 0.0 <= t <= 1.0:
        raise InvalidInput(
            f"threshold must be a number in [0, 1], got {t!r}", field="threshold"
        )
    yy, pp = _check(y, p, both_classes=True)
    bads, goods = _tie_groups(yy, pp)
    n = int(yy.size)
    n_bad = int(bads.sum())
    n_good = n - n_bad
    declined = pp >= t
    is_bad = yy == 1
    tp = int(np.count_nonzero(declined & is_bad))
    fp = int(np.count_nonzero(declined & ~is_bad))
    fn = n_bad - tp
    tn = n_good - fp
    auc_value = _auc(bads, goods)
    return {
        "n": n,
        "n_bad": n_bad,
        "bad_rate": n_bad / n,
        "auc": auc_value,
        "gini": 2.0 * auc_value - 1.0,
        "ks": _ks(bads, goods),
        "brier": brier(yy, pp),
        "log_loss": log_loss(yy, pp),
        "threshold": t,
        "approval_rate": (tn + fn) / n,
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "tpr": tp / n_bad,
        "fpr": fp / n_good,
        "precision": tp / (tp + fp) if tp + fp else None,
        "calibration": calibration_by_band(yy, pp),
    }
