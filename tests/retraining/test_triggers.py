"""Alerts start one retraining per cool-down, through the job queue."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.retraining.conftest import champion_with_history

from mlsteward.jobs.service import JobService
from mlsteward.jobs.worker import Worker
from mlsteward.monitoring.alerts import retraining_triggers
from mlsteward.retraining.policy import as_policy
from mlsteward.retraining.service import RetrainingService
from mlsteward.retraining.triggers import check_kind, enqueue_due, on_alert


@pytest.fixture
def bank(sqlite_client):  # type: ignore[no-untyped-def]
    c = sqlite_client
    history = champion_with_history(c, n_periods=3)
    c.create_monitor(
        "credit-risk",
        deployment="credit-risk",
        model="credit-risk",
        window="period:month",
        alerting={"sinks": ["retrain"]},
        reference="german-credit-train/1",
    )
    RetrainingService(c.ctx).set_policy(
        as_policy(
            {
                "model": "credit-risk",
                "triggers": {
                    "monitors": ["credit-risk"],
                    "checks": ["drift"],
                    "cooldown": "14d",
                    "min_new_labels": 100,
                },
                "data": {"reference": "german-credit-train", "window": "3650d"},
                "gates": {
                    "auc_max_drop": 1.0,
                    "four_fifths_min": None,
                    "score_psi_max": None,
                },
                "promotion": {"mode": "auto"},
            }
        )
    )
    return c, history


def test_the_policy_trigger_is_installed() -> None:
    assert on_alert in retraining_triggers()
    assert check_kind("drift.psi") == "drift"
    assert check_kind("estimated.auc") == "estimated"


def test_drift_alerts_queue_one_retraining_and_the_worker_runs_it(bank) -> None:
    client, history = bank
    last = history.periods[-1]
    run = client.run_monitor("credit-risk", window=(last.start, last.end), at=last.end)
    drift_alerts = [a for a in run.alerts if check_kind(a.check) == "drift"]
    assert drift_alerts, "the simulated shift should raise drift alerts"
    jobs = JobService(client.ctx).list(kind="retrain")
    assert len(jobs) == 1  # many alerts, one retraining
    assert jobs[0].payload["trigger"]["kind"] == "alert"
    # More alerts inside the cool-down queue nothing more.
    for alert in run.alerts:
        on_alert(alert, client.ctx)
    assert len(JobService(client.ctx).list(kind="retrain")) == 1
    done = Worker(client.ctx, "w1").run_once()
    assert done is not None and done.state == "succeeded", done
    assert done.result["decision"] == "promoted"
    assert client.get_model_version("credit-risk@champion").version == 2


def test_schedule_queues_when_due(bank) -> None:
    client, _ = bank
    svc = RetrainingService(client.ctx)
    policy = svc.get_policy("credit-risk").to_dict()
    policy["triggers"]["schedule"] = "30d"
    policy["triggers"]["min_new_labels"] = 0
    svc.set_policy(as_policy(policy))
    queued = enqueue_due(client.ctx)
    assert len(queued) == 1 and queued[0].payload["trigger"]["kind"] == "schedule"
    assert enqueue_due(client.ctx) == []  # not due again yet
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    assert len(enqueue_due(client.ctx, now=later)) == 1


def test_canary_mode_routes_traffic_and_rolls_back_on_a_live_breach(bank) -> None:
    from types import SimpleNamespace

    from mlsteward.retraining.approvals import ApprovalService

    client, _ = bank
    client.create_deployment("credit-risk", "credit-risk@champion")
    svc = RetrainingService(client.ctx)
    policy = svc.get_policy("credit-risk").to_dict()
    policy["promotion"] = {"mode": "canary", "canary_share": 0.25}
    svc.set_policy(as_policy(policy))
    r = svc.retrain("credit-risk")
    assert r.decision == "awaiting_approval"
    challenger = int(r.challenger.split("/")[1])
    dep = client.get_deployment("credit-risk")
    assert (dep.canary_version, dep.canary_share) == (challenger, 0.25)

    client.create_monitor(
        "canary-watch",
        deployment="credit-risk",
        model="credit-risk",
        window="last:250",
        routes=["canary"],
        reference="german-credit-train/1",
        alerting={"sinks": [{"type": "retrain", "min_severity": "warning"}]},
    )
    alert = SimpleNamespace(
        id="a-1",
        monitor="canary-watch",
        check="drift.psi",
        column="credit_amount",
        severity="critical",
    )
    on_alert(alert, client.ctx)
    dep = client.get_deployment("credit-risk")
    assert dep.canary_version is None and dep.champion_version == 1
    assert client.get_model_version(r.challenger).state == "rejected"
    request = ApprovalService(client.ctx).get(r.approval_id)
    assert request.status == "stale" and "canary breached" in request.comment
    # A breach closes the canary; it does not also queue a retraining.
    assert JobService(client.ctx).list(kind="retrain") == []


def test_the_worker_scheduler_queues_due_monitors_once(bank) -> None:
    from mlsteward.jobs.schedule import tick

    client, _ = bank
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    queued = tick(client.ctx, now=later)
    runs = [j for j in queued if j.kind == "monitor_run"]
    assert [j.payload["monitor"] for j in runs] == ["credit-risk"]
    assert [j for j in tick(client.ctx, now=later) if j.kind == "monitor_run"] == []
    done = Worker(client.ctx, "w1", kinds=["monitor_run"]).run_once()
    assert done is not None and done.state == "succeeded", done
    results = client.monitor_results("credit-risk")
    assert len(results) > 0


def test_a_policy_file_keeps_its_monitors(bank, tmp_path) -> None:
    from mlsteward.errors import InvalidInput

    client, _ = bank
    path = tmp_path / "policy.toml"
    path.write_text(
        'model = "credit-risk"\n[data]\nreference = "german-credit-train"\n'
        '[[monitors]]\nname = "credit-risk-monthly"\nwindow = "period:month"\n'
        'reference = "german-credit-train/1"\n'
        'alerting = { sinks = ["log", "retrain"] }\n'
    )
    svc = RetrainingService(client.ctx)
    svc.set_policy(as_policy(path))
    monitor = {m.name: m for m in client.list_monitors()}["credit-risk-monthly"]
    assert monitor.deployment == "credit-risk" and monitor.model == "credit-risk"
    svc.set_policy(as_policy(path))  # setting it again replaces, not duplicates
    assert [m.name for m in client.list_monitors()].count("credit-risk-monthly") == 1
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'model = "credit-risk"\n[data]\nreference = "german-credit-train"\n'
        '[[monitors]]\nname = "m"\nwindw = "period:month"\n'
    )
    with pytest.raises(InvalidInput) as info:
        svc.set_policy(as_policy(bad))
    assert info.value.field == "monitors.0.windw"


def test_a_cron_schedule_falls_due_at_its_next_time_after_the_last(bank) -> None:
    from sqlalchemy import update

    from mlsteward.durations import next_due
    from mlsteward.retraining.tables import policies

    client, _ = bank
    svc = RetrainingService(client.ctx)
    policy = svc.get_policy("credit-risk").to_dict()
    policy["triggers"].update(schedule="0 6 * * mon", cooldown="0s", min_new_labels=0)
    svc.set_policy(as_policy(policy))
    saved = dt.datetime(2025, 7, 1, 7, 0, tzinfo=dt.UTC)  # a Tuesday
    with client.ctx.store.unit_of_work() as session:  # saved at a known time
        session.execute(update(policies).values(updated_at=saved))
    monday = dt.datetime(2025, 7, 7, 6, 0, tzinfo=dt.UTC)
    assert enqueue_due(client.ctx, now=monday - dt.timedelta(minutes=1)) == []
    queued = enqueue_due(client.ctx, now=monday)
    assert [j.payload["trigger"]["every"] for j in queued] == ["0 6 * * mon"]
    # From then on the last retraining job is the anchor (created just now).
    following = next_due("0 6 * * mon", queued[0].created_at)
    assert enqueue_due(client.ctx, now=following - dt.timedelta(seconds=1)) == []
    assert len(enqueue_due(client.ctx, now=following)) == 1


def test_policies_take_weeks_and_cron_and_name_the_bad_field(bank) -> None:
    from mlsteward.errors import InvalidInput

    client, _ = bank
    svc = RetrainingService(client.ctx)
    base = svc.get_policy("credit-risk").to_dict()
    for schedule in ("1w", "0 6 * * mon", "3600"):
        base["triggers"]["schedule"] = schedule
        assert svc.set_policy(as_policy(base)).triggers.schedule == schedule
    for key, value in [
        ("schedule", "every monday"),
        ("schedule", "0 6 * * funday"),
        ("cooldown", "2 weeks"),
        ("cooldown", "0 6 * * mon"),
    ]:
        bad = svc.get_policy("credit-risk").to_dict()
        bad["triggers"][key] = value
        with pytest.raises(InvalidInput) as info:
            svc.set_policy(as_policy(bad))
        assert info.value.field == f"triggers.{key}", (key, value, info.value)
    bad = svc.get_policy("credit-risk").to_dict()
    bad["data"]["window"] = "1y"
    with pytest.raises(InvalidInput, match="'1w'") as info:
        svc.set_policy(as_policy(bad))
    assert info.value.field == "data.window"
