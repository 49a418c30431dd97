"""Alerts: raised by monitor runs, de-duplicated, delivered to sinks, retried.

Raising (inside the run's unit of work)
    Every result whose status is ``warn`` or ``alert`` raises an alert of
    severity ``warning`` or ``critical``. Its dedupe key is (monitor, check,
    column, severity). If an alert with that key was first seen less than
    the monitor's cool-down before (default 24 h,
    ``MLSTEWARD_ALERT_COOLDOWN_SECONDS``), the repeat is folded into it:
    ``count`` grows, ``last_seen`` moves, nothing is sent again. Times are
    the run's time (``at``), so a back-fill over past months de-duplicates
    by the months' times. An escalation (warning to critical) has another
    key and is sent.

Delivering (after the run's transaction has committed)
    A new alert is ``pending`` until every sink it was meant for has taken
    it. Each delivery claims the alert with a short lease (a conditional
    update, so two processes never deliver one alert at once), calls the
    sinks that have not taken it yet, and records every attempt. A sink that
    fails leaves the alert ``pending``; :meth:`AlertService.deliver_pending`
    (``mlsteward alerts deliver``, and every monitor run) retries it. After
    ``MLSTEWARD_ALERT_MAX_ATTEMPTS`` attempts it is marked ``failed``; it is
    still listed and ``deliver_pending(retry_failed=True)`` tries again.
    Nothing is ever dropped. The alerts claimed together are grouped into
    incidents (one monitor run, one window; :mod:`.incidents`): a sink with
    ``send_incident`` (``log``, ``webhook``) gets one digest per incident, a
    sink without it each alert; every alert records its own delivery.

Sinks (by type name, from the literal table of :mod:`mlsteward.monitoring.sinks`;
third parties add their own through the entry-point group
``mlsteward.alert_sinks``; a built-in type is never replaced)
    ``log``       the ``mlsteward.alerts`` logger (never fails)
    ``webhook``   ``POST`` of JSON a chat tool's incoming webhook accepts:
                  ``{"text": ...}`` (Slack, Mattermost, Rocket.Chat; format
                  ``slack``), ``{"content": ...}`` (``discord``), or the
                  whole alert (``json``); a non-2xx answer or a timeout fails
    ``retrain``   calls every retraining trigger (the built-in ``policy``,
                  which queues retraining by the model's policy, and those of
                  the entry-point group ``mlsteward.retraining_triggers``)
                  with ``(alert, ctx)``; a trigger that fails (or cannot be
                  imported) leaves the alert pending, to be retried
"""

from __future__ import annotations

import builtins
import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from mlsteward.context import Context
from mlsteward.errors import InvalidInput, NotFound
from mlsteward.identity.access import internal, use_case
from mlsteward.monitoring.checks import SEVERITY
from mlsteward.monitoring.digest import describe, narrowed
from mlsteward.monitoring.incidents import group_rows, incidents_of
from mlsteward.monitoring.models import Alert, Incident, Monitor
from mlsteward.monitoring.sinks import (
    SINK_TABLE,
    IncidentSink,
    Sink,
    register_retraining_trigger,
    retraining_triggers,
    sink_types,
    unregister_retraining_trigger,
)
from mlsteward.monitoring.tables import alerts as t
from mlsteward.monitoring.tables import monitor_results
from mlsteward.monitoring.tables import monitors as mt
from mlsteward.store import audit, utcnow

__all__ = [
    "AlertService",
    "Sink",
    "message_of",
    "register_retraining_trigger",
    "retraining_triggers",
    "sink_types",
    "unregister_retraining_trigger",
]

logger = logging.getLogger("mlsteward.alerts")

_RANK = {"warning": 1, "critical": 2}
_LEASE = dt.timedelta(seconds=60)
_KEEP_ATTEMPTS = 50


def message_of(monitor: str, row: Mapping[str, Any], severity: str) -> str:
    """The one-line text of an alert (what a chat message shows)."""
    return (
        f"[{severity}] mlsteward monitor {monitor}: {describe(row)} "
        f"in window {row['window_label']}"
    )


def _row_to_alert(r: Any, *, errors: bool = True) -> Alert:
    return Alert(
        id=r.id,
        monitor=r.monitor,
        check=r.check,
        column=r.column,
        severity=r.severity,
        status=r.status,
        dedupe_key=r.dedupe_key,
        message=r.message,
        value=r.value,
        window_label=r.window_label,
        run_id=r.run_id,
        first_seen=r.first_seen,
        last_seen=r.last_seen,
        count=r.count,
        sinks=[s["id"] for s in r.sinks],
        delivered=list(r.delivered),
        sink_attempts=[
            a if errors else {k: v for k, v in a.items() if k != "error"}
            for a in r.sink_attempts
        ],
        attempts=r.attempts,
        created_at=r.created_at,
        sent_at=r.sent_at,
    )


class AlertService:
    """Raise, list and deliver alerts."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _alert(self, row: Any) -> Alert:
        """An alert as the acting principal may see it: a delivery's error
        text (what a sink's host answered, or why it could not be reached)
        is for admins; others see each attempt's sink, time and outcome."""
        principal = self.ctx.principal
        return _row_to_alert(row, errors=principal is None or principal.can("admin"))

    # -- raising ----------------------------------------------------------
    @internal("a monitor run raising its alerts")
    def raise_alerts(
        self,
        session: Session,
        *,
        monitor: Monitor,
        run_id: str,
        rows: Iterable[Mapping[str, Any]],
        at: dt.datetime,
    ) -> list[str]:
        """Raise (or fold) alerts for the result rows past a threshold, in the
        caller's transaction. Returns the ids of every alert touched."""
        cooldown = dt.timedelta(
            seconds=int(monitor.alerting.get("cooldown_seconds", 0))
        )
        touched: list[str] = []
        for row in rows:
            severity = SEVERITY.get(row["status"])
            if severity is None:
                continue
            key = f"{monitor.id}|{row['check']}|{row['column']}|{severity}"
            last = session.execute(
                select(t.c.id, t.c.first_seen, t.c.last_seen)
                .where(t.c.dedupe_key == key)
                .order_by(t.c.first_seen.desc())
                .limit(1)
            ).first()
            if last is not None and abs(at - last.first_seen) < cooldown:
                self._fold(session, last, row, at, run_id)
                touched.append(last.id)
                continue
            sinks = [
                s
                for s in monitor.alerting.get("sinks", [])
                if _RANK[severity] >= _RANK.get(s.get("min_severity", "warning"), 1)
            ]
            alert_id = uuid.uuid4().hex
            message = message_of(monitor.name, row, severity)
            now = utcnow()
            session.execute(
                t.insert().values(
                    id=alert_id,
                    monitor_id=monitor.id,
                    monitor=monitor.name,
                    check=row["check"],
                    column=row["column"],
                    severity=severity,
                    status="pending" if sinks else "sent",
                    dedupe_key=key,
                    message=message,
                    value=row.get("value"),
                    window_label=row["window_label"],
                    run_id=run_id,
                    first_seen=at,
                    last_seen=at,
                    count=1,
                    sinks=sinks,
                    delivered=[],
                    sink_attempts=[],
                    attempts=0,
                    claimed_until=None,
                    created_at=now,
                    sent_at=None if sinks else now,
                )
            )
            self._audit_raised(session, monitor, row, severity, alert_id)
            touched.append(alert_id)
        return touched

    def _audit_raised(
        self,
        session: Session,
        monitor: Monitor,
        row: Mapping[str, Any],
        severity: str,
        alert_id: str,
    ) -> None:
        """The audit event of a newly raised alert."""
        audit.record(
            session,
            actor=self.ctx.actor,
            action="alert.raised",
            object_type="alert",
            object_id=alert_id,
            details={
                "monitor": monitor.name,
                "check": row["check"],
                "column": row["column"],
                "severity": severity,
                "window": row["window_label"],
                "value": row.get("value"),
            },
        )

    @staticmethod
    def _fold(
        session: Session,
        last: Any,
        row: Mapping[str, Any],
        at: dt.datetime,
        run_id: str,
    ) -> None:
        """Fold a repeat within the cool-down into the alert ``last``: one
        more count, the newest value, window and run."""
        session.execute(
            update(t)
            .where(t.c.id == last.id)
            .values(
                count=t.c.count + 1,
                last_seen=max(last.last_seen, at),
                value=row.get("value"),
                window_label=row["window_label"],
                run_id=run_id,
            )
        )

    # -- reading ----------------------------------------------------------
    @use_case("alerts.list", "viewer")
    def list(
        self,
        *,
        status: str | None = None,
        monitor: str | None = None,
        severity: str | None = None,
        limit: int = 100,
    ) -> builtins.list[Alert]:
        """Newest alerts first, filtered."""
        if status is not None and status not in ("pending", "sent", "failed"):
            raise InvalidInput(
                f"status {status!r} is not one of pending, sent, failed",
                field="status",
                allowed=["pending", "sent", "failed"],
            )
        q = select(t).order_by(t.c.last_seen.desc(), t.c.created_at.desc())
        if status is not None:
            q = q.where(t.c.status == status)
        if monitor is not None:
            q = q.where(t.c.monitor == monitor)
        if severity is not None:
            q = q.where(t.c.severity == severity)
        with self.ctx.store.read() as session:
            return [self._alert(r) for r in session.execute(q.limit(max(1, limit)))]

    @internal("read by the model report")
    def of_monitors(
        self, monitor_ids: Iterable[str], *, since: dt.datetime
    ) -> builtins.list[Alert]:
        """Alerts of these monitors (by id) raised or seen again by a run
        computed at or after ``since``, newest first: the same clock as
        ``MonitorService.recent_results``, so a report's results and alerts
        agree (a back-filled run's alerts carry the data's time, not the
        run's, in ``last_seen``).

        Example:
            >>> svc.of_monitors([m.id], since=t)[0].check  # doctest: +SKIP
            'drift.psi'
        """
        ids = list(monitor_ids)
        runs = (
            select(monitor_results.c.run_id)
            .where(
                monitor_results.c.monitor_id.in_(ids),
                monitor_results.c.computed_at >= since,
            )
            .distinct()
        )
        q = (
            select(t)
            .where(t.c.monitor_id.in_(ids), t.c.run_id.in_(runs))
            .order_by(t.c.last_seen.desc())
        )
        with self.ctx.store.read() as session:
            return [self._alert(r) for r in session.execute(q)]

    @use_case("alerts.get", "viewer")
    def get(self, alert_id: str) -> Alert:
        with self.ctx.store.read() as session:
            row = session.execute(select(t).where(t.c.id == alert_id)).first()
        if row is None:
            raise NotFound(f"alert {alert_id!r} not found", field="alert")
        return self._alert(row)

    @use_case("alerts.incidents", "viewer")
    def incidents(
        self,
        *,
        monitor: str | None = None,
        deployment: str | None = None,
        limit: int = 20,
    ) -> builtins.list[Incident]:
        """Newest incidents first: the alerts of one monitor run on one window,
        worst first, with a summary line and the digest sinks receive.

        Args:
            monitor: Only this monitor's.
            deployment: Only those of monitors watching this deployment.
            limit: At most this many incidents (1 to 1000).

        Example:
            >>> svc.incidents(deployment="credit-risk")[0].summary  # doctest: +SKIP
            'credit-risk 2025-12: 2 critical, 9 warnings — performance.auc ...'
        """
        if not 1 <= limit <= 1000:
            raise InvalidInput(
                f"limit must be between 1 and 1000, got {limit}", field="limit"
            )
        seen = func.max(t.c.last_seen)
        q = (
            select(t.c.run_id, t.c.window_label)
            .group_by(t.c.run_id, t.c.window_label)
            .order_by(seen.desc(), t.c.run_id, t.c.window_label)
        )
        if monitor is not None:
            q = q.where(t.c.monitor == monitor)
        if deployment is not None:
            ids = select(mt.c.id).where(mt.c.deployment == deployment)
            q = q.where(t.c.monitor_id.in_(ids))
        with self.ctx.store.read() as session:
            keys = {(r[0], r[1]) for r in session.execute(q.limit(limit))}
            runs = sorted({k[0] for k in keys})
            rows = [
                r
                for r in session.execute(
                    select(t)
                    .where(t.c.run_id.in_(runs))
                    .order_by(t.c.last_seen.desc(), t.c.run_id, t.c.window_label)
                )
                if (r.run_id, r.window_label) in keys
            ]
            return incidents_of(session, rows)

    # -- delivering -------------------------------------------------------
    @use_case("alerts.deliver_pending", "developer")
    def deliver_pending(self, *, retry_failed: bool = False) -> builtins.list[Alert]:
        """Try every pending alert (and failed ones when asked); return them
        as they are afterwards."""
        statuses = ["pending", "failed"] if retry_failed else ["pending"]
        with self.ctx.store.read() as session:
            ids = list(
                session.execute(
                    select(t.c.id)
                    .where(t.c.status.in_(statuses))
                    .order_by(t.c.created_at)
                ).scalars()
            )
        return self.deliver(ids, retry_failed=retry_failed)

    @internal("the alert_deliver job")
    def deliver(
        self, ids: Iterable[str], *, retry_failed: bool = False
    ) -> builtins.list[Alert]:
        """Deliver the given alerts to the sinks that have not taken them: one
        message per incident (the alerts of one run on one window) to a sink
        that takes incidents, each alert on its own to one that does not."""
        statuses = ["pending", "failed"] if retry_failed else ["pending"]
        claimed = [i for i in ids if self._claim(i, statuses)]
        if not claimed:
            return []
        with self.ctx.store.read() as session:
            rows = session.execute(
                select(t).where(t.c.id.in_(claimed)).order_by(t.c.created_at, t.c.id)
            ).all()
            incidents = {i.id: i for i in incidents_of(session, rows)}
        out: builtins.list[Alert] = []
        for (run_id, label), members in group_rows(rows).items():
            out += self._deliver_group(members, incidents[f"{run_id}:{label}"])
        return out

    def _claim(self, alert_id: str, statuses: builtins.list[str]) -> bool:
        now = utcnow()
        with self.ctx.store.unit_of_work() as session:
            result = session.execute(
                update(t)
                .where(
                    and_(
                        t.c.id == alert_id,
                        t.c.status.in_(statuses),
                        or_(t.c.claimed_until.is_(None), t.c.claimed_until < now),
                    )
                )
                .values(claimed_until=now + _LEASE)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def _deliver_group(
        self, members: builtins.list[Any], incident: Incident
    ) -> builtins.list[Alert]:
        """Send one incident's claimed alerts to each sink not yet reached."""
        delivered = {r.id: list(r.delivered) for r in members}
        log = {r.id: list(r.sink_attempts) for r in members}
        specs: dict[str, Mapping[str, Any]] = {}
        for r in members:
            for spec in r.sinks:
                specs.setdefault(spec["id"], spec)
        for sid, spec in specs.items():
            targets = [
                r
                for r in members
                if sid not in delivered[r.id] and any(x["id"] == sid for x in r.sinks)
            ]
            if not targets:
                continue
            for done, error in self._send(spec, targets, incident):
                entry = {"sink": sid, "at": utcnow().isoformat(), "ok": error is None}
                if error is None:
                    delivered[done.id].append(sid)
                else:
                    entry["error"] = error
                    logger.warning("alert %s: sink %s failed: %s", done.id, sid, error)
                log[done.id].append(entry)
        return [self._settle(r, delivered[r.id], log[r.id]) for r in members]

    def _send(
        self,
        spec: Mapping[str, Any],
        targets: builtins.list[Any],
        incident: Incident,
    ) -> builtins.list[tuple[Any, str | None]]:
        """Each target with the error its delivery met (``None``: taken)."""
        try:
            sink = SINK_TABLE.get(spec["type"])(spec, self.ctx)
            if isinstance(sink, IncidentSink):
                sink.send_incident(narrowed(incident, [r.id for r in targets]))
                return [(r, None) for r in targets]
        except Exception as exc:  # any sink failure keeps its alerts pending
            return [(r, f"{type(exc).__name__}: {exc}"[:500]) for r in targets]
        out: builtins.list[tuple[Any, str | None]] = []
        for r in targets:
            try:
                sink.send(_row_to_alert(r))
                out.append((r, None))
            except Exception as exc:  # as above, alert by alert
                out.append((r, f"{type(exc).__name__}: {exc}"[:500]))
        return out

    def _settle(
        self,
        row: Any,
        delivered: builtins.list[str],
        attempts_log: builtins.list[dict[str, Any]],
    ) -> Alert:
        """Record one alert's delivery: sent, still pending, or failed."""
        alert_id = row.id
        attempts = int(row.attempts) + 1
        done = all(s["id"] in delivered for s in row.sinks)
        max_attempts = self.ctx.settings.alert_max_attempts
        status = (
            "sent" if done else ("failed" if attempts >= max_attempts else "pending")
        )
        now = utcnow()
        with self.ctx.store.unit_of_work() as session:
            session.execute(
                update(t)
                .where(t.c.id == alert_id)
                .values(
                    status=status,
                    delivered=delivered,
                    sink_attempts=attempts_log[-_KEEP_ATTEMPTS:],
                    attempts=attempts,
                    claimed_until=None,
                    sent_at=now if done else None,
                )
            )
            if status != row.status or status == "sent":
                audit.record(
                    session,
                    actor=self.ctx.actor,
                    action=f"alert.{status}",
                    object_type="alert",
                    object_id=alert_id,
                    details={"attempts": attempts, "delivered": delivered},
                )
            fresh = session.execute(select(t).where(t.c.id == alert_id)).one()
        return self._alert(fresh)
