"""Monitor figures as light series, for plotting a long history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import select

from mlsteward.context import Context
from mlsteward.identity.access import use_case
from mlsteward.monitoring.monitors import MonitorService
from mlsteward.monitoring.tables import monitor_results as rt

__all__ = ["SeriesService"]


class SeriesService:
    """Read a monitor's figures without their details."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @use_case("monitors.series", "viewer")
    def series(
        self,
        name: str,
        *,
        checks: Sequence[str] | None = None,
        column: str | None = None,
        window: str | None = None,
    ) -> pd.DataFrame:
        """The monitor's figures without their details, for plotting: one row
        per check, column and window (the newest run's), in window order.

        Lighter than :meth:`results` on a long history: the details (the
        bulk of a stored row) are neither read nor decoded.

        Args:
            name: The monitor.
            checks: Only these checks (exact names).
            column: Only this column.
            window: Only this window label.

        Returns:
            A DataFrame with columns ``check, column, window_label, value,
            status``, its rows in the order of the windows' starts.

        Example:
            >>> svc.series("cr", checks=["drift.psi"]).columns[0]  # doctest: +SKIP
            'check'
        """
        monitor = MonitorService(self.ctx).get(name)
        cols = (rt.c.check, rt.c.column, rt.c.window_label, rt.c.value, rt.c.status)
        q = select(*cols).where(rt.c.monitor_id == monitor.id)
        if checks is not None:
            q = q.where(rt.c.check.in_(list(checks)))
        if column is not None:
            q = q.where(rt.c.column == column)
        if window is not None:
            q = q.where(rt.c.window_label == window)
        # In window order; a window's later run overwrites its figures but
        # keeps their place. Times are not read: the order is the database's.
        newest: dict[tuple[str, str, str], tuple[Any, ...]] = {}
        with self.ctx.store.read() as session:
            for r in session.execute(q.order_by(rt.c.window_start, rt.c.id)):
                newest[(r[0], r[1], r[2])] = tuple(r)
        return pd.DataFrame(
            list(newest.values()),
            columns=["check", "column", "window_label", "value", "status"],
        )
