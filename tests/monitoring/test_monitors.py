"""Monitors end to end on the real store (SQLite and PostgreSQL): creation
fixes the methods, runs store results that agree with the statistics computed
directly on the same rows, labels mature, the reference follows the champion,
schedules claim each due run once."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from mlsteward.errors import Conflict, InvalidInput, NotFound
from mlsteward.monitoring.cbpe import CANNOT_SEE, estimate_auc
from mlsteward.monitoring.drift.compute import compute_drift, default_methods
from mlsteward.monitoring.drift.stats import column_psi

from .conftest import FEATURES

UTC = dt.UTC


def test_create_fixes_methods_and_writes_the_audit_trail(world) -> None:
    c = world.client
    m = c.create_monitor("cr", deployment="credit-risk")
    assert m.model == "credit-risk" and m.reference == "champion"
    assert m.state["reference_at_creation"] == world.dataset.ref
    assert m.checks["drift"]["methods"] == default_methods(
        world.dataset.profile, FEATURES
    )
    assert m.checks["fairness"]["protected"] == [
        "personal_status_and_sex",
        "age_in_years",
        "foreign_worker",
    ]
    assert m.checks["fairness"]["bands"] == {"age_in_years": [25, 35, 45, 55, 65]}
    assert [x.name for x in c.list_monitors()] == ["cr"]
    with pytest.raises(Conflict):
        c.create_monitor("cr", deployment="credit-risk")
    with pytest.raises(InvalidInput) as bad:
        c.create_monitor(
            "cr2", deployment="credit-risk", methods={"purpose": "ks"}
        )  # KS needs ordered values; purpose is categorical
    assert bad.value.field == "methods"
    actions = [e.action for e in c.audit_log(object_id="cr")]
    assert actions == ["monitor.created"]
    c.delete_monitor("cr")
    with pytest.raises(NotFound):
        c.get_monitor("cr")
    assert [e.action for e in c.audit_log(object_id="cr")][-1] == "monitor.deleted"


def test_monthly_runs_agree_with_the_statistics_on_the_same_rows(world) -> None:
    c, periods = world.client, world.history.periods
    c.create_monitor("cr", deployment="credit-risk", alerting={"sinks": ["log"]})
    for period in periods[:2]:
        world.score(period)
        run = c.run_monitor("cr", window=(period.start, period.end), at=period.end)
        assert [w.label for w in run.windows] == [period.label]
        frame = period.frame.reset_index(drop=True)
        logged = c.labelled_window(
            deployment="credit-risk", since=period.start, until=period.end
        )
        direct = compute_drift(
            world.dataset.profile,
            frame[FEATURES],
            methods=default_methods(world.dataset.profile, FEATURES),
        )
        for row in direct.rows:
            stored = run.get(f"drift.{row.method}", row.column)
            assert stored is not None
            assert stored["value"] == pytest.approx(row.statistic, rel=1e-9)
        assert run.value("drift.psi", "credit_amount") == pytest.approx(
            column_psi(
                world.dataset.profile["columns"]["credit_amount"],
                frame["credit_amount"],
            )
        )
        y, s = logged["label"].to_numpy(), logged["score"].to_numpy()
        assert run.value("performance.labelled_share") == 1.0
        assert run.value("performance.auc") == pytest.approx(roc_auc_score(y, s))
        assert run.value("estimated.auc") == pytest.approx(estimate_auc(s))
        est = run.get("estimated.auc")
        assert est["details"]["realised_auc"] == pytest.approx(roc_auc_score(y, s))
        assert est["details"]["cannot_see"] == CANNOT_SEE
        approved = logged["decision"] == "approve"
        rates = approved.groupby(logged["input.personal_status_and_sex"]).agg(
            ["mean", "size"]
        )
        judged = rates[rates["size"] >= 30]["mean"]
        assert run.value(
            "fairness.approval_ratio", "personal_status_and_sex"
        ) == pytest.approx(judged.min() / judged.max())
        for alert in run.alerts:
            row = run.get(alert.check, alert.column)
            assert row is not None and row["status"] in ("warn", "alert")
    series = c.monitor_results("cr", check="performance.auc")
    assert series["window_label"].tolist() == [p.label for p in periods[:2]]
    drift_only = c.monitor_results("cr", check="drift", window=periods[1].label)
    assert set(drift_only["check"]) == {"drift", "drift.psi", "drift.ks", "drift.chi2"}
    later = c.monitor_results("cr", since=periods[1].start)
    assert set(later["window_label"]) == {periods[1].label}
    assert c.get_monitor("cr").last_run_at is not None


def test_performance_waits_for_labels_then_sits_beside_the_estimate(
    sqlite_world,
) -> None:
    c, period = sqlite_world.client, sqlite_world.history.periods[0]
    c.create_monitor(
        "cr", deployment="credit-risk", checks=["performance", "estimated"]
    )
    ids = sqlite_world.score(period, outcomes=False)
    first = c.run_monitor("cr", window=(period.start, period.end))
    assert first.value("performance.labelled_share") == 0.0
    assert first.get("performance.auc")["status"] == "pending"
    assert first.get("estimated.auc")["details"]["realised_auc"] is None
    labels = period.frame["bad"].to_numpy()
    c.load_outcomes(pd.DataFrame({"request_id": ids, "label": labels}))
    second = c.run_monitor("cr", window=(period.start, period.end))
    realised = second.value("performance.auc")
    assert realised is not None
    assert second.get("estimated.auc")["details"]["realised_auc"] == realised
    latest = c.monitor_results("cr", check="performance.auc")
    assert latest["value"].tolist() == [realised]
    every = c.monitor_results("cr", check="performance.auc", latest=False)
    assert len(every) == 2 and every["status"].tolist()[0] == "pending"


def test_reference_follows_the_champion(sqlite_world, history) -> None:
    from mlsteward.retraining.trainers import logistic_scorecard

    from .conftest import ROLES

    c, periods = sqlite_world.client, history.periods
    c.create_monitor("cr", deployment="credit-risk", checks=["drift"])
    sqlite_world.score(periods[0])
    retrain = pd.concat([history.train, periods[0].frame], ignore_index=True)
    dv2 = c.register_dataset(
        "gc-retrain", retrain, roles={**ROLES, "applied_at": "timestamp"}
    )
    run = c.start_run("challenger", inputs=[dv2.ref])
    model = logistic_scorecard(retrain, features=FEATURES, target="bad")
    mv2 = c.register_model("credit-risk", model, retrain[FEATURES], run_id=run.id)
    c.end_run(run.id)
    c.set_alias("credit-risk", "champion", mv2.version)
    sqlite_world.score(periods[1])
    run = c.run_monitor("cr", window=(periods[0].start, periods[1].end))
    refs = {
        r["window_label"]: r["details"]["reference"]
        for r in run.results
        if r["check"] == "drift"
    }
    assert refs[periods[0].label] == {"dataset": "gc-train/1", "model": "credit-risk/1"}
    assert refs[periods[1].label] == {"dataset": dv2.ref, "model": mv2.ref}


def test_last_n_and_rolling_windows(sqlite_world) -> None:
    c, period = sqlite_world.client, sqlite_world.history.periods[0]
    sqlite_world.score(period)
    c.create_monitor(
        "last", deployment="credit-risk", window="last:50", checks=["quality"]
    )
    run = c.run_monitor("last", at=period.end)
    assert run.windows[0].label == "last 50"
    assert run.get("quality.volume")["details"]["n"] == 50
    c.create_monitor(
        "week", deployment="credit-risk", window="range:7d", checks=["quality"]
    )
    run = c.run_monitor("week", at=period.start + dt.timedelta(days=7))
    expected = int(
        (
            pd.to_datetime(period.frame["applied_at"], utc=True)
            < period.start + dt.timedelta(days=7)
        ).sum()
    )
    assert run.get("quality.volume")["details"]["n"] == expected


def test_run_due_claims_each_due_run_once(sqlite_world) -> None:
    c = sqlite_world.client
    sqlite_world.score(sqlite_world.history.periods[0])
    m = c.create_monitor(
        "hourly", deployment="credit-risk", schedule="1h", checks=["quality"]
    )
    c.create_monitor(
        "daily",
        deployment="credit-risk",
        schedule="0 6 * * *",
        checks=["quality"],
    )
    now = m.created_at + dt.timedelta(seconds=1)
    assert [r.monitor for r in c.run_due_monitors(now=now)] == ["hourly"]
    assert c.run_due_monitors(now=now) == []
    later = now + dt.timedelta(days=1, hours=1)
    assert sorted(r.monitor for r in c.run_due_monitors(now=later)) == [
        "daily",
        "hourly",
    ]


def test_cbpe_through_a_monitor_lands_within_0_03(sqlite_client) -> None:
    """A calibrated model, a held-out month whose inputs shifted (covariate
    shift only): the stored estimate is within 0.03 of the realised AUC."""
    rng = np.random.default_rng(11)
    coef = np.array([1.2, -0.8, 0.5])

    def population(n: int, shift: float) -> pd.DataFrame:
        x = rng.normal(size=(n, 3))
        x[:, 0] += shift
        x[:, 1] = x[:, 1] * (1 + 0.3 * shift) - 0.5 * shift
        p = 1 / (1 + np.exp(-(-1.0 + x @ coef)))
        frame = pd.DataFrame(x, columns=["x1", "x2", "x3"])
        frame["bad"] = (rng.uniform(size=n) < p).astype(int)
        return frame

    c = sqlite_client
    train = population(10_000, 0.0)
    dv = c.register_dataset("synthetic", train, roles={"bad": "target"})
    run = c.start_run("fit", inputs=[dv.ref])
    model = LogisticRegression().fit(train[["x1", "x2", "x3"]], train["bad"])
    mv = c.register_model("synth", model, train[["x1", "x2", "x3"]], run_id=run.id)
    c.end_run(run.id)
    c.set_alias("synth", "champion", mv.version)
    month = population(3_000, 1.0)
    start = dt.datetime(2025, 7, 1, tzinfo=UTC)
    ids = [f"s-{i}" for i in range(len(month))]
    times = [start + dt.timedelta(minutes=i) for i in range(len(month))]
    c.score(
        "synth@champion", month, deployment="synth", request_ids=ids, timestamps=times
    )
    c.load_outcomes(pd.DataFrame({"request_id": ids, "label": month["bad"]}))
    c.create_monitor("synth", deployment="synth", checks=["performance", "estimated"])
    result = c.run_monitor("synth", window=(start, dt.datetime(2025, 8, 1, tzinfo=UTC)))
    realised, estimated = result.value("performance.auc"), result.value("estimated.auc")
    assert realised == pytest.approx(
        roc_auc_score(
            month["bad"], model.predict_proba(month[["x1", "x2", "x3"]])[:, 1]
        )
    )
    assert abs(estimated - realised) < 0.03
    details = result.get("estimated.auc")["details"]
    assert abs(details["reference_overconfidence"]) < 0.02  # calibrated model
    # Isotonic calibration on labelled data the model never saw keeps it close.
    cal = c.register_dataset(
        "synthetic-cal", population(5_000, 0.0), roles={"bad": "target"}
    )
    c.create_monitor(
        "synth-cal",
        deployment="synth",
        checks={
            "estimated": {"calibration": "isotonic", "calibration_dataset": cal.ref}
        },
    )
    calibrated = c.run_monitor(
        "synth-cal", window=(start, dt.datetime(2025, 8, 1, tzinfo=UTC))
    ).get("estimated.auc")
    assert calibrated["details"]["calibrated"] is True
    assert abs(calibrated["value"] - realised) < 0.03


def test_concept_shift_is_flagged_once_labels_mature(sqlite_client) -> None:
    """The estimate cannot see concept shift; the check beside it does, as
    soon as the month's outcomes arrive: July's inputs shift (the model still
    holds), August's outcomes follow another relation (it does not)."""
    rng = np.random.default_rng(12)

    def population(n: int, shift: float, coef: list[float]) -> pd.DataFrame:
        x = rng.normal(size=(n, 3))
        x[:, 0] += shift
        p = 1 / (1 + np.exp(-(-1.0 + x @ np.array(coef))))
        frame = pd.DataFrame(x, columns=["x1", "x2", "x3"])
        frame["bad"] = (rng.uniform(size=n) < p).astype(int)
        return frame

    c = sqlite_client
    train = population(10_000, 0.0, [1.2, -0.8, 0.5])
    dv = c.register_dataset("synthetic", train, roles={"bad": "target"})
    run = c.start_run("fit", inputs=[dv.ref])
    model = LogisticRegression().fit(train[["x1", "x2", "x3"]], train["bad"])
    mv = c.register_model("synth", model, train[["x1", "x2", "x3"]], run_id=run.id)
    c.end_run(run.id)
    c.set_alias("synth", "champion", mv.version)
    months = {
        7: population(1_000, 1.0, [1.2, -0.8, 0.5]),  # covariate shift only
        8: population(1_000, 0.0, [0.2, -0.1, 1.5]),  # concept shift
    }
    c.create_monitor("synth", deployment="synth", checks=["performance", "estimated"])
    status = {}
    for month, frame in months.items():
        start = dt.datetime(2025, month, 1, tzinfo=UTC)
        window = (start, dt.datetime(2025, month + 1, 1, tzinfo=UTC))
        ids = [f"m{month}-{i}" for i in range(len(frame))]
        times = [start + dt.timedelta(minutes=i) for i in range(len(frame))]
        c.score(
            "synth@champion",
            frame,
            deployment="synth",
            request_ids=ids,
            timestamps=times,
        )
        before = c.run_monitor("synth", window=window).get("estimated.concept_shift")
        assert before["status"] == "pending"  # no outcomes yet: nothing to say
        c.load_outcomes(pd.DataFrame({"request_id": ids, "label": frame["bad"]}))
        after = c.run_monitor("synth", window=window)
        shift = after.get("estimated.concept_shift")
        est = after.get("estimated.auc")["details"]
        assert est["band_low"] < est["estimated_auc"] < est["band_high"]
        assert 0.005 < est["sampling_error"] < 0.03  # 1,000 rows
        assert shift["details"]["realised_auc"] == pytest.approx(
            after.value("performance.auc")
        )
        status[month] = shift["status"]
    assert status == {7: "ok", 8: "alert"}
    alerts = {a.check for a in c.list_alerts(monitor="synth")}
    assert "estimated.concept_shift" in alerts


def test_monitors_take_weeks_and_cron_and_name_a_bad_schedule(sqlite_world) -> None:
    c = sqlite_world.client
    weekly = c.create_monitor(
        "weekly",
        deployment="credit-risk",
        schedule="1w",
        window="range:1w",
        checks=["quality"],
    )
    assert weekly.window == {"type": "range", "seconds": 604800}
    now = weekly.created_at + dt.timedelta(seconds=1)  # intervals run at once
    assert [r.monitor for r in c.run_due_monitors(now=now)] == ["weekly"]
    assert c.run_due_monitors(now=now + dt.timedelta(days=6)) == []
    later = [r.monitor for r in c.run_due_monitors(now=now + dt.timedelta(weeks=1))]
    assert later == ["weekly"]
    mondays = c.create_monitor(
        "mondays", deployment="credit-risk", schedule="0 6 * * mon", checks=["quality"]
    )
    assert mondays.next_run_at is not None
    assert (mondays.next_run_at.isoweekday(), mondays.next_run_at.hour) == (1, 6)
    with pytest.raises(InvalidInput, match="'1w'") as info:
        c.create_monitor("bad", deployment="credit-risk", schedule="1x")
    assert info.value.field == "schedule"
    with pytest.raises(InvalidInput, match="cron") as info:
        c.create_monitor("bad", deployment="credit-risk", schedule="0 25 * * *")
    assert info.value.field == "schedule"
    with pytest.raises(InvalidInput) as info:
        c.create_monitor("bad", deployment="credit-risk", window="range:1y")
    assert info.value.field == "window.seconds"


#: A monitor row as the hand validators of earlier releases stored it: every
#: default written out, numbers as given, a threshold with its direction, a
#: sink with its id. Such rows are in users' databases and must keep running.
OLD_CHECKS = {
    "drift": {
        "columns": FEATURES,
        "methods": {},  # filled in below, as creation fixed them
        "score": True,
        "score_methods": ["psi", "ks"],
        "thresholds": {"psi": [0.1, 0.2]},
        "alpha": 0.05,
    },
    "performance": {
        "min_labelled_share": 1,
        "baseline_auc": None,
        "baseline_metric": "cv_auc",
        "auc_drop": {"warn": 0.03, "alert": 0.1},
        "calibration": None,
    },
    "fairness": {
        "protected": ["personal_status_and_sex", "age_in_years", "foreign_worker"],
        "bands": {"age_in_years": [25, 35, 45, 55, 65]},
        "min_group_size": 30,
        "approval_ratio": {"warn": 0.9, "alert": 0.8, "direction": "below"},
        "tpr_difference": {"warn": 0.1, "alert": 0.2},
        "threshold": 0.5,
    },
}
OLD_ALERTING = {
    "sinks": [{"type": "log", "min_severity": "warning", "id": "log"}],
    "cooldown_seconds": 86400,
}


def test_a_monitor_stored_in_the_old_shape_loads_and_runs_alike(sqlite_world) -> None:
    from mlsteward.monitoring.tables import monitors as mt

    c, period = sqlite_world.client, sqlite_world.history.periods[0]
    options = {
        "drift": {"thresholds": {"psi": [0.1, 0.2]}},
        "performance": {"min_labelled_share": 1, "auc_drop": {"alert": 0.1}},
        "fairness": {"approval_ratio": {"warn": 0.9, "alert": 0.8}},
    }
    new = c.create_monitor("new", deployment="credit-risk", checks=options)
    old = c.create_monitor("old", deployment="credit-risk", checks=["drift"])
    stored = {
        **OLD_CHECKS,
        "drift": {**OLD_CHECKS["drift"], "methods": new.checks["drift"]["methods"]},
    }
    with c.ctx.store.unit_of_work() as session:
        session.execute(
            mt.update()
            .where(mt.c.name == "old")
            .values(checks=stored, alerting=OLD_ALERTING)
        )
    loaded = c.get_monitor("old")
    assert loaded.checks == stored and loaded.alerting == OLD_ALERTING
    assert new.checks["performance"]["auc_drop"] == {"warn": 0.03, "alert": 0.1}
    assert new.alerting == OLD_ALERTING  # the same shape is still written
    sqlite_world.score(period)
    runs = [
        c.run_monitor(m.name, window=(period.start, period.end)) for m in (old, new)
    ]

    def figures(run):  # type: ignore[no-untyped-def]
        return sorted(
            (r["check"], r["column"], r["value"], r["status"]) for r in run.results
        )

    assert figures(runs[0]) == figures(runs[1])
    assert runs[0].get("drift.psi", "credit_amount")["details"]["threshold"] == 0.2


def test_a_reports_results_and_alerts_use_one_clock(sqlite_world) -> None:
    """A back-filled run's alerts carry the data's time; the report's
    results and alerts are both chosen by when the run was computed."""
    from mlsteward.monitoring.alerts import AlertService
    from mlsteward.monitoring.monitors import MonitorService

    c, period = sqlite_world.client, sqlite_world.history.periods[-1]
    c.create_monitor("cr", deployment="credit-risk", alerting={"sinks": ["log"]})
    sqlite_world.score(period)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    c.run_monitor("cr", window=(period.start, period.end), at=period.end)
    ids = [c.get_monitor("cr").id]
    results = MonitorService(c.ctx).recent_results(ids, since=before, limit=1000)
    alerted = {(r["check"], r["column"]) for r in results if r["status"] == "alert"}
    alerts = AlertService(c.ctx).of_monitors(ids, since=before)
    assert alerted, "the last simulated month should breach something"
    assert all(a.last_seen < before for a in alerts)  # the data's time
    assert {(a.check, a.column) for a in alerts if a.severity == "critical"} == alerted
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    assert AlertService(c.ctx).of_monitors(ids, since=later) == []
