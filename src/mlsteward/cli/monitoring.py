"""Commands of monitoring: ``mlsteward monitors|alerts|outcomes ...``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from mlsteward.cli.common import (
    JSON_OPTION,
    client,
    console,
    emit_json,
    esc,
    handle_errors,
    show_table,
)
from mlsteward.errors import InvalidInput

monitors = typer.Typer(
    help="Monitors: drift, quality, performance, estimated performance, fairness.",
    no_args_is_help=True,
)
alerts = typer.Typer(help="Alerts raised by monitors.", no_args_is_help=True)
outcomes = typer.Typer(
    help="True outcomes, joined to predictions.", no_args_is_help=True
)

#: Alerts put on a monitor's HTML report (the newest ones).
_ALERTS_SHOWN = 1000
_STYLE = {"ok": "green", "warn": "yellow", "alert": "bold red", "error": "red"}


def register(app: typer.Typer) -> None:
    """Add this capability's commands and command groups to ``app``."""
    app.add_typer(monitors, name="monitors")
    app.add_typer(alerts, name="alerts")
    app.add_typer(outcomes, name="outcomes")


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _checks(chosen: list[str], settings: list[str], config: dict[str, Any]) -> Any:
    """``--check`` names and ``--set check.option=value`` as a checks value."""
    base = config.get("checks")
    if not chosen and not settings:
        return base
    if isinstance(base, dict):
        checks: dict[str, Any] = {k: dict(v or {}) for k, v in base.items()}
    else:
        names = chosen or list(base or [])
        if not names:
            from mlsteward.monitoring.spec import CHECK_NAMES

            names = list(CHECK_NAMES)
        checks = {n: {} for n in names}
    for name in chosen:
        checks.setdefault(name, {})
    for item in settings:
        key, sep, raw = item.partition("=")
        parts = key.split(".")
        if not sep or len(parts) < 2:
            raise InvalidInput(
                f"--set {item!r}: expected CHECK.OPTION=VALUE, e.g. "
                "fairness.min_group_size=50",
                field="set",
            )
        node = checks.setdefault(parts[0], {})
        for p in parts[1:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = _value(raw)
    return checks


@monitors.command("create")
@handle_errors
def create(
    name: str = typer.Argument(..., help="monitor name"),
    deployment: str = typer.Option(..., "--deployment", "-d", help="deployment"),
    model: str = typer.Option(None, "--model", help="registered model it serves"),
    schedule: str = typer.Option("1d", help="seconds, '6h', '1w', or cron '0 6 * * *'"),
    window: str = typer.Option(
        "period:month", help="'last:N', 'range:7d', 'period:month|week|day'"
    ),
    reference: str = typer.Option("champion", help="'champion' or a dataset 'name/N'"),
    check: list[str] = typer.Option(
        [], "--check", help="drift, quality, performance, estimated, fairness"
    ),
    method: list[str] = typer.Option(
        [], "--method", help="COLUMN=METHOD[,METHOD] drift method(s); repeatable"
    ),
    setting: list[str] = typer.Option(
        [], "--set", help="CHECK.OPTION=VALUE (JSON value); repeatable"
    ),
    sink: list[str] = typer.Option(
        [], "--sink", help="log, webhook, webhook:URL, retrain; repeatable"
    ),
    cooldown: str = typer.Option(None, help="alert cool-down, e.g. '1d'"),
    route: list[str] = typer.Option([], "--route", help="routes watched"),
    config: Path = typer.Option(
        None, "--config", help="JSON file with any of the options"
    ),
    description: str = typer.Option("", help="free text"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a monitor of a deployment (drift methods are fixed now)."""
    cfg: dict[str, Any] = {}
    if config is not None:
        try:
            cfg = json.loads(Path(config).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"--config {config}: {exc}", field="config") from exc
    methods = dict(cfg.get("methods") or {})
    for item in method:
        col, sep, names = item.partition("=")
        if not sep or not names:
            raise InvalidInput(
                f"--method {item!r}: expected COLUMN=METHOD", field="method"
            )
        methods[col] = names.split(",")
    alerting = cfg.get("alerting")
    if sink or cooldown:
        alerting = dict(alerting or {})
        if sink:
            alerting["sinks"] = list(sink)
        if cooldown:
            alerting["cooldown_seconds"] = cooldown
    from mlsteward.monitoring.specs import CreateMonitor

    # The config file's keys are the spec's fields; options override them, and
    # the spec alone validates (an unknown key in the file is refused by name).
    spec = CreateMonitor.parse(
        cfg,
        name=name,
        deployment=deployment,
        model=model or cfg.get("model"),
        schedule=cfg.get("schedule", schedule),
        window=cfg.get("window", window),
        reference=cfg.get("reference", reference),
        checks=_checks(check, setting, cfg),
        methods=methods or None,
        alerting=alerting,
        routes=route or cfg.get("routes") or ["champion"],
        description=description or cfg.get("description", ""),
    )
    m = client().monitors.create(spec)
    if as_json:
        emit_json(m.to_dict())
        return
    console.print(
        f"created monitor [bold]{m.name}[/] of {m.deployment} "
        f"(reference {m.state.get('reference_at_creation')}, next run "
        f"{m.next_run_at:%Y-%m-%d %H:%M} UTC)",
        markup=True,
    )


@monitors.command("list")
@handle_errors
def list_monitors(
    deployment: str = typer.Option(None, help="only this deployment"),
    as_json: bool = JSON_OPTION,
) -> None:
    """List monitors."""
    found = client().list_monitors(deployment=deployment)
    if as_json:
        emit_json([m.to_dict() for m in found])
        return
    table = Table("name", "deployment", "window", "schedule", "checks", "last run")
    for m in found:
        table.add_row(
            m.name,
            m.deployment,
            json.dumps(m.window),
            m.schedule,
            ", ".join(m.checks),
            f"{m.last_run_at:%Y-%m-%d %H:%M}" if m.last_run_at else "-",
        )
    show_table(table)


@monitors.command("show")
@handle_errors
def show(name: str = typer.Argument(...), as_json: bool = JSON_OPTION) -> None:
    """Show a monitor's definition, drift methods included."""
    m = client().get_monitor(name)
    if as_json:
        emit_json(m.to_dict())
        return
    d = m.to_dict()
    for key in ("name", "deployment", "model", "schedule", "reference", "routes"):
        console.print(f"{key}: {d[key]}")
    console.print(f"window: {json.dumps(d['window'])}")
    console.print(f"reference at creation: {d['reference_at_creation']}")
    console.print(f"alerting: {json.dumps(d['alerting'])}")
    for check, options in m.checks.items():
        console.print(f"[bold]{check}[/]: {esc(json.dumps(options))}", markup=True)


@monitors.command("delete")
@handle_errors
def delete(name: str = typer.Argument(...), as_json: bool = JSON_OPTION) -> None:
    """Delete a monitor (its results and alerts are kept)."""
    client().delete_monitor(name)
    if as_json:
        emit_json({"deleted": name})
    else:
        console.print(f"deleted monitor {name}")


def _band_text(row: dict[str, Any]) -> str:
    """`` (95% band 0.71-0.78)`` beside an estimate, or nothing."""
    d = row.get("details") or {}
    lo, hi = d.get("band_low"), d.get("band_high")
    if row["check"] != "estimated.auc" or lo is None or hi is None:
        return ""
    return f" ({d.get('band_level', 0.95):.0%} band {lo:.3f}-{hi:.3f})"


def _print_run(run: Any) -> None:
    from mlsteward.monitoring.cbpe import CANNOT_SEE

    for w in run.windows:
        rows = [r for r in run.results if r["window_label"] == w.label]
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        console.print(
            f"[bold]{run.monitor}[/] window {w.label}: "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
            markup=True,
        )
        key = {
            "drift": "drift verdict (drifted columns)",
            "performance.labelled_share": "labelled share",
            "performance.auc": "AUC (realised)",
            "estimated.auc": "AUC (estimated, CBPE)",
            "estimated.concept_shift": "realised - estimated AUC (concept shift)",
        }
        table = Table("figure", "column", "value", "status")
        for r in rows:
            if r["check"] in key or r["status"] in ("warn", "alert", "error"):
                value = "-" if r["value"] is None else f"{r['value']:.4g}"
                value += _band_text(r)
                style = _STYLE.get(r["status"], "")
                table.add_row(
                    key.get(r["check"], r["check"]),
                    r["column"],
                    value,
                    Text(r["status"], style or ""),
                )
        show_table(table)
    console.print(f"estimated AUC: {CANNOT_SEE}", style="dim")
    if run.alerts:
        console.print(f"{len(run.alerts)} alert(s):")
        for a in run.alerts:
            console.print(f"  {a.message} [{a.status}, seen {a.count}x]")


@monitors.command("run")
@handle_errors
def run(
    name: str = typer.Argument(...),
    start: str = typer.Option(None, help="window start, ISO-8601 UTC"),
    end: str = typer.Option(None, help="window end, ISO-8601 UTC"),
    at: str = typer.Option(None, help="the run's time (default now)"),
    fail_on_alert: bool = typer.Option(
        False, help="exit 1 when any figure is past its alert level"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run a monitor now and store its results."""
    from mlsteward.monitoring.specs import RunMonitor

    spec = RunMonitor.parse(start=start, end=end, at=at)
    result = client().monitors.run(name, spec)
    if as_json:
        emit_json(result.to_dict())
    else:
        _print_run(result)
    if fail_on_alert and any(r["status"] == "alert" for r in result.results):
        raise typer.Exit(1)


@monitors.command("run-due")
@handle_errors
def run_due(as_json: bool = JSON_OPTION) -> None:
    """Run every monitor whose schedule says it is due."""
    runs = client().run_due_monitors()
    if as_json:
        emit_json([r.to_dict() for r in runs])
        return
    if not runs:
        console.print("no monitor is due")
    for r in runs:
        _print_run(r)


@monitors.command("watch")
@handle_errors
def watch(
    poll: float = typer.Option(
        60.0,
        "--poll-interval",
        "--poll",
        help="Seconds between checks for due monitors (as worker --poll-interval).",
    ),
    cycles: int = typer.Option(0, help="stop after this many checks (0: never)"),
    as_json: bool = typer.Option(
        False, "--json", help="Print each run as one line of JSON."
    ),
) -> None:
    """A small in-process scheduler: run due monitors until interrupted."""
    c = client()
    done = 0
    try:
        while True:
            for r in c.run_due_monitors():
                if as_json:
                    sys.stdout.write(json.dumps(r.to_dict(), default=str) + "\n")
                    sys.stdout.flush()
                else:
                    _print_run(r)
            done += 1
            if cycles and done >= cycles:
                return
            time.sleep(max(poll, 0.1))
    except KeyboardInterrupt:
        console.print("stopped")


@monitors.command("results")
@handle_errors
def results(
    name: str = typer.Argument(...),
    check: str = typer.Option(None, help="a check or family, e.g. drift.psi, drift"),
    column: str = typer.Option(None, help="a column ('*' for window figures)"),
    since: str = typer.Option(None, help="windows starting at or after (ISO UTC)"),
    until: str = typer.Option(None, help="windows ending at or before (ISO UTC)"),
    window: str = typer.Option(None, help="a window label, e.g. 2025-07"),
    all_runs: bool = typer.Option(False, help="every run, not only the newest"),
    as_json: bool = JSON_OPTION,
) -> None:
    """A monitor's results as a time series."""
    frame = client().monitor_results(
        name,
        check=check,
        column=column,
        since=since,
        until=until,
        window=window,
        latest=not all_runs,
    )
    if as_json:
        from mlsteward.monitoring.checks import jsonable

        emit_json(jsonable(frame.to_dict(orient="records")))
        return
    table = Table("window", "check", "column", "value", "status")
    for r in frame.itertuples(index=False):
        value = "-" if r.value is None or r.value != r.value else f"{r.value:.4g}"
        style = _STYLE.get(r.status, "")
        table.add_row(
            r.window_label,
            r.check,
            r.column,
            value,
            Text(r.status, style or ""),
        )
    show_table(table)


@monitors.command("report")
@handle_errors
def report(
    name: str = typer.Argument(..., help="monitor name"),
    html: Path = typer.Option(
        ...,
        "--html",
        help="Write the monitor's history as one self-contained HTML page: PSI "
        "over time per feature, realised and estimated AUC, alerts.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """A monitor's results over time as one HTML file (opens with no network)."""
    from mlsteward.monitoring.drift.html import write_page
    from mlsteward.monitoring.history_html import render_monitor_html

    if not html.parent.is_dir():
        raise InvalidInput(
            f"--html: the folder {str(html.parent)!r} does not exist", field="html"
        )
    sdk = client()
    frame = sdk.monitor_results(name)
    found = sdk.list_alerts(monitor=name, limit=_ALERTS_SHOWN)
    write_page(render_monitor_html(name, frame, found), html)
    where = str(html.resolve())
    if as_json:
        emit_json({"html": where, "results": len(frame), "alerts": len(found)})
    else:
        console.print(
            f"wrote the report of monitor {name} ({len(frame)} results, "
            f"{len(found)} alerts) to {where}",
            markup=False,
            soft_wrap=True,
        )


@alerts.command("list")
@handle_errors
def list_alerts(
    status: str = typer.Option(None, help="pending, sent or failed"),
    monitor: str = typer.Option(None, help="only this monitor"),
    severity: str = typer.Option(None, help="warning or critical"),
    limit: int = typer.Option(100, help="at most this many, newest first"),
    as_json: bool = JSON_OPTION,
) -> None:
    """List alerts, newest first."""
    found = client().list_alerts(
        status=status, monitor=monitor, severity=severity, limit=limit
    )
    if as_json:
        emit_json([a.to_dict() for a in found])
        return
    table = Table("last seen", "severity", "status", "count", "message")
    for a in found:
        table.add_row(
            f"{a.last_seen:%Y-%m-%d %H:%M}",
            a.severity,
            a.status,
            str(a.count),
            a.message,
        )
    show_table(table)


@alerts.command("incidents")
@handle_errors
def incidents(
    monitor: str = typer.Option(None, help="only this monitor"),
    deployment: str = typer.Option(None, help="only monitors of this deployment"),
    limit: int = typer.Option(20, help="at most this many, newest first"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Alerts grouped per monitor run and window, worst first; repeats of the
    window before are folded into a count."""
    found = client().alerts.incidents(
        monitor=monitor, deployment=deployment, limit=limit
    )
    if as_json:
        emit_json([i.to_dict() for i in found])
        return
    if not found:
        console.print("no incidents")
    for i in found:
        console.print(f"{i.seen_at:%Y-%m-%d %H:%M}  {i.status}", markup=False)
        console.print(i.message, markup=False, soft_wrap=True)
        console.print("")


@alerts.command("deliver")
@handle_errors
def deliver(
    retry_failed: bool = typer.Option(False, help="also retry alerts marked failed"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Retry delivering pending alerts to their sinks."""
    found = client().deliver_alerts(retry_failed=retry_failed)
    if as_json:
        emit_json([a.to_dict() for a in found])
        return
    for a in found:
        console.print(f"{a.id}: {a.status} ({', '.join(a.delivered) or 'nothing'})")


@outcomes.command("load")
@handle_errors
def load(
    path: Path = typer.Argument(
        ...,
        help="A table file (.csv, .jsonl, .csv.gz, .parquet, ...): "
        "request_id, label[, observed_at]",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Load outcomes by request id: all or nothing, idempotent."""
    result = client().load_outcomes(path)
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(
        f"loaded {result.loaded} outcome(s); {result.unchanged} already known"
    )
