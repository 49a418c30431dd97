"""CBPE: the closed form against scikit-learn, and its accuracy under covariate
shift (within 0.03 of realised AUC) and its blindness to concept shift."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from mlsteward.errors import InvalidInput
from mlsteward.monitoring.cbpe import (
    CANNOT_SEE,
    bootstrap_aucs,
    concept_shift,
    estimate_auc,
    estimate_performance,
    fit_calibration,
    hanley_mcneil_se,
)


def _weighted_sklearn(scores: np.ndarray, p: np.ndarray) -> float:
    """Each row once as a bad with weight p and once as a good with 1 - p."""
    n = scores.size
    y = np.r_[np.ones(n), np.zeros(n)]
    return float(roc_auc_score(y, np.r_[scores, scores], sample_weight=np.r_[p, 1 - p]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 20).map(lambda k: k / 20),  # scores with many ties
            st.floats(0.01, 0.99),
        ),
        min_size=2,
        max_size=60,
    )
)
def test_estimate_equals_weighted_auc_of_sklearn(pairs: list) -> None:
    s = np.array([a for a, _ in pairs])
    p = np.array([b for _, b in pairs])
    assert estimate_auc(s, p) == pytest.approx(_weighted_sklearn(s, p), abs=1e-12)


def test_estimate_matches_nannyml_expected_roc_by_hand() -> None:
    # Two rows, p = 0.2 and 0.8: expected bads 1.0, goods 1.0.
    # Pairs (bad i, good j) with s_i > s_j: (0.8-row as bad) x (0.2-row as good)
    # weight 0.8 * 0.8; ties with itself count one half: 0.2*0.8/2 + 0.8*0.2/2.
    expected = (0.8 * 0.8 + 0.5 * (0.2 * 0.8 + 0.8 * 0.2)) / (1.0 * 1.0)
    assert estimate_auc([0.2, 0.8]) == pytest.approx(expected)


def test_refuses_degenerate_input() -> None:
    with pytest.raises(InvalidInput, match="no expected bads"):
        estimate_auc([0.0, 0.0])
    with pytest.raises(InvalidInput):
        estimate_auc([])
    with pytest.raises(InvalidInput):
        estimate_auc([0.2, 1.5])


def test_calibration_map_equals_sklearn_isotonic() -> None:
    rng = np.random.default_rng(3)
    s = rng.uniform(size=500)
    y = (rng.uniform(size=500) < s**2).astype(float)
    cal = fit_calibration(s, y)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(s, y)
    probe = np.linspace(-0.1, 1.1, 97).clip(0, 1)
    np.testing.assert_allclose(cal.apply(probe), iso.predict(probe), atol=1e-12)


def test_hanley_mcneil_by_formula() -> None:
    a, n1, n2 = 0.8, 50.0, 150.0
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n2 - 1) * (q2 - a * a)) / (n1 * n2)
    assert hanley_mcneil_se(a, n1, n2) == pytest.approx(math.sqrt(var))


def _population(rng: np.random.Generator, n: int, shift: float, coef: np.ndarray):
    x = rng.normal(size=(n, 3))
    x[:, 0] = x[:, 0] + shift
    x[:, 1] = x[:, 1] * (1 + 0.3 * shift) - 0.5 * shift
    logit = -1.0 + x @ coef
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return x, y


COEF = np.array([1.2, -0.8, 0.5])


@pytest.fixture(scope="module")
def calibrated_model() -> LogisticRegression:
    x, y = _population(np.random.default_rng(0), 20_000, 0.0, COEF)
    return LogisticRegression().fit(x, y)


def test_within_0_03_of_realised_auc_under_covariate_shift(calibrated_model) -> None:
    rng = np.random.default_rng(1)
    for shift in (0.5, 1.0, 1.5):
        x, y = _population(rng, 8_000, shift, COEF)  # same P(y | x)
        p = calibrated_model.predict_proba(x)[:, 1]
        realised = roc_auc_score(y, p)
        est = estimate_performance(p)
        assert abs(est.auc - realised) < 0.03, (shift, est.auc, realised)
        assert est.sampling_error < 0.01


def test_blind_to_concept_shift_and_says_so(calibrated_model) -> None:
    rng = np.random.default_rng(2)
    x, y = _population(rng, 8_000, 0.0, np.array([0.2, -0.1, 1.5]))
    p = calibrated_model.predict_proba(x)[:, 1]
    est = estimate_performance(p)
    realised = roc_auc_score(y, p)
    # The inputs did not move, so the estimate does not either; the truth did.
    assert est.auc - realised > 0.1
    assert "concept shift" in CANNOT_SEE
    assert est.to_dict()["cannot_see"] == CANNOT_SEE


def test_bootstrap_aucs_are_sklearn_aucs_of_the_drawn_labels() -> None:
    rng = np.random.default_rng(5)
    s = np.round(rng.uniform(size=120), 2)  # ties
    p = np.clip(s + rng.normal(0, 0.1, 120), 0.01, 0.99)
    got = bootstrap_aucs(s, p, draws=30, seed=9)
    drawn = np.random.default_rng(9).random((30, 120)) < p  # the same draws
    expected = [roc_auc_score(y, s) for y in drawn if 0 < y.sum() < y.size]
    np.testing.assert_allclose(got, expected, atol=1e-12)
    # Seeded: the same window gets the same band.
    assert estimate_performance(s, seed=1).band == estimate_performance(s, seed=1).band


def test_the_band_holds_the_realised_auc_as_often_as_it_says(calibrated_model) -> None:
    rng = np.random.default_rng(6)
    inside, n_windows = 0, 200
    for _ in range(n_windows):
        x, y = _population(rng, 300, 0.5, COEF)
        p = calibrated_model.predict_proba(x)[:, 1]
        lo, hi = estimate_performance(p).band
        inside += lo <= roc_auc_score(y, p) <= hi
    assert 0.90 <= inside / n_windows <= 0.99  # a 95 % band


def test_concept_shift_is_caught_when_labels_arrive(calibrated_model) -> None:
    rng = np.random.default_rng(2)
    x, y = _population(rng, 2_000, 1.0, COEF)  # covariate shift: holds
    p = calibrated_model.predict_proba(x)[:, 1]
    held = concept_shift(p, y)
    assert held.status == "ok" and held.band[0] <= held.realised <= held.band[1]
    x, y = _population(rng, 2_000, 0.0, np.array([0.2, -0.1, 1.5]))
    p = calibrated_model.predict_proba(x)[:, 1]
    broke = concept_shift(p, y)
    assert broke.status == "alert" and broke.realised < broke.alert_band[0]
    assert broke.gap == pytest.approx(roc_auc_score(y, p) - estimate_auc(p))
    with pytest.raises(InvalidInput, match="goods and bads"):
        concept_shift(p, np.zeros_like(p))


def test_platt_and_cross_fitted_isotonic_calibrate_without_hard_zeros() -> None:
    rng = np.random.default_rng(4)
    s = rng.uniform(0.02, 0.98, 300)
    y = (rng.uniform(size=300) < s**2).astype(float)  # over-confident scores
    platt = fit_calibration(s, y, "platt")
    lr = LogisticRegression(C=1e6).fit(np.log(s / (1 - s)).reshape(-1, 1), y)
    probe = np.linspace(0.05, 0.95, 19)
    expected = lr.predict_proba(np.log(probe / (1 - probe)).reshape(-1, 1))[:, 1]
    np.testing.assert_allclose(platt.apply(probe), expected, atol=1e-6)
    single = fit_calibration(s, y, "isotonic").apply(s)
    cv = fit_calibration(s, y, "isotonic_cv", seed=1)
    assert cv.method == "isotonic_cv"
    assert np.isin(cv.apply(s), (0.0, 1.0)).mean() <= np.isin(single, (0.0, 1.0)).mean()
    again = fit_calibration(s, y, "isotonic_cv", seed=1)
    assert again == cv  # seeded folds
    with pytest.raises(InvalidInput) as info:
        fit_calibration(s, y, "beta")
    assert info.value.field == "calibration"
