"""``mlsteward demo``: the closed loop on bundled credit data, with a summary."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from mlsteward.cli.common import (
    JSON_OPTION,
    console,
    emit_json,
    esc,
    handle_errors,
    show_table,
)

# Stages the progress bar counts: load, train, then per month score, join,
# and (sometimes) retrain, compare, decide.
_FIXED_STEPS = 2


@handle_errors
def demo(
    home: Path | None = typer.Option(
        None, "--home", help="mlsteward home to use (default: MLSTEWARD_HOME)."
    ),
    seed: int = typer.Option(7, help="Seed of the simulated months."),
    wide: bool = typer.Option(
        False, "--wide", help="Print tables whole, however narrow the terminal."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run the closed loop end to end on the bundled German credit data."""
    from mlsteward.config import get_settings
    from mlsteward.sdk import Client

    settings = get_settings(home=home) if home else get_settings()
    client = Client(settings)
    started = time.perf_counter()
    report = _run_with_progress(client, seed, quiet=as_json)
    elapsed = time.perf_counter() - started
    if as_json:
        out = report.to_dict()
        out["seconds"] = elapsed
        emit_json(out)
        return
    console.print(
        f"[bold]mlsteward demo[/] in {esc(report.home)}  ({elapsed:.1f} s)", markup=True
    )
    console.print(
        f"champion at start: [bold]{report.champion_start}[/] "
        f"(cross-validated AUC {report.baseline_auc:.3f})",
        markup=True,
    )
    show_table(_months_table(report), wide=wide)
    console.print("incidents, one per month (mlsteward alerts incidents):")
    for p in report.periods:
        if p.incident:
            console.print(f"  {p.incident['summary']}", markup=False, soft_wrap=True)
    if report.decisions:
        show_table(_decisions_table(report), wide=wide)
        for d in report.decisions:
            console.print(f"  {d.period}: {d.reason}")
    else:
        console.print("no retraining was triggered")
    console.print(f"champion now: [bold]{report.champion_end}[/]", markup=True)
    console.print(
        f"audit chain: {report.audit_events} events, "
        + ("[green]verified[/]" if report.audit_ok else "[red]BROKEN[/]"),
        markup=True,
    )
    console.print(f"model documentation: {report.report_path}")
    console.print(
        "history: [bold]mlsteward models show credit-risk[/], "
        "[bold]mlsteward audit log[/], "
        f"[bold]mlsteward lineage {report.champion_end}[/]",
        markup=True,
    )
    from mlsteward.demo import token_path

    tokens = token_path(client).parent
    console.print(
        f"act as the demo's people: their tokens are in {tokens} (yours only); "
        "as dana, the developer:"
    )
    console.print(
        f"  export MLSTEWARD_TOKEN=$(cat {token_path(client)})",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    _print_dashboard(client, report.home)


def _print_dashboard(client: Any, home: str) -> None:
    """How to open the demo's history in the dashboard."""
    from mlsteward.demo import token_path
    from mlsteward.demo.people import APPROVER

    console.print(
        "[bold]dashboard[/]: serve this home, open the page, sign in:", markup=True
    )
    for line in (
        f"  MLSTEWARD_HOME={home} mlsteward server --port 8000",
        "  open http://127.0.0.1:8000/ui/",
        f"  sign in with the approver's token: cat {token_path(client, APPROVER)}",
    ):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _run_with_progress(client: Any, seed: int, *, quiet: bool) -> Any:
    """The demo's report, with a progress bar (and clock) on the terminal."""
    from mlsteward.demo import run_demo

    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet,
    ) as bar:
        task = bar.add_task("starting", total=_FIXED_STEPS + 6 * 2)

        def progress(msg: str) -> None:
            # A retraining adds steps: the total grows so the bar (and its
            # clock) never finish before the demo does.
            done = bar.tasks[0].completed + 1
            total = max(bar.tasks[0].total or 0, done + 1)
            bar.update(task, description=msg, completed=done, total=total)

        report = run_demo(client, seed=seed, progress=progress)
        bar.update(task, completed=bar.tasks[0].total)
    return report


def _months_table(report: Any) -> Table:
    """Month by month: PSI, AUC, estimated AUC, KS, the month's incident (its
    alerts: critical, warnings, of which repeats of the month before), what
    the policy did."""
    from mlsteward.monitoring.drift.stats import psi_band

    colour = {"stable": "green", "watch": "yellow", "act": "red"}

    def shade(value: float) -> Text:
        return Text(f"{value:.3f}", colour[psi_band(value)])

    table = Table(
        title="monitor, month by month: PSI against the training profile; AUC and "
        "KS on the joined outcomes, estimated AUC (CBPE) from the scores alone"
    )
    for name in ("month", "model", "bad rate", "max PSI", "column", "score PSI"):
        table.add_column(name, no_wrap=True)
    for name in ("AUC", "est. AUC", "KS", "alerts crit/warn (rep.)", "policy"):
        table.add_column(name)
    for p in report.periods:
        col, value = p.max_feature_psi
        table.add_row(
            p.label,
            "v" + p.scored_by.rsplit("/", 1)[1],
            f"{p.bad_rate:.0%}",
            shade(value),
            col,
            shade(p.score_psi),
            f"{p.auc:.3f}",
            "-" if p.estimated_auc is None else f"{p.estimated_auc:.3f}",
            f"{p.ks:.3f}",
            _incident_cell(p.incident),
            "; ".join(p.triggered) or "ok",
        )
    return table


def _incident_cell(incident: dict[str, Any]) -> str:
    """``3/9 (7)``: critical, warnings, repeats of the month before; ``-``
    for a month without alerts."""
    if not incident:
        return "-"
    c, w, r = (incident[k] for k in ("critical", "warnings", "repeated"))
    return f"{c}/{w} ({r})"


def _decisions_table(report: Any) -> Table:
    """Champion against challenger on the same out-of-time month."""
    dtable = Table(title="champion vs challenger on the same out-of-time month")
    for name in ("holdout", "champion", "AUC", "KS", "challenger", "AUC", "KS"):
        dtable.add_column(name, no_wrap=True)
    dtable.add_column("decision")
    for d in report.decisions:
        dtable.add_row(
            d.period,
            d.champion,
            f"{d.champion_auc:.3f}",
            f"{d.champion_ks:.3f}",
            d.challenger,
            f"{d.challenger_auc:.3f}",
            f"{d.challenger_ks:.3f}",
            Text("promoted", "green")
            if d.promoted
            else Text("kept champion", "yellow"),
        )
    return dtable
