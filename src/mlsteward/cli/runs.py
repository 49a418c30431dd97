"""``mlsteward runs list``."""

from __future__ import annotations

import typer
from rich.table import Table

from mlsteward.cli.common import JSON_OPTION, client, console, emit_json, handle_errors

app = typer.Typer(help="Training runs.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_runs(
    limit: int = typer.Option(100, min=1, help="How many, newest first."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List runs, newest first."""
    runs = client().runs.list(limit=limit)
    if as_json:
        emit_json([r.to_dict() for r in runs])
        return
    table = Table("id", "name", "status", "started", "inputs", "metrics")
    for r in runs:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(r.metrics.items())[:4])
        inputs = ", ".join(i["dataset"] for i in r.inputs)
        table.add_row(
            r.id[:12],
            r.name,
            r.status,
            f"{r.started_at:%Y-%m-%d %H:%M}",
            inputs or "-",
            metrics or "-",
        )
    console.print(table)
