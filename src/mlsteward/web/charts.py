"""Chart specifications for ``static/charts.js``: data only, already
aggregated (one point per window and series), never raw records."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

__all__ = [
    "fairness_chart",
    "feature_psi_chart",
    "most_drifted",
    "performance_chart",
    "psi_chart",
    "window_labels",
]

#: PSI's customary bands: below 0.1 stable, 0.1 to 0.25 watch, above act.
PSI_BANDS = (0.1, 0.25)
RED, AMBER = "#c62828", "#e69500"


def _clean(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def window_labels(frame: pd.DataFrame) -> list[str]:
    """The window labels of a frame in window order (a frame of
    :meth:`~mlsteward.monitoring.series.SeriesService.series` is in it)."""
    return list(dict.fromkeys(str(x) for x in frame["window_label"].tolist()))


def _series(frame: pd.DataFrame, labels: list[str]) -> list[float | None]:
    """One value per window label (``None`` where the window has none),
    rounded to what a chart can show."""
    by = dict(
        zip(frame["window_label"].tolist(), frame["value"].tolist(), strict=False)
    )
    out = [_clean(by.get(label)) for label in labels]
    return [None if v is None else round(v, 4) for v in out]


def _bands(labels: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "label": f"PSI {band}",
            "data": [band] * len(labels),
            "color": color,
            "dashed": True,
            "points": 0,
            "width": 1,
        }
        for band, color in zip(PSI_BANDS, (AMBER, RED), strict=True)
    ]


def _alert_marks(
    labels: list[str], alerts: list[Any], prefixes: tuple[str, ...], column: str | None
) -> dict[str, Any] | None:
    data: list[float | None] = [None] * len(labels)
    index = {label: i for i, label in enumerate(labels)}
    for a in alerts:
        if not a.check.startswith(prefixes) or a.window_label not in index:
            continue
        if column is not None and a.column != column:
            continue
        data[index[a.window_label]] = _clean(a.value)
    if not any(v is not None for v in data):
        return None
    return {
        "label": "alert",
        "data": data,
        "color": RED,
        "line": False,
        "points": 7,
        "marker": "triangle",
        "order": -1,
    }


def psi_chart(
    labels: list[str], score: pd.DataFrame, psi: pd.DataFrame, alerts: list[Any]
) -> dict[str, Any]:
    """The score's PSI and every feature's, per window, with the bands."""
    series: list[dict[str, Any]] = []
    if not score.empty:
        series.append({"label": "score", "data": _series(score, labels), "width": 3})
    for column, part in psi.groupby("column", sort=True):
        series.append(
            {
                "label": str(column),
                "data": _series(part, labels),
                "width": 1,
                "points": 0,
            }
        )
    marks = _alert_marks(labels, alerts, ("score_drift.psi",), None)
    series += _bands(labels) + ([marks] if marks else [])
    return {"labels": labels, "series": series, "y": {"title": "PSI", "zero": True}}


def feature_psi_chart(
    labels: list[str], psi: pd.DataFrame, feature: str | None, alerts: list[Any]
) -> dict[str, Any] | None:
    if feature is None:
        return None
    part = psi[psi["column"] == feature]
    series = [{"label": f"PSI of {feature}", "data": _series(part, labels), "width": 3}]
    marks = _alert_marks(labels, alerts, ("drift.psi",), feature)
    series += _bands(labels) + ([marks] if marks else [])
    return {"labels": labels, "series": series, "y": {"title": "PSI", "zero": True}}


def most_drifted(psi: pd.DataFrame, window: str | None) -> str | None:
    part = psi[psi["window_label"] == window] if window else psi
    if part.empty:
        part = psi
    if part.empty:
        return None
    return str(part.sort_values("value", ascending=False)["column"].iloc[0])


def _estimate_band(details: Any) -> tuple[float | None, float | None]:
    """The estimate's interval: its own bounds where it reports them, else
    1.96 sampling errors either side; ``None`` where it has neither."""
    if not isinstance(details, dict):
        return None, None
    lower, upper = _clean(details.get("lower")), _clean(details.get("upper"))
    if lower is not None and upper is not None:
        return lower, upper
    se, est = (
        _clean(details.get("sampling_error")),
        _clean(details.get("estimated_auc")),
    )
    if se is None or est is None:
        return None, None
    return est - 1.96 * se, est + 1.96 * se


def performance_chart(
    labels: list[str],
    realised: pd.DataFrame,
    share: pd.DataFrame,
    estimated: pd.DataFrame,
    alerts: list[Any],
) -> dict[str, Any]:
    """Realised AUC and the labelled share beside the estimated AUC and its
    band (from the estimate's details), per window."""
    bands = dict(zip(estimated["window_label"], estimated["details"], strict=False))
    lower = [_estimate_band(bands.get(label))[0] for label in labels]
    upper = [_estimate_band(bands.get(label))[1] for label in labels]
    series: list[dict[str, Any]] = []
    if any(v is not None for v in lower):
        series.append(
            {
                "label": "estimate, lower",
                "data": lower,
                "color": "#9aa3b1",
                "points": 0,
                "width": 1,
            }
        )
        series.append(
            {
                "label": "estimate, upper",
                "data": upper,
                "color": "#9aa3b1",
                "points": 0,
                "width": 1,
                "fill": "-1",
            }
        )
    series += [
        {"label": "realised AUC", "data": _series(realised, labels), "width": 3},
        {"label": "estimated AUC", "data": _series(estimated, labels), "dashed": True},
        {
            "label": "labelled share",
            "data": _series(share, labels),
            "color": "#2e7d32",
            "width": 1,
        },
    ]
    marks = _alert_marks(labels, alerts, ("performance.auc", "estimated.auc"), None)
    if marks:
        series.append(marks)
    return {
        "labels": labels,
        "series": series,
        "y": {"title": "AUC · share", "min": 0, "max": 1},
    }


def fairness_chart(
    labels: list[str], ratios: pd.DataFrame, alerts: list[Any]
) -> dict[str, Any]:
    """The approval-rate ratio (lowest group to highest) per protected
    attribute and window, with the four-fifths line."""
    series: list[dict[str, Any]] = [
        {"label": str(column), "data": _series(part, labels)}
        for column, part in ratios.groupby("column", sort=True)
    ]
    series.append(
        {
            "label": "four-fifths",
            "data": [0.8] * len(labels),
            "color": RED,
            "dashed": True,
            "points": 0,
            "width": 1,
        }
    )
    marks = _alert_marks(labels, alerts, ("fairness.approval_ratio",), None)
    if marks:
        series.append(marks)
    return {
        "labels": labels,
        "series": series,
        "y": {"title": "approval ratio", "min": 0},
    }
