"""``mlsteward db upgrade|current``."""

from __future__ import annotations

import typer

from mlsteward.cli.common import JSON_OPTION, console, emit_json, handle_errors
from mlsteward.config import get_settings

app = typer.Typer(help="The metadata database.", no_args_is_help=True)


@app.command("upgrade")
@handle_errors
def upgrade(as_json: bool = JSON_OPTION) -> None:
    """Apply pending migrations to MLSTEWARD_DB_URL."""
    from mlsteward.store import Store

    store = Store.from_settings(get_settings())
    before = store.current_revision()
    after = store.upgrade()
    if as_json:
        emit_json(
            {
                "url": store.engine.url.render_as_string(hide_password=True),
                "from": before,
                "to": after,
            }
        )
    else:
        console.print(f"database at revision {after} (was {before or 'empty'})")


@app.command("current")
@handle_errors
def current(as_json: bool = JSON_OPTION) -> None:
    """Show the revision in force and the newest one this version knows."""
    from mlsteward.store import Store

    store = Store.from_settings(get_settings())
    data = {"current": store.current_revision(), "head": store.head_revision()}
    if as_json:
        emit_json(data)
    else:
        console.print(f"current {data['current'] or 'empty'}, head {data['head']}")
