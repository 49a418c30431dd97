"""The pure checks: performance against scikit-learn and scipy, fairness and
quality by hand, thresholds, schedules, windows and monitor specs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import brier_score_loss, roc_auc_score

from mlsteward.datasets.profile import compute_profile
from mlsteward.durations import parse_schedule
from mlsteward.errors import InvalidInput
from mlsteward.monitoring.alerting import Alerting
from mlsteward.monitoring.checks import Threshold
from mlsteward.monitoring.fairness import AGE_BANDS, fairness_checks, group_values
from mlsteward.monitoring.performance import bad_rate_by_band, performance_checks
from mlsteward.monitoring.quality import quality_checks, volume_check
from mlsteward.monitoring.spec import Threshold as Levels
from mlsteward.monitoring.specs import CreateMonitor, Window
from mlsteward.monitoring.windows import plan_windows, range_label

UTC = dt.UTC


def _by(results: list, check: str, column: str = "*"):
    return next(r for r in results if r.check == check and r.column == column)


# -- performance ----------------------------------------------------------------
def test_performance_agrees_with_sklearn_and_scipy() -> None:
    rng = np.random.default_rng(0)
    s = rng.uniform(size=400).round(2)  # ties on purpose
    y = (rng.uniform(size=400) < s).astype(float)
    label = y.copy()
    label[:20] = np.nan  # 95 % labelled
    res = performance_checks(
        pd.DataFrame({"score": s, "label": label}),
        baseline_auc=0.9,
        auc_drop=Threshold(0.03, 0.05),
    )
    ys, ss = y[20:], s[20:]
    assert _by(res, "performance.labelled_share").value == pytest.approx(0.95)
    auc = roc_auc_score(ys, ss)
    assert _by(res, "performance.auc").value == pytest.approx(auc, abs=1e-12)
    assert _by(res, "performance.gini").value == pytest.approx(2 * auc - 1)
    ks = ks_2samp(ss[ys == 1], ss[ys == 0]).statistic
    assert _by(res, "performance.ks").value == pytest.approx(ks, abs=1e-12)
    assert _by(res, "performance.brier").value == pytest.approx(
        brier_score_loss(ys, ss), abs=1e-12
    )
    drop = 0.9 - auc
    expected = "alert" if drop > 0.05 else ("warn" if drop > 0.03 else "ok")
    assert _by(res, "performance.auc").status == expected
    assert _by(res, "performance.auc").details["drop"] == pytest.approx(drop)


def test_performance_waits_until_labels_mature() -> None:
    frame = pd.DataFrame({"score": [0.1, 0.9, 0.5, 0.4], "label": [0, 1, None, None]})
    res = performance_checks(frame, min_labelled_share=0.9)
    assert _by(res, "performance.labelled_share").value == 0.5
    auc = _by(res, "performance.auc")
    assert (auc.value, auc.status) == (None, "pending")
    assert "2 of 4" in auc.details["reason"]


def test_bad_rate_by_band_by_hand() -> None:
    rows = bad_rate_by_band([0, 1, 1, 0, 1], [0.1, 0.15, 0.5, 0.7, 0.9], [0.2, 0.6])
    assert [(r["n"], r["n_bad"], r["bad_rate"]) for r in rows] == [
        (2, 1, 0.5),
        (1, 1, 1.0),
        (2, 1, 0.5),
    ]
    assert rows[0]["lower"] is None and rows[-1]["upper"] is None


# -- fairness -------------------------------------------------------------------
def test_four_fifths_ratio_and_tpr_difference_by_hand() -> None:
    # Group a: 40 applicants, 30 approved; group b: 40, 20 approved.
    # Among goods (label 0): a has 20 goods, 18 approved; b 20 goods, 12 approved.
    a_dec = ["approve"] * 30 + ["deny"] * 10
    a_lab = [0] * 18 + [1] * 12 + [0] * 2 + [1] * 8
    b_dec = ["approve"] * 20 + ["deny"] * 20
    b_lab = [0] * 12 + [1] * 8 + [0] * 8 + [1] * 12
    frame = pd.DataFrame(
        {
            "input.sex": ["a"] * 40 + ["b"] * 40 + ["c"] * 5,
            "decision": a_dec + b_dec + ["deny"] * 5,
            "score": 0.3,
            "label": a_lab + b_lab + [0] * 5,
        }
    )
    res = fairness_checks(frame, ["sex"], min_group_size=20)
    ratio = _by(res, "fairness.approval_ratio", "sex")
    assert ratio.value == pytest.approx((20 / 40) / (30 / 40))  # 0.667 < 0.8
    assert ratio.status == "alert"
    assert (ratio.details["highest"], ratio.details["lowest"]) == ("a", "b")
    small = next(g for g in ratio.details["groups"] if g["group"] == "c")
    assert small["judged"] is False  # 5 < 20: listed, not judged
    tpr = _by(res, "fairness.tpr_difference", "sex")
    assert tpr.value == pytest.approx(18 / 20 - 12 / 20)  # 0.3 > 0.2
    assert tpr.status == "alert"


def test_age_bands_and_decisions_from_scores() -> None:
    ages = pd.Series([19, 25, 34, 35, 64, 65, None])
    assert group_values(ages, AGE_BANDS).tolist() == [
        "<25",
        "25-35",
        "25-35",
        "35-45",
        "55-65",
        ">=65",
        "missing",
    ]
    frame = pd.DataFrame(
        {"input.age": [20] * 30 + [40] * 30, "score": [0.6] * 15 + [0.2] * 45}
    )
    res = fairness_checks(frame, ["age"], bands={"age": [25]}, min_group_size=30)
    # No decision logged: approve when score < 0.5; <25 half approved, >=25 all.
    assert _by(res, "fairness.approval_ratio", "age").value == pytest.approx(0.5)
    assert _by(res, "fairness.tpr_difference", "age").status == "pending"  # no labels


# -- quality --------------------------------------------------------------------
def test_quality_by_hand() -> None:
    ref = compute_profile(
        pd.DataFrame({"amount": np.arange(100.0), "home": ["own"] * 60 + ["rent"] * 40})
    )["columns"]
    cur = pd.DataFrame(
        {
            "amount": [5.0, 150.0, -1.0, None, 50.0, 60.0, "oops", 7.0, 8.0, 9.0],
            "home": ["own", "rent", "castle", "castle", None, "own"] * 1 + ["own"] * 4,
            "extra": 1,
        }
    )
    res = quality_checks(ref, cur, ["amount", "home"])
    assert _by(res, "quality.missing_rate", "amount").value == pytest.approx(0.1)
    oor = _by(res, "quality.out_of_range", "amount")
    assert oor.value == pytest.approx(2 / 8)  # 150 and -1 of 8 numbers
    assert oor.status == "alert"
    unseen = _by(res, "quality.unseen_categories", "home")
    assert unseen.value == pytest.approx(2 / 9)
    assert unseen.details["examples"] == {"castle": 2}
    schema = _by(res, "quality.schema")
    assert schema.value == 1.0 and schema.status == "alert"
    assert schema.details["type_violations"]["amount"]["example"] == "oops"
    assert schema.details["columns_not_in_reference"] == ["extra"]
    absent = quality_checks(ref, cur[["home"]], ["amount", "home"])
    assert _by(absent, "quality.schema").details["absent_columns"] == ["amount"]


def test_volume_against_the_median_of_earlier_windows() -> None:
    first = volume_check(300, 30.0, [])
    assert (first.value, first.status) == (10.0, "ok")
    assert volume_check(140, 10.0, [10.0, 11.0, 9.0]).status == "warn"  # +40 %
    assert volume_check(40, 10.0, [10.0, 11.0, 9.0]).status == "alert"  # -60 %


# -- thresholds, schedules, windows, specs --------------------------------------
def test_threshold_direction_and_validation() -> None:
    assert Threshold(0.1, 0.25).status(0.1) == "ok"  # strictly past
    assert Threshold(0.9, 0.8, "below").status(0.79) == "alert"
    with pytest.raises(InvalidInput, match="warning level"):
        Levels.parse({"warn": 0.5, "alert": 0.1})


def test_cron_and_interval_schedules() -> None:
    t = dt.datetime(2025, 7, 1, 6, 0, tzinfo=UTC)  # a Tuesday
    assert parse_schedule("0 6 * * *").next_after(t) == t + dt.timedelta(days=1)
    mon = parse_schedule("30 8 * * mon").next_after(t)
    assert (mon.isoweekday(), mon.hour, mon.minute) == (1, 8, 30)
    first = parse_schedule("0 0 1 * *").next_after(t)
    assert first == dt.datetime(2025, 8, 1, tzinfo=UTC)
    assert parse_schedule("*/15 * * * *").next_after(t).minute == 15
    assert parse_schedule("6h").interval == 21600
    with pytest.raises(InvalidInput, match="cron"):
        parse_schedule("61 * * * *")
    with pytest.raises(InvalidInput, match="five-field"):
        parse_schedule("every day")


def test_windows_split_into_calendar_months() -> None:
    spec = Window.model_validate("period:month").canonical()
    wins = plan_windows(
        spec,
        dt.datetime(2026, 1, 1, tzinfo=UTC),
        ("2025-07-01T00:00:00Z", "2025-10-01T00:00:00Z"),
    )
    assert [w.label for w in wins] == ["2025-07", "2025-08", "2025-09"]
    assert wins[1].end == dt.datetime(2025, 9, 1, tzinfo=UTC)
    at = dt.datetime(2025, 8, 1, tzinfo=UTC)
    assert [w.label for w in plan_windows({**spec, "lookback": 0}, at)] == ["2025-07"]
    a = dt.datetime(2025, 7, 3, tzinfo=UTC)
    assert (
        range_label(a, a + dt.timedelta(days=2)) == "2025-07-03T00:00..2025-07-05T00:00"
    )
    with pytest.raises(InvalidInput, match="no time zone"):
        plan_windows(spec, at, (dt.datetime(2025, 7, 1), dt.datetime(2025, 8, 1)))


def _create(**fields: Any) -> CreateMonitor:
    return CreateMonitor.parse(name="m", deployment="d", **fields)


def test_specs_name_the_bad_field() -> None:
    with pytest.raises(InvalidInput) as bad:
        _create(checks={"fairness": {"min_group": 3}})
    assert bad.value.field == "checks.fairness.min_group"
    assert "min_group_size" in bad.value.details["allowed"]
    with pytest.raises(InvalidInput) as bad:
        _create(checks=["drift", "telepathy"])
    assert "drift" in bad.value.details["allowed"]
    with pytest.raises(InvalidInput) as bad:
        _create(checks={"fairness": {"approval_ratio": {"warn": 0.7, "alert": 0.8}}})
    assert bad.value.field == "checks.fairness.approval_ratio"
    assert bad.value.message.startswith("checks.fairness.approval_ratio: the warn")
    with pytest.raises(InvalidInput) as bad:
        _create(window="last:zero")
    assert bad.value.field == "window.n"
    with pytest.raises(InvalidInput) as bad:
        Alerting.parse({"sinks": ["pager"]})
    assert bad.value.details["allowed"] == ["log", "retrain", "webhook"]
    assert bad.value.field == "alerting.sinks.0.type"
    hook = Alerting.parse(sinks=["webhook:https://chat.example/hook/s3cret"])
    stored = hook.stored(default_cooldown=0)
    assert stored["sinks"][0]["id"] == "webhook:chat.example"  # no secret in the id
