"""An alert's one line says what was compared with what, in plain words."""

from __future__ import annotations

from mlsteward.monitoring.alerts import message_of
from mlsteward.monitoring.quality import volume_check


def _row(check: str, value: float, details: dict) -> dict:  # type: ignore[type-arg]
    return {
        "check": check,
        "column": "*",
        "value": value,
        "details": details,
        "window_label": "2025-12",
    }


def test_volume_says_rate_change_baseline_and_levels() -> None:
    r = volume_check(447, 1.0, [333.9, 300.0, 340.0])
    text = message_of("m", _row(r.check, r.value, r.details), "warning")
    assert text == (
        "[warning] mlsteward monitor m: quality.volume = 447 per day, +34% "
        "against the median of 3 earlier window(s), 333.9 per day (warn at a "
        "change of 30%, alert at 50%) in window 2025-12"
    )
    assert "judged on" not in text


def test_an_auc_drop_names_the_baseline() -> None:
    details = {
        "threshold": {"auc_drop": {"warn": 0.03, "alert": 0.05}},
        "drop": 0.196,
        "baseline_auc": 0.716,
    }
    text = message_of("m", _row("performance.auc", 0.52, details), "critical")
    assert "= 0.52, 0.196 below the baseline 0.716 (warn at a drop of 0.03" in text
