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
    Nothing is ever dropped.

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

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from mlsteward.context import Context
from mlsteward.errors import InvalidInput, NotFound
from mlsteward.identity.access import internal, use_case
from mlsteward.monitoring.checks import SEVERITY
from mlsteward.monitoring.models import Alert, Monitor
from mlsteward.monitoring.sinks import (
    SINK_TABLE,
    Sink,
    register_retraining_trigger,
    retraining_triggers,
    sink_types,
    unregister_retraining_trigger,
)
from mlsteward.monitoring.tables import alerts as t
from mlsteward.monitoring.tables import monitor_results
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


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _judged(details: Mapping[str, Any], levels: Mapping[str, Any]) -> str:
    """How a figure was judged, in words: what it was compared with, by how
    much it moved, and where the levels are."""
    warn, alert = levels.get("warn"), levels.get("alert")
    if details.get("change") is not None and details.get("baseline") is not None:
        return (
            f" per day, {details['change']:+.0%} against the median of "
            f"{details.get('baseline_windows', 'earlier')} earlier window(s), "
            f"{_fmt(details['baseline'])} per day (warn at a change of "
            f"{warn:.0%}, alert at {alert:.0%})"
        )
    if details.get("drop") is not None:
        base = details.get("baseline_auc")
        against = f" the baseline {_fmt(base)}" if base is not None else " its baseline"
        return (
            f", {_fmt(details['drop'])} below{against} (warn at a drop of "
            f"{warn}, alert at {alert})"
        )
    return f" (warn at {warn}, alert at {alert})"


def message_of(monitor: str, row: Mapping[str, Any], severity: str) -> str:
    """The one-line text of an alert (what a chat message shows)."""
    details = row.get("details") or {}
    column = row["column"]
    where = "" if column == "*" else f" on {column}"
    value = _fmt(row.get("value"))
    extra = ""
    th = details.get("threshold")
    if row["check"] == "drift":
        value = f"{details.get('verdict')}, drifted: {details.get('drifted')}"
    elif "watch_threshold" in details:  # a drift row: bands apply to the effect
        extra = (
            f" (effect {_fmt(details.get('effect'))}; watch "
            f"{details['watch_threshold']}, drift {details.get('threshold')}; "
            f"p adj. {_fmt(details.get('p_adjusted'))})"
        )
    elif isinstance(th, Mapping):
        levels = next(iter(th.values())) if "warn" not in th else th
        if isinstance(levels, Mapping):
            extra = _judged(details, levels)
    return (
        f"[{severity}] mlsteward monitor {monitor}: {row['check']}{where} = "
        f"{value}{extra} in window {row['window_label']}"
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
        """Deliver the given alerts to the sinks that have not taken them."""
        out = []
        for alert_id in ids:
            delivered = self._deliver_one(alert_id, retry_failed=retry_failed)
            if delivered is not None:
                out.append(delivered)
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

    def _deliver_one(self, alert_id: str, *, retry_failed: bool) -> Alert | None:
        statuses = ["pending", "failed"] if retry_failed else ["pending"]
        if not self._claim(alert_id, statuses):
            return None
        with self.ctx.store.read() as session:
            row = session.execute(select(t).where(t.c.id == alert_id)).one()
        alert = _row_to_alert(row)
        delivered = list(row.delivered)
        attempts_log = list(row.sink_attempts)
        for spec in row.sinks:
            if spec["id"] in delivered:
                continue
            at = utcnow()
            try:
                SINK_TABLE.get(spec["type"])(spec, self.ctx).send(alert)
            except Exception as exc:  # any sink failure keeps the alert pending
                attempts_log.append(
                    {
                        "sink": spec["id"],
                        "at": at.isoformat(),
                        "ok": False,
                        "error": f"{type(exc).__name__}: {exc}"[:500],
                    }
                )
                logger.warning(
                    "alert %s: sink %s failed: %s", alert_id, spec["id"], exc
                )
                continue
            delivered.append(spec["id"])
            attempts_log.append({"sink": spec["id"], "at": at.isoformat(), "ok": True})
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
