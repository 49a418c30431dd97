"""Evaluation metrics agree with scikit-learn and scipy on the same data.

Tolerance: 1e-12 absolute for every figure compared against a reference
implementation (the implementations differ only in floating-point order).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve
from sklearn.metrics import log_loss as sk_log_loss

from mlsteward.errors import InvalidInput
from mlsteward.metrics import (
    auc,
    brier,
    calibration_by_band,
    evaluate,
    gini,
    ks,
    log_loss,
)

TOL = 1e-12


def _data(seed: int, n: int = 5000, decimals: int | None = 2):
    """Scores related to labels; rounding to ``decimals`` creates many ties."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(x - 1.5)))).astype(int)
    p = 1 / (1 + np.exp(-(0.8 * x - 1.2)))
    if decimals is not None:
        p = np.clip(np.round(p, decimals), 0.005, 0.995)
    return y, p


DATASETS = [(seed, dec) for seed in (0, 1, 2) for dec in (None, 2, 1)]


@pytest.mark.parametrize(("seed", "decimals"), DATASETS)
def test_auc_gini_against_sklearn(seed, decimals):
    y, p = _data(seed, decimals=decimals)
    ref = roc_auc_score(y, p)
    assert auc(y, p) == pytest.approx(ref, abs=TOL)
    assert gini(y, p) == pytest.approx(2 * ref - 1, abs=TOL)


@pytest.mark.parametrize(("seed", "decimals"), DATASETS)
def test_ks_against_roc_curve_and_scipy(seed, decimals):
    y, p = _data(seed, decimals=decimals)
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    via_roc = float(np.max(np.abs(tpr - fpr)))
    via_scipy = ks_2samp(p[y == 1], p[y == 0]).statistic
    value = ks(y, p)
    assert value == pytest.approx(via_roc, abs=TOL)
    assert value == pytest.approx(via_scipy, abs=TOL)


@pytest.mark.parametrize(("seed", "decimals"), DATASETS)
def test_brier_and_log_loss_against_sklearn(seed, decimals):
    y, p = _data(seed, decimals=decimals)
    assert brier(y, p) == pytest.approx(brier_score_loss(y, p), abs=TOL)
    # Scores are inside [eps, 1 - eps], so the clipping rules do not differ.
    assert log_loss(y, p) == pytest.approx(sk_log_loss(y, p), abs=TOL)


def test_log_loss_clips_at_eps():
    # -(ln(1e-15) + ln(1 - 1e-15)) / 2 for a confidently wrong 0 and a right 1.
    expected = -(np.log(1e-15) + np.log1p(-1e-15)) / 2
    assert log_loss([1, 1], [0.0, 1.0]) == pytest.approx(expected, rel=1e-12)
    assert np.isfinite(log_loss([1, 0], [0.0, 1.0]))


def test_inputs_may_be_bool_series_and_lists():
    y, p = _data(3)
    ref = roc_auc_score(y, p)
    assert auc(pd.Series(y.astype(bool)), pd.Series(p)) == pytest.approx(ref, abs=TOL)
    assert auc(y.tolist(), p.tolist()) == pytest.approx(ref, abs=TOL)
    assert auc(pd.Series(y, dtype="Int64"), p) == pytest.approx(ref, abs=TOL)


def test_all_tied_scores_give_auc_half_and_ks_zero():
    y = [0, 1, 0, 1, 1]
    p = [0.3] * 5
    assert auc(y, p) == 0.5
    assert ks(y, p) == 0.0


def test_returns_plain_python_floats():
    y, p = _data(4, n=300)
    r = evaluate(y, p)
    for key in ("bad_rate", "auc", "gini", "ks", "brier", "log_loss", "tpr", "fpr"):
        assert type(r[key]) is float, key
    for row in r["calibration"]:
        assert type(row["mean_predicted"]) is float
        assert type(row["n"]) is int


# -- calibration ----------------------------------------------------------------
@pytest.mark.parametrize("decimals", [None, 2, 1])
def test_calibration_bands_match_pandas_groupby(decimals):
    y, p = _data(5, decimals=decimals)
    rows = calibration_by_band(y, p, n_bands=10)
    assert sum(r["n"] for r in rows) == len(y)
    assert sum(r["n_bad"] for r in rows) == int(y.sum())

    # Independent band assignment: cuts at sorted positions k*n//10, np.digitize.
    ps = np.sort(p)
    cuts = np.unique(ps[[k * len(p) // 10 for k in range(1, 10)]])
    cuts = cuts[cuts > ps[0]]
    band = np.digitize(p, cuts, right=False)
    g = (
        pd.DataFrame({"band": band, "y": y, "p": p})
        .groupby("band")
        .agg(
            n=("y", "size"),
            bad=("y", "mean"),
            pred=("p", "mean"),
            lo=("p", "min"),
            hi=("p", "max"),
        )
    )
    assert len(rows) == len(g)
    for row, (_, ref) in zip(rows, g.iterrows(), strict=True):
        assert row["n"] == ref["n"]
        assert row["observed_bad_rate"] == pytest.approx(ref["bad"], abs=TOL)
        assert row["mean_predicted"] == pytest.approx(ref["pred"], abs=TOL)
        assert row["lower"] == ref["lo"] and row["upper"] == ref["hi"]
        assert row["gap"] == pytest.approx(ref["bad"] - ref["pred"], abs=TOL)
    # Bands are ordered and disjoint.
    for a, b in itertools.pairwise(rows):
        assert a["upper"] < b["lower"]


def test_calibration_bands_are_balanced_for_distinct_scores():
    y, p = _data(6, n=1003, decimals=None)
    rows = calibration_by_band(y, p, n_bands=10)
    assert [r["n"] for r in rows] == [
        (k + 1) * 1003 // 10 - k * 1003 // 10 for k in range(10)
    ]


def test_calibration_with_one_distinct_score_is_one_band():
    rows = calibration_by_band([0, 1, 1, 0], [0.4] * 4)
    assert len(rows) == 1
    assert rows[0]["n"] == 4 and rows[0]["observed_bad_rate"] == 0.5


# -- evaluate -------------------------------------------------------------------
def test_evaluate_rates_at_threshold():
    y, p = _data(7)
    t = 0.3
    r = evaluate(y, p, threshold=t)
    declined = p >= t
    assert r["n"] == len(y) and r["n_bad"] == int(y.sum())
    assert r["bad_rate"] == pytest.approx(y.mean(), abs=TOL)
    assert r["approval_rate"] == pytest.approx(np.mean(p < t), abs=TOL)
    assert r["tpr"] == pytest.approx(declined[y == 1].mean(), abs=TOL)
    assert r["fpr"] == pytest.approx(declined[y == 0].mean(), abs=TOL)
    assert r["precision"] == pytest.approx(y[declined].mean(), abs=TOL)
    assert r["tp"] + r["fp"] + r["tn"] + r["fn"] == len(y)
    assert r["auc"] == pytest.approx(roc_auc_score(y, p), abs=TOL)
    assert r["gini"] == pytest.approx(2 * r["auc"] - 1, abs=TOL)
    assert r["ks"] == pytest.approx(ks(y, p), abs=TOL)
    assert r["brier"] == pytest.approx(brier_score_loss(y, p), abs=TOL)
    assert r["log_loss"] == pytest.approx(sk_log_loss(y, p), abs=TOL)
    assert r["calibration"] == calibration_by_band(y, p)


def test_evaluate_precision_is_none_when_nobody_is_declined():
    r = evaluate([0, 1], [0.1, 0.2], threshold=0.9)
    assert r["precision"] is None and r["approval_rate"] == 1.0


@pytest.mark.parametrize("threshold", [-0.1, 1.5, float("nan"), "0.5", True])
def test_evaluate_rejects_bad_threshold(threshold):
    with pytest.raises(InvalidInput) as exc:
        evaluate([0, 1], [0.1, 0.2], threshold=threshold)
    assert exc.value.field == "threshold"


# -- bad input --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("y", "p", "field"),
    [
        ([0, 1, 2], [0.1, 0.2, 0.3], "y"),
        ([0, 1, np.nan], [0.1, 0.2, 0.3], "y"),
        (["0", "1"], [0.1, 0.2], "y"),
        ([], [], "y"),
        ([1, 1, 1], [0.1, 0.2, 0.3], "y"),  # one class only
        ([0, 1], [0.1], "scores"),
        ([0, 1], [0.1, 1.2], "scores"),
        ([0, 1], [0.1, -0.01], "scores"),
        ([0, 1], [0.1, np.nan], "scores"),
        ([0, 1], [0.1, np.inf], "scores"),
        ([0, 1], ["a", "b"], "scores"),
        ([0, 1], [[0.9, 0.1], [0.2, 0.8]], "scores"),  # predict_proba output
    ],
)
def test_bad_input_names_the_field(y, p, field):
    with pytest.raises(InvalidInput) as exc:
        auc(y, p)
    assert exc.value.field == field


def test_predict_proba_shape_gets_a_hint():
    with pytest.raises(InvalidInput, match=r"p\[:, 1\]"):
        evaluate([0, 1], np.array([[0.9, 0.1], [0.2, 0.8]]))


def test_single_class_is_fine_where_not_needed():
    assert brier([0, 0], [0.1, 0.3]) == pytest.approx(0.05, abs=TOL)
    assert len(calibration_by_band([1, 1, 1], [0.2, 0.5, 0.9], n_bands=3)) == 3


# -- properties -----------------------------------------------------------------
_score = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 1.0]) | st.floats(0, 1)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), _score), min_size=2, max_size=40))
def test_auc_and_ks_equal_sklearn_on_arbitrary_small_arrays(pairs):
    y = np.array([int(b) for b, _ in pairs])
    p = np.array([s for _, s in pairs])
    if y.min() == y.max():
        with pytest.raises(InvalidInput) as exc:
            auc(y, p)
        assert exc.value.field == "y"
        return
    assert auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=TOL)
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    assert ks(y, p) == pytest.approx(np.max(np.abs(tpr - fpr)), abs=TOL)


_bad_label = st.one_of(
    st.integers().filter(lambda v: v not in (0, 1)),
    st.floats().filter(lambda v: v not in (0.0, 1.0)),
    st.text(max_size=3),
    st.none(),
)
_bad_score = st.one_of(
    st.floats().filter(lambda v: not 0.0 <= v <= 1.0),
    st.text(max_size=3),
    st.none(),
)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(2, 10),
    where=st.integers(0, 9),
    bad=st.one_of(
        st.tuples(st.just("y"), _bad_label), st.tuples(st.just("scores"), _bad_score)
    ),
)
def test_bad_input_raises_invalid_input_naming_the_field(n, where, bad):
    field, value = bad
    y: list = [i % 2 for i in range(n)]
    p: list = [0.5] * n
    target = y if field == "y" else p
    target[where % n] = value
    for fn in (auc, ks, brier, log_loss, evaluate, calibration_by_band):
        with pytest.raises(InvalidInput) as exc:
            fn(y, p)
        assert exc.value.field == field, fn.__name__
