"""``mlsteward drift REFERENCE CURRENT``: a drift report between two files.

REFERENCE is a table file (any format :mod:`mlsteward.datasets.io` reads:
CSV, TSV, JSON lines, compressed, Parquet), a profile JSON file (a profile,
or a dataset version from ``mlsteward datasets show --json``), or a dataset
version ref such as ``german-credit-train/1``. CURRENT is a table file,
read in chunks (Parquet by row-group batches through pyarrow) so a
window larger than memory streams through in bounded memory, with a
progress bar on the terminal.

Exit codes: 0 when the report ran, whatever its verdict (the verdict is in
the output; ``--fail-on-drift`` exits 1 on a ``drift`` verdict, for CI);
2 for bad usage or input (unreadable file, unknown column or method).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

if TYPE_CHECKING:  # pandas is imported on use: every CLI start pays otherwise
    import pandas as pd

    from mlsteward.monitoring.drift.compute import DriftResult

from rich.text import Text

from mlsteward.cli.common import (
    JSON_OPTION,
    client,
    console,
    emit_json,
    err_console,
    esc,
    handle_errors,
    show_table,
)
from mlsteward.errors import InvalidInput

__all__ = ["drift", "register"]

_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/\d+)?$")
_STATUS_STYLE = {"stable": "green", "watch": "yellow", "drift": "bold red"}


def register(app: typer.Typer) -> None:
    """Add ``mlsteward drift`` to ``app``."""
    app.command("drift")(drift)


def _read_table(path: Path, field: str) -> pd.DataFrame:
    from mlsteward.datasets.io import read_table

    return read_table(path, field)


def _load_reference(spec: str, mode: str | None) -> tuple[dict[str, Any], Any]:
    """The reference profile, and its values when the mode is exact."""
    from mlsteward.datasets.profile import compute_profile

    path = Path(spec)
    if path.is_file():
        if path.suffix.lower() != ".json":  # a profile; every other file a table
            frame = _read_table(path, "reference")
            return compute_profile(frame), None if mode == "sketch" else frame
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InvalidInput(
                f"cannot read reference {spec!r}: {exc}", field="reference"
            ) from exc
        profile = data.get("profile", data) if isinstance(data, dict) else None
        if not isinstance(profile, dict) or "columns" not in profile:
            raise InvalidInput(
                f"reference {spec!r} is not a profile (no 'columns' key)",
                field="reference",
            )
        if mode == "exact":
            raise InvalidInput(
                "--mode exact needs the reference values; a profile .json holds "
                "only its sketch (pass the .csv/.parquet, or use --mode sketch)",
                field="mode",
            )
        return profile, None
    if _REF.match(spec) and not path.suffix:
        sdk = client()
        version = sdk.get_dataset(spec)
        sample = sdk.load_dataset(version.ref) if mode == "exact" else None
        return version.profile, sample
    raise InvalidInput(
        f"reference {spec!r} is neither a file nor a dataset ref (name/version)",
        field="reference",
    )


def _chunks(
    path: Path, columns: list[str] | None, chunk_rows: int
) -> tuple[Iterator[pd.DataFrame], int, Callable[[int], int]]:
    """Chunks of the window, the progress total, and how far a chunk took us.

    Parquet is read by row-group batches (progress in rows); text files by
    ``chunk_rows`` rows (progress in bytes of the file read so far).
    """
    from mlsteward.datasets.io import iter_table, table_format

    fmt = table_format(path, "current")
    if fmt.kind == "parquet":
        import pyarrow.parquet as pq

        try:
            total = int(pq.ParquetFile(path).metadata.num_rows)
        except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid included
            raise InvalidInput(
                f"cannot read current {str(path)!r}: {exc}", field="current"
            ) from exc
        done = [0]

        def rows(n: int) -> int:
            done[0] += n
            return done[0]

        chunks = iter_table(path, chunk_rows, field="current", columns=columns)
        return chunks, total, rows
    size = path.stat().st_size
    handle = path.open("rb")

    def position(_n: int) -> int:
        return size if handle.closed else min(handle.tell(), size)

    chunks = iter_table(path, chunk_rows, field="current", columns=columns, raw=handle)
    return chunks, size, position


def _dask_frame(path: Path, columns: list[str] | None) -> Any:
    try:
        import dask.dataframe as dd
    except ImportError as exc:
        raise InvalidInput(
            "the dask engine needs dask; install it with "
            "`pip install 'mlsteward[dask]'` or use --engine local",
            field="engine",
        ) from exc

    from mlsteward.datasets.io import read_table, table_format

    fmt = table_format(path, "current")
    if fmt.kind == "parquet":
        return dd.read_parquet(str(path), columns=columns)
    if fmt.kind == "csv" and fmt.compression is None:
        return dd.read_csv(str(path), sep=fmt.sep, usecols=columns, blocksize="64MB")
    # Compressed and JSON-lines files cannot be split into byte ranges: read
    # them once through the one reader and hand dask the frame.
    frame = read_table(path, "current")
    if columns is not None:
        frame = frame[[c for c in columns if c in frame.columns]]
    return dd.from_pandas(frame, npartitions=max(1, len(frame) // 1_000_000))


def _parse_methods(items: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        col, sep, methods = item.partition("=")
        if not sep or not col or not methods:
            raise InvalidInput(
                f"--method expects COLUMN=METHOD[,METHOD], got {item!r}",
                field="method",
            )
        out.setdefault(col, []).extend(m.strip() for m in methods.split(","))
    return out


@handle_errors
def drift(
    reference: str = typer.Argument(
        ...,
        help="Reference: a table file (.csv, .csv.gz, .tsv, .jsonl, .parquet, ...), "
        "a profile .json, or a dataset ref (name/N).",
    ),
    current: Path = typer.Argument(
        ...,
        help="Current window: a table file (.csv, .csv.gz, .tsv, .jsonl, "
        ".parquet, ...).",
    ),
    method: list[str] = typer.Option(
        [],
        "--method",
        "-m",
        help="COLUMN=METHOD[,METHOD] (psi, ks, chi2, jensen_shannon, wasserstein, "
        "unseen); "
        "repeatable. Other columns keep the defaults.",
    ),
    columns: str | None = typer.Option(
        None, "--columns", help="Comma-separated columns to check (default: all)."
    ),
    ids: list[str] = typer.Option(
        [],
        "--id",
        help="A column with the id role: never drift-tested, listed as skipped; "
        "repeatable. Text columns whose reference values are all distinct are "
        "skipped as identifiers without it.",
    ),
    alpha: float = typer.Option(0.05, help="Family-wise significance level (Holm)."),
    mode: str | None = typer.Option(
        None,
        help="exact (KS/W1 against every reference value) or sketch (against the "
        "profile's 10k-knot sketch). Default: exact for a file reference, "
        "sketch for a profile or dataset.",
    ),
    engine: str = typer.Option("local", help="local (streaming) or dask."),
    scheduler: str | None = typer.Option(
        None, help="With --engine dask: a dask.distributed scheduler address."
    ),
    chunk_rows: int = typer.Option(
        100_000, min=1, help="Rows per chunk read from CURRENT."
    ),
    fail_on_drift: bool = typer.Option(
        False, "--fail-on-drift", help="Exit 1 when the verdict is drift."
    ),
    html: Path | None = typer.Option(
        None,
        "--html",
        help="Also write the report as one self-contained HTML page (summary, "
        "table, a chart per column; opens with no network).",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Drift of CURRENT against REFERENCE: per-column table and verdict."""
    _check_options(mode, engine, current)
    if html is not None and not html.parent.is_dir():
        raise InvalidInput(
            f"--html: the folder {str(html.parent)!r} does not exist", field="html"
        )
    profile, sample = _load_reference(reference, mode)
    wanted = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    kwargs: dict[str, Any] = {
        "methods": _parse_methods(method) if method else None,
        "alpha": alpha,
        "columns": wanted,
        "reference_sample": sample,
        "engine": engine,
        "ids": [c.strip() for item in ids for c in item.split(",") if c.strip()],
    }
    needed = wanted or list(profile["columns"])
    if engine == "dask":
        result = _drift_on_dask(profile, current, needed, scheduler, kwargs)
    else:
        show = err_console.is_terminal and not as_json
        result = _drift_streaming(profile, current, needed, chunk_rows, show, kwargs)

    _report(result, as_json=as_json, html=html)
    if fail_on_drift and (result.verdict == "drift" or _missing(result)):
        raise typer.Exit(1)


def _report(result: Any, *, as_json: bool, html: Path | None) -> None:
    """The result on stdout (a table or JSON), and the HTML page if asked."""
    if as_json:
        emit_json(result.to_dict())
    else:
        _print(result)
    if html is not None:
        result.to_html(html)
        err_console.print(
            f"wrote the HTML report to {html.resolve()}", markup=False, soft_wrap=True
        )


def _check_options(mode: str | None, engine: str, current: Path) -> None:
    """Refuse a bad ``--mode``, ``--engine`` or CURRENT before reading anything."""
    if mode not in (None, "exact", "sketch"):
        raise InvalidInput(
            f"--mode must be exact or sketch, got {mode!r}", field="mode"
        )
    if engine not in ("local", "dask"):
        raise InvalidInput(
            f"--engine must be local or dask, got {engine!r}", field="engine"
        )
    if not current.is_file():
        raise InvalidInput(f"current {str(current)!r} is not a file", field="current")


def _drift_on_dask(
    profile: dict[str, Any],
    current: Path,
    needed: list[str],
    scheduler: str | None,
    kwargs: dict[str, Any],
) -> DriftResult:
    """The report computed by dask, on ``scheduler`` if given (else in process)."""
    from mlsteward.monitoring.drift.compute import compute_drift

    dclient = None
    if scheduler:
        from dask.distributed import Client

        dclient = Client(scheduler)
    try:
        return compute_drift(profile, _dask_frame(current, needed), **kwargs)
    finally:
        if dclient is not None:
            dclient.close()


def _drift_streaming(
    profile: dict[str, Any],
    current: Path,
    needed: list[str],
    chunk_rows: int,
    show: bool,
    kwargs: dict[str, Any],
) -> DriftResult:
    """The report computed chunk by chunk, with a progress bar when ``show``."""
    from mlsteward.monitoring.drift.compute import compute_drift

    chunks, total, position = _chunks(current, needed, chunk_rows)
    with _progress(show, total, current, position) as advance:
        return compute_drift(profile, chunks, on_chunk=advance, **kwargs)


@contextlib.contextmanager
def _progress(
    show: bool, total: int, path: Path, position: Callable[[int], int]
) -> Iterator[Callable[[int], None]]:
    """A Rich progress bar on stderr, advanced after each chunk; silent if off."""
    if not show:
        yield lambda _n: None
        return
    bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    with bar:
        task = bar.add_task(f"drift {path.name}", total=total)
        yield lambda n: bar.update(task, completed=position(n))


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if value != 0 and abs(value) < 10 ** (-digits):
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def _print(result: Any) -> None:
    table = Table(
        "column", "method", "statistic", "p (Holm)", "watch / drift", "status", "note"
    )
    for r in result.rows:
        style = _STATUS_STYLE[r.status]
        table.add_row(
            r.column,
            r.method,
            _fmt(r.statistic),
            _fmt(r.p_adjusted) if r.p_adjusted is not None else "-",
            f"{r.watch_threshold:g} / {r.threshold:g}",
            Text(r.status, style),
            r.note or "",
        )
    missing = set(_missing(result))
    for col, why in result.skipped.items():
        judged = Text("not judged", "bold red") if col in missing else "skipped"
        table.add_row(col, "-", "-", "-", "-", judged, why)
    show_table(table)
    style = _STATUS_STYLE[result.verdict]
    drifted = ", ".join(result.drifted) or "none"
    console.print(
        f"verdict: [{style}]{result.verdict}[/]  drifted columns "
        f"({len(result.drifted)} of {len(result.column_status)}): {esc(drifted)}  "
        f"[dim]mode {result.mode}, Holm at alpha {result.alpha:g}, "
        f"{result.n_current} rows vs {result.n_reference}[/]",
        markup=True,
    )
    for col, why in result.skipped.items():  # identifiers, by choice
        if col not in missing:
            console.print(f"skipped {col}: {why}", soft_wrap=True)
    if missing:
        # A column that could not be judged is not stable: say it as loudly.
        console.print(
            f"not judged ({len(missing)}): "
            + "; ".join(f"{c}: {result.skipped[c]}" for c in sorted(missing))
            + " (--fail-on-drift exits 1)",
            style="bold red",
        )


def _missing(result: Any) -> list[str]:
    """Reference columns CURRENT lacks: a vanished input fails a CI check."""
    return [c for c, why in result.skipped.items() if "not in the current" in why]
