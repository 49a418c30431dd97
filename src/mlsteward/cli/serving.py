"""Commands of serving: ``mlsteward deployments ...``, ``serve``, ``server``,
``predictions list``."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import typer
from rich.table import Table

from mlsteward.cli.common import (
    JSON_OPTION,
    client,
    console,
    emit_json,
    handle_errors,
    show_table,
)
from mlsteward.errors import InvalidInput

deployments = typer.Typer(
    help="Deployments: named endpoints with champion, canary and shadow routes.",
    no_args_is_help=True,
)
predictions = typer.Typer(help="The prediction log.", no_args_is_help=True)

HOST = typer.Option("127.0.0.1", "--host", help="Address to listen on.")
FSYNC = typer.Option(
    None,
    "--fsync/--no-fsync",
    help="Answers wait until their log records are on disk (survives a "
    "machine crash); default MLSTEWARD_SERVING_LOG_FSYNC.",
)


def register(app: typer.Typer) -> None:
    """Add this capability's commands and command groups to ``app``."""
    app.add_typer(deployments, name="deployments")
    app.add_typer(predictions, name="predictions")
    app.command("serve")(serve)
    app.command("server")(server)


def _show(d: Any, as_json: bool) -> None:
    if as_json:
        emit_json(d.to_dict())
        return
    console.print(
        f"[bold]{d.name}[/]  revision {d.revision}  model {d.model_name}  "
        f"threshold {d.threshold}  unseen {d.unseen_policy}",
        markup=True,
    )
    console.print(f"  champion  {d.champion_ref}")
    if d.canary_version is not None:
        sticky = f" sticky by {d.sticky_field!r}" if d.sticky_field else ""
        console.print(
            f"  canary    {d.model_name}/{d.canary_version}  "
            f"{d.canary_share:.0%} of traffic{sticky}"
        )
    for v in d.shadow_versions:
        console.print(f"  shadow    {d.model_name}/{v}  (logged, never returned)")
    if d.previous_champions:
        console.print(
            "  rollback  to "
            f"{d.model_name}/{d.previous_champions[-1]} "
            f"(history {d.previous_champions})"
        )
    if d.log_columns or d.pii_columns:
        console.print(f"  logs {d.log_columns or '-'}  redacts {d.pii_columns or '-'}")
    if d.history:
        table = Table("rev", "when", "who", "what", "routes after", title="history")
        for c in d.history:
            r = c.details.get("routes", {})
            canary = r.get("canary")
            routes = f"champion {r.get('champion')}"
            if canary:
                routes += f", canary {canary['version']} ({canary['share']:.0%})"
            if r.get("shadows"):
                routes += f", shadows {r['shadows']}"
            table.add_row(
                str(c.revision), f"{c.at:%Y-%m-%d %H:%M:%S}", c.actor, c.action, routes
            )
        show_table(table)


@deployments.command("create")
@handle_errors
def create(
    name: str = typer.Argument(..., help="Deployment name, e.g. credit-risk."),
    model: str = typer.Option(
        ..., "--model", help="credit-risk@champion or credit-risk/3."
    ),
    threshold: float = typer.Option(0.5, help="Scores at or above it are denied."),
    unseen: str = typer.Option(
        "reject", "--unseen", help="Unseen categories: reject, or unknown (flagged)."
    ),
    log_column: list[str] = typer.Option(
        [], "--log-column", help="Extra request field to log (repeatable)."
    ),
    pii: list[str] = typer.Option(
        [], "--pii", help="Field whose value the log redacts (repeatable)."
    ),
    sticky_field: str | None = typer.Option(
        None, "--sticky-field", help="Field that keeps a caller on one route."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a deployment; the model reference is resolved to a version now."""
    from mlsteward.serving.specs import CreateDeployment

    spec = CreateDeployment.parse(
        name=name,
        model=model,
        threshold=threshold,
        unseen_policy=unseen,
        log_columns=log_column,
        pii_columns=pii,
        sticky_field=sticky_field,
    )
    d = client().deployments.create(spec)
    _show(d, as_json)


@deployments.command("list")
@handle_errors
def list_deployments(as_json: bool = JSON_OPTION) -> None:
    """List deployments and their routes."""
    found = client().list_deployments()
    if as_json:
        emit_json([d.to_dict() for d in found])
        return
    table = Table("name", "champion", "canary", "shadows", "threshold", "rev")
    for d in found:
        canary = (
            f"{d.canary_version} ({d.canary_share:.0%})"
            if d.canary_version is not None
            else "-"
        )
        table.add_row(
            d.name,
            d.champion_ref,
            canary,
            ", ".join(map(str, d.shadow_versions)) or "-",
            f"{d.threshold:g}",
            str(d.revision),
        )
    show_table(table)


@deployments.command("show")
@handle_errors
def show(name: str, as_json: bool = JSON_OPTION) -> None:
    """Show a deployment's routes and change history."""
    _show(client().get_deployment(name, with_history=True), as_json)


@deployments.command("canary")
@handle_errors
def canary(
    name: str,
    model: str | None = typer.Option(None, "--model", help="Version to try."),
    share: float | None = typer.Option(
        None, "--share", help="Share of traffic, 0 to 1 (0.1 = 10%)."
    ),
    sticky_field: str | None = typer.Option(
        None, "--sticky-field", help="Field that keeps a caller on one route."
    ),
    clear: bool = typer.Option(False, "--clear", help="End the canary."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Send a share of traffic to another version, or end the canary."""
    c = client()
    if clear:
        _show(c.clear_canary(name), as_json)
        return
    if model is None or share is None:
        raise InvalidInput(
            "give --model and --share (or --clear)",
            field="model" if not model else "share",
        )
    _show(c.set_canary(name, model, share, sticky_field=sticky_field), as_json)


@deployments.command("shadow")
@handle_errors
def shadow(
    name: str,
    model: str = typer.Option(..., "--model", help="Version to mirror traffic to."),
    remove: bool = typer.Option(False, "--remove", help="Stop mirroring to it."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Mirror every request to a version: outputs logged, never returned."""
    c = client()
    d = c.remove_shadow(name, model) if remove else c.add_shadow(name, model)
    _show(d, as_json)


@deployments.command("promote")
@handle_errors
def promote(
    name: str,
    model: str | None = typer.Option(
        None, "--model", help="Version to promote (default: the canary)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Make a version the champion; running servers switch within a second."""
    _show(client().promote_deployment(name, model), as_json)


@deployments.command("rollback")
@handle_errors
def rollback(name: str, as_json: bool = JSON_OPTION) -> None:
    """Restore the champion before the last promotion, in one step."""
    _show(client().rollback_deployment(name), as_json)


@deployments.command("update")
@handle_errors
def update(
    name: str,
    threshold: float | None = typer.Option(None, help="Decision threshold."),
    unseen: str | None = typer.Option(None, "--unseen", help="reject or unknown."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Change the decision threshold or the unseen-category policy."""
    _show(
        client().update_deployment(name, threshold=threshold, unseen_policy=unseen),
        as_json,
    )


def _when(text: str | None, field: str) -> dt.datetime | None:
    from mlsteward.durations import parse_duration

    if text is None:
        return None
    # An age has a unit ("2h", "1w"); digits alone are left to ISO 8601.
    if text.strip()[-1:].isalpha() and text.strip()[-1:] in "smhdw":
        age = parse_duration(text, field, minimum=0)
        return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(
            f"--{field} {text!r} is not a time; use ISO 8601 "
            "(2026-01-31T12:00:00Z) or an age like 15m, 2h, 7d, 1w",
            field=field,
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@predictions.command("list")
@handle_errors
def list_predictions(
    deployment: str | None = typer.Option(None, "--deployment", help="Deployment."),
    since: str | None = typer.Option(None, "--since", help="ISO time or age (2h)."),
    until: str | None = typer.Option(None, "--until", help="ISO time or age."),
    limit: int = typer.Option(1000, "--limit", help="Show the newest N records."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Logged predictions: the newest --limit of them, shown oldest first."""
    from mlsteward.serving.log.service import PredictionLog

    frame = PredictionLog(client().ctx).read(
        deployment=deployment,
        since=_when(since, "since"),
        until=_when(until, "until"),
        limit=limit,
        newest=True,
        known=True,
    )
    if as_json:
        emit_json(
            [
                {str(k): _plain(v) for k, v in rec.items()}
                for rec in frame.to_dict("records")
            ]
        )
        return
    if frame.empty:
        window = "".join(
            f" {word} {value}"
            for word, value in (("since", since), ("until", until))
            if value
        )
        console.print(
            f"no predictions logged{f' for {deployment}' if deployment else ''}{window}"
        )
        return
    table = Table("request id", "time", "deployment", "version", "route", "score")
    table.add_column("decision")
    table.add_column("ms")
    for rec in frame.to_dict("records"):
        latency = rec.get("latency_ms")
        table.add_row(
            str(rec["request_id"]),
            f"{rec['created_at']:%Y-%m-%d %H:%M:%S}",
            str(rec["deployment"]),
            str(rec["model_version"]),
            str(rec["route"]),
            f"{rec.get('score', float('nan')):.4f}",
            str(rec.get("decision", "")),
            "-" if latency is None else f"{latency:.2f}",
        )
    show_table(table)


def _settings(fsync: bool | None) -> Any:
    from mlsteward.config import get_settings

    return (
        get_settings(serving_log_fsync=fsync) if fsync is not None else get_settings()
    )


def _run(app: Any, host: str, port: int) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
    server_ = uvicorn.Server(config)
    server_.run()
    if not server_.started:
        raise typer.Exit(1)


@handle_errors
def serve(
    name: str = typer.Argument(..., help="Deployment to serve."),
    host: str = HOST,
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    fsync: bool | None = FSYNC,
) -> None:
    """Serve one deployment: POST /predict/NAME, the v2 protocol, /metrics.

    The inference server alone, for one deployment's own process. For the
    control plane (/api/v1, what a remote client and the dashboard talk to)
    plus every deployment in one process, use 'mlsteward server'.
    """
    from mlsteward.serving.runtime import limit_threads

    limit_threads()
    from mlsteward.api.inference import create_inference_app

    app = create_inference_app(_settings(fsync), names=[name])
    console.print(
        f"serving {name} on http://{host}:{port}  (POST /predict/{name}, "
        f"POST /v2/models/{name}/infer, GET /metrics)"
    )
    _run(app, host, port)


@handle_errors
def server(
    host: str = HOST,
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    fsync: bool | None = FSYNC,
) -> None:
    """Serve the control plane (/api/v1) and every deployment in one process.

    What a team runs: remote clients (MLSTEWARD_URL) talk to it. To serve one
    deployment in a process of its own, use 'mlsteward serve NAME'.
    """
    from mlsteward.serving.runtime import limit_threads

    limit_threads()
    from mlsteward.api.server import create_server_app
    from mlsteward.context import Context

    app = create_server_app(Context.from_settings(_settings(fsync)))
    console.print(
        f"mlsteward server on http://{host}:{port}  (/api/v1, /predict/NAME, /v2, "
        f"/metrics; dashboard at http://{host}:{port}/ui/)"
    )
    _run(app, host, port)
