"""Commands of serving."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this capability's commands and command groups to ``app``."""
