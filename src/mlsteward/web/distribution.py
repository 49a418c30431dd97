"""A feature's reference distribution against a window's, binned on the server."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from mlsteward.datasets.profile import bin_counts, category_counts
from mlsteward.datasets.service import DatasetService
from mlsteward.errors import MlstewardError
from mlsteward.monitoring.monitors import MonitorService
from mlsteward.serving.log.service import PredictionLog
from mlsteward.web.session import Page

__all__ = ["MAX_WINDOW_ROWS", "feature_distribution"]

#: The most records of a window read to bin a feature; a larger window is
#: binned on its newest records, and the page says so.
MAX_WINDOW_ROWS = 50_000


def _bin_labels(cuts: list[float]) -> list[str]:
    if not cuts:
        return ["all"]
    fmt = "{:.4g}".format
    labels = [f"< {fmt(cuts[0])}"]
    labels += [f"{fmt(a)} – {fmt(b)}" for a, b in itertools.pairwise(cuts)]
    return [*labels, f"≥ {fmt(cuts[-1])}"]


def _shares(counts: np.ndarray) -> list[float]:
    total = float(counts.sum())
    return [float(c) / total if total else 0.0 for c in counts]


def feature_distribution(
    page: Page, monitor: Any, feature: str, window: str
) -> dict[str, Any] | None:
    """Reference and current shares of ``feature`` in ``window``'s bins."""
    rows = MonitorService(page.ctx).results(
        monitor.name, check="drift.psi", column=feature, window=window
    )
    if rows.empty:
        return None
    row = rows.iloc[-1]
    details = row["details"] if isinstance(row["details"], dict) else {}
    ref = (details.get("reference") or {}).get("dataset")
    if not ref:
        return None
    try:
        profile = DatasetService(page.ctx).get(ref).profile["columns"][feature]
    except (MlstewardError, KeyError):
        return None
    values = PredictionLog(page.ctx).values(
        monitor.deployment,
        feature,
        since=row["window_start"].to_pydatetime(),
        until=row["window_end"].to_pydatetime(),
        limit=MAX_WINDOW_ROWS,
    )
    if profile.get("kind") == "numeric":
        labels = _bin_labels(list(profile["cuts"]))
        current = bin_counts(profile, values)
        reference = np.asarray(profile["counts"], dtype=np.int64)
        unseen = 0
    else:
        labels = list(profile["categories"])
        current, unseen = category_counts(profile, values)
        reference = np.asarray(list(profile["categories"].values()), dtype=np.int64)
    chart = {
        "type": "bar",
        "labels": labels,
        "series": [
            {
                "label": f"reference ({ref})",
                "data": _shares(reference),
                "color": "#9aa3b1",
            },
            {"label": f"window {window}", "data": _shares(current), "color": "#1f5fbf"},
        ],
        "y": {"title": "share", "zero": True},
    }
    return {
        "chart": chart,
        "psi": float(row["value"]),
        "reference": ref,
        "n_current": int(current.sum()),
        "unseen": int(unseen),
        "capped": len(values) >= MAX_WINDOW_ROWS,
    }
