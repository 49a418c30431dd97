"""The records a model report quotes: audit events, approvals, gates, monitoring.

Everything here only reads. Capabilities that are optional or still growing
(retraining gates and approval requests, monitors and alerts) are read where
their module imports and their table exists; otherwise the section says that
nothing was recorded, rather than failing the whole report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Text, cast, or_, select
from sqlalchemy.exc import SQLAlchemyError

from mlsteward.context import Context
from mlsteward.registry.models import ModelVersion
from mlsteward.store import like_escape
from mlsteward.store.audit import AuditEvent, audit_events, verify_chain

__all__ = [
    "approval_requests",
    "audit_integrity",
    "classify_events",
    "event_row",
    "gate_runs",
    "jsonable",
    "monitoring_history",
    "related_events",
]

_MONITOR_RESULTS_SHOWN = 200


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: datetimes as ISO text, NaN/inf as ``None``."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            return str(value)
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def _mentions(value: Any, ref: str) -> bool:
    if isinstance(value, str):
        return value == ref
    if isinstance(value, Mapping):
        return any(_mentions(v, ref) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_mentions(v, ref) for v in value)
    return False


def _event(r: Any) -> AuditEvent:
    return AuditEvent.from_row(r)


def related_events(ctx: Context, mv: ModelVersion) -> list[AuditEvent]:
    """Every audit event about this version, oldest first.

    That is: events on the version itself; events whose details name it
    (approval requests and decisions, promotions, retrainings); alias moves
    that took an alias away from it; and comments on its approval requests.
    """
    ref, name = mv.ref, mv.name
    c = audit_events.c
    q = (
        select(audit_events)
        .where(
            or_(
                c.object_id == ref,
                c.object_id.like(f"{like_escape(name)}/%", escape="\\"),
                cast(c.details, Text).like(f'%"{like_escape(ref)}"%', escape="\\"),
            )
        )
        .order_by(c.seq)
    )
    with ctx.store.read() as session:
        candidates = [_event(r) for r in session.execute(q)]
    keep: list[AuditEvent] = []
    for e in candidates:
        moved_away = (
            e.action == "alias.set"
            and e.object_id.startswith(f"{name}/")
            and e.details.get("previous_version") == mv.version
        )
        if e.object_id == ref or moved_away or _mentions(e.details, ref):
            keep.append(e)
    approval_ids = {e.object_id for e in keep if e.object_type == "approval"}
    if approval_ids:
        with ctx.store.read() as session:
            extra = [
                _event(r)
                for r in session.execute(
                    select(audit_events).where(c.object_id.in_(approval_ids))
                )
            ]
        seen = {e.seq for e in keep}
        keep.extend(e for e in extra if e.seq not in seen)
        keep.sort(key=lambda e: e.seq)
    return keep


def event_row(e: AuditEvent) -> dict[str, Any]:
    """An event as a report row: who, when, what, and the reason if any."""
    details = {k: v for k, v in e.details.items() if v not in (None, "", {}, [])}
    reason = details.pop("reason", None) or details.pop("comment", None)
    text = details.pop("text", None)
    return {
        "seq": e.seq,
        "at": e.at.isoformat(),
        "actor": e.actor,
        "action": e.action,
        "object": f"{e.object_type} {e.object_id}",
        "reason": reason,
        "text": text,
        "details": ", ".join(f"{k}={_short(v)}" for k, v in details.items()),
    }


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else jsonable_text(value)
    return text if len(text) <= 120 else text[:117] + "..."


def jsonable_text(value: Any) -> str:
    import json

    return json.dumps(jsonable(value), sort_keys=True, ensure_ascii=False)


def classify_events(
    events: Iterable[AuditEvent], mv: ModelVersion
) -> dict[str, list[dict[str, Any]]]:
    """Split events into ``comments``, ``approvals``, ``gates``,
    ``alias_moves`` and ``history`` (everything, in order)."""
    out: dict[str, list[dict[str, Any]]] = {
        "comments": [],
        "approvals": [],
        "gates": [],
        "alias_moves": [],
        "history": [],
    }
    decisions = {f"model_version.{s}" for s in ("approved", "rejected", "archived")}
    for e in events:
        row = event_row(e)
        out["history"].append(row)
        if e.action.startswith("comment."):
            out["comments"].append(row)
        elif e.action.startswith("approval.") or e.action in decisions:
            row = {**row, "independent": e.actor != mv.created_by}
            out["approvals"].append(row)
        elif e.action.startswith(("gate", "retraining.", "promotion.")):
            out["gates"].append(row)
        elif e.action.startswith("alias."):
            moved_away = e.object_id != mv.ref
            out["alias_moves"].append(
                {
                    **row,
                    "alias": e.details.get("alias"),
                    "direction": "moved away"
                    if moved_away
                    else ("removed" if e.action == "alias.deleted" else "set"),
                }
            )
    return out


def gate_runs(ctx: Context, mv: ModelVersion) -> dict[str, Any]:
    """Retraining runs where this version was challenger or champion, with
    their gate results, comparison and decision."""
    try:
        from mlsteward.retraining.service import RetrainingService

        found = RetrainingService(ctx).of_version(mv)
    except (ImportError, SQLAlchemyError):
        return {"available": False, "runs": []}
    runs = []
    for r in found:
        gates = r.gates if isinstance(r.gates, list) else []
        runs.append(
            jsonable(
                {
                    "id": r.id,
                    "role": "challenger" if r.challenger == mv.ref else "champion",
                    "status": r.status,
                    "champion": r.champion,
                    "challenger": r.challenger,
                    "holdout": r.holdout,
                    "trigger": r.trigger,
                    "gates": [g for g in gates if isinstance(g, Mapping)],
                    "comparison": r.comparison,
                    "decision": r.decision,
                    "reason": r.reason,
                    "created_at": r.created_at,
                    "created_by": r.created_by,
                    "finished_at": r.finished_at,
                }
            )
        )
    return {"available": True, "runs": runs}


def approval_requests(ctx: Context, mv: ModelVersion) -> dict[str, Any]:
    """Approval requests for this version, with who asked and who decided."""
    try:
        from mlsteward.retraining.approvals import ApprovalService

        found = ApprovalService(ctx).list(model=mv.name, version=mv.version)
    except (ImportError, SQLAlchemyError):
        return {"available": False, "requests": []}
    return {
        "available": True,
        "requests": [
            jsonable(
                {
                    "id": r.id,
                    "action": r.action,
                    "status": r.status,
                    "requested_by": r.requested_by,
                    "requested_at": r.requested_at,
                    "decided_by": r.decided_by,
                    "decided_at": r.decided_at,
                    "comment": r.comment,
                    "independent": r.decided_by is None
                    or r.decided_by not in (r.requested_by, mv.created_by),
                }
            )
            for r in found
        ],
    }


def serving(ctx: Context, mv: ModelVersion) -> dict[str, Any]:
    """Which deployments serve this version (champion, canary or shadow) and
    how it got there: the deployment changes that put it on each route."""
    from mlsteward.serving.deployments import DeploymentService

    rows = []
    for d in DeploymentService(ctx).of_model(mv.name):
        with ctx.store.read() as session:
            events = [
                _event(r)
                for r in session.execute(
                    select(audit_events)
                    .where(
                        audit_events.c.object_type == "deployment",
                        audit_events.c.object_id == d.name,
                    )
                    .order_by(audit_events.c.seq)
                )
            ]
        routes = [
            route
            for route, version in (
                ("champion", d.champion_version),
                ("canary", d.canary_version),
            )
            if version == mv.version
        ]
        if mv.version in d.shadow_versions:
            routes.append("shadow")
        if not routes:
            continue
        how = [e for e in events if mv.version in _versions_in(e.details)]
        last = how[-1] if how else None
        rows.append(
            jsonable(
                {
                    "deployment": d.name,
                    "routes": routes,
                    "share": d.canary_share if "canary" in routes else None,
                    "how": (
                        f"{last.action} by {last.actor}" if last is not None else ""
                    ),
                    "at": last.at if last is not None else None,
                }
            )
        )
    return {"governed": _governed(ctx, mv.name), "deployments": rows}


def _versions_in(details: Any) -> set[int]:
    if not isinstance(details, dict):
        return set()
    found = {details.get("to"), details.get("version")}
    return {v for v in found if isinstance(v, int)}


def _governed(ctx: Context, name: str) -> bool:
    from mlsteward.registry.service import ModelRegistry

    return ModelRegistry(ctx).governance(name).governed


def monitoring_history(ctx: Context, mv: ModelVersion) -> dict[str, Any]:
    """Monitors of this model, their results since the version was
    registered, and their alerts."""
    unavailable = {"available": False, "monitors": [], "results": [], "alerts": []}
    try:
        from mlsteward.monitoring.alerts import AlertService
        from mlsteward.monitoring.monitors import MonitorService

        monitors = MonitorService(ctx)
        found = monitors.of_model(mv.name)
    except (ImportError, SQLAlchemyError):
        return unavailable
    mons = [
        {
            "id": m.id,
            "name": m.name,
            "deployment": m.deployment,
            "model": m.model,
            "schedule": m.schedule,
            "reference": m.reference,
            "enabled": m.enabled,
            "last_run_at": m.last_run_at,
        }
        for m in found
    ]
    ids = [m.id for m in found]
    results: list[dict[str, Any]] = []
    alerts: list[Any] = []
    if ids:
        results = _or_nothing(
            lambda: monitors.recent_results(
                ids, since=mv.created_at, limit=_MONITOR_RESULTS_SHOWN
            )
        )
        alerts = _or_nothing(
            lambda: AlertService(ctx).of_monitors(ids, since=mv.created_at)
        )
    counts: dict[str, int] = {}
    for row in results:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return jsonable(
        {
            "available": True,
            "monitors": mons,
            "status_counts": counts,
            "results": [
                {
                    "monitor": x["monitor"],
                    "window": x["window_label"],
                    "check": x["check"],
                    "column": x["column"],
                    "value": x["value"],
                    "status": x["status"],
                    "computed_at": x["computed_at"],
                }
                for x in results
            ],
            "alerts": [
                {
                    "monitor": x.monitor,
                    "check": x.check,
                    "column": x.column,
                    "severity": x.severity,
                    "status": x.status,
                    "message": x.message,
                    "value": x.value,
                    "window": x.window_label,
                    "first_seen": x.first_seen,
                    "last_seen": x.last_seen,
                    "count": x.count,
                }
                for x in alerts
            ],
        }
    )


def _or_nothing(read: Callable[[], list[Any]]) -> list[Any]:
    """What ``read`` returns, or nothing if its table does not exist here."""
    try:
        return read()
    except SQLAlchemyError:
        return []


def audit_integrity(ctx: Context) -> dict[str, Any]:
    """Verify the whole audit chain the report quotes from."""
    with ctx.store.read() as session:
        n, problems = verify_chain(session)
    return {
        "events": n,
        "ok": not problems,
        "problems": [p.to_dict() for p in problems],
    }
