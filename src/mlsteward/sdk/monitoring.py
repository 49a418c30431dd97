"""Client methods of monitoring (drift, monitors, results, alerts)."""

from __future__ import annotations

from mlsteward.context import Context


class MonitoringMixin:
    ctx: Context
