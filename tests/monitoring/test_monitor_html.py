"""A monitor's history as one HTML page: PSI over time per feature, realised
and estimated AUC, alerts marked; the stored numbers, escaped, offline."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.monitoring.conftest import World, make_world
from tests.pages import Page, chromium_path, playwright_api, watch
from typer.testing import CliRunner

from mlsteward.config import Settings
from mlsteward.monitoring.drift.html import chartjs_source
from mlsteward.monitoring.history_html import monitor_data, render_monitor_html
from mlsteward.monitoring.models import Alert

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def monitored(
    tmp_path_factory: pytest.TempPathFactory, history: Any, scorecard: Any
) -> Iterator[tuple[World, Settings]]:
    """Monitor ``cr`` run over three simulated months (once for the module)."""
    from mlsteward.sdk import Client

    settings = Settings(home=tmp_path_factory.mktemp("monitored") / "home", actor="t")
    client = Client(settings)
    world = make_world(client, history, scorecard)
    client.create_monitor("cr", deployment="credit-risk", alerting={"sinks": ["log"]})
    for period in history.periods[:3]:
        world.score(period)
        client.run_monitor("cr", window=(period.start, period.end), at=period.end)
    yield world, settings
    client.close()


def _data(page: str) -> dict[str, Any]:
    return Page(page).chart_data("monitor-data")


def test_page_holds_the_stored_series_and_marks_the_alerts(monitored) -> None:
    world, _ = monitored
    c = world.client
    frame = c.monitor_results("cr")
    alerts = c.list_alerts(monitor="cr", limit=1000)
    assert alerts, "the simulated months should raise at least one alert"
    page = render_monitor_html("cr", frame, alerts)
    data = _data(page)
    labels = [p.label for p in world.history.periods[:3]]
    assert data["windows"] == labels
    psi = pd.concat(
        [c.monitor_results("cr", check=k) for k in ("drift.psi", "score_drift.psi")]
    )
    assert {(d["check"], d["column"]) for d in data["psi"]} == set(
        zip(psi["check"], psi["column"], strict=True)
    )
    assert ("score_drift.psi", "score") in {
        (d["check"], d["column"]) for d in data["psi"]
    }
    for item in data["psi"]:
        mine = (psi["column"] == item["column"]) & (psi["check"] == item["check"])
        stored = psi[mine].set_index("window_label")
        assert item["values"] == [stored.loc[w, "value"] for w in labels]
        assert item["statuses"] == [stored.loc[w, "status"] for w in labels]
        assert item["bands"] == [0.1, 0.25]
    for check in ("performance.auc", "estimated.auc"):
        stored = c.monitor_results("cr", check=check).set_index("window_label")
        assert data["performance"][check]["values"] == [
            stored.loc[w, "value"] for w in labels
        ]
    marked = {
        (d["check"], d["column"], w)
        for d in data["psi"]
        for w, a in zip(labels, d["alerts"], strict=True)
        if a
    }
    assert marked == {
        (a.check, a.column, a.window_label)
        for a in alerts
        if a.check in ("drift.psi", "score_drift.psi")
    }
    perf_marks = data["performance"]["performance.auc"]["alerts"]
    assert [w for w, a in zip(labels, perf_marks, strict=True) if a] == sorted(
        a.window_label for a in alerts if a.check == "performance.auc"
    )
    rows = re.findall(r'<tr data-check="([^"]+)" data-column="([^"]+)"', page)
    assert sorted(rows) == sorted((a.check, a.column) for a in alerts)
    assert page.count('<canvas id="chart-psi-') == len(data["psi"])
    assert "https://" not in page.replace(chartjs_source(), "")


def _alert(column: str, message: str) -> Alert:
    now = dt.datetime(2025, 8, 1, tzinfo=dt.UTC)
    return Alert(
        id="a1", monitor="m", check="drift.psi", column=column, severity="critical",
        status="sent", dedupe_key="k", message=message, value=0.4,
        window_label="2025-07", run_id="r", first_seen=now, last_seen=now, count=1,
        sinks=["log"], delivered=["log"], sink_attempts=[], attempts=1,
        created_at=now, sent_at=now,
    )  # fmt: skip


def test_user_text_is_escaped_and_gaps_stay_gaps() -> None:
    start = pd.Timestamp("2025-07-01", tz="UTC")
    rows = []
    for k, label in enumerate(["2025-07", "2025-08"]):
        rows.append(
            {
                "monitor": "m", "run_id": "r", "check": "drift.psi",
                "column": HOSTILE, "window_start": start + pd.Timedelta(days=31 * k),
                "window_end": start + pd.Timedelta(days=31 * (k + 1)),
                "window_label": label, "value": [0.4, None][k],
                "status": ["alert", "error"][k],
                "details": {"watch_threshold": 0.2, "threshold": 0.3},
                "computed_at": start,
            }
        )  # fmt: skip
    frame = pd.DataFrame(rows)
    alert = _alert(HOSTILE, 'PSI of "x" </script><script>alert(2)</script>')
    page = render_monitor_html('m "<b>"', frame, [alert])
    assert "<script>alert(" not in page and "<b>" not in page
    data = _data(page)
    (item,) = data["psi"]
    assert item["column"] == HOSTILE
    assert item["values"] == [0.4, None] and item["alerts"] == [True, False]
    assert item["bands"] == [0.2, 0.3] and item["latest_status"] == "error"
    assert data["performance"] == {}
    assert monitor_data(frame.iloc[:0], []) == {
        "windows": [],
        "psi": [],
        "performance": {},
    }


def test_cli_writes_the_report(monitored, tmp_path, monkeypatch) -> None:
    from mlsteward.cli import app

    monkeypatch.setenv("MLSTEWARD_HOME", str(monitored[1].home))
    monkeypatch.delenv("MLSTEWARD_DB_URL", raising=False)
    out = tmp_path / "cr.html"
    runner = CliRunner()
    done = runner.invoke(
        app, ["monitors", "report", "cr", "--html", str(out), "--json"]
    )
    assert done.exit_code == 0, done.output
    said = json.loads(done.stdout)
    assert said["html"] == str(out.resolve()) and said["alerts"] > 0
    assert _data(out.read_text(encoding="utf-8"))["windows"]
    missing = runner.invoke(app, ["monitors", "report", "nope", "--html", str(out)])
    assert missing.exit_code == 2 and "nope" in missing.output  # not found: 2
    nowhere = runner.invoke(
        app, ["monitors", "report", "cr", "--html", str(tmp_path / "x" / "r.html")]
    )
    assert nowhere.exit_code == 2 and "--html" in nowhere.output


@pytest.mark.browser
def test_chromium_offline_draws_every_chart(monitored, tmp_path: Path) -> None:
    sync_api = playwright_api()
    c = monitored[0].client
    target = tmp_path / "cr.html"
    target.write_text(
        render_monitor_html(
            "cr", c.monitor_results("cr"), c.list_alerts(monitor="cr", limit=1000)
        ),
        encoding="utf-8",
    )
    problems: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox"] if os.geteuid() == 0 else [],
        )
        try:
            page = browser.new_context(offline=True).new_page()
            watch(page, requests, problems)
            page.goto(target.as_uri())
            page.wait_for_selector("html[data-ready='1']")
            canvases = page.locator("canvas[data-chart]")
            n = canvases.count()
            assert n == 1 + len(_data(target.read_text())["psi"])
            for i in range(n):
                canvases.nth(i).scroll_into_view_if_needed()
            page.wait_for_function(
                "n => document.querySelectorAll('canvas[data-drawn]').length === n",
                arg=n,
            )
            marks = page.evaluate(
                "() => Chart.getChart(document.getElementById('chart-performance'))"
                ".data.datasets.map(d => d.label)"
            )
            assert marks == ["realised AUC", "estimated AUC"]
            page.screenshot(path=str(tmp_path / "monitor.png"))
        finally:
            browser.close()
    assert problems == [] and requests == [target.as_uri()]
