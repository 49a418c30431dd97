"""Drift statistics: PSI by hand and by property, two-sample tests vs scipy."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from mlsteward.datasets.profile import compute_profile
from mlsteward.errors import InvalidInput
from mlsteward.monitoring.drift.stats import (
    StatResult,
    chi_square,
    column_psi,
    jensen_shannon,
    ks_statistic,
    psi,
    psi_band,
    psi_categorical,
    psi_numeric,
    wasserstein_normalised,
)

TOL = 1e-12


# -- PSI by hand -------------------------------------------------------------------
def test_psi_two_bin_hand_computed():
    # expected 30/70 -> e = (0.3, 0.7); actual 50/50 -> a = (0.5, 0.5)
    # PSI = (0.5 - 0.3) * ln(0.5 / 0.3) + (0.5 - 0.7) * ln(0.5 / 0.7)
    #     = 0.2 * 0.5108256238 + (-0.2) * (-0.3364722366)
    #     = 0.1021651248 + 0.0672944473
    #     = 0.1694595721
    assert psi([30, 70], [50, 50]) == pytest.approx(0.1694595721, abs=1e-10)
    assert psi([30, 70], [50, 50]) == pytest.approx(
        0.2 * math.log(5 / 3) - 0.2 * math.log(5 / 7), abs=TOL
    )
    assert psi_band(psi([30, 70], [50, 50])) == "watch"


def test_psi_empty_bin_is_floored_at_eps_without_renormalising():
    # expected (0, 50, 50) -> e = (0, .5, .5) -> floored (1e-4, .5, .5), sum
    # 1.0001, NOT renormalised; actual (10, 45, 45) -> a = (.1, .45, .45).
    # PSI = (0.1 - 0.0001) * ln(0.1 / 0.0001) + 2 * (0.45 - 0.5) * ln(0.45 / 0.5)
    #     = 0.0999 * 6.9077552790 + 2 * 0.05 * 0.1053605157
    #     = 0.6900847524 + 0.0105360516
    #     = 0.7006208040
    value = psi([0, 50, 50], [10, 45, 45])
    assert value == pytest.approx(0.7006208040, abs=1e-10)
    # Renormalising would have given another number: the rule is observable.
    e = np.array([1e-4, 0.5, 0.5]) / 1.0001
    a = np.array([0.1, 0.45, 0.45])
    assert abs(value - float(np.sum((a - e) * np.log(a / e)))) > 1e-6
    # The floor is a floor, not only a zero replacement: 1 in 100000 -> 1e-4.
    assert psi([1, 99_999], [1, 99_999]) == 0.0
    # 1e-5 and 1e-4 are both floored to 1e-4: the first bin contributes 0.
    assert psi([1, 99_999], [10, 99_990]) == pytest.approx(
        (0.9999 - 0.99999) * math.log(0.9999 / 0.99999), abs=1e-15
    )
    # eps is a parameter.
    assert psi([0, 50, 50], [10, 45, 45], eps=1e-3) == pytest.approx(
        0.099 * math.log(100) + 0.1 * math.log(1 / 0.9), abs=TOL
    )


def test_bins_empty_on_both_sides_contribute_nothing():
    assert psi([0, 30, 70, 0], [0, 50, 50, 0]) == pytest.approx(
        psi([30, 70], [50, 50]), abs=TOL
    )


def test_psi_is_zero_for_identical_distributions():
    assert psi([10, 20, 30], [10, 20, 30]) == 0.0
    assert psi([10, 20, 30], [100, 200, 300]) == 0.0  # proportions, not counts
    assert psi([1, 0, 3], [2, 0, 6]) == 0.0


def test_psi_is_symmetric_and_non_negative():
    rng = np.random.default_rng(0)
    for _ in range(50):
        e = rng.integers(0, 50, 8)
        a = rng.integers(0, 50, 8)
        e[0] += 1
        a[0] += 1
        v = psi(e, a)
        assert v >= 0 and math.isfinite(v)
        assert v == pytest.approx(psi(a, e), abs=TOL)


@pytest.mark.parametrize(
    ("e", "a", "field"),
    [
        ([1, 2], [1, 2, 3], "actual_counts"),
        ([], [], "expected_counts"),
        ([0, 0], [1, 1], "expected_counts"),
        ([1, 1], [0, 0], "actual_counts"),
        ([1, -1], [1, 1], "expected_counts"),
        ([1, np.nan], [1, 1], "expected_counts"),
        ([1, 1], [1, np.inf], "actual_counts"),
        ([1, 1], ["a", "b"], "actual_counts"),
    ],
)
def test_psi_bad_counts_name_the_field(e, a, field):
    with pytest.raises(InvalidInput) as exc:
        psi(e, a)
    assert exc.value.field == field


@pytest.mark.parametrize("eps", [0, 1, -1e-4, float("nan"), "x"])
def test_psi_bad_eps(eps):
    with pytest.raises(InvalidInput) as exc:
        psi([1, 1], [1, 1], eps=eps)
    assert exc.value.field == "eps"


def test_psi_band_boundaries():
    assert [psi_band(v) for v in (0.0, 0.0999, 0.1, 0.2, 0.25, 0.2501, 3.0)] == [
        "stable",
        "stable",
        "watch",
        "watch",
        "watch",
        "act",
        "act",
    ]
    for bad in (-0.1, float("nan"), float("inf"), None, "0.1"):
        with pytest.raises(InvalidInput) as exc:
            psi_band(bad)
        assert exc.value.field == "psi"


# -- PSI against a profile -------------------------------------------------------------
@pytest.fixture(scope="module")
def reference():
    rng = np.random.default_rng(7)
    n = 10_000
    x = rng.normal(size=n)
    x[rng.random(n) < 0.05] = np.nan
    df = pd.DataFrame(
        {
            "x": x,
            "home": rng.choice(["own", "rent", "mortgage"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    # As stored: through JSON and back.
    return json.loads(json.dumps(compute_profile(df), allow_nan=False))["columns"]


def test_psi_numeric_equals_psi_on_hand_binned_counts(reference):
    col = reference["x"]
    rng = np.random.default_rng(8)
    cur = rng.normal(0.3, 1.0, 3000)
    cur[:300] = np.nan
    present = cur[~np.isnan(cur)]
    cur_counts = np.bincount(np.digitize(present, col["cuts"]), minlength=10)
    expected = psi(col["counts"] + [col["missing"]], [*cur_counts.tolist(), 300])
    assert psi_numeric(col, cur) == pytest.approx(expected, abs=TOL)
    assert column_psi(col, pd.Series(cur)) == pytest.approx(expected, abs=TOL)


def test_psi_of_the_reference_itself_is_zero():
    rng = np.random.default_rng(9)
    x = rng.normal(size=5000)
    x[:100] = np.nan
    s = pd.Series(rng.choice(list("abcd"), 5000))
    cols = compute_profile(pd.DataFrame({"x": x, "s": s}))["columns"]
    assert psi_numeric(cols["x"], x) == 0.0
    assert psi_categorical(cols["s"], s) == 0.0


def test_psi_does_not_grow_with_current_sample_size(reference):
    # Same distribution as the reference (10k rows, 10 deciles + missing bin).
    # Sampling noise alone gives E[PSI] ~ (bins - 1) * (1/n_ref + 1/n_cur):
    # ~0.011 at 1k rows (sd ~0.005, so one 1k window can exceed 0.02), ~0.001
    # at 100k. Evidently's PSI re-bins equal-width over both samples with a
    # bin count that grows with their size, so its value grows with the
    # window; on the reference's own deciles it shrinks instead.
    col = reference["x"]
    rng = np.random.default_rng(10)

    def draw(m: int) -> np.ndarray:
        v = rng.normal(size=m)
        v[rng.random(m) < 0.05] = np.nan
        return v

    small = [psi_numeric(col, draw(1_000)) for _ in range(5)]
    large = [psi_numeric(col, draw(100_000)) for _ in range(5)]
    assert np.mean(small) < 0.02
    assert max(large) < 0.005
    assert np.mean(large) < np.mean(small)
    assert all(psi_band(v) == "stable" for v in small + large)


def test_psi_numeric_sees_a_shift(reference):
    rng = np.random.default_rng(11)
    assert psi_band(psi_numeric(reference["x"], rng.normal(1.0, 1.0, 5000))) == "act"


def test_psi_numeric_missing_bin(reference):
    col = reference["x"]
    rng = np.random.default_rng(12)
    v = rng.normal(size=5000)
    # Reference has 5% missing; a window with 50% missing drifts.
    v[:2500] = np.nan
    assert psi_band(psi_numeric(col, v)) == "act"
    # A reference without missing values still gets a missing bin for the
    # window's missing values (reference share floored at eps).
    clean = dict(col, missing=0)
    w = rng.normal(size=1000)
    w[:10] = np.nan
    with_missing = psi_numeric(clean, w)
    assert with_missing > psi_numeric(clean, w[10:])
    assert math.isfinite(with_missing)


def test_all_missing_window_is_a_finite_large_psi(reference):
    value = psi_numeric(reference["x"], [np.nan] * 500)
    assert math.isfinite(value) and psi_band(value) == "act"
    value = psi_categorical(reference["home"], [None] * 500)
    assert math.isfinite(value) and psi_band(value) == "act"


def test_out_of_range_and_infinite_values_fall_into_outer_bins(reference):
    col = reference["x"]
    value = psi_numeric(col, [np.inf] * 10 + [-1e9] * 10 + [0.0] * 80)
    assert math.isfinite(value)


def test_unseen_category_is_its_own_bin():
    col = {"kind": "categorical", "categories": {"a": 50, "b": 50}, "missing": 0}
    # bins (a, b, unseen, missing): e = (.5, .5, eps, eps), a = (.5, eps, .5, eps)
    # PSI = (eps - .5) ln(eps / .5) + (.5 - eps) ln(.5 / eps) = 2 (.5 - eps) ln(5000)
    value = psi_categorical(col, ["a"] * 50 + ["c"] * 50)
    assert value == pytest.approx(2 * (0.5 - 1e-4) * math.log(5000), abs=TOL)
    assert psi_categorical(col, ["a"] * 50 + ["b"] * 50) == 0.0


def test_psi_categorical_hand_computed_with_missing():
    col = {"kind": "categorical", "categories": {"own": 30, "rent": 60}, "missing": 10}
    cur = ["own"] * 30 + ["rent"] * 30 + [None] * 40
    # e = (.3, .6, eps unseen, .1), a = (.3, .3, eps, .4)
    expected = (0.3 - 0.6) * math.log(0.3 / 0.6) + (0.4 - 0.1) * math.log(0.4 / 0.1)
    assert psi_categorical(col, cur) == pytest.approx(expected, abs=TOL)
    assert column_psi(col, np.array(cur, dtype=object)) == pytest.approx(
        expected, abs=TOL
    )


def test_profile_psi_bad_input():
    num = {"kind": "numeric", "cuts": [0.0], "counts": [5, 5], "missing": 0}
    with pytest.raises(InvalidInput) as exc:
        psi_numeric(num, [])
    assert exc.value.field == "values"
    with pytest.raises(InvalidInput) as exc:
        psi_numeric(num, ["x", "y"])
    assert exc.value.field == "values"
    with pytest.raises(InvalidInput) as exc:
        psi_categorical(num, ["a"])
    assert exc.value.field == "profile"
    with pytest.raises(InvalidInput) as exc:
        column_psi({"kind": "text"}, ["a"])
    assert exc.value.field == "profile"
    with pytest.raises(InvalidInput) as exc:
        psi_numeric({"kind": "numeric", "counts": [1]}, [1.0])
    assert exc.value.field == "profile"
    empty_ref = {"kind": "numeric", "cuts": [], "counts": [0], "missing": 0}
    with pytest.raises(InvalidInput) as exc:
        psi_numeric(empty_ref, [1.0])
    assert exc.value.field == "profile"


# -- two-sample tests equal scipy ----------------------------------------------------
@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(20)
    ref = np.round(rng.normal(0, 1, 3000), 2)  # rounding makes ties
    cur = np.round(rng.normal(0.1, 1.1, 1200), 2)
    return ref, cur


def test_ks_equals_scipy(samples):
    ref, cur = samples
    expected = ks_2samp(ref, cur)
    got = ks_statistic(ref, cur)
    assert isinstance(got, StatResult)
    assert got.statistic == pytest.approx(expected.statistic, abs=TOL)
    assert got.pvalue == pytest.approx(expected.pvalue, abs=TOL)
    # Small samples take scipy's exact path under method="auto".
    small = ks_statistic(ref[:30], cur[:25])
    assert small.pvalue == pytest.approx(ks_2samp(ref[:30], cur[:25]).pvalue, abs=TOL)


def test_ks_drops_missing_values(samples):
    ref, cur = samples
    with_nan = np.append(cur, [np.nan] * 50)
    assert ks_statistic(pd.Series(ref), with_nan) == ks_statistic(ref, cur)


def test_chi_square_equals_scipy():
    ref = np.array([120, 340, 95, 40, 5])
    cur = np.array([60, 150, 70, 15, 9])
    expected = chi2_contingency(np.vstack([ref, cur]), correction=False)
    got = chi_square(ref, cur)
    assert got.statistic == pytest.approx(expected.statistic, abs=TOL)
    assert got.pvalue == pytest.approx(expected.pvalue, abs=TOL)
    # K = 2: still no Yates correction.
    exp2 = chi2_contingency([[50, 50], [60, 40]], correction=False)
    assert chi_square([50, 50], [60, 40]).statistic == pytest.approx(
        exp2.statistic, abs=TOL
    )


def test_chi_square_drops_categories_empty_in_both():
    got = chi_square([10, 0, 30], [20, 0, 10])
    expected = chi2_contingency([[10, 30], [20, 10]], correction=False)
    assert got.statistic == pytest.approx(expected.statistic, abs=TOL)
    assert chi_square([10, 0], [5, 0]) == StatResult(0.0, 1.0)


def test_jensen_shannon_equals_scipy():
    rng = np.random.default_rng(21)
    for _ in range(20):
        p = rng.integers(0, 100, 12).astype(float)
        q = rng.integers(0, 100, 12).astype(float)
        p[0] += 1
        q[0] += 1
        assert jensen_shannon(p, q) == pytest.approx(
            float(jensenshannon(p, q, base=2)), abs=TOL
        )
    assert jensen_shannon([1, 0], [0, 1]) == 1.0
    assert jensen_shannon([3, 1], [3, 1]) == 0.0


def test_wasserstein_normalised_equals_scipy_over_std(samples):
    ref, cur = samples
    expected = wasserstein_distance(ref, cur) / np.std(ref)
    assert wasserstein_normalised(ref, cur) == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize(
    ("fn", "args", "field"),
    [
        (ks_statistic, ([], [1.0]), "ref_values"),
        (ks_statistic, ([1.0], [np.nan, None]), "cur_values"),
        (wasserstein_normalised, ([1.0, 2.0], []), "cur_values"),
        (wasserstein_normalised, ([3.0, 3.0, 3.0], [1.0]), "ref_values"),
        (wasserstein_normalised, ([1.0, 2.0], [np.inf]), "cur_values"),
        (chi_square, ([1, 2], [1, 2, 3]), "cur_counts"),
        (chi_square, ([0, 0], [1, 2]), "ref_counts"),
        (jensen_shannon, ([1, 2], [0, 0]), "q_counts"),
        (jensen_shannon, ([-1, 2], [1, 1]), "p_counts"),
    ],
)
def test_two_sample_bad_input_names_the_field(fn, args, field):
    with pytest.raises(InvalidInput) as exc:
        fn(*args)
    assert exc.value.field == field
