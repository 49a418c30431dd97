"""The ``mlsteward`` command: ``mlsteward NOUN VERB``.

Exit codes: 0 ok, 1 failed, 2 bad usage or input.
"""

from __future__ import annotations

from typing import Any

import typer

from mlsteward.cli import (
    datasets,
    db,
    demo,
    doctor,
    drift,
    governance,
    imports,
    jobs,
    models,
    monitoring,
    report,
    retraining,
    runs,
    serving,
)
from mlsteward.cli.common import JSON_OPTION, WIDE, emit_json

app = typer.Typer(
    help="mlsteward: closed-loop model operations with governance built in.\n\n"
    "Commands read mlsteward NOUN VERB; every one takes --json. Exit codes: "
    "0 ok, 1 failed, 2 bad usage or input (a name that does not exist included).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from mlsteward import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the mlsteward version and exit.",
    ),
    wide: bool = typer.Option(
        False,
        "--wide",
        help="Print tables whole, however narrow the terminal (by default a "
        "table too wide for it prints one block per row).",
    ),
) -> None:
    """mlsteward: closed-loop model operations with governance built in."""
    WIDE["on"] = wide


def _no_type_on_flags() -> None:
    """Help lists an on/off flag as a flag, not as taking a ``<bool>``."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    TyperOption.display_type_rich = display  # type: ignore[method-assign]


_no_type_on_flags()
app.add_typer(models.app, name="models")
app.add_typer(datasets.app, name="datasets")
app.add_typer(runs.app, name="runs")
app.add_typer(db.app, name="db")
app.add_typer(imports.app, name="import")
app.command("demo")(demo.demo)
app.command("doctor")(doctor.doctor)
serving.register(app)
governance.register(app)
retraining.register(app)
monitoring.register(app)
drift.register(app)
report.register(app)
jobs.register(app)


@app.command("version")
def version(as_json: bool = JSON_OPTION) -> None:
    """Print the mlsteward version (as --version does)."""
    from mlsteward import __version__

    if as_json:
        emit_json({"version": __version__})
        return
    typer.echo(__version__)


def main() -> None:
    app()


__all__ = ["app", "main"]
