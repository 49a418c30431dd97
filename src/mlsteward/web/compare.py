"""Champion against challenger on the same holdout: curves, calibration and
approval rates by protected group, computed by scoring the holdout with
both versions (the model report's group figures, ``governance/report``).

Versions and dataset versions never change, so a comparison is cached per
(champion, challenger, holdout) in the process; the cache is small and
bounded.
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock
from typing import Any

import numpy as np

from mlsteward import metrics
from mlsteward.governance.report import data as report_data
from mlsteward.registry.evaluation import binary_labels
from mlsteward.web.charts import RED

__all__ = ["compare"]

_CACHE: OrderedDict[tuple[str, str, str, str], dict[str, Any]] = OrderedDict()
_LOCK = Lock()
_MAX = 32
#: Points per curve sent to the browser.
_POINTS = 101
_COLORS = ("#1f5fbf", "#e69500")


def _roc(y: np.ndarray, p: np.ndarray) -> list[dict[str, float]]:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    grid = np.linspace(0.0, 1.0, _POINTS)
    return [
        {"x": round(float(x), 4), "y": round(float(v), 4)}
        for x, v in zip(grid, np.interp(grid, fpr, tpr), strict=True)
    ]


def _ks(y: np.ndarray, p: np.ndarray) -> dict[str, list[dict[str, float]]]:
    grid = np.linspace(0.0, 1.0, _POINTS)
    bads, goods = np.sort(p[y == 1]), np.sort(p[y == 0])

    def cdf(values: np.ndarray) -> list[dict[str, float]]:
        share = np.searchsorted(values, grid, side="right") / max(values.size, 1)
        return [
            {"x": round(float(x), 4), "y": round(float(v), 4)}
            for x, v in zip(grid, share, strict=True)
        ]

    return {"bads": cdf(bads), "goods": cdf(goods)}


def _scored(src: Any, ref: str, holdout: str) -> tuple[np.ndarray, np.ndarray]:
    frame = src.frame(holdout)
    target = src.dataset(holdout).target
    if not target or target not in frame.columns:
        from mlsteward.errors import InvalidInput

        raise InvalidInput(
            f"holdout {holdout} has no target column to compare on", field="holdout"
        )
    p = np.asarray(src.model(ref).predict_proba(frame), dtype=np.float64)
    return binary_labels(frame[target], target), p


def _figures(src: Any, ref: str, holdout: str) -> dict[str, Any]:
    y, p = _scored(src, ref, holdout)
    mv = src.registry.get(ref)
    evals = [e for e in src.evaluation_service.list(ref) if e.dataset == holdout]
    return {
        "ref": ref,
        "auc": metrics.auc(y, p),
        "ks": metrics.ks(y, p),
        "brier": metrics.brier(y, p),
        "n": int(y.size),
        "roc": _roc(y, p),
        "ks_curve": _ks(y, p),
        "calibration": metrics.calibration_by_band(y, p),
        "groups": report_data.groups(src, mv, evals[-1:]) if evals else [],
    }


def _unit_chart(series: list[dict[str, Any]], x: str, y: str) -> dict[str, Any]:
    """A chart of ``{x, y}`` points on the unit square."""
    return {
        "series": series,
        "labels": [0],
        "x": {"type": "linear", "min": 0, "max": 1, "title": x},
        "y": {"min": 0, "max": 1, "title": y},
    }


def _diagonal(label: str, color: str) -> dict[str, Any]:
    return {
        "label": label,
        "data": [{"x": 0, "y": 0}, {"x": 1, "y": 1}],
        "color": color,
        "dashed": True,
        "points": 0,
        "width": 1,
    }


def _roc_chart(sides: list[dict[str, Any]]) -> dict[str, Any]:
    series = [
        {"label": f"{s['ref']} (AUC {s['auc']:.3f})", "data": s["roc"], "color": c}
        | {"points": 0}
        for s, c in zip(sides, _COLORS, strict=False)
    ]
    series.append(_diagonal("chance", "#9aa3b1"))
    return _unit_chart(series, "false positive rate", "true positive rate")


def _ks_chart(sides: list[dict[str, Any]]) -> dict[str, Any]:
    series = []
    for s, c in zip(sides, _COLORS, strict=False):
        curve = s["ks_curve"]
        label = f"{s['ref']} bads (KS {s['ks']:.3f})"
        series.append({"label": label, "data": curve["bads"], "color": c, "points": 0})
        series.append(
            {"label": f"{s['ref']} goods", "data": curve["goods"], "color": c}
            | {"dashed": True, "points": 0}
        )
    return _unit_chart(series, "score", "cumulative share")


def _calibration_chart(sides: list[dict[str, Any]]) -> dict[str, Any]:
    series = []
    for s, c in zip(sides, _COLORS, strict=False):
        points = [
            {"x": round(b["mean_predicted"], 4), "y": round(b["observed_bad_rate"], 4)}
            for b in s["calibration"]
            if b.get("mean_predicted") is not None
            and b.get("observed_bad_rate") is not None
        ]
        series.append({"label": s["ref"], "data": points, "color": c})
    series.append(_diagonal("perfect", RED))
    return _unit_chart(series, "mean predicted", "observed bad rate")


def _bad_rate_chart(sides: list[dict[str, Any]]) -> dict[str, Any]:
    bands = max((len(s["calibration"]) for s in sides), default=0)
    return {
        "type": "bar",
        "labels": [f"band {i + 1}" for i in range(bands)],
        "series": [
            {
                "label": s["ref"],
                "data": [b.get("observed_bad_rate") for b in s["calibration"]],
                "color": c,
            }
            for s, c in zip(sides, _COLORS, strict=False)
        ],
        "y": {"title": "bad rate", "zero": True},
        "x": {"title": "score band (deciles, lowest scores first)"},
    }


def _charts(sides: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "roc": _roc_chart(sides),
        "ks": _ks_chart(sides),
        "calibration": _calibration_chart(sides),
        "bad_rate": _bad_rate_chart(sides),
    }


def compare(ctx: Any, refs: list[str], holdout: str) -> dict[str, Any]:
    """Figures and chart specs of ``refs`` (one or two versions) on ``holdout``."""
    src = report_data.ReportSources(ctx)
    dv = src.dataset(holdout)
    sides = []
    for ref in refs:
        mv = src.registry.get(ref)  # checks the caller may read it
        key = (ref, mv.artifact_sha256, holdout, dv.sha256)
        with _LOCK:
            cached = _CACHE.get(key)
        if cached is None:
            cached = _figures(src, ref, holdout)
            with _LOCK:
                _CACHE[key] = cached
                while len(_CACHE) > _MAX:
                    _CACHE.popitem(last=False)
        sides.append(cached)
    return {"sides": sides, "charts": _charts(sides), "holdout": holdout}
