"""``mlsteward models list|show|alias set|alias delete|archive|transition|evaluate``."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from mlsteward.cli.common import (
    JSON_OPTION,
    client,
    console,
    emit_json,
    esc,
    handle_errors,
    reason_option,
    show_table,
)

app = typer.Typer(help="Registered models and their versions.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_models(as_json: bool = JSON_OPTION) -> None:
    """List registered models with their latest version and aliases."""
    models = client().models.list()
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
    show_table(table)


@app.command("show")
@handle_errors
def show(
    ref: str = typer.Argument(..., help="name, name/N or name@alias"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a model's versions (or one version) with evaluations and history."""
    c = client()
    if "/" in ref or "@" in ref:
        mv = c.models.get_version(ref)
        evals = c.models.evaluations(mv.ref)
        history = c.audit_log(object_id=mv.ref)
        if as_json:
            out = mv.to_dict()
            out["evaluations"] = [e.to_dict() for e in evals]
            out["history"] = [e.to_dict() for e in history]
            emit_json(out)
            return
        console.print(
            f"[bold]{mv.ref}[/]  state={mv.state}  "
            f"aliases={', '.join(mv.aliases) or '-'}  flavor={mv.flavor}",
            markup=True,
        )
        console.print(f"artifact sha256 {mv.artifact_sha256}  run {mv.run_id or '-'}")
        console.print("inputs: " + ", ".join(mv.signature.feature_names))
        _print_evaluations(evals)
        _print_history(history)
        return
    model = c.models.get(ref)
    versions = c.models.list_versions(ref)
    evals = {v.version: c.models.evaluations(v.ref) for v in versions}
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
        f"by {esc(model.created_by)}",
        markup=True,
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
    show_table(table)
    _print_history(history)


alias_app = typer.Typer(help="Aliases of a model: NAME@ALIAS names a version.")
app.add_typer(alias_app, name="alias")


@alias_app.command("set")
@app.command("set-alias", hidden=True)
@handle_errors
def set_alias(
    name: str = typer.Argument(..., help="Registered model name."),
    alias: str = typer.Argument(..., help="Alias, e.g. champion."),
    version: int = typer.Argument(..., help="Version the alias points at."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Point NAME@ALIAS at VERSION (moving it if it pointed elsewhere)."""
    from mlsteward.registry.specs import SetAlias

    spec = SetAlias.parse(alias=alias, version=version)
    _print_version(client().models.set_alias(name, spec), as_json)


@alias_app.command("delete")
@app.command("delete-alias", hidden=True)
@handle_errors
def delete_alias(
    name: str = typer.Argument(..., help="Registered model name."),
    alias: str = typer.Argument(..., help="Alias to remove."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Remove the alias ALIAS of model NAME."""
    client().models.delete_alias(name, alias)
    if as_json:
        emit_json({"model": name, "alias": alias, "deleted": True})
        return
    console.print(f"removed {name}@{alias}")


@app.command("archive")
@handle_errors
def archive(
    ref: str = typer.Argument(..., help="name/N or name@alias"),
    reason: str = reason_option(),
    as_json: bool = JSON_OPTION,
) -> None:
    """Archive a model version: it stays in the history and the audit trail.

    The same use case as 'models transition REF archived', with its rules.
    """
    from mlsteward.registry.specs import Transition

    spec = Transition.parse(state="archived", reason=reason)
    _print_version(client().models.transition(ref, spec), as_json)


@app.command("transition")
@handle_errors
def transition(
    ref: str = typer.Argument(..., help="name/N or name@alias"),
    state: str = typer.Argument(..., help="registered, approved, rejected or archived"),
    reason: str = reason_option(),
    as_json: bool = JSON_OPTION,
) -> None:
    """Move a model version through its lifecycle."""
    from mlsteward.registry.specs import Transition

    spec = Transition.parse(state=state, reason=reason)
    _print_version(client().models.transition(ref, spec), as_json)


@app.command("evaluate")
@handle_errors
def evaluate(
    ref: str = typer.Argument(..., help="name/N or name@alias"),
    dataset: str = typer.Argument(..., help="Dataset version: name/N."),
    target: str | None = typer.Option(
        None, "--target", help="Label column (default: the dataset's target)."
    ),
    threshold: float = typer.Option(0.5, help="Decision threshold, 0 to 1."),
    label: str | None = typer.Option(None, "--label", help="Name of the evaluation."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Evaluate a model version on a dataset version and store the figures."""
    from mlsteward.registry.specs import Evaluate

    spec = Evaluate.parse(target=target, threshold=threshold, label=label)
    ev = client().models.evaluate(ref, spec, data=dataset)
    if as_json:
        emit_json(ev.to_dict())
        return
    _print_evaluations([ev])


def _print_version(mv: Any, as_json: bool) -> None:
    if as_json:
        emit_json(mv.to_dict())
        return
    console.print(
        f"[bold]{mv.ref}[/]  state={mv.state}  aliases={', '.join(mv.aliases) or '-'}",
        markup=True,
    )


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
    show_table(table)


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
    show_table(table)
