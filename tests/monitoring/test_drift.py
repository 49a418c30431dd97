"""The drift engine: every statistic against scipy or by hand, the status rule,
streaming, sketches, and the edge cases a monitor meets on real windows."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

import mlsteward
from mlsteward.datasets.profile import compute_profile, quantile_sketch
from mlsteward.errors import InvalidInput
from mlsteward.monitoring.drift.compute import (
    DEFAULT_THRESHOLDS,
    KIND_METHODS,
    METHODS,
    ColumnDrift,
    DriftResult,
    compute_drift,
    default_methods,
    drift_report,
    exact_reference,
)
from mlsteward.monitoring.drift.rows import status_of
from mlsteward.monitoring.drift.sketch import ReferenceGrid, ks_from_counts, ks_pvalue
from mlsteward.monitoring.drift.stats import psi_categorical, psi_numeric

TOL = 1e-12


def row(result: DriftResult, column: str, method: str) -> ColumnDrift:
    (r,) = [r for r in result.rows if r.column == column and r.method == method]
    return r


def frames(
    n: int, seed: int, shift: dict[str, float] | None = None, n_num: int = 20
) -> pd.DataFrame:
    """20 numeric and 5 categorical columns; ``shift`` moves named columns."""
    rng = np.random.default_rng(seed)
    shift = shift or {}
    data: dict[str, Any] = {}
    for i in range(n_num):
        name = f"x{i}"
        base = rng.normal(size=n) if i % 2 else rng.lognormal(0.0, 0.7, size=n)
        data[name] = base + shift.get(name, 0.0)
    cats = np.array(["a", "b", "c", "d", "e"])
    for j in range(5):
        name = f"c{j}"
        p = np.array([0.35, 0.25, 0.2, 0.15, 0.05])
        if name in shift:
            p = np.array([0.1, 0.15, 0.2, 0.25, 0.3])
        data[name] = cats[rng.choice(5, size=n, p=p)]
    return pd.DataFrame(data)


# -- each statistic, by hand and against scipy -----------------------------------
def test_psi_numeric_hand_computed_two_bins():
    profile = {
        "n_rows": 100,
        "columns": {
            "x": {
                "kind": "numeric",
                "cuts": [1.0],
                "counts": [50, 50],
                "missing": 0,
                "missing_rate": 0.0,
                "count": 100,
            }
        },
    }
    cur = pd.DataFrame({"x": [0.0] * 60 + [2.0] * 40})
    res = compute_drift(profile, cur, methods={"x": "psi"})
    expected = 0.1 * math.log(0.6 / 0.5) + (-0.1) * math.log(0.4 / 0.5)  # 0.040547
    r = row(res, "x", "psi")
    assert r.statistic == pytest.approx(expected, abs=TOL)
    assert r.statistic == pytest.approx(psi_numeric(profile["columns"]["x"], cur.x))
    # The paired test is chi-square on the same two bins (and an empty missing bin).
    chi = chi2_contingency([[50, 50], [60, 40]], correction=False)
    assert r.test == "chi2" and r.p_value == pytest.approx(chi.pvalue, abs=TOL)


def test_psi_categorical_hand_computed_with_unseen_and_eps():
    ref = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50})
    cur = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 30 + ["new"] * 20})
    profile = compute_profile(ref)
    res = compute_drift(profile, cur)
    eps = 1e-4
    # bins a, b, unseen, missing; reference proportions floored at eps
    expected = (
        (0.3 - 0.5) * math.log(0.3 / 0.5)
        + (0.2 - eps) * math.log(0.2 / eps)
        + 0.0  # a and missing contribute nothing
    )
    r = row(res, "c", "psi")
    assert r.statistic == pytest.approx(expected, abs=1e-12)
    assert r.statistic == pytest.approx(psi_categorical(profile["columns"]["c"], cur.c))
    assert r.unseen_current == 20 and "never saw" in (r.note or "")
    chi = chi2_contingency([[50, 50, 0], [50, 30, 20]], correction=False)
    c2 = row(res, "c", "chi2")
    assert c2.statistic == pytest.approx(chi.statistic, rel=TOL)
    assert c2.p_value == pytest.approx(chi.pvalue, rel=1e-9, abs=1e-300)
    # chi2's effect is w = sqrt(chi2 * (1/n_ref + 1/n_cur))
    assert c2.effect == pytest.approx(math.sqrt(chi.statistic * (2 / 100)), rel=TOL)


@pytest.mark.parametrize(
    ("n_ref", "n_cur"), [(300, 200), (20_000, 15_000)], ids=["exact-p", "asymp-p"]
)
def test_ks_equals_scipy_exact_mode(n_ref: int, n_cur: int):
    rng = np.random.default_rng(1)
    # integers make ties; missing values and infinities in the window
    ref = pd.DataFrame({"x": rng.poisson(20, n_ref).astype(float)})
    x = rng.poisson(21, n_cur).astype(float)
    x[:5] = np.nan
    x[5] = np.inf
    x[6] = -np.inf
    cur = pd.DataFrame({"x": x})
    res = drift_report(ref, cur, methods={"x": "ks"})
    expected = ks_2samp(ref.x, x[~np.isnan(x)], method="auto")
    r = row(res, "x", "ks")
    assert res.mode == "exact" and r.error_bound == 0.0
    assert r.statistic == expected.statistic  # bit for bit
    assert r.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_ks_sketch_mode_equals_scipy_when_the_sketch_is_exact():
    # Fewer distinct values than knots: the sketch is the distribution.
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"age": rng.integers(18, 80, 50_000)})
    cur = pd.DataFrame({"age": rng.integers(20, 85, 40_000)})
    res = compute_drift(compute_profile(ref), cur)
    expected = ks_2samp(ref.age, cur.age)
    r = row(res, "age", "ks")
    assert res.mode == "sketch" and r.error_bound == 0.0
    assert r.statistic == expected.statistic
    assert_ks_p(r.p_value, expected.pvalue)
    # and where no asymptotics are involved, p bit for bit
    cur2 = pd.DataFrame({"age": rng.integers(18, 80, 5_000)})  # en < 10,000
    r2 = row(compute_drift(compute_profile(ref), cur2), "age", "ks")
    assert r2.p_value == ks_2samp(ref.age, cur2.age).pvalue


def assert_ks_p(got: float | None, expected: float) -> None:
    """KS p-values: scipy's, or within 0.3 % where sketch.ks_pvalue uses the
    asymptotic expansion (p below 1e-10: only both tiny)."""
    assert got is not None
    if expected > 1e-10:
        assert got == pytest.approx(expected, rel=3e-3)
    else:
        assert got < 1e-9


@pytest.mark.parametrize("en", [500, 10_000, 20_001, 100_000, 3_000_000])
def test_ks_pvalue_matches_scipy_asymptotic(en: int):
    # same effective size from two sample sizes: n*m/(n+m) = en for n = m = 2en
    from scipy.stats import kstwo

    # x = en * d**2; scipy's slow exact sum covers 2.2 <= x < 370
    for x in (0.05, 0.5, 1.0, 2.0, 2.2, 3.0, 5.0, 10.0, 23.0, 60.0, 200.0, 369.0):
        d = math.sqrt(x / en)
        expected = float(kstwo.sf(d, en))
        got = ks_pvalue(d, 2 * en, 2 * en)
        if expected > 1e-10:
            assert got == pytest.approx(expected, rel=3e-3), (en, d)
        else:
            assert got < 1e-9


def test_chi2_and_jensen_shannon_on_numeric_bins_equal_scipy():
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": rng.normal(size=4000)})
    x = rng.normal(0.2, 1.1, size=3000)
    x[:100] = np.nan  # a missing bin the reference does not have
    cur = pd.DataFrame({"x": x})
    profile = compute_profile(ref)
    col = profile["columns"]["x"]
    res = compute_drift(profile, cur, methods={"x": ["chi2", "jensen_shannon"]})
    cur_bins = np.bincount(
        np.searchsorted(col["cuts"], x[~np.isnan(x)], side="right"),
        minlength=len(col["counts"]),
    )
    ref_t = [*col["counts"], 0]
    cur_t = [*cur_bins.tolist(), 100]
    chi = chi2_contingency([ref_t, cur_t], correction=False)
    assert row(res, "x", "chi2").statistic == pytest.approx(chi.statistic, rel=TOL)
    assert row(res, "x", "chi2").p_value == pytest.approx(chi.pvalue, rel=1e-9)
    js = jensenshannon(ref_t, cur_t, base=2)
    assert row(res, "x", "jensen_shannon").statistic == pytest.approx(js, abs=TOL)


def test_jensen_shannon_categorical_equals_scipy():
    ref = pd.DataFrame({"c": ["a"] * 70 + ["b"] * 20 + [None] * 10})
    cur = pd.DataFrame({"c": ["a"] * 40 + ["b"] * 40 + ["z"] * 20})
    res = compute_drift(compute_profile(ref), cur, methods={"c": "jensen_shannon"})
    # bins: a, b, unseen, missing
    js = jensenshannon([70, 20, 0, 10], [40, 40, 20, 0], base=2)
    assert row(res, "c", "jensen_shannon").statistic == pytest.approx(js, abs=TOL)


def test_wasserstein_exact_equals_scipy_and_sketch_within_its_bound():
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"x": rng.lognormal(0, 1, 60_000)})
    cur = pd.DataFrame({"x": rng.lognormal(0.1, 1, 50_000)})
    expected = wasserstein_distance(ref.x, cur.x) / np.std(ref.x)
    exact = drift_report(ref, cur, methods={"x": "wasserstein"})
    assert row(exact, "x", "wasserstein").statistic == pytest.approx(expected, rel=1e-9)
    sketch = drift_report(ref, cur, methods={"x": "wasserstein"}, mode="sketch")
    r = row(sketch, "x", "wasserstein")
    assert r.error_bound is not None and r.error_bound < 0.01
    assert abs(r.statistic - expected) <= r.error_bound + 1e-12
    # the paired test is KS
    assert r.test == "ks" and r.p_value == pytest.approx(
        ks_2samp(ref.x, cur.x).pvalue, abs=1e-6
    )


def test_p_values_are_holm_adjusted_across_rows():
    ref = frames(3000, 5, n_num=4)
    cur = frames(2000, 6, {"x1": 0.15}, n_num=4)
    res = drift_report(ref, cur)
    ps = np.array([r.p_value for r in res.rows])
    order = np.argsort(ps, kind="stable")
    k = len(ps)
    holm = np.empty(k)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (k - rank) * ps[i]))
        holm[i] = running
    assert [r.p_adjusted for r in res.rows] == pytest.approx(holm.tolist(), rel=1e-12)


# -- the status rule and the verdict ---------------------------------------------------
def test_status_needs_effect_and_significance():
    s = status_of
    assert s(0.3, 1e-9, 0.1, 0.25, 0.05) == "drift"
    assert s(0.25, 1e-9, 0.1, 0.25, 0.05) == "watch"  # 0.25 itself is watch (credit)
    assert s(0.1, 1e-9, 0.1, 0.25, 0.05) == "watch"
    assert s(0.09, 1e-9, 0.1, 0.25, 0.05) == "stable"
    assert s(0.9, 0.2, 0.1, 0.25, 0.05) == "stable"  # big effect, no evidence
    assert s(0.9, None, 0.1, 0.25, 0.05) == "drift"  # no test: effect alone
    assert s(None, None, 0.1, 0.25, 0.05) == "stable"


def test_small_noisy_window_does_not_alarm_on_psi_noise():
    # 60 rows against deciles: PSI's sampling noise alone is ~0.15, above the
    # watch band; the chi-square test on the same bins is what keeps it quiet.
    rng = np.random.default_rng(7)
    ref = pd.DataFrame({"x": rng.normal(size=50_000)})
    alarms = 0
    for seed in range(20):
        cur = pd.DataFrame({"x": np.random.default_rng(seed).normal(size=60)})
        res = drift_report(ref, cur, mode="sketch")
        alarms += res.verdict != "stable"
    assert alarms <= 1


def test_four_drifted_key_features_of_25_make_a_drifted_dataset():
    shifted = {"x0": 0.8, "x3": 0.8, "x8": 0.8, "c2": 1.0}
    ref = frames(20_000, 10)
    cur = frames(20_000, 11, shifted)
    res = drift_report(ref, cur)
    assert res.verdict == "drift"
    assert sorted(res.drifted) == sorted(shifted)
    assert len(res.column_status) == 25  # 4 of 25: far below any half-share rule
    assert set(res.watched).isdisjoint(shifted)


def test_control_without_shift_100k_raises_nothing():
    ref = frames(100_000, 20)
    cur = frames(100_000, 21)
    for mode in ("exact", "sketch"):
        res = drift_report(ref, cur, mode=mode)  # type: ignore[arg-type]
        assert res.verdict == "stable", res.table.query("status != 'stable'")
        assert res.drifted == [] and res.watched == []


@pytest.mark.slow
def test_control_without_shift_1m_rows_raises_nothing():
    ref = frames(1_000_000, 30)
    cur = frames(1_000_000, 31)
    profile = compute_profile(ref)
    res = compute_drift(profile, cur)
    assert res.verdict == "stable", res.table.query("status != 'stable'")
    assert all(r.status == "stable" for r in res.rows)
    # and the same data with shifts in four columns finds exactly those
    shifted = {"x2": 0.8, "x5": 0.8, "c0": 1.0, "c4": 1.0}
    cur2 = frames(1_000_000, 32, shifted)
    res2 = compute_drift(profile, cur2)
    assert sorted(res2.drifted) == sorted(shifted)


# -- methods are fixed from the reference -------------------------------------------
def test_methods_come_from_the_reference_profile_never_the_window():
    ref = pd.DataFrame(
        {"score": np.linspace(0, 1, 1000), "home": ["own", "rent"] * 500}
    )
    profile = compute_profile(ref)
    chosen = default_methods(profile)
    assert chosen == {"score": ["psi", "ks"], "home": ["psi", "chi2"]}
    # a window where the numeric column has two distinct values, as strings,
    # which a data-driven heuristic would read as categorical (chi-square)
    cur = pd.DataFrame({"score": ["0", "1"] * 300, "home": ["own"] * 600})
    res = compute_drift(profile, cur, methods=chosen)
    assert res.methods == chosen
    assert [(r.column, r.method, r.kind) for r in res.rows] == [
        ("score", "psi", "numeric"),
        ("score", "ks", "numeric"),
        ("home", "psi", "categorical"),
        ("home", "chi2", "categorical"),
    ]
    # the same happens without passing methods: defaults read the profile only
    assert compute_drift(profile, cur).methods == chosen


def test_old_profiles_without_a_sketch_default_to_bins_only():
    ref = pd.DataFrame({"x": np.arange(100.0)})
    profile = compute_profile(ref, sketch_size=None)
    assert "sketch" not in profile["columns"]["x"]
    assert default_methods(profile) == {"x": ["psi", "chi2"]}
    with pytest.raises(InvalidInput, match="no quantile sketch"):
        compute_drift(profile, ref, methods={"x": "ks"})
    # with the reference values, KS runs exactly
    res = compute_drift(profile, ref, methods={"x": "ks"}, reference_sample=ref)
    assert row(res, "x", "ks").statistic == 0.0


@pytest.mark.parametrize(
    ("methods", "match"),
    [
        ({"c": "ks"}, "needs ordered values"),
        ({"c": "anova"}, "unknown drift method"),
        ({"nope": "psi"}, "not in the reference profile"),
        ({"c": []}, "empty"),
    ],
)
def test_bad_methods_are_named(methods: dict[str, Any], match: str):
    profile = compute_profile(pd.DataFrame({"c": ["a", "b"]}))
    with pytest.raises(InvalidInput, match=match):
        compute_drift(profile, pd.DataFrame({"c": ["a"]}), methods=methods)


def test_thresholds_by_method_and_column():
    ref = frames(5000, 40, n_num=2)
    cur = frames(5000, 41, {"x0": 0.25}, n_num=2)
    base = drift_report(ref, cur)
    assert row(base, "x0", "psi").threshold == DEFAULT_THRESHOLDS["psi"][1]
    custom = drift_report(
        ref,
        cur,
        thresholds={"psi": (0.01, 0.02), "x1": 0.5, "c0": {"chi2": [0.0, 0.9]}},
    )
    assert row(custom, "x0", "psi").watch_threshold == 0.01
    assert row(custom, "x1", "ks").threshold == 0.5
    assert row(custom, "x1", "psi").watch_threshold == 0.5
    assert row(custom, "c0", "chi2").threshold == 0.9
    assert row(custom, "c0", "psi").threshold == 0.02
    for bad in ({"psi": (0.3, 0.1)}, {"psi": "high"}, {"psi": (0.1, float("nan"))}):
        with pytest.raises(InvalidInput, match="threshold"):
            drift_report(ref, cur, thresholds=bad)


def test_all_methods_known():
    assert set(METHODS) == set(DEFAULT_THRESHOLDS)


# -- edge cases: never a crash, never a NaN ------------------------------------------
def _json_safe(res: DriftResult) -> dict[str, Any]:
    data = res.to_dict()
    json.dumps(data, allow_nan=False)
    return data


def test_empty_bins_unseen_categories_all_missing_window():
    ref = pd.DataFrame(
        {
            "x": np.arange(1000.0),
            "c": ["a", "b"] * 500,
            "m": [np.nan] * 1000,  # all missing in the reference too
        }
    )
    profile = compute_profile(ref)
    numeric = list(KIND_METHODS["numeric"])
    methods = {c: numeric for c in ("x", "m")} | {"c": ["psi", "chi2"]}
    # every value in one bin (nine empty bins), unseen categories only
    one_bin = pd.DataFrame({"x": [5.0] * 50, "c": ["z"] * 50, "m": [1.0] * 50})
    res = compute_drift(profile, one_bin, methods=methods)
    _json_safe(res)
    assert row(res, "x", "psi").statistic > 0.25 and res.column_status["x"] == "drift"
    assert res.column_status["c"] == "drift"
    assert row(res, "c", "psi").unseen_current == 50
    ks_m = row(res, "m", "ks")
    assert ks_m.statistic is None and "reference has no non-missing" in ks_m.note
    # an all-missing window: PSI and chi2 see the missing bin, KS says why not
    missing = pd.DataFrame(
        {"x": [np.nan] * 40, "c": [None] * 40, "m": [np.nan] * 40}, dtype=object
    )
    res = compute_drift(profile, missing, methods=methods)
    data = _json_safe(res)
    assert row(res, "x", "psi").statistic > 5 and row(res, "x", "psi").status == "drift"
    assert row(res, "x", "ks").statistic is None
    assert "window has no non-missing" in row(res, "x", "ks").note
    assert row(res, "c", "chi2").status == "drift"
    assert row(res, "x", "psi").missing_current == 1.0
    # the all-missing reference column against an all-missing window: stable
    assert row(res, "m", "psi").statistic == 0.0 and res.column_status["m"] == "stable"
    assert data["verdict"] == "drift"


def test_constant_reference_and_wasserstein():
    ref = pd.DataFrame({"x": [3.0] * 500})
    res = drift_report(
        ref, pd.DataFrame({"x": [3.0] * 99 + [4.0]}), methods={"x": "wasserstein"}
    )
    r = row(res, "x", "wasserstein")
    assert r.statistic == pytest.approx(0.01) and "constant" in r.note


def test_empty_window_and_missing_columns():
    profile = compute_profile(pd.DataFrame({"x": [1.0, 2.0], "y": [1.0, 3.0]}))
    with pytest.raises(InvalidInput, match="no rows"):
        compute_drift(profile, pd.DataFrame({"x": [], "y": []}))
    with pytest.raises(InvalidInput, match="no chunks"):
        compute_drift(profile, iter([]))
    # a default run checks what the window has and says what it skipped
    res = compute_drift(profile, pd.DataFrame({"x": [1.0, 2.0]}))
    assert res.skipped == {"y": "not in the current window"}
    assert {r.column for r in res.rows} == {"x"}
    # asking for the absent column is an error that names it
    with pytest.raises(InvalidInput, match=r"\['y'\] are not in the current window"):
        compute_drift(profile, pd.DataFrame({"x": [1.0]}), columns=["y"])
    with pytest.raises(InvalidInput, match="must be numeric"):
        compute_drift(profile, pd.DataFrame({"x": ["high"], "y": [1.0]}))
    with pytest.raises(InvalidInput, match="alpha"):
        compute_drift(profile, pd.DataFrame({"x": [1.0]}), alpha=1.5)
    with pytest.raises(InvalidInput, match="engine"):
        compute_drift(profile, pd.DataFrame({"x": [1.0]}), engine="spark")  # type: ignore[arg-type]


# -- streaming and sketches ------------------------------------------------------
@pytest.mark.parametrize("mode", ["exact", "sketch"])
def test_streaming_in_chunks_equals_one_shot(mode: str):
    ref = frames(30_000, 50, n_num=4)
    cur = frames(23_457, 51, {"x1": 0.3, "c1": 1.0}, n_num=4)
    cur.loc[::97, "x2"] = np.nan
    cur.loc[::89, "c3"] = None
    profile = compute_profile(ref)
    sample = ref if mode == "exact" else None
    methods = {c: list(KIND_METHODS["numeric"]) for c in ("x0", "x1", "x2", "x3")}
    one = compute_drift(profile, cur, methods=methods, reference_sample=sample)
    sizes = [0, 1, 5000, 7, 9999]
    bounds = [*np.cumsum([0, *sizes]).tolist(), len(cur)]
    chunks = (cur.iloc[a:b] for a, b in itertools.pairwise(bounds))
    seen: list[int] = []
    many = compute_drift(
        profile, chunks, methods=methods, reference_sample=sample, on_chunk=seen.append
    )
    assert sum(seen) == len(cur) and len(seen) == len(sizes) + 1
    assert many.n_current == one.n_current == len(cur)
    for a, b in zip(one.rows, many.rows, strict=True):
        assert (a.column, a.method, a.status) == (b.column, b.method, b.status)
        if a.method == "wasserstein" and mode == "sketch":  # float sums, reordered
            assert a.statistic == pytest.approx(b.statistic, rel=1e-9)
        else:
            assert a.statistic == b.statistic and a.p_value == b.p_value


def test_sketch_ks_within_its_bound_and_2e_4_of_exact():
    rng = np.random.default_rng(60)
    n = 200_000
    mass = rng.normal(size=n)
    mass[: n // 3] = 0.0  # a point mass, as a zero balance
    ref = pd.DataFrame(
        {"normal": rng.normal(size=n), "skew": rng.lognormal(0, 1.5, n), "mass": mass}
    )
    mass2 = rng.normal(0.05, size=n)
    mass2[: n // 4] = 0.0
    cur = pd.DataFrame(
        {
            "normal": rng.normal(0.02, 1, n),
            "skew": rng.lognormal(0.05, 1.5, n),
            "mass": mass2,
        }
    )
    profile = compute_profile(ref)
    sketch = compute_drift(profile, cur)
    exact = compute_drift(profile, cur, reference_sample=exact_reference(ref))
    for col in ref.columns:
        s, e = row(sketch, col, "ks"), row(exact, col, "ks")
        assert e.statistic == ks_2samp(ref[col], cur[col]).statistic
        assert s.error_bound is not None and s.error_bound <= 2e-4
        assert s.statistic <= e.statistic <= s.statistic + s.error_bound + 1e-15
        assert abs(s.statistic - e.statistic) <= 2e-4


def test_reference_grid_bounds_are_guaranteed_on_random_cases():
    rng = np.random.default_rng(70)
    for _ in range(50):
        n, m, k = rng.integers(50, 3000), rng.integers(1, 3000), rng.integers(2, 40)
        ref = np.round(rng.normal(size=n), int(rng.integers(0, 3)))
        cur = np.round(rng.normal(rng.normal(0, 0.5), 1, size=m), 1)
        grid = ReferenceGrid.from_sketch(quantile_sketch(ref, int(k)), "x")
        xs = np.sort(cur)
        cle = np.searchsorted(xs, grid.knots, side="right")
        clt = np.searchsorted(xs, grid.knots, side="left")
        d, bound = ks_from_counts(grid, cle, clt, int(m))
        true = ks_2samp(ref, cur).statistic
        assert d - 1e-12 <= true <= d + bound + 1e-12


def test_quantile_sketch_in_profiles():
    x = np.random.default_rng(80).normal(size=100_001)
    sk = quantile_sketch(x, 1000)
    assert not sk["exact"] and len(sk["knots"]) == 1000
    assert sk["knots"][0] == x.min() and sk["knots"][-1] == x.max()
    between = np.array(sk["lt"][1:]) - np.array(sk["le"][:-1])
    assert between.max() <= math.ceil(100_000 / 999) - 1
    p = compute_profile(pd.DataFrame({"x": x, "k": np.arange(100_001) % 7}))
    assert len(p["columns"]["x"]["sketch"]["knots"]) == 10_000
    assert p["columns"]["k"]["sketch"]["exact"] is True
    json.dumps(p, allow_nan=False)
    with pytest.raises(InvalidInput, match="sketch_size"):
        compute_profile(pd.DataFrame({"x": x[:10]}), sketch_size=1)
    bad = dict(p["columns"]["x"]["sketch"], knots=[3.0, 1.0])
    with pytest.raises(InvalidInput, match="sketch"):
        ReferenceGrid.from_sketch(bad, "x")


# -- the notebook entry point ----------------------------------------------------------
def test_drift_report_accepts_frames_profiles_and_dataset_versions():
    ref = frames(5000, 90, n_num=2)
    cur = frames(5000, 91, {"x0": 1.0}, n_num=2)
    assert mlsteward.drift_report is drift_report
    assert "drift_report" in mlsteward.__all__
    by_frame = drift_report(ref, cur)
    assert by_frame.mode == "exact" and by_frame.drifted == ["x0"]
    profile = compute_profile(ref)
    by_profile = drift_report(profile, cur)
    assert by_profile.mode == "sketch" and by_profile.drifted == ["x0"]

    class Version:  # what a DatasetVersion looks like to drift_report
        def __init__(self, profile: dict[str, Any]) -> None:
            self.profile = profile

    assert drift_report(Version(profile), cur).drifted == ["x0"]
    table = by_frame.table
    assert list(table.columns[:6]) == [
        "column",
        "method",
        "statistic",
        "p_value",
        "threshold",
        "status",
    ]
    assert len(table) == 2 * 7
    data = _json_safe(by_frame)
    assert data["verdict"] == "drift" and data["drifted"] == ["x0"]
    assert data["methods"]["c0"] == ["psi", "chi2"]
    with pytest.raises(InvalidInput, match="exact"):
        drift_report(profile, cur, mode="exact")
    with pytest.raises(InvalidInput, match="reference must be"):
        drift_report(42, cur)
