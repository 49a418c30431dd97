"""What every command shares: the client, JSON output, errors as exit codes."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import InterfaceError, OperationalError

from mlsteward.errors import InvalidInput, MlstewardError, NotFound

__all__ = [
    "JSON_OPTION",
    "client",
    "console",
    "emit_json",
    "esc",
    "exit_code",
    "fail",
    "handle_errors",
    "reason_option",
    "show_table",
    "stacked",
]

# Piped output (CI logs, `| less`) has no terminal width; tables need room.
# Markup is off: user text (comments, alert messages, column names) may hold
# square brackets and must print as written. Our own styling opts in per call
# with ``markup=True`` and passes user text through ``esc``.
console = Console(width=None if sys.stdout.isatty() else 140, markup=False)
err_console = Console(stderr=True, markup=False, soft_wrap=True)
esc = escape

#: ``mlsteward --wide``: print every table whole, however wide the terminal.
WIDE = {"on": False}


def show_table(table: Table, *, wide: bool = False) -> None:
    """Print ``table`` so every header and value reads whole.

    A table that fits the terminal prints as it is (long text wraps at word
    boundaries). One that would squash a column into a sliver or cut a value
    short prints stacked instead: one block per row, each value beside its
    header. ``--wide`` prints the table as it is whatever the width.
    """
    if wide or WIDE["on"] or _fits(table):
        console.print(table)
    else:
        console.print(stacked(table))


def _cells(table: Table) -> list[list[Any]]:
    columns = [list(c.cells) for c in table.columns]
    return [list(row) for row in zip(*columns, strict=True)] if columns else []


def _fits(table: Table) -> bool:
    """Whether rendering at this width cuts nothing: rich marks a cut cell
    with an ellipsis, and a column squashed below its longest word (header or
    value) breaks that word across lines."""
    with console.capture() as capture:
        console.print(table)
    text = capture.get()
    given = sum(str(cell).count("…") for row in _cells(table) for cell in row)
    if text.count("…") > given:
        return False
    words = [w for c in table.columns for w in str(c.header).split()]
    words += [w for row in _cells(table) for cell in row for w in str(cell).split()]
    return all(w in text for w in words)


def stacked(table: Table) -> Group:
    """``table`` as blocks of ``header  value`` lines, one block per row."""
    headers = [str(c.header) for c in table.columns]
    blocks: list[Any] = []
    if table.title:
        blocks.append(Text(str(table.title), style="italic"))
    for row in _cells(table):
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        for header, cell in zip(headers, row, strict=True):
            grid.add_row(header, cell if isinstance(cell, Text) else Text(str(cell)))
        blocks.extend([grid, Text("")])
    return Group(*blocks)


JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")

F = TypeVar("F", bound=Callable[..., Any])


def reason_option(default: Any = "", help: str = "Why, for the audit trail.") -> Any:
    """``--reason``/``-m``: the one flag for why a change or decision is made."""
    return typer.Option(default, "--reason", "-m", help=help)


def client() -> Any:
    """The embedded client, or the remote one when ``MLSTEWARD_URL`` is set."""
    from mlsteward.remote.client import Client

    return Client()


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# The optional packages an extra brings, by the top-level module imported.
EXTRAS = {
    "psycopg": "postgres",
    "dask": "dask",
    "distributed": "dask",
    "lightgbm": "lightgbm",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "skl2onnx": "onnx",
}


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` on stderr; the exit to raise with ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True)
    return typer.Exit(code)


def exit_code(exc: MlstewardError) -> int:
    """2 for bad usage or input (a name that does not exist included), else 1."""
    return 2 if isinstance(exc, InvalidInput | NotFound) else 1


def handle_errors(fn: F) -> F:
    """Exit 2 for bad usage or input, 1 for other failures; say why on stderr.

    A missing optional package and an unreachable database are the user's
    setup, not a bug: they get a sentence and the fix, never a traceback.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MlstewardError as exc:
            raise fail(exc.message, exit_code(exc)) from exc
        except ModuleNotFoundError as exc:
            top = (exc.name or "").split(".")[0]
            if top not in EXTRAS:
                raise
            raise fail(
                f"this needs {top}, which is not installed: "
                f"pip install 'mlsteward[{EXTRAS[top]}]'",
                2,
            ) from exc
        except (OperationalError, InterfaceError) as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise fail(
                f"cannot use the database (MLSTEWARD_DB_URL): {reason}", 1
            ) from exc

    return wrapper  # type: ignore[return-value]
