"""Alerts grouped into incidents, read from the store (in the caller's session).

An incident is the alerts of one monitor run on one window: the alerts table
holds each alert's ``run_id`` and ``window_label``, so no table of its own is
needed. The result rows of that run give each item its details (thresholds,
effect) and the window's start; the monitor's earlier result rows give each
item its *streak*, the windows in a row its check and column were past a
threshold (looked up to :data:`LOOKBACK` windows back). An alert folded into
an earlier one within the cool-down moves to the newest run that raised it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlsteward.monitoring.digest import build_incident, describe, excess, phrase
from mlsteward.monitoring.models import Incident, IncidentItem
from mlsteward.monitoring.tables import monitor_results as rt
from mlsteward.monitoring.tables import monitors as mt

__all__ = ["LOOKBACK", "group_rows", "incidents_of", "status_of"]

#: Earlier windows looked at when counting a streak.
LOOKBACK = 24
_PAST = ("warn", "alert")

Key = tuple[str, str]


def group_rows(rows: Iterable[Any]) -> dict[Key, list[Any]]:
    """Alert rows by (run id, window label), in the order first met."""
    groups: dict[Key, list[Any]] = {}
    for r in rows:
        groups.setdefault((r.run_id, r.window_label), []).append(r)
    return groups


def status_of(statuses: Iterable[str]) -> str:
    """An incident's status from its alerts': pending, failed, else sent."""
    seen = set(statuses)
    return next((s for s in ("pending", "failed") if s in seen), "sent")


def _streaks(
    session: Session, monitor_id: str, start: Any, computed_at: Any, keys: set[Key]
) -> dict[Key, int]:
    """Windows in a row (this one included) each key was past a threshold."""
    out = dict.fromkeys(keys, 1)
    if start is None or not keys:
        return out
    mine = (
        rt.c.monitor_id == monitor_id,
        rt.c.window_start < start,
        rt.c.computed_at <= computed_at,
    )
    windows = list(
        session.execute(
            select(rt.c.window_start)
            .where(*mine)
            .distinct()
            .order_by(rt.c.window_start.desc())
            .limit(LOOKBACK)
        ).scalars()
    )
    if not windows:
        return out
    status_at: dict[tuple[str, str, Any], str] = {}
    for r in session.execute(
        select(rt.c.check, rt.c.column, rt.c.window_start, rt.c.status)
        .where(*mine, rt.c.window_start >= windows[-1])
        .where(rt.c.check.in_(sorted({k[0] for k in keys})))
        .order_by(rt.c.computed_at.desc(), rt.c.id.desc())
    ):
        status_at.setdefault((r.check, r.column, r.window_start), r.status)
    for key in keys:
        for w in windows:
            if status_at.get((*key, w)) not in _PAST:
                break
            out[key] += 1
    return out


def _results(session: Session, run_ids: Sequence[str]) -> dict[tuple, Any]:
    """This runs' result rows by (run, window, check, column)."""
    rows = session.execute(
        select(
            rt.c.run_id,
            rt.c.window_label,
            rt.c.check,
            rt.c.column,
            rt.c.window_start,
            rt.c.details,
            rt.c.computed_at,
        ).where(rt.c.run_id.in_(list(run_ids)))
    )
    return {(r.run_id, r.window_label, r.check, r.column): r for r in rows}


def incidents_of(session: Session, rows: Sequence[Any]) -> list[Incident]:
    """The incidents the given alert rows make, in the order first met.

    Example:
        >>> incidents_of(session, alert_rows)[0].summary  # doctest: +SKIP
        'credit-risk 2025-12: 2 critical, 9 warnings — ...'
    """
    groups = group_rows(rows)
    monitor_ids = sorted({r.monitor_id for r in rows})
    deployment = {
        r.id: r.deployment
        for r in session.execute(
            select(mt.c.id, mt.c.deployment).where(mt.c.id.in_(monitor_ids))
        )
    }
    results = _results(session, sorted({k[0] for k in groups}))
    out = []
    for (run_id, label), members in groups.items():
        found = [results.get((run_id, label, a.check, a.column)) for a in members]
        known = [f for f in found if f is not None]
        streaks = _streaks(
            session,
            members[0].monitor_id,
            known[0].window_start if known else None,
            max(f.computed_at for f in known) if known else None,
            {(a.check, a.column) for a in members},
        )
        pairs = zip(members, found, strict=True)
        details = {a.id: (f.details if f else {}) for a, f in pairs}
        items = [
            IncidentItem(
                alert_id=a.id,
                check=a.check,
                column=a.column,
                severity=a.severity,
                value=a.value,
                text=describe({**a._mapping, "details": details[a.id]}),
                phrase=phrase(a.check, a.column, a.value, details[a.id]),
                excess=excess(a.value, details[a.id]),
                streak=streaks[(a.check, a.column)],
            )
            for a in members
        ]
        out.append(
            build_incident(
                run_id=run_id,
                window_label=label,
                monitor=members[0].monitor,
                deployment=deployment.get(members[0].monitor_id),
                seen_at=max(a.last_seen for a in members),
                status=status_of(a.status for a in members),
                items=items,
            )
        )
    return out
