"""The ``mlsteward`` command: ``mlsteward NOUN VERB``.

Exit codes: 0 ok, 1 failed, 2 bad usage or input.
"""

from __future__ import annotations

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

app = typer.Typer(
    help="mlsteward: closed-loop model operations with governance built in.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
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
def version() -> None:
    """Print the mlsteward version."""
    from mlsteward import __version__

    typer.echo(__version__)


def main() -> None:
    app()


__all__ = ["app", "main"]
