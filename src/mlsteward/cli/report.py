"""``mlsteward report REF``: the documentation of one model version."""

from __future__ import annotations

from pathlib import Path

import typer

from mlsteward.cli.common import (
    JSON_OPTION,
    client,
    console,
    emit_json,
    esc,
    handle_errors,
)


@handle_errors
def report(
    ref: str = typer.Argument(..., help="model version: name/N or name@alias"),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="HTML file to write (default: NAME-N-report.html here).",
        dir_okay=False,
    ),
    pdf: bool = typer.Option(
        False, "--pdf", help="Also write a PDF beside it, if a converter is installed."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write a self-contained HTML report of a model version for model-risk
    review: intended use, data and lineage, performance by score band and by
    protected group, stability, explanations, gates, approvals, monitoring,
    comments, changes since its parent, limitations; sections mapped to SR 11-7
    and EU AI Act Annex IV."""
    from mlsteward.governance.report.build import write_report

    result = write_report(client().ctx, ref, output, pdf=pdf)
    if as_json:
        emit_json(result.to_dict())
        return
    v = result.data["version"]
    console.print(
        f"[bold]{esc(v['ref'])}[/] report written to {esc(str(result.html))}",
        markup=True,
    )
    if result.pdf is not None:
        style = "green" if result.pdf.path else "yellow"
        console.print(result.pdf.message, style=style)
    for item in result.data["limitations"]:
        console.print(f"  limitation: {item}", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``mlsteward report`` to ``app``."""
    app.command("report")(report)
