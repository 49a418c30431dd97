"""What every command shares: the client, JSON output, errors as exit codes."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from mlsteward.errors import InvalidInput, MlstewardError

__all__ = ["JSON_OPTION", "client", "console", "emit_json", "handle_errors"]

# Piped output (CI logs, `| less`) has no terminal width; tables need room.
console = Console(width=None if sys.stdout.isatty() else 140)
err_console = Console(stderr=True)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")

F = TypeVar("F", bound=Callable[..., Any])


def client() -> Any:
    """The embedded client, or the remote one when ``MLSTEWARD_URL`` is set."""
    from mlsteward.remote.client import Client

    return Client()


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def handle_errors(fn: F) -> F:
    """Exit 2 for bad usage or input, 1 for other failures; say why on stderr."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InvalidInput as exc:
            err_console.print(f"[bold red]error:[/] {escape(exc.message)}")
            raise typer.Exit(2) from exc
        except MlstewardError as exc:
            err_console.print(f"[bold red]error:[/] {escape(exc.message)}")
            raise typer.Exit(1) from exc

    return wrapper  # type: ignore[return-value]
