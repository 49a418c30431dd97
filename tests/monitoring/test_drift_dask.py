"""The Dask engine on a real LocalCluster (two worker processes) equals the
in-process engine."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlsteward.datasets.profile import compute_profile
from mlsteward.monitoring.drift.compute import (
    KIND_METHODS,
    compute_drift,
    exact_reference,
)

pytestmark = pytest.mark.dask


def _data(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1, n)
    x[::53] = np.nan
    y = rng.lognormal(0, 1, n)
    k = rng.integers(0, 30, n).astype(float)
    cats = np.array(["own", "rent", "free", "other"])
    c = cats[rng.choice(4, n, p=[0.5, 0.3, 0.15, 0.05])].astype(object)
    if shift:
        c[::7] = "unknown"  # unseen in the reference
    c[::101] = None
    return pd.DataFrame({"x": x, "y": y, "k": k, "c": c})


@pytest.mark.parametrize("mode", ["sketch", "exact"])
def test_dask_engine_equals_local(dask_client: Any, mode: str) -> None:
    import dask.dataframe as dd

    ref = _data(40_000, 1)
    cur = _data(30_001, 2, shift=0.3)
    profile = compute_profile(ref)
    methods: dict[str, Any] = {c: list(KIND_METHODS["numeric"]) for c in "xyk"}
    methods["c"] = list(KIND_METHODS["categorical"])
    sample = exact_reference(ref) if mode == "exact" else None
    local = compute_drift(profile, cur, methods=methods, reference_sample=sample)
    ddf = dd.from_pandas(cur, npartitions=7)
    dist = compute_drift(
        profile, ddf, methods=methods, reference_sample=sample, engine="dask"
    )
    # the work ran on the cluster's two worker processes
    assert len(dask_client.scheduler_info()["workers"]) == 2
    assert dist.n_current == len(cur)
    _same(local, dist, mode)
    # A 60-row window: sparse cells pooled, Monte-Carlo p-values, same seed.
    small = cur.iloc[:60]
    local = compute_drift(profile, small, methods=methods, reference_sample=sample)
    dist = compute_drift(
        profile,
        dd.from_pandas(small, npartitions=3),
        methods=methods,
        reference_sample=sample,
        engine="dask",
    )
    assert "monte_carlo" in {r.p_method for r in local.rows}
    _same(local, dist, mode)


def _same(local: Any, dist: Any, mode: str) -> None:
    assert dist.n_current == local.n_current
    assert dist.methods == local.methods and dist.verdict == local.verdict
    assert len(dist.rows) == len(local.rows)
    for a, b in zip(local.rows, dist.rows, strict=True):
        assert (a.column, a.method, a.status) == (b.column, b.method, b.status)
        assert (a.p_method, a.note) == (b.p_method, b.note)
        assert a.unseen_current == b.unseen_current
        assert a.missing_current == b.missing_current
        if a.method == "wasserstein" and mode == "sketch":
            # per-gap sums of floats, added in another order
            assert b.statistic == pytest.approx(a.statistic, rel=1e-9)
        else:
            assert a.statistic == b.statistic, (a, b)
            assert a.p_value == b.p_value, (a, b)


def test_dask_engine_takes_a_pandas_frame(dask_client: Any) -> None:
    ref = _data(5000, 3)
    cur = _data(4000, 4, shift=1.0)
    profile = compute_profile(ref)
    local = compute_drift(profile, cur)
    dist = compute_drift(profile, cur, engine="dask")
    assert dist.drifted == local.drifted == ["x", "c"]
    assert [r.statistic for r in dist.rows] == [r.statistic for r in local.rows]
