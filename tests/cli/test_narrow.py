"""The demo's tables read whole in an 80-column terminal: every header and
every value, nothing cut to an ellipsis (docs/demo-80cols.txt is a tmux
capture of the real demo at that width)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console
from rich.table import Table

from mlsteward.cli import common
from mlsteward.cli.demo import _decisions_table, _months_table
from mlsteward.demo import Decision, PeriodResult

LONG = "installment_rate_in_percentage_of_disposable_income"


def _report() -> Any:
    periods = [
        PeriodResult(
            label=f"2025-{m:02d}",
            n=250,
            scored_by=f"credit-risk/{1 + (m > 8)}",
            psi={"credit_amount": 0.1 * m / 10, LONG: 0.05 * m},
            score_psi=0.31,
            auc=0.716,
            ks=0.483,
            bad_rate=0.35,
            triggered=["PSI>0.25: credit_history, credit_amount", "cool-down"],
            estimated_auc=0.816,
            alerts=17,
        )
        for m in range(7, 13)
    ]
    decisions = [
        Decision(
            period="2025-08",
            champion="credit-risk/1",
            challenger="credit-risk/2",
            holdout="credit-risk-holdout-2025-08/1",
            champion_auc=0.705,
            challenger_auc=0.716,
            champion_ks=0.449,
            challenger_ks=0.45,
            promoted=p,
            reason="",
        )
        for p in (True, False)
    ]
    return SimpleNamespace(periods=periods, decisions=decisions)


def _plain(table: Table) -> list[tuple[str, list[str]]]:
    headers = [str(c.header) for c in table.columns]
    rows = common._cells(table)
    return [(h, [str(r[i]) for r in rows]) for i, h in enumerate(headers)]


def _render(monkeypatch: pytest.MonkeyPatch, table: Table, **kw: Any) -> str:
    narrow = Console(width=80, record=True, markup=False, color_system=None)
    monkeypatch.setattr(common, "console", narrow)
    with narrow.capture() as cap:
        common.show_table(table, **kw)
    return cap.get()


@pytest.mark.parametrize("build", [_months_table, _decisions_table])
def test_every_header_and_value_is_whole_at_80_columns(
    monkeypatch: pytest.MonkeyPatch, build: Any
) -> None:
    table = build(_report())
    text = _render(monkeypatch, table)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    words = set(text.split())
    for header, values in _plain(table):
        assert all(w in words for w in header.split()), header
        for value in values:
            for word in value.split():
                assert word in words, (header, value)
    assert LONG in text or build is _decisions_table


def test_wide_prints_the_table_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _render(monkeypatch, _months_table(_report()), wide=True)
    assert "┏" in text  # the grid, squashed as the user asked


def test_a_table_that_fits_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    small = Table("name", "value")
    small.add_row("a [bracket]", "1")
    text = _render(monkeypatch, small)
    assert "┏" in text and "a [bracket]" in text


def test_the_capture_is_80_columns_and_whole() -> None:
    from pathlib import Path

    capture = Path(__file__).parents[2] / "docs" / "demo-80cols.txt"
    lines = capture.read_text(encoding="utf-8").splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in "\n".join(lines)
    assert any(line.startswith("est. AUC") for line in lines)
