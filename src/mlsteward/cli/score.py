"""``mlsteward score MODEL_REF INPUT OUTPUT``: batch scoring of a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mlsteward.cli.common import (
    JSON_OPTION,
    console,
    emit_json,
    err_console,
    handle_errors,
)


def register(app: typer.Typer) -> None:
    """Add ``score`` to the ``mlsteward`` command."""
    app.command("score")(score)


@handle_errors
def score(
    model_ref: str = typer.Argument(..., help="name, name/N or name@alias"),
    input: Path = typer.Argument(
        ...,
        help="Table file to score (.csv, .jsonl, .csv.gz, .parquet, ...).",
    ),
    output: Path = typer.Argument(..., help="CSV or Parquet file to write."),
    deployment: str | None = typer.Option(
        None, help="Deployment name in the prediction log (default <model>-batch)."
    ),
    chunk_size: int = typer.Option(10_000, help="Rows scored at a time."),
    engine: str = typer.Option("local", help="local, or dask (a Dask cluster)."),
    scheduler: str | None = typer.Option(
        None, help="Dask scheduler address (default: a local cluster)."
    ),
    id_column: str | None = typer.Option(
        None, help="Column holding each row's request id (default: generated)."
    ),
    threshold: float = typer.Option(0.5, help="Decision is deny at or above it."),
    log_column: list[str] | None = typer.Option(
        None, "--log-column", help="Also log this column (repeat for more)."
    ),
    pii: list[str] | None = typer.Option(
        None, "--pii", help="Redact this logged column (repeat for more)."
    ),
    overwrite: bool = typer.Option(False, help="Replace OUTPUT if it exists."),
    as_job: bool = typer.Option(
        False, "--as-job", help="Queue a batch_score job for a worker instead."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Score a table file of any size and log its predictions.

    OUTPUT gets one row per input row, in order: the request id (named
    --id-column if given), the score (probability of label 1) and the
    decision. A file that cannot be scored writes nothing.
    """
    from mlsteward.cli.governance import _ctx as acting_ctx
    from mlsteward.jobs.specs import EnqueueJob, ScoreBatch

    spec = ScoreBatch.parse(
        model=model_ref,
        # A worker may run elsewhere: it gets absolute paths.
        input=str(input.resolve()) if as_job else str(input),
        output=str(output.resolve()) if as_job else str(output),
        deployment=deployment,
        chunk_size=chunk_size,
        engine=engine,
        scheduler=scheduler,
        id_column=id_column,
        threshold=threshold,
        log_columns=list(log_column or []),
        pii=list(pii or []),
        overwrite=overwrite,
    )
    ctx = acting_ctx()  # as the user of MLSTEWARD_TOKEN, as every command
    if as_job:
        from mlsteward.jobs.service import JobService

        payload = spec.model_dump(exclude_defaults=True)
        job = JobService(ctx).enqueue(EnqueueJob(kind="batch_score", payload=payload))
        if as_json:
            emit_json(job.to_dict())
        else:
            console.print(f"job {job.id} (batch_score): {job.state}")
        return
    result = _score_with_progress(ctx, spec)
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(
        f"scored {result.rows} rows with {result.model} into {result.output} "
        f"in {result.seconds:.1f} s; predictions logged under deployment "
        f"{result.deployment!r} (batch {result.batch_id})"
    )
    flagged = {k: n for k, n in result.flagged.items() if n}
    if flagged:
        console.print(f"rows scored but flagged: {flagged}")


def _score_with_progress(ctx: Any, spec: Any) -> Any:
    """Score the file in this process, with a bar per phase on stderr."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from mlsteward.jobs.batch import BatchScoringService

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        tasks: dict[str, Any] = {}
        last: dict[str, int] = {}

        def progress(phase: str, done: int, total: int | None) -> None:
            if phase == "log" and "score" in tasks:
                # The CSV row count was an estimate; the scoring is done.
                bar.update(tasks["score"], total=last.get("score", 0))
            last[phase] = done
            if phase not in tasks:
                label = "scoring rows" if phase == "score" else "logging predictions"
                tasks[phase] = bar.add_task(label, total=total)
            if total is not None and done > total:
                bar.update(tasks[phase], total=done)
            bar.update(tasks[phase], completed=done)

        return BatchScoringService(ctx).score_file(spec, progress=progress)
