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
            A DataFrame with columns ``check, column, window_start,
            window_label, value, status``.

        Example:
            >>> svc.series("cr", checks=["drift.psi"]).columns[0]  # doctest: +SKIP
            'check'
        """
        monitor = MonitorService(self.ctx).get(name)
        cols = (rt.c.check, rt.c.column, rt.c.window_start, rt.c.window_label)
        q = select(*cols, rt.c.value, rt.c.status).where(rt.c.monitor_id == monitor.id)
        if checks is not None:
            q = q.where(rt.c.check.in_(list(checks)))
        if column is not None:
            q = q.where(rt.c.column == column)
        if window is not None:
            q = q.where(rt.c.window_label == window)
        newest: dict[tuple[str, str, str], tuple[Any, ...]] = {}
        with self.ctx.store.read() as session:
            for r in session.execute(q.order_by(rt.c.id)):
                newest[(r[0], r[1], r[3])] = tuple(r)
        frame = pd.DataFrame(
            list(newest.values()),
            columns=[
                "check",
                "column",
                "window_start",
                "window_label",
                "value",
                "status",
            ],
        )
        return frame.sort_values(
            ["window_start", "check", "column"], kind="stable"
        ).reset_index(drop=True)
