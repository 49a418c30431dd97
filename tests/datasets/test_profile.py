"""Dataset profiles agree with pandas and numpy on the same data."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from mlsteward.datasets.profile import (
    bin_counts,
    category_counts,
    compute_profile,
    count_missing,
    quantile_cuts,
)
from mlsteward.errors import InvalidInput

TOL = 1e-12


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    n = 4000
    income = rng.lognormal(10, 0.6, n)
    income[rng.random(n) < 0.07] = np.nan
    delinq = rng.poisson(0.3, n)  # mostly zeros: heavy ties at the minimum
    age = pd.array(rng.integers(18, 80, n), dtype="Int64")
    age[rng.random(n) < 0.02] = pd.NA
    home = rng.choice(["own", "rent", "mortgage", "other"], n, p=[0.4, 0.3, 0.25, 0.05])
    home_s = pd.Series(home, dtype="str")
    home_s[rng.random(n) < 0.03] = None
    flag = rng.random(n) < 0.2
    return pd.DataFrame(
        {
            "income": income,
            "delinq": delinq,
            "age": age,
            "home": home_s,
            "flag": flag,
            "empty_num": np.full(n, np.nan),
            "empty_cat": pd.Series([None] * n, dtype=object),
        }
    )


@pytest.fixture(scope="module")
def profile(frame) -> dict:
    return compute_profile(frame)


def _expected_cuts(values: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """The documented rule, written independently: sorted positions k*n//n_bins."""
    xs = np.sort(values)
    n = len(xs)
    cuts = np.unique([xs[k * n // n_bins] for k in range(1, n_bins)])
    return cuts[cuts > xs[0]]


def test_kinds_are_inferred(profile):
    kinds = {k: v["kind"] for k, v in profile["columns"].items()}
    assert kinds == {
        "income": "numeric",
        "delinq": "numeric",
        "age": "numeric",
        "home": "categorical",
        "flag": "categorical",  # bool counts as categorical
        "empty_num": "numeric",
        "empty_cat": "categorical",
    }
    assert profile["n_rows"] == 4000


@pytest.mark.parametrize("name", ["income", "delinq", "age"])
def test_numeric_summary_equals_pandas(frame, profile, name):
    s = frame[name]
    col = profile["columns"][name]
    assert col["dtype"] == str(s.dtype)
    assert col["count"] == s.count()
    assert col["missing"] == s.isna().sum()
    assert col["missing_rate"] == pytest.approx(s.isna().mean(), abs=TOL)
    assert col["min"] == s.min() and col["max"] == s.max()
    assert col["mean"] == pytest.approx(float(s.mean()), rel=TOL)
    assert col["std"] == pytest.approx(float(s.std()), rel=TOL)


@pytest.mark.parametrize("name", ["income", "delinq", "age"])
def test_numeric_bins_equal_numpy(frame, profile, name):
    col = profile["columns"][name]
    x = frame[name].dropna().to_numpy(dtype=float)
    assert col["cuts"] == _expected_cuts(x).tolist()
    # Counts: bin i holds cuts[i-1] <= x < cuts[i] (np.digitize, right=False).
    expected = np.bincount(np.digitize(x, col["cuts"]), minlength=len(col["cuts"]) + 1)
    assert col["counts"] == expected.tolist()
    assert sum(col["counts"]) == col["count"]
    assert min(col["counts"]) > 0  # no empty reference bin


def test_continuous_cuts_are_deciles_and_bins_balanced(frame, profile):
    x = frame["income"].dropna().to_numpy()
    col = profile["columns"]["income"]
    assert len(col["cuts"]) == 9
    n = len(x)
    assert col["counts"] == [(k + 1) * n // 10 - k * n // 10 for k in range(10)]
    # Each cut is an empirical decile: more than k/10 of the rows at or below
    # it, at most k/10 strictly below it. Compare with np.quantile's
    # "inverted_cdf" decile, which is the same or the next observed value.
    xs = np.sort(x)
    for k, c in enumerate(col["cuts"], start=1):
        assert (x < c).sum() <= k * n / 10 < (x <= c).sum()
        q = np.quantile(x, k / 10, method="inverted_cdf")
        i = np.searchsorted(xs, q)
        assert c in (xs[i], xs[min(i + 1, n - 1)])


def test_heavily_tied_column_gets_fewer_bins(frame, profile):
    col = profile["columns"]["delinq"]
    x = frame["delinq"].to_numpy()
    assert (x == 0).mean() > 0.7
    assert len(col["cuts"]) < 9
    assert 0.0 not in col["cuts"]  # a cut at the minimum would leave bin 0 empty
    assert col["counts"][0] == (x == 0).sum()


def test_categorical_frequencies_equal_value_counts(frame, profile):
    for name in ("home", "flag"):
        s = frame[name]
        col = profile["columns"][name]
        vc = s.value_counts(dropna=True)
        assert col["categories"] == {str(k): int(v) for k, v in vc.items()}
        assert list(col["categories"].values()) == sorted(
            col["categories"].values(), reverse=True
        )
        assert col["count"] == s.count() and col["missing"] == s.isna().sum()
        assert col["missing_rate"] == pytest.approx(s.isna().mean(), abs=TOL)
    assert set(profile["columns"]["flag"]["categories"]) == {"True", "False"}


def test_all_missing_columns(profile):
    num = profile["columns"]["empty_num"]
    assert num["count"] == 0 and num["missing"] == 4000 and num["missing_rate"] == 1.0
    assert num["cuts"] == [] and num["counts"] == [0]
    assert num["min"] is None and num["mean"] is None and num["std"] is None
    cat = profile["columns"]["empty_cat"]
    assert cat["count"] == 0 and cat["categories"] == {} and cat["missing"] == 4000


def test_json_round_trip(profile):
    text = json.dumps(profile, allow_nan=False)
    assert json.loads(text) == profile


def test_empty_frame_and_single_value():
    p = compute_profile(pd.DataFrame({"x": pd.Series([], dtype=float)}))
    assert p["n_rows"] == 0
    assert p["columns"]["x"]["missing_rate"] is None
    assert p["columns"]["x"]["counts"] == [0]
    one = compute_profile(pd.DataFrame({"x": [3.0]}))["columns"]["x"]
    assert one["std"] is None and one["min"] == one["max"] == 3.0
    assert one["cuts"] == [] and one["counts"] == [1]
    json.dumps(p, allow_nan=False)


def test_kind_override():
    df = pd.DataFrame({"grade": [1, 2, 2, 3], "score": ["1.5", "2", None, "7"]})
    p = compute_profile(df, {"grade": "categorical", "score": "numeric"})
    assert p["columns"]["grade"]["categories"] == {"2": 2, "1": 1, "3": 1}
    score = p["columns"]["score"]
    assert score["kind"] == "numeric" and score["count"] == 3 and score["max"] == 7.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"columns": {"nope": "numeric"}}, "columns"),
        ({"columns": {"x": "text"}}, "columns"),
        ({"columns": {"s": "numeric"}}, "s"),  # "b" is not a number
        ({"n_bins": 0}, "n_bins"),
        ({"n_bins": 2.5}, "n_bins"),
    ],
)
def test_bad_input_names_the_field(kwargs, field):
    df = pd.DataFrame({"x": [1.0, 2.0], "s": ["1", "b"]})
    with pytest.raises(InvalidInput) as exc:
        compute_profile(df, **kwargs)
    assert exc.value.field == field


def test_infinite_reference_values_are_refused():
    with pytest.raises(InvalidInput) as exc:
        compute_profile(pd.DataFrame({"x": [1.0, np.inf]}))
    assert exc.value.field == "x"


def test_duplicate_column_names_are_refused():
    df = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(InvalidInput) as exc:
        compute_profile(df)
    assert exc.value.field == "a"


# -- counting a new sample into the reference ---------------------------------------
def test_bin_counts_of_new_sample(profile):
    col = profile["columns"]["income"]
    rng = np.random.default_rng(1)
    new = rng.lognormal(10.2, 0.6, 200_000)
    new[:100] = np.nan
    new[100] = np.inf
    new[101] = -np.inf
    counts = bin_counts(col, new)
    edges = np.concatenate([[-np.inf], col["cuts"], [np.inf]])
    # Left-closed bins: [edges[i], edges[i+1]); +inf goes to the last bin.
    ref = np.array(
        [((new >= lo) & (new < hi)).sum() for lo, hi in itertools.pairwise(edges)]
    )
    ref[-1] += 1  # +inf
    assert counts.tolist() == ref.tolist()
    assert counts.sum() == len(new) - 100
    assert count_missing(new) == 100
    # A value equal to a cut belongs to the bin above it.
    c = col["cuts"][3]
    assert bin_counts(col, [c]).tolist() == [0, 0, 0, 0, 1] + [0] * 5


def test_bin_counts_accepts_series_lists_and_nullable():
    col = {"kind": "numeric", "cuts": [1.0, 2.0], "counts": [1, 1, 1]}
    assert bin_counts(col, pd.Series([0, 1, pd.NA, 5], dtype="Int64")).tolist() == [
        1,
        1,
        1,
    ]
    assert bin_counts(col, [None, 1.5]).tolist() == [0, 1, 0]
    with pytest.raises(InvalidInput) as exc:
        bin_counts(col, ["a"])
    assert exc.value.field == "values"
    with pytest.raises(InvalidInput) as exc:
        bin_counts({"kind": "categorical", "categories": {}}, [1.0])
    assert exc.value.field == "profile"


def test_category_counts_of_new_sample(profile):
    col = profile["columns"]["home"]
    new = pd.Series(["own"] * 5 + ["rent"] * 3 + ["castle"] * 2 + [None] * 4)
    counts, unseen = category_counts(col, new)
    expected = {"own": 5, "rent": 3}
    assert counts.tolist() == [expected.get(k, 0) for k in col["categories"]]
    assert unseen == 2
    assert count_missing(new) == 4


def test_category_keys_are_canonical_across_dtypes():
    ref = compute_profile(pd.DataFrame({"g": [1, 2, 2]}), {"g": "categorical"})
    col = ref["columns"]["g"]
    # The same values arriving as floats (because of a missing value) or bools.
    counts, unseen = category_counts(col, np.array([1.0, 2.0, np.nan, 3.0]))
    assert dict(zip(col["categories"], counts.tolist(), strict=True)) == {
        "2": 1,
        "1": 1,
    }
    assert unseen == 1
    flags = compute_profile(pd.DataFrame({"f": [True, False, True]}))["columns"]["f"]
    counts, unseen = category_counts(
        flags, pd.Series([True, None, False], dtype=object)
    )
    assert counts.tolist() == [1, 1] and unseen == 0


def test_quantile_cuts_small_cases():
    assert quantile_cuts(np.array([]), 10).tolist() == []
    assert quantile_cuts(np.array([5.0, 5.0, 5.0]), 10).tolist() == []
    assert quantile_cuts(np.arange(10.0), 1).tolist() == []
    assert quantile_cuts(np.arange(10.0), 10).tolist() == list(np.arange(1.0, 10.0))
    assert quantile_cuts(np.array([0, 0, 0, 0, 0, 1, 1, 1, 2, 2]), 10).tolist() == [
        1.0,
        2.0,
    ]


def test_categorical_cardinality_is_recorded_at_profile_time():
    n = 1000
    df = pd.DataFrame(
        {
            "home": ["own", "rent"] * (n // 2),
            # 30 one-off values among 1,000: 3 % > 1 %, so "high"
            "title": [f"t{i % 50}" for i in range(n - 30)]
            + [f"x{i}" for i in range(30)],
            "id": [f"A-{i:05d}" for i in range(n)],
            "few": ["a"] * 995 + ["b", "b", "c", "d", "e"],  # 3 one-offs: 0.3 %
        }
    )
    cols = compute_profile(df)["columns"]
    got = {c: (cols[c]["cardinality"], cols[c]["singletons"]) for c in df}
    assert got == {
        "home": ("low", 0),
        "title": ("high", 30),
        "id": ("identifier", n),
        "few": ("low", 3),
    }
    assert cols["few"]["doubletons"] == 1 and cols["few"]["distinct"] == 5
    # numeric columns are never called identifiers from their values
    assert (
        "cardinality"
        not in compute_profile(pd.DataFrame({"k": range(n)}))["columns"]["k"]
    )
