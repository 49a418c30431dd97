"""``client.monitors`` and ``client.alerts``: the service's use cases under
its own names, specs built from fields or passed whole."""

from __future__ import annotations

import pytest
from tests.monitoring.conftest import World

from mlsteward.errors import InvalidInput, NotFound
from mlsteward.monitoring.specs import CreateMonitor, RunMonitor


def test_monitors_namespace(sqlite_world: World) -> None:
    w = sqlite_world
    w.score(w.history.periods[0])
    c, period = w.client, w.history.periods[0]
    spec = CreateMonitor(
        name="cr", deployment="credit-risk", window="period:month", checks=["drift"]
    )
    m = c.monitors.create(spec)
    assert (m.name, m.window, sorted(m.checks)) == (
        "cr",
        {"type": "period", "period": "month", "lookback": 1},
        ["drift"],
    )
    # A version reference fixes the columns from that version; the monitor
    # keeps the registered model's name (one vocabulary with deployments).
    m2 = c.monitors.create(spec, name="cr2", model="credit-risk/1")
    assert (m2.model, m2.state["model_version_at_creation"]) == (
        "credit-risk",
        "credit-risk/1",
    )
    assert [x.name for x in c.monitors.list(deployment="credit-risk")] == ["cr", "cr2"]
    assert c.monitors.get("cr") == m

    start, end = period.start, period.end
    run = c.monitors.run("cr", start=start, end=end)
    assert [win.label for win in run.windows] == [period.label]
    again = c.monitors.run("cr", RunMonitor(start=start, end=end, at=end))
    assert again.at == end
    frame = c.monitors.results("cr", check="drift", window=period.label)
    assert len(frame) and set(frame["check"].str.split(".").str[0]) == {"drift"}
    assert c.monitors.run_due(now=end) is not None
    assert isinstance(c.alerts.list(monitor="cr"), list)
    assert isinstance(c.alerts.deliver_pending(), list)
    c.monitors.delete("cr2")
    with pytest.raises(NotFound):
        c.monitors.get("cr2")


def test_fields_and_spec_are_validated_alike(sqlite_world: World) -> None:
    c = sqlite_world.client
    with pytest.raises(InvalidInput) as err:
        c.monitors.create(name="cr", deployment="credit-risk", window="last:0")
    assert err.value.field == "window.n"
    spec = CreateMonitor(name="cr", deployment="credit-risk")
    with pytest.raises(InvalidInput) as err:
        c.monitors.create(spec, window={"type": "period", "period": "year"})
    assert err.value.field == "window.period"
    assert err.value.details["allowed"] == ["month", "week", "day"]
    assert c.monitors.list() == []
