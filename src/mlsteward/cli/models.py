"""``mlsteward models list|show``."""

from __future__ import annotations

import typer
from rich.table import Table

from mlsteward.cli.common import JSON_OPTION, client, console, emit_json, handle_errors

app = typer.Typer(help="Registered models and their versions.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_models(as_json: bool = JSON_OPTION) -> None:
    """List registered models with their latest version and aliases."""
    models = client().list_models()
    if as_json:
        emit_json([m.to_dict() for m in models])
        return
    table = Table("name", "latest", "aliases", "updated")
    for m in models:
        aliases = ", ".join(f"{a}→{v}" for a, v in sorted(m.aliases.items()))
        table.add_row(
            m.name,
            str(m.latest_version or "-"),
            aliases or "-",
            m.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console.print(table)


@app.command("show")
@handle_errors
def show(
    ref: str = typer.Argument(..., help="name, name/N or name@alias"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a model's versions (or one version) with evaluations and history."""
    c = client()
    if "/" in ref or "@" in ref:
        mv = c.get_model_version(ref)
        evals = c.list_evaluations(mv.ref)
        history = c.audit_log(object_id=mv.ref)
        if as_json:
            out = mv.to_dict()
            out["evaluations"] = [e.to_dict() for e in evals]
            out["history"] = [e.to_dict() for e in history]
            emit_json(out)
            return
        console.print(
            f"[bold]{mv.ref}[/]  state={mv.state}  "
            f"aliases={', '.join(mv.aliases) or '-'}  flavor={mv.flavor}"
        )
        console.print(f"artifact sha256 {mv.artifact_sha256}  run {mv.run_id or '-'}")
        console.print("inputs: " + ", ".join(mv.signature.feature_names))
        _print_evaluations(evals)
        _print_history(history)
        return
    model = c.get_model(ref)
    versions = c.list_versions(ref)
    evals = {v.version: c.list_evaluations(v.ref) for v in versions}
    history = [e for v in versions for e in c.audit_log(object_id=v.ref)]
    history.sort(key=lambda e: e.seq)
    if as_json:
        out = model.to_dict()
        out["versions"] = []
        for v in versions:
            d = v.to_dict()
            d["evaluations"] = [e.to_dict() for e in evals[v.version]]
            out["versions"].append(d)
        out["history"] = [e.to_dict() for e in history]
        emit_json(out)
        return
    console.print(
        f"[bold]{model.name}[/]  created {model.created_at:%Y-%m-%d} "
        f"by {model.created_by}"
    )
    table = Table(
        "version", "state", "aliases", "flavor", "created", "by", "latest evaluation"
    )
    for v in versions:
        last = evals[v.version][-1] if evals[v.version] else None
        summary = (
            (f"{last.label}: AUC {last.metrics['auc']:.3f} KS {last.metrics['ks']:.3f}")
            if last
            else "-"
        )
        table.add_row(
            str(v.version),
            v.state,
            ", ".join(v.aliases) or "-",
            v.flavor,
            f"{v.created_at:%Y-%m-%d %H:%M}",
            v.created_by,
            summary,
        )
    console.print(table)
    _print_history(history)


def _print_evaluations(evals: list) -> None:  # type: ignore[type-arg]
    if not evals:
        console.print("no evaluations")
        return
    table = Table("evaluated on", "n", "AUC", "Gini", "KS", "Brier", "log loss")
    for e in evals:
        mt = e.metrics
        table.add_row(
            e.label,
            str(mt["n"]),
            f"{mt['auc']:.4f}",
            f"{mt['gini']:.4f}",
            f"{mt['ks']:.4f}",
            f"{mt['brier']:.4f}",
            f"{mt['log_loss']:.4f}",
        )
    console.print(table)


def _print_history(history: list) -> None:  # type: ignore[type-arg]
    if not history:
        return
    table = Table("#", "when", "who", "what", "object", "details", title="history")
    for e in history:
        details = ", ".join(
            f"{k}={v}" for k, v in e.details.items() if v not in (None, "", {})
        )
        table.add_row(
            str(e.seq),
            f"{e.at:%Y-%m-%d %H:%M:%S}",
            e.actor,
            e.action,
            e.object_id,
            details[:80],
        )
    console.print(table)
