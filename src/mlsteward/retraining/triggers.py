"""What starts a retraining: monitor alerts, schedules, new labels.

``on_alert`` is the retraining sink of monitor alerts (the built-in trigger
``policy`` of :data:`mlsteward.monitoring.sinks.TRIGGERS`). It queues a ``retrain`` job
when the alert's monitor and kind of check are among the policy's triggers,
enough labelled rows arrived since the last retraining, and the cool-down
since the last retraining job has passed. The job's idempotency key is the
model and the cool-down window, so a drift episode that raises many alerts
(or one alert delivered twice) starts one retraining.

``enqueue_due`` queues a retraining for every policy whose ``schedule`` is
due. Run it from cron or a worker loop: ``mlsteward retrainings run-due``.
The schedule is a duration (due that long after the last retraining, or at
once when there was none) or a cron expression (due once the first cron time
after the last retraining, or after the policy was last saved, has passed).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select

from mlsteward.context import Context
from mlsteward.durations import parse_duration, parse_schedule
from mlsteward.errors import NotFound
from mlsteward.retraining.policy import Policy
from mlsteward.retraining.service import RetrainingService
from mlsteward.retraining.tables import policies
from mlsteward.store import utcnow

__all__ = [
    "check_kind",
    "enqueue_due",
    "enqueue_retraining",
    "guard_canary",
    "on_alert",
]

logger = logging.getLogger("mlsteward.retraining")

_KINDS = {
    "drift": "drift",
    "score_drift": "drift",
    "quality": "quality",
    "performance": "performance",
    "estimated": "estimated",
    "estimated_performance": "estimated",  # deprecated name, as in old policies
    "fairness": "fairness",
}


def check_kind(check: str) -> str:
    """``drift.psi`` -> ``drift``; ``estimated.auc`` -> ``estimated``."""
    return _KINDS.get(check.split(".", 1)[0], check.split(".", 1)[0])


def _last_retraining(ctx: Context, model: str) -> dt.datetime | None:
    from mlsteward.jobs.service import JobService

    jobs = [
        j
        for j in JobService(ctx).list(kind="retrain", limit=1000)
        if j.payload.get("model") == model and j.state != "cancelled"
    ]
    times = [j.created_at for j in jobs]
    return max(times) if times else None


def _new_labels(ctx: Context, deployment: str, since: dt.datetime | None) -> int:
    from mlsteward.monitoring.outcomes import OutcomeService

    return OutcomeService(ctx).new_labels(deployment, since=since)


def enqueue_retraining(
    ctx: Context,
    policy: Policy,
    *,
    deployment: str,
    trigger: dict[str, Any],
    now: dt.datetime | None = None,
) -> Any:
    """Queue one ``retrain`` job, unless the cool-down or the label count say
    not yet; returns the job or ``None`` with the reason logged."""
    from mlsteward.jobs.service import JobService
    from mlsteward.jobs.specs import EnqueueJob

    now = now or utcnow()
    cooldown = parse_duration(policy.triggers.cooldown, "triggers.cooldown", minimum=0)
    last = _last_retraining(ctx, policy.model)
    if last is not None and (now - last).total_seconds() < cooldown:
        logger.info(
            "retraining of %s not queued: cool-down since %s",
            policy.model,
            last.isoformat(),
        )
        return None
    if policy.triggers.min_new_labels:
        n = _new_labels(ctx, deployment, last)
        if n < policy.triggers.min_new_labels:
            logger.info(
                "retraining of %s not queued: %d new labels, policy needs %d",
                policy.model,
                n,
                policy.triggers.min_new_labels,
            )
            return None
    bucket = int(now.timestamp() // max(cooldown, 1.0))
    return JobService(ctx).enqueue(
        EnqueueJob.parse(
            kind="retrain",
            payload={
                "model": policy.model,
                "deployment": deployment,
                "trigger": trigger,
            },
            idempotency_key=f"retrain:{policy.model}:{bucket}",
        )
    )


def on_alert(alert: Any, ctx: Context) -> None:
    """Retraining sink of monitor alerts."""
    from mlsteward.monitoring.monitors import MonitorService

    try:
        monitor = MonitorService(ctx).get(alert.monitor)
    except NotFound:  # the monitor was deleted since: nothing to retrain for
        logger.info("alert %s: monitor %s no longer exists", alert.id, alert.monitor)
        return
    try:
        policy = RetrainingService(ctx).get_policy(monitor.model)
    except NotFound:
        logger.info(
            "alert %s: model %s has no retraining policy", alert.id, monitor.model
        )
        return
    if guard_canary(ctx, policy, monitor, alert):
        return
    triggers = policy.triggers
    if triggers.monitors and monitor.name not in triggers.monitors:
        return
    if check_kind(alert.check) not in triggers.checks:
        return
    enqueue_retraining(
        ctx,
        policy,
        deployment=monitor.deployment,
        trigger={
            "kind": "alert",
            "alert": alert.id,
            "monitor": monitor.name,
            "check": alert.check,
            "column": alert.column,
            "severity": alert.severity,
        },
    )


def enqueue_due(ctx: Context, *, now: dt.datetime | None = None) -> list[Any]:
    """Queue a retraining for each policy whose schedule has come round."""
    now = now or utcnow()
    with ctx.store.read() as session:
        rows = session.execute(select(policies.c.document, policies.c.updated_at))
        docs = [(r.document, r.updated_at) for r in rows]
    queued = []
    svc = RetrainingService(ctx)
    for doc, saved_at in docs:
        policy = svc.get_policy(doc["model"])
        if not policy.triggers.schedule:
            continue
        schedule = parse_schedule(policy.triggers.schedule, "triggers.schedule")
        last = _last_retraining(ctx, policy.model)
        if schedule.interval is not None and last is None:
            due = True  # an interval policy never retrained is due at once
        else:
            # A cron policy never retrained waits for its first cron time
            # after it was saved, not for the epoch.
            due = schedule.next_after(last or saved_at) <= now
        if due:
            job = enqueue_retraining(
                ctx,
                policy,
                deployment=policy.model,
                trigger={"kind": "schedule", "every": policy.triggers.schedule},
                now=now,
            )
            if job is not None:
                queued.append(job)
    return queued


def guard_canary(ctx: Context, policy: Policy, monitor: Any, alert: Any) -> bool:
    """Automatic rollback of a canary: an alert of a monitor that watches the
    canary route, of a kind the policy's ``canary_rollback_checks`` lists,
    takes the canary out of traffic, rejects the challenger and closes its
    approval request. Returns whether it did."""
    if policy.promotion.mode != "canary" or "canary" not in monitor.routes:
        return False
    if check_kind(alert.check) not in {
        check_kind(c) for c in policy.promotion.canary_rollback_checks
    }:
        return False
    from mlsteward.registry.models import State
    from mlsteward.registry.service import ModelRegistry
    from mlsteward.registry.specs import Transition
    from mlsteward.retraining.approvals import ApprovalService
    from mlsteward.serving.deployments import DeploymentService

    deployments = DeploymentService(ctx)
    deployment = deployments.get(monitor.deployment)
    version = deployment.canary_version
    if version is None:
        return False
    ref = f"{deployment.model_name}/{version}"
    reason = (
        f"canary breached the live check {alert.check} on {alert.column} "
        f"(alert {alert.id}); rolled back automatically"
    )
    deployments.clear_canary(deployment.name)
    registry = ModelRegistry(ctx)
    if registry.get(ref).state == "registered":
        registry.transition(ref, Transition(state=State.REJECTED, reason=reason))
    ApprovalService(ctx).withdraw(ref, reason)
    logger.warning("%s: %s", ref, reason)
    return True
