"""The chi-square test of drift tables at any window size: Pearson where every
expected count is 5 or more (scipy's value), pooled sparse cells and a seeded
Monte-Carlo p-value elsewhere (checked against scipy's permutation test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlsteward.datasets.profile import compute_profile
from mlsteward.monitoring.drift.compute import compute_drift
from mlsteward.monitoring.drift.contingency import (
    MIN_EXPECTED,
    homogeneity_test,
    pool_sparse,
)


def _pooled(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    keep = (ref + cur) > 0
    ref, cur = ref[keep], cur[keep]
    groups = pool_sparse(ref, cur)
    k = groups.max() + 1
    return np.vstack(
        [
            np.bincount(groups, weights=ref, minlength=k),
            np.bincount(groups, weights=cur, minlength=k),
        ]
    )


def test_tables_without_sparse_cells_are_scipys_pearson_test():
    ref = np.array([500.0, 300.0, 150.0, 50.0, 0.0])
    cur = np.array([40.0, 35.0, 20.0, 10.0, 0.0])
    res = homogeneity_test(ref, cur)
    chi = stats.chi2_contingency(np.vstack([ref[:4], cur[:4]]), correction=False)
    assert res.p_method == "pearson" and res.pooled == 0 and res.cells == 4
    assert res.statistic == pytest.approx(chi.statistic, rel=1e-12)
    assert res.pvalue == pytest.approx(chi.pvalue, rel=1e-9)
    assert res.describe(105) is None


@pytest.mark.parametrize(
    ("ref", "cur"),
    [
        ([600, 60, 20, 6, 1, 0], [40, 10, 6, 2, 1, 1]),
        ([300, 200, 100, 50, 30, 15, 5], [5, 4, 3, 4, 2, 1, 1]),
        ([500, 120, 90, 60, 20, 8, 2], [6, 6, 4, 2, 1, 0, 1]),
        (
            [70, 70, 70, 70, 70, 70, 70, 70, 70, 70, 3],
            [3, 1, 2, 4, 2, 1, 3, 0, 2, 2, 0],
        ),
    ],
)
def test_sparse_tables_are_pooled_and_agree_with_scipys_permutation_test(
    ref: list[int], cur: list[int]
):
    r, c = np.array(ref, dtype=float), np.array(cur, dtype=float)
    res = homogeneity_test(r, c)
    assert res.p_method == "monte_carlo"
    table = _pooled(r, c)
    assert res.cells == table.shape[1] >= 2
    # every pooled cell reaches the expected count (unless two cells remain)
    expected = stats.contingency.expected_freq(table)
    assert table.shape[1] == 2 or expected.min() >= MIN_EXPECTED
    # the statistic is scipy's Pearson chi-square of the pooled table
    chi = stats.chi2_contingency(table, correction=False)
    assert res.statistic == pytest.approx(chi.statistic, rel=1e-9)
    # the p-value agrees with scipy's permutation test of the same table
    perm = stats.chi2_contingency(
        table.astype(int),
        correction=False,
        method=stats.PermutationMethod(n_resamples=2_000, rng=1),
    )
    se = np.sqrt(perm.pvalue * (1 - perm.pvalue) / min(res.draws, 2_000))
    assert abs(res.pvalue - perm.pvalue) <= max(5 * se, 0.2 * perm.pvalue, 1e-3)
    # reproducible: a fixed seed, so the same table gets the same p-value
    assert homogeneity_test(r, c) == res
    assert "Monte-Carlo" in (res.describe(int(c.sum())) or "")


def test_monte_carlo_p_values_hold_their_level_under_the_null():
    rng = np.random.default_rng(5)
    p = np.array([0.3, 0.3, 0.2, 0.1, 0.05, 0.03, 0.015, 0.005])
    pvals = []
    for _ in range(400):
        ref = rng.multinomial(700, p).astype(float)
        cur = rng.multinomial(20, p).astype(float)
        pvals.append(homogeneity_test(ref, cur).pvalue)
    rates = [np.mean(np.array(pvals) < a) for a in (0.01, 0.05, 0.2)]
    # at most the level, within two binomial standard errors of 400 draws
    for a, rate in zip((0.01, 0.05, 0.2), rates, strict=True):
        assert rate <= a + 2 * np.sqrt(a * (1 - a) / 400), (a, rate)


def test_the_issues_tables_no_longer_alarm():
    # one missing value in a 60-row window; 2 missing in 4,400 reference rows
    one_missing = homogeneity_test(np.array([4398.0, 2.0]), np.array([59.0, 1.0]))
    pearson = stats.chi2_contingency([[4398, 2], [59, 1]], correction=False)
    assert pearson.pvalue < 1e-4  # what the report said before
    # the exact chance that one of the 3 missing values falls in the window
    exact = 1 - stats.hypergeom.pmf(0, 4460, 3, 60)
    assert one_missing.pvalue == pytest.approx(exact, rel=0.3)
    # one value of a category the reference never saw
    unseen = homogeneity_test(
        np.array([2600.0, 1200.0, 500.0, 100.0, 0.0]),
        np.array([35.0, 17.0, 6.0, 1.0, 1.0]),
    )
    assert unseen.pvalue > 0.05 and unseen.pooled > 0


def test_a_small_window_with_a_rare_category_and_a_missing_value_is_stable():
    rng = np.random.default_rng(11)
    home = rng.choice(["own", "rent", "free", "coop"], 4400, p=[0.6, 0.3, 0.098, 0.002])
    home[:2] = None  # 2 missing of 4,400
    ref = pd.DataFrame({"home": home})
    cur = pd.DataFrame({"home": ["own"] * 35 + ["rent"] * 20 + ["free"] * 3 + [None]})
    cur.loc[len(cur)] = "houseboat"  # one category the reference never saw
    res = compute_drift(compute_profile(ref), cur)
    assert res.verdict == "stable", res.table
    chi2 = next(r for r in res.rows if r.method == "chi2")
    assert chi2.p_method == "monte_carlo" and "pooled" in (chi2.note or "")
    assert chi2.p_value is not None and chi2.p_value > 0.01


def test_a_real_shift_in_a_small_window_is_still_found():
    rng = np.random.default_rng(12)
    ref = pd.DataFrame(
        {"home": rng.choice(["own", "rent", "free"], 4400, p=[0.6, 0.3, 0.1])}
    )
    cur = pd.DataFrame({"home": ["rent"] * 40 + ["own"] * 15 + ["free"] * 5})
    res = compute_drift(compute_profile(ref), cur)
    assert res.drifted == ["home"]
