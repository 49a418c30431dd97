"""``mlsteward import mlflow``: bring runs and models from MLflow."""

from __future__ import annotations

import typer
from rich.table import Table

from mlsteward.cli.common import JSON_OPTION, client, console, emit_json, handle_errors

app = typer.Typer(help="Bring runs and models from other tools.", no_args_is_help=True)


@app.command("mlflow")
@handle_errors
def import_mlflow(
    tracking_uri: str = typer.Option(
        ..., "--tracking-uri", help="The MLflow tracking server, http://host:port."
    ),
    experiments: list[str] = typer.Option(
        [],
        "--experiment",
        help="An experiment whose runs to import (repeat; default all).",
    ),
    models: list[str] = typer.Option(
        [], "--model", help="A registered model to import (repeat; default all)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import runs (params, metric histories, tags) and registered model
    versions with their aliases from an MLflow tracking server.

    scikit-learn models saved with skops and LightGBM boosters are converted
    and checked to score as before; pickled models are refused, with the
    reason. A local MLflow store: run `mlflow server --backend-store-uri ...`
    on it and pass its URL.
    """
    report = client().models.import_mlflow(
        tracking_uri=tracking_uri, experiments=experiments, models=models
    )
    if as_json:
        emit_json(report.to_dict())
        return
    console.print(f"runs imported: {len(report.runs)}")
    if report.versions:
        table = Table("MLflow version", "mlsteward", "flavor", "aliases", "parity")
        for v in report.versions:
            table.add_row(
                f"{v.mlflow_model}/{v.mlflow_version}",
                v.ref,
                v.source_format,
                ", ".join(v.aliases) or "-",
                f"{v.parity_max_abs_diff:.1e} on {v.sample_rows} rows",
            )
        console.print(table)
    for item in report.refused:
        console.print(f"[red]refused[/] {item.kind} {item.source}: {item.reason}")
    for item in report.skipped:
        console.print(f"skipped {item.kind} {item.source}: {item.reason}")
