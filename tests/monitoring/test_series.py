"""The light reads the dashboard plots from: the same figures as the full ones."""

from __future__ import annotations

import pandas as pd

from mlsteward.monitoring.monitors import MonitorService
from mlsteward.monitoring.series import SeriesService
from mlsteward.serving.log.service import PredictionLog


def test_series_are_the_newest_figures_without_details(world) -> None:
    c = world.client
    c.create_monitor("cr", deployment="credit-risk")
    for period in world.history.periods[:2]:
        world.score(period)
        c.run_monitor("cr", window=(period.start, period.end), at=period.end)
    first = world.history.periods[0]
    c.run_monitor("cr", window=(first.start, first.end), at=first.end)  # again
    svc = MonitorService(c.ctx)
    full = svc.results("cr")
    light = SeriesService(c.ctx).series("cr")
    assert len(light) == len(full)
    key = ["check", "column", "window_label"]
    both = full.merge(light, on=key, suffixes=("", "_light"), validate="one_to_one")
    pd.testing.assert_series_equal(
        both["value"], both["value_light"], check_names=False
    )
    assert (both["status"] == both["status_light"]).all()
    psi = SeriesService(c.ctx).series(
        "cr", checks=["drift.psi"], column="credit_amount"
    )
    assert set(psi["check"]) == {"drift.psi"} and set(psi["column"]) == {
        "credit_amount"
    }
    assert list(psi["window_label"]) == [p.label for p in world.history.periods[:2]]
    one = SeriesService(c.ctx).series("cr", window=first.label)
    assert set(one["window_label"]) == {first.label}


def test_values_are_one_input_of_a_window(world) -> None:
    period = world.history.periods[0]
    world.score(period, outcomes=False)
    values = PredictionLog(world.client.ctx).values(
        "credit-risk", "credit_amount", since=period.start, until=period.end
    )
    expected = period.frame["credit_amount"].tolist()
    assert sorted(values) == sorted(expected)
    assert (
        PredictionLog(world.client.ctx).values(
            "credit-risk",
            "credit_amount",
            since=period.start,
            until=period.end,
            limit=5,
        )
        == values[:5]
    )
    assert set(
        PredictionLog(world.client.ctx).values(
            "credit-risk", "no_such_input", since=period.start, until=period.end
        )
    ) == {None}
