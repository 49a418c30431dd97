"""CBPE on the bundled credit data under covariate shift: which calibration helps?

For each seed the German credit rows are split at random, stratified by
outcome, into a training set (500 rows: the scorecard is fitted on it and it
is the monitor's reference), a labelled calibration set (200 rows, as
``checks.estimated.calibration_dataset``) and a pool (300 rows). Windows of
250 rows are drawn with replacement from the pool with the covariate-shift
weights of :mod:`mlsteward.datasets.simulate` (younger applicants, longer
loans, more new-car loans, at strengths 0.5 and 1) and keep their real
outcomes, so ``P(bad | inputs)`` is unchanged: only who applies moves, the
case CBPE is built for. For every window the realised AUC is compared with
CBPE's estimate from raw scores and from each calibration map, fitted on
the reference (training rows, in sample) or on the held-out calibration set.

Recorded: mean absolute error and mean signed error (bias) of each option,
the mean bootstrap sampling error of the estimate, and how often the
realised AUC falls inside the estimate's 95 % band. Run::

    .venv/bin/python bench/cbpe_calibration.py            # 40 seeds
    .venv/bin/python bench/cbpe_calibration.py --seeds 10 # quicker
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from mlsteward.datasets.bundled import (
    GERMAN_CREDIT_FEATURES,
    GERMAN_CREDIT_TARGET,
    load_german_credit,
)
from mlsteward.datasets.simulate import (
    AGE_TILT,
    DURATION_TILT,
    GROWING_PURPOSE,
    PURPOSE_BOOST,
)
from mlsteward.metrics import auc
from mlsteward.monitoring.cbpe import estimate_performance, fit_calibration
from mlsteward.retraining.trainers import logistic_scorecard

METHODS = ("isotonic", "isotonic_cv", "platt")


def _weights(frame: pd.DataFrame, data: pd.DataFrame, s: float) -> np.ndarray:
    def z(col: str) -> np.ndarray:
        x = data[col].to_numpy(dtype=np.float64)
        return (frame[col].to_numpy(dtype=np.float64) - x.mean()) / x.std()

    w = np.exp(
        s * (-AGE_TILT * z("age_in_years") + DURATION_TILT * z("duration_in_month"))
    )
    return w * (
        1 + PURPOSE_BOOST * s * (frame["purpose"] == GROWING_PURPOSE).to_numpy()
    )


def _split(data: pd.DataFrame, rng: np.random.Generator) -> list[pd.DataFrame]:
    parts: list[list[int]] = [[], [], []]
    for _, idx in data.groupby(GERMAN_CREDIT_TARGET).groups.items():
        order = rng.permutation(np.asarray(idx))
        a, b = int(len(order) * 0.5), int(len(order) * 0.7)
        for part, chunk in zip(parts, (order[:a], order[a:b], order[b:]), strict=True):
            part.extend(chunk.tolist())
    return [data.loc[sorted(p)].reset_index(drop=True) for p in parts]


def run(seeds: int) -> pd.DataFrame:
    data = load_german_credit()
    y_name, features = GERMAN_CREDIT_TARGET, list(GERMAN_CREDIT_FEATURES)
    rows = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        train, cal, pool = _split(data, rng)
        model = logistic_scorecard(train, features=features, target=y_name)

        def score(f: pd.DataFrame, model: object = model) -> np.ndarray:
            return model.predict_proba(f[features])[:, 1]  # type: ignore[attr-defined]

        maps: dict[str, object] = {"raw": None}
        for source, frame in (("reference", train), ("held-out", cal)):
            for method in METHODS:
                maps[f"{method} on {source}"] = fit_calibration(
                    score(frame), frame[y_name], method, seed=seed
                )
        for strength in (0.5, 1.0):
            w = _weights(pool, data, strength)
            for _ in range(5):
                window = pool.iloc[rng.choice(len(pool), 250, p=w / w.sum())]
                s, y = score(window), window[y_name].to_numpy()
                realised = auc(y, s)
                for name, cal_map in maps.items():
                    est = estimate_performance(s, cal_map, seed=seed)
                    lo, hi = est.band
                    rows.append(
                        {
                            "option": name,
                            "error": est.auc - realised,
                            "sampling_error": est.sampling_error,
                            "inside": lo is not None and lo <= realised <= hi,
                            "exact_0_1": float(
                                np.mean(np.isin(cal_map.apply(s), (0.0, 1.0)))
                            )
                            if cal_map
                            else 0.0,
                        }
                    )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    args = parser.parse_args()
    out = run(args.seeds)
    table = out.groupby("option", sort=False).agg(
        mean_abs_error=("error", lambda e: float(np.abs(e).mean())),
        bias=("error", "mean"),
        sampling_error=("sampling_error", "mean"),
        inside_95_band=("inside", "mean"),
        rows_at_0_or_1=("exact_0_1", "mean"),
        windows=("error", "size"),
    )
    cols = list(table.columns)
    print("| option | " + " | ".join(cols) + " |")
    print("| --- " * (len(cols) + 1) + "|")
    for name, row in table.iterrows():
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
