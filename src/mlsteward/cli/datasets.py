"""``mlsteward datasets list|show|register``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mlsteward.cli.common import (
    JSON_OPTION,
    client,
    console,
    emit_json,
    esc,
    handle_errors,
    show_table,
)
from mlsteward.errors import InvalidInput

app = typer.Typer(help="Dataset versions.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_datasets(as_json: bool = JSON_OPTION) -> None:
    """List dataset versions."""
    versions = client().datasets.list()
    if as_json:
        emit_json([v.to_dict() for v in versions])
        return
    table = Table("ref", "rows", "columns", "sha256", "created", "by")
    for v in versions:
        table.add_row(
            v.ref,
            str(v.n_rows),
            str(v.n_columns),
            v.sha256[:12],
            f"{v.created_at:%Y-%m-%d %H:%M}",
            v.created_by,
        )
    show_table(table)


@app.command("show")
@handle_errors
def show(
    ref: str = typer.Argument(..., help="name (latest) or name/N"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a dataset version's schema and profile."""
    v = client().datasets.get(ref)
    if as_json:
        emit_json(v.with_profile().model_dump(mode="json"))
        return
    console.print(
        f"[bold]{esc(v.ref)}[/]  {v.n_rows} rows  sha256 {v.sha256}", markup=True
    )
    table = Table("column", "role", "kind", "dtype", "missing", "summary")
    for c in v.columns:
        p = v.profile.get("columns", {}).get(c.name)
        if p is None:
            table.add_row(c.name, c.role, c.kind, c.dtype, "-", "not profiled")
            continue
        if p["kind"] == "numeric":
            summary = (
                f"min {p['min']}  max {p['max']}  mean {p['mean']:.4g}"
                if (p.get("mean") is not None)
                else "all missing"
            )
        else:
            cats = sorted(p["categories"].items(), key=lambda kv: -kv[1])[:3]
            summary = ", ".join(f"{k} ({n})" for k, n in cats)
        table.add_row(
            c.name, c.role, c.kind, c.dtype, f"{p['missing_rate']:.1%}", summary
        )
    show_table(table)


@app.command("register")
@handle_errors
def register(
    name: str = typer.Argument(..., help="dataset name"),
    path: Path = typer.Argument(
        ...,
        help="A table file: .csv, .tsv, .jsonl (also .gz, .zst, ...), .parquet",
    ),
    role: list[str] = typer.Option(
        [],
        "--role",
        help="COLUMN=ROLE (feature, target, id, timestamp, protected, pii); repeatable",
    ),
    band: list[str] = typer.Option(
        [],
        "--bands",
        help="COLUMN=CUT,CUT,... groups of a numeric protected column "
        "(age_in_years=25,35,45,55,65); repeatable",
    ),
    description: str = typer.Option("", "--description", help="Free text."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Register a table file (CSV, JSON lines, compressed, Parquet) as a
    dataset version."""
    from mlsteward.datasets.specs import RegisterDataset

    roles = {}
    for item in role:
        if "=" not in item:
            raise InvalidInput(
                f"--role {item!r} must look like COLUMN=ROLE", field="role"
            )
        col, r = item.split("=", 1)
        roles[col] = r
    bands: dict[str, list[str]] = {}
    for item in band:
        if "=" not in item:
            raise InvalidInput(
                f"--bands {item!r} must look like COLUMN=CUT,CUT,...", field="bands"
            )
        col, cuts = item.split("=", 1)
        bands[col] = cuts.split(",")
    spec = RegisterDataset.parse(
        name=name, roles=roles, bands=bands, description=description
    )
    v = client().datasets.register(spec, data=path)
    if as_json:
        emit_json(v.to_dict())
    else:
        console.print(
            f"registered [bold]{esc(v.ref)}[/] "
            f"({v.n_rows} rows, sha256 {v.sha256[:12]})",
            markup=True,
        )
