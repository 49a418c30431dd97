"""Incidents: a monitor run's alerts as one incident, worst first; one digest
per incident to a real webhook; repeats of the window before folded."""

from __future__ import annotations

import pytest

from mlsteward.monitoring.digest import excess
from mlsteward.monitoring.models import Incident

RANK = {"critical": 2, "warning": 1}


@pytest.fixture(autouse=True)
def _loopback_webhooks_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook here listens on loopback: allowed by name, before any
    settings are read."""
    monkeypatch.setenv("MLSTEWARD_WEBHOOK_ALLOW", "127.0.0.1")


def _check_worst_first(incident: Incident) -> None:
    keys = [(RANK[i.severity], i.excess) for i in incident.items]
    assert keys == sorted(keys, reverse=True)
    assert incident.critical == sum(i.severity == "critical" for i in incident.items)
    assert incident.warnings == len(incident.items) - incident.critical


def test_monthly_runs_make_one_incident_each_worst_first_and_one_digest(
    world, hook
) -> None:
    """On SQLite and PostgreSQL."""
    url, handler = hook
    c, periods = world.client, world.history.periods
    c.create_monitor(
        "cr",
        deployment="credit-risk",
        alerting={"sinks": ["log", {"type": "webhook", "url": url, "format": "json"}]},
    )
    runs = []
    for period in periods:
        world.score(period)
        runs.append(
            c.run_monitor("cr", window=(period.start, period.end), at=period.end)
        )
    raised = [len(r.alerts) for r in runs]
    assert all(n > 1 for n in raised) and sum(raised) > 2 * len(runs)

    # One incident per run (each run here computes one month), newest first.
    found = c.alerts.incidents(deployment="credit-risk")
    assert [i.run_id for i in found] == [r.run_id for r in reversed(runs)]
    assert [len(i.items) for i in found] == list(reversed(raised))
    assert c.alerts.incidents(deployment="elsewhere") == []
    assert len(c.alerts.incidents(monitor="cr", limit=2)) == 2

    # One webhook message per incident, not one per alert: the digest.
    assert len(handler.bodies) == len(runs)
    for body, run, incident in zip(handler.bodies, runs, reversed(found), strict=True):
        sent = body["incident"]
        assert sent["run_id"] == run.run_id and body["text"] == incident.message
        assert {i["alert_id"] for i in sent["items"]} == {a.id for a in run.alerts}
        assert all(a.status == "sent" for a in c.alerts.list(monitor="cr"))

    for incident, run in zip(reversed(found), runs, strict=True):
        _check_worst_first(incident)
        label = run.windows[0].label
        assert incident.summary.startswith(
            f"credit-risk {label}: {incident.critical} critical, "
        )
        # Each item's effect size is read from its result row.
        for item in incident.items:
            row = run.get(item.check, item.column)
            assert (
                row["status"] == {"critical": "alert", "warning": "warn"}[item.severity]
            )
            assert item.excess == pytest.approx(excess(row["value"], row["details"]))
    worst = found[0].items[0]
    assert worst.severity == "critical" and worst.excess >= 1.0

    # Repeats: an item is a repeat exactly when its check and column were past
    # a threshold in the window before, and its streak grows by one.
    for before, after in zip(reversed(found[1:]), reversed(found[:-1]), strict=True):
        earlier = {(i.check, i.column): i.streak for i in before.items}
        for item in after.items:
            key = (item.check, item.column)
            assert item.streak == (earlier[key] + 1 if key in earlier else 1)
        assert after.repeated == sum(i.streak > 1 for i in after.items)
    newest = found[0]
    assert newest.repeated > 0
    still = [ln for ln in newest.message.splitlines() if ln.startswith("still")]
    assert len(still) == 1 and "window in a row" in still[0]
    listed = [ln for ln in newest.message.splitlines() if ln.startswith("[")]
    assert len(listed) == min(len(newest.items) - newest.repeated, 10)
    longest = max(newest.items, key=lambda i: i.streak)
    assert longest.streak == len(runs)  # past a threshold every month
    assert f"{longest.streak}th window in a row" in still[0]


def test_a_sink_for_critical_alerts_gets_only_them(sqlite_world, hook) -> None:
    url, handler = hook
    c, period = sqlite_world.client, sqlite_world.history.periods[-1]
    c.create_monitor(
        "cr",
        deployment="credit-risk",
        alerting={
            "sinks": [{"type": "webhook", "url": url, "min_severity": "critical"}]
        },
    )
    sqlite_world.score(period)
    run = c.run_monitor("cr", window=(period.start, period.end), at=period.end)
    critical = [a for a in run.alerts if a.severity == "critical"]
    assert critical and len(critical) < len(run.alerts)
    [body] = handler.bodies
    first = body["text"].splitlines()[0]
    assert first.startswith(f"credit-risk {period.label}: {len(critical)} critical — ")
    assert "warning" not in body["text"].split("\n", 1)[1]
    [incident] = c.alerts.incidents()
    assert incident.warnings == len(run.alerts) - len(critical)  # all are listed


def test_a_back_fill_run_makes_one_incident_per_window_retried_whole(
    sqlite_client, hook
) -> None:
    import datetime as dt

    from mlsteward.monitoring.alerting import Alerting
    from mlsteward.monitoring.alerts import AlertService
    from mlsteward.monitoring.models import Monitor

    url, handler = hook
    handler.failures = 2  # both first digests fail
    at = dt.datetime(2025, 9, 1, tzinfo=dt.UTC)
    monitor = Monitor(
        id="id-m",
        name="m",
        deployment="d",
        model="x",
        schedule="1d",
        window={"type": "period", "period": "month", "lookback": 2},
        reference="champion",
        checks={},
        alerting=Alerting.parse({"sinks": ["log", f"webhook:{url}"]}).stored(
            default_cooldown=0
        ),
        routes=["champion"],
        description="",
        enabled=True,
        created_at=at,
        created_by="t",
        updated_at=at,
        last_run_at=None,
        next_run_at=None,
    )
    rows = [
        {
            "check": check,
            "column": "x",
            "status": status,
            "value": 0.3,
            "window_label": label,
        }
        for label in ("2025-07", "2025-08")
        for check, status in (("drift.psi", "alert"), ("quality.missing_rate", "warn"))
    ]
    svc = AlertService(sqlite_client.ctx)
    with sqlite_client.ctx.store.unit_of_work() as session:
        svc.raise_alerts(session, monitor=monitor, run_id="r", rows=rows, at=at)
    first = svc.deliver_pending()
    assert [a.status for a in first] == ["pending"] * 4
    assert all(a.delivered == ["log"] for a in first)
    second = svc.deliver_pending()
    assert [a.status for a in second] == ["sent"] * 4
    # Two windows, two digests per attempt: 2 failed, then 2 taken.
    assert len(handler.bodies) == 4
    for body, label in zip(handler.bodies[2:], ("2025-07", "2025-08"), strict=True):
        lines = body["text"].splitlines()
        assert lines[0] == (
            f"m {label}: 1 critical, 1 warning — drift on x, quality.missing_rate on x"
        )
        assert [ln.split("]")[0] for ln in lines[1:]] == ["[critical", "[warning"]
    assert [i.window_label for i in svc.incidents()] == ["2025-07", "2025-08"]
