"""The drift report as one HTML page: self-contained, the report's own
numbers, bounded in size, user text escaped; and in a real chromium with the
network off, every chart drawn."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.pages import Page, chromium_path, playwright_api, watch

import mlsteward
from mlsteward.datasets.profile import compute_profile
from mlsteward.errors import InvalidInput
from mlsteward.monitoring.drift.charts import TOP_CATEGORIES
from mlsteward.monitoring.drift.compute import DriftResult
from mlsteward.monitoring.drift.html import chartjs_source
from mlsteward.monitoring.drift.stats import psi

HOSTILE = "<script>alert(1)</script>"
QUOTED = 'say "hi" & it\'s </script><script>alert(2)</script>'


def frames(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    zips = np.array([f"z{i:02d}" for i in range(60)])
    ref = pd.DataFrame(
        {
            "income": rng.lognormal(8, 1, n),
            "age": rng.normal(40, 10, n),
            "home": rng.choice(["own", "rent", "mortgage"], n),
            HOSTILE: rng.choice([QUOTED, "plain", "a&b"], n),
            "zip": rng.choice(zips, n),
        }
    )
    cur = ref.copy()
    cur["income"] = rng.lognormal(8.5, 1, n)
    cur.loc[: n // 10, "age"] = np.nan
    cur["home"] = rng.choice(["own", "rent", "mortgage", "council"], n)
    return ref, cur


@pytest.fixture(scope="module")
def pair() -> tuple[pd.DataFrame, pd.DataFrame]:
    return frames()


@pytest.fixture(scope="module")
def report(pair: tuple[pd.DataFrame, pd.DataFrame]) -> DriftResult:
    return mlsteward.drift_report(*pair)


@pytest.fixture(scope="module")
def page(report: DriftResult) -> str:
    return report.to_html()


def test_one_file_with_no_external_reference(page: str) -> None:
    parsed = Page(page)
    linked = [
        (tag, key, value)
        for tag, attrs in parsed.tags
        for key, value in attrs.items()
        if key in ("src", "href", "action", "srcset", "poster", "data") and value
    ]
    assert all(str(v).startswith("#") for _, _, v in linked), linked
    assert not [t for t, _ in parsed.tags if t in ("link", "iframe", "img", "object")]
    css = "".join(re.findall(r"<style>(.*?)</style>", page, flags=re.S))
    assert "url(" not in css and "@import" not in css
    # Chart.js is inline, whole; every other script is ours and inline too.
    assert all("src" not in a for a, _ in parsed.scripts)
    assert any(s == chartjs_source() for _, s in parsed.scripts)
    (csp,) = [a for t, a in parsed.tags if a.get("http-equiv")]
    assert str(csp["content"]).startswith("default-src 'none';")
    # The only URLs in the page are the two in Chart.js's licence comment.
    outside = page.replace(chartjs_source(), "")
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", outside)


def test_table_and_summary_are_the_reports_numbers(
    report: DriftResult, page: str
) -> None:
    parsed = Page(page)
    assert len(parsed.cells) == len(report.rows)
    for r in report.rows:
        cells = parsed.cells[(r.column, r.method)]
        # column, kind, method, statistic, p, p (Holm), band, status, note
        stat, p, p_adj = cells[3:6]
        assert float(stat or "nan") == r.statistic
        assert float(p or "nan") == r.p_value
        assert float(p_adj or "nan") == r.p_adjusted
        assert float(cells[6] or "nan") == r.threshold
    tiles = dict(re.findall(r'data-k="(\w+)">(\d+)<', page))
    assert tiles == {
        "tested": str(len(report.column_status)),
        "drifted": str(len(report.drifted)),
        "watched": str(len(report.watched)),
        "n_reference": str(report.n_reference),
        "n_current": str(report.n_current),
    }
    assert f'id="verdict">{report.verdict}<' in page
    # Each drifted column's link leads to its own chart.
    sections = {a["id"]: a["data-column"] for t, a in parsed.tags if t == "section"}
    links = [str(a["href"])[1:] for t, a in parsed.tags if t == "a"]
    assert report.drifted and [sections[x] for x in links] == report.drifted


def test_numeric_bars_are_the_psi_bins(
    pair: tuple[pd.DataFrame, pd.DataFrame], report: DriftResult, page: str
) -> None:
    ref, cur = pair
    data = Page(page).chart_data()
    by_column = {d["column"]: d for d in data.values()}
    assert set(by_column) == set(report.column_status)
    for name in ("income", "age"):
        d = by_column[name]
        cuts = np.asarray(compute_profile(ref)["columns"][name]["cuts"])
        for side, frame in (("reference", ref), ("current", cur)):
            x = frame[name].to_numpy()
            present = x[~np.isnan(x)]
            counts = np.bincount(
                np.searchsorted(cuts, present, side="right"), minlength=cuts.size + 1
            ).tolist()
            missing = int(np.isnan(x).sum())
            assert d[side] == counts + (
                [missing] if d["labels"][-1] == "(missing)" else []
            )
        # PSI over the drawn bars is the report's PSI.
        (row,) = [r for r in report.rows if r.column == name and r.method == "psi"]
        ref_counts = np.asarray(d["reference"] + [0] * (d["labels"][-1] != "(missing)"))
        cur_counts = np.asarray(d["current"] + [0] * (d["labels"][-1] != "(missing)"))
        assert psi(ref_counts, cur_counts) == pytest.approx(row.statistic, abs=1e-12)
    assert by_column["age"]["labels"][-1] == "(missing)"
    assert by_column["age"]["current"][-1] == int(cur["age"].isna().sum())
    assert by_column["income"]["labels"][0].startswith("< ")


def test_categories_top_other_and_unseen(
    pair: tuple[pd.DataFrame, pd.DataFrame], report: DriftResult
) -> None:
    ref, cur = pair
    zip_chart = report.charts["zip"]
    assert len(zip_chart.labels) == TOP_CATEGORIES + 1
    assert zip_chart.labels[-1] == f"other ({60 - TOP_CATEGORIES} categories)"
    assert zip_chart.folded == 60 - TOP_CATEGORIES
    assert sum(zip_chart.reference) == len(ref) and sum(zip_chart.current) == len(cur)
    shown = zip_chart.labels[:-1]
    counts = ref["zip"].value_counts()
    assert zip_chart.reference[:-1] == [int(counts[c]) for c in shown]
    home = report.charts["home"]
    assert home.labels[-1] == "(not in reference)"
    assert home.current[-1] == int((cur["home"] == "council").sum())
    assert home.reference[-1] == 0
    (psi_row,) = [r for r in report.rows if r.column == "home" and r.method == "psi"]
    assert psi(np.asarray(home.reference), np.asarray(home.current)) == pytest.approx(
        psi_row.statistic, abs=1e-12
    )


def test_a_high_cardinality_column_shows_its_top_and_one_rare_or_new_bar() -> None:
    """The bars are the ones its tests read: the top categories (25+ rows)
    and one bar of the rare and the new values, whose PSI is the row's."""
    rng = np.random.default_rng(5)
    common = rng.choice(["clerk", "driver", "nurse"], 3_000)
    ref = pd.DataFrame({"title": [*common, *(f"r{i}" for i in range(600))]})
    cur = pd.DataFrame({"title": [*common[:500], *(f"n{i}" for i in range(120))]})
    report = mlsteward.drift_report(ref, cur)
    chart = report.charts["title"]
    assert sorted(chart.labels[:3]) == ["clerk", "driver", "nurse"]
    assert chart.labels[3:] == ["(rare or new)"]
    assert (chart.reference[-1], chart.current[-1]) == (600, 120)
    assert sum(chart.reference) == len(ref) and sum(chart.current) == len(cur)
    (psi_row,) = [r for r in report.rows if r.column == "title" and r.method == "psi"]
    assert psi(np.asarray(chart.reference), np.asarray(chart.current)) == pytest.approx(
        psi_row.statistic, abs=1e-12
    )


def test_user_text_is_escaped(report: DriftResult, page: str) -> None:
    assert "<script>alert(" not in page
    assert HOSTILE.replace("<", "&lt;").replace(">", "&gt;") in page
    parsed = Page(page)
    # Only our three script elements: the data, Chart.js, the page's code.
    assert len(parsed.scripts) == 3
    data = parsed.chart_data()
    (hostile,) = [d for d in data.values() if d["column"] == HOSTILE]
    assert QUOTED in hostile["labels"]
    assert {(c, m) for c, m in parsed.cells} == {
        (r.column, r.method) for r in report.rows
    }
    frame = report._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and 'sandbox="allow-scripts"' in frame
    srcdoc = frame.split('"')[1]
    assert "<" not in srcdoc and '"' not in srcdoc


def test_to_html_writes_the_page(report: DriftResult, tmp_path: Path) -> None:
    target = tmp_path / "drift.html"
    page = report.to_html(target, title="Credit book, May")
    assert target.read_text(encoding="utf-8") == page
    assert "<h1>Credit book, May " in page
    with pytest.raises(InvalidInput) as err:
        report.to_html(tmp_path / "missing" / "drift.html")
    assert err.value.field == "path" and "missing" in str(err.value)


def test_page_size_grows_with_columns_not_rows() -> None:
    rng = np.random.default_rng(3)
    sizes = []
    for n in (2_000, 20_000):
        data = {f"c{j}": rng.integers(0, 50, n).astype(str) for j in range(30)}
        data |= {f"x{j}": rng.normal(size=n) for j in range(30)}
        frame = pd.DataFrame(data)
        page = mlsteward.drift_report(frame, frame.iloc[::-1]).to_html()
        sizes.append(len(page.encode()) - len(chartjs_source().encode()))
    # 60 columns: about 2 kB each (table rows, a card, at most 23 bars).
    assert max(sizes) < 60 * 2_500, sizes
    assert abs(sizes[1] - sizes[0]) < 0.05 * sizes[0], sizes


# -- in a real browser --------------------------------------------------------------
@pytest.mark.browser
def test_chromium_offline_draws_every_chart(
    report: DriftResult, tmp_path: Path
) -> None:
    sync_api = playwright_api()
    target = tmp_path / "drift.html"
    report.to_html(target)
    problems: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox"] if os.geteuid() == 0 else [],
        )
        try:
            context = browser.new_context(
                offline=True, viewport={"width": 1200, "height": 900}
            )
            page = context.new_page()
            watch(page, requests, problems)
            page.goto(target.as_uri())
            page.wait_for_selector("html[data-ready='1']")
            canvases = page.locator("canvas[data-feature]")
            assert canvases.count() == len(report.column_status)
            for i in range(canvases.count()):  # charts draw as they scroll in
                canvases.nth(i).scroll_into_view_if_needed()
            page.wait_for_function(
                "n => document.querySelectorAll('canvas[data-drawn]').length === n",
                arg=len(report.column_status),
            )
            drawn = page.evaluate(_DRAWN_JS)
            for column, chart in report.charts.items():
                assert drawn[column]["reference"] == chart.reference
                assert drawn[column]["current"] == chart.current
                assert drawn[column]["inked"] > 500, column  # pixels painted
            page.click("#rows th:nth-child(4)")  # sort by statistic, ascending
            stats = page.eval_on_selector_all(
                "#rows tbody tr td:nth-child(4)", "tds => tds.map(t => t.dataset.v)"
            )
            values = [float(v) for v in stats if v]
            assert values == sorted(values)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(tmp_path / "drift-report.png"))
        finally:
            browser.close()
    assert problems == []
    assert requests == [target.as_uri()]
    assert (tmp_path / "drift-report.png").read_bytes().startswith(b"\x89PNG")


_DRAWN_JS = """() => {
  const out = {};
  document.querySelectorAll('canvas[data-feature]').forEach(c => {
    const chart = Chart.getChart(c);
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let inked = 0;
    for (let i = 3; i < px.length; i += 4) { if (px[i] > 0) inked++; }
    const column = c.closest('section').dataset.column;
    out[column] = {
      reference: chart.data.datasets[0].counts,
      current: chart.data.datasets[1].counts,
      inked: inked,
    };
  });
  return out;
}"""


def test_a_result_without_charts_still_renders(report: DriftResult) -> None:
    bare = dataclasses.replace(report, charts={})
    page = bare.to_html()
    assert "<canvas" not in page and Page(page).chart_data() == {}
    assert len(Page(page).cells) == len(report.rows)


@pytest.mark.browser
def test_the_notebook_frame_draws_inside_its_sandbox(
    report: DriftResult, tmp_path: Path
) -> None:
    sync_api = playwright_api()
    host = tmp_path / "notebook.html"
    host.write_text(
        f"<!DOCTYPE html><html><body>{report._repr_html_()}</body></html>",
        encoding="utf-8",
    )
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox"] if os.geteuid() == 0 else [],
        )
        try:
            page = browser.new_context(offline=True).new_page()
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(host.as_uri())
            frame = page.frame_locator("iframe")
            frame.locator("html[data-ready='1']").wait_for(state="attached")
            first = frame.locator("canvas[data-feature]").first
            first.scroll_into_view_if_needed()
            first.and_(frame.locator("canvas[data-drawn]")).wait_for(state="attached")
            # The sandbox keeps the page's scripts away from the notebook.
            (inner,) = [f for f in page.frames if f != page.main_frame]
            reach = inner.evaluate(
                "() => { try { return window.parent.document.title; }"
                " catch (e) { return 'blocked'; } }"
            )
            assert reach == "blocked"
        finally:
            browser.close()
    assert problems == []


def test_dask_engine_draws_the_same_bars(pair: tuple[pd.DataFrame, pd.DataFrame]):
    pytest.importorskip("dask.dataframe")
    ref, cur = pair
    local = mlsteward.drift_report(ref, cur, mode="sketch")
    on_dask = mlsteward.drift_report(ref, cur, mode="sketch", engine="dask")
    assert on_dask.charts == local.charts and local.charts


def test_edge_columns_constant_all_missing_all_unseen() -> None:
    ref = pd.DataFrame(
        {"k": [1.0] * 50, "m": np.arange(50.0), "c": ["a"] * 25 + ["b"] * 25}
    )
    cur = pd.DataFrame(
        {"k": [1.0] * 40 + [7.0] * 10, "m": [np.nan] * 50, "c": ["z"] * 50}
    )
    charts = mlsteward.drift_report(ref, cur).charts
    assert (charts["k"].labels, charts["k"].current) == (
        ["all values (reference: 1)"],
        [50],
    )
    assert charts["m"].labels[-1] == "(missing)" and charts["m"].current[-1] == 50
    assert sum(charts["m"].current[:-1]) == 0 and charts["m"].reference[-1] == 0
    assert charts["c"].labels == ["a", "b", "(not in reference)"]
    assert (charts["c"].reference, charts["c"].current) == ([25, 25, 0], [0, 0, 50])
