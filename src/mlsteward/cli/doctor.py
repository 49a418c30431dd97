"""``mlsteward doctor``: check a setup, part by part, in plain words."""

from __future__ import annotations

import typer
from rich.markup import escape

from mlsteward.cli.common import JSON_OPTION, console, emit_json, handle_errors
from mlsteward.config import get_settings

_STYLE = {"ok": "green", "skip": "dim", "warn": "yellow", "fail": "bold red"}


@handle_errors
def doctor(
    scheduler: str | None = typer.Option(
        None, help="A Dask scheduler address to check (tcp://host:8786)."
    ),
    wait_minutes: float = typer.Option(
        5.0,
        min=0.0,
        help="Warn about due jobs that have waited longer than this.",
    ),
    timeout: float = typer.Option(
        5.0, min=0.5, max=120.0, help="Seconds a connection may take."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Check the database, artifact store, workers, Dask, clocks and tokens.

    Each check prints ok, skip, warn or fail with one line, and what to do
    when it is not ok. Exit code 0 when nothing failed (warnings included),
    1 when any check failed. With MLSTEWARD_URL set, checks the server and
    the token over HTTP; the rest is checked on the server.
    """
    settings = get_settings()
    if settings.url:
        from mlsteward.remote.doctor import remote_checks

        findings = remote_checks(settings, timeout=timeout)
    else:
        from mlsteward.ops.doctor import run_checks

        findings = run_checks(
            settings,
            scheduler=scheduler,
            waited_seconds=wait_minutes * 60,
            timeout=timeout,
        )
    if as_json:
        emit_json([f.to_dict() for f in findings])
    else:
        for f in findings:
            style = _STYLE[f.status]
            # Markup on for our own style only; the words are escaped.
            console.print(
                f"[{style}]{f.status:<4}[/] {f.check:<11} {escape(f.message)}",
                soft_wrap=True,
                markup=True,
            )
            if f.fix:
                console.print(
                    f"                 fix: {escape(f.fix)}",
                    soft_wrap=True,
                    markup=True,
                )
    if any(f.status == "fail" for f in findings):
        raise typer.Exit(1)
