"""A drift report's result types, and the judging of its rows.

Each row's Holm-adjusted p-value and effect give its status (the rule is
:func:`~mlsteward.monitoring.drift.rows.status_of`); a column takes its
worst row, the dataset its worst column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mlsteward.monitoring.drift.charts import ColumnChart
from mlsteward.monitoring.drift.options import STATUSES, DriftStatus, Mode
from mlsteward.monitoring.drift.rows import holm, status_of

__all__ = ["ColumnDrift", "DriftResult", "judge_rows"]

_SEVERITY = {s: i for i, s in enumerate(STATUSES)}


@dataclass(frozen=True)
class ColumnDrift:
    """One column checked by one method (a row of :attr:`DriftResult.table`)."""

    column: str
    method: str
    statistic: float | None
    p_value: float | None
    threshold: float
    status: DriftStatus
    kind: str
    effect: float | None
    test: str
    p_adjusted: float | None
    watch_threshold: float
    n_reference: int
    n_current: int
    missing_reference: float | None
    missing_current: float | None
    unseen_current: int = 0
    error_bound: float | None = None
    note: str | None = None
    p_method: str | None = None


@dataclass(frozen=True)
class DriftResult:
    """A drift report: rows per column and method, and the dataset verdict.

    Attributes:
        rows: One :class:`ColumnDrift` per column and method.
        verdict: The worst column status.
        column_status: Worst status over each column's methods.
        methods: The methods used per column (store them in a monitor).
        n_reference: Rows of the reference.
        n_current: Rows of the window.
        alpha: Family-wise significance level.
        correction: Multiple-testing correction (``"holm"``).
        mode: ``"exact"`` (KS/W1 against every reference value) or
            ``"sketch"`` (against the profile's quantile sketch).
        skipped: Profile columns not checked, with the reason.
        charts: Per column, the reference and window counts over the bins
            the statistics used (:class:`~.charts.ColumnChart`), for
            :meth:`to_html`; not part of :meth:`to_dict`.
    """

    rows: list[ColumnDrift]
    verdict: DriftStatus
    column_status: dict[str, DriftStatus]
    methods: dict[str, list[str]]
    n_reference: int
    n_current: int
    alpha: float
    correction: str = "holm"
    mode: Mode = "sketch"
    skipped: dict[str, str] = field(default_factory=dict)
    charts: dict[str, ColumnChart] = field(default_factory=dict, repr=False)

    @property
    def drifted(self) -> list[str]:
        """Columns whose status is ``"drift"``."""
        return [c for c, s in self.column_status.items() if s == "drift"]

    @property
    def watched(self) -> list[str]:
        """Columns whose status is ``"watch"``."""
        return [c for c, s in self.column_status.items() if s == "watch"]

    @property
    def table(self) -> pd.DataFrame:
        """The rows as a DataFrame (``column, method, statistic, p_value,
        threshold, status`` first, then the details)."""
        names = list(ColumnDrift.__dataclass_fields__)
        return pd.DataFrame([asdict(r) for r in self.rows], columns=names)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (no NaN: undefined values are ``None``)."""
        return {
            "verdict": self.verdict,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "alpha": self.alpha,
            "correction": self.correction,
            "mode": self.mode,
            "methods": {k: list(v) for k, v in self.methods.items()},
            "column_status": dict(self.column_status),
            "drifted": self.drifted,
            "watched": self.watched,
            "skipped": dict(self.skipped),
            "rows": [asdict(r) for r in self.rows],
        }

    def to_html(
        self, path: str | Path | None = None, *, title: str | None = None
    ) -> str:
        """The report as one self-contained HTML page (no network needed).

        A summary, a sortable table of every row and, per column, reference
        against window over the bins the statistics used, drawn by the
        Chart.js shipped inside mlsteward.

        Args:
            path: Where to write the page (UTF-8); None writes nothing.
            title: A heading for the page (default ``"Drift report"``).

        Returns:
            The page.

        Raises:
            InvalidInput: ``path`` cannot be written.

        Example:
            >>> import pandas as pd, mlsteward
            >>> ref = pd.DataFrame({"x": range(100)})
            >>> report = mlsteward.drift_report(ref, ref)
            >>> report.to_html().startswith("<!DOCTYPE html>")
            True
            >>> report.to_html("drift.html")  # doctest: +SKIP
        """
        from mlsteward.monitoring.drift.html import render_html, write_page

        page = render_html(self, title=title)
        if path is not None:
            write_page(page, path)
        return page

    def _repr_html_(self) -> str:
        """The page in a sandboxed frame, for Jupyter."""
        from mlsteward.monitoring.drift.html import notebook_frame

        return notebook_frame(self.to_html())


def judge_rows(
    pending: list[dict[str, Any]],
    bands: Mapping[tuple[str, str], tuple[float, float]],
    alpha: float,
) -> tuple[list[ColumnDrift], dict[str, DriftStatus], DriftStatus]:
    """Holm-adjust the p-values, judge each row, then each column and the
    dataset (the worst column: no share-of-columns rule)."""
    adjusted = holm([r["p_value"] for r in pending])
    rows: list[ColumnDrift] = []
    for r, p_adj in zip(pending, adjusted, strict=True):
        watch, drift = bands[(r["column"], r["method"])]
        status = status_of(r["effect"], p_adj, watch, drift, alpha)
        rows.append(
            ColumnDrift(
                **r,
                p_adjusted=p_adj,
                threshold=drift,
                watch_threshold=watch,
                status=status,
            )
        )
    column_status: dict[str, DriftStatus] = {}
    for row in rows:
        prev = column_status.get(row.column, "stable")
        column_status[row.column] = max(prev, row.status, key=_SEVERITY.__getitem__)
    verdict: DriftStatus = max(
        column_status.values(), key=_SEVERITY.__getitem__, default="stable"
    )
    return rows, column_status, verdict
