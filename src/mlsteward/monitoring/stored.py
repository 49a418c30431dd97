"""A monitor's stored figures as plain rows: the query behind
``MonitorService.results`` and the REST route that sends them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mlsteward.errors import Conflict
from mlsteward.monitoring.models import RESULT_COLUMNS
from mlsteward.monitoring.tables import monitor_results as rt
from mlsteward.monitoring.windows import as_utc
from mlsteward.store.audit import audit_events

__all__ = ["AlreadyRan", "newest_rows", "ran_already", "stored_rows"]


class AlreadyRan(Conflict):
    """A keyed monitor run (a job's) was stored by an earlier attempt."""


def ran_already(session: Any, monitor: str, run_id: str) -> bool:
    """Whether a run ``run_id`` of ``monitor`` committed: its ``monitor.ran``
    audit event, written in the run's transaction, is among the monitor's
    newest."""
    q = (
        select(audit_events.c.details)
        .where(audit_events.c.action == "monitor.ran")
        .where(audit_events.c.object_type == "monitor")
        .where(audit_events.c.object_id == monitor)
        .order_by(audit_events.c.seq.desc())
        .limit(100)
    )
    return any(d.get("run_id") == run_id for d in session.execute(q).scalars())


def stored_rows(
    session: Any,
    monitor_id: str,
    *,
    check: str | None = None,
    column: str | None = None,
    since: Any = None,
    until: Any = None,
    window: str | None = None,
) -> list[dict[str, Any]]:
    """Every stored figure of a monitor matching the filters, oldest run
    first, as dicts of :data:`RESULT_COLUMNS` (see ``MonitorService.results``
    for what each filter means)."""
    q = select(*(rt.c[c] for c in RESULT_COLUMNS)).where(rt.c.monitor_id == monitor_id)
    if check is not None:
        family = check.rstrip(".")
        q = q.where(
            (rt.c.check == family) | rt.c.check.like(f"{family}.%")
            if "." not in family
            else rt.c.check == family
        )
    if column is not None:
        q = q.where(rt.c.column == column)
    if since is not None:
        q = q.where(rt.c.window_start >= as_utc(since, "since"))
    if until is not None:
        q = q.where(rt.c.window_end <= as_utc(until, "until"))
    if window is not None:
        q = q.where(rt.c.window_label == window)
    rows = [dict(r._mapping) for r in session.execute(q.order_by(rt.c.id))]
    rows.sort(key=lambda r: (r["window_start"], r["check"], r["column"]))
    return rows


def newest_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only the newest run's figure per check, column and window (``rows``
    oldest run first within each key, as :func:`stored_rows` gives them);
    order kept."""
    newest: dict[tuple[str, str, str], int] = {}
    for i, r in enumerate(rows):
        newest[(r["check"], r["column"], r["window_label"])] = i
    keep = set(newest.values())
    return [r for i, r in enumerate(rows) if i in keep]
