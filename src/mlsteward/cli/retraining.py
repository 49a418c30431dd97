"""``mlsteward policies|retrain|retrainings|approvals``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from mlsteward.cli.common import (
    JSON_OPTION,
    console,
    emit_json,
    esc,
    handle_errors,
    reason_option,
    show_table,
)


def _gates() -> Any:
    """The gates module, imported when a command shows gates: it pulls in
    the statistics stack, which every other command would pay for at start."""
    from mlsteward.retraining import gates

    return gates


_OUTCOME_STYLE = {
    "passed": Text("passed", "green"),
    "failed": Text("failed", "red"),
    "not_judged": Text("not judged", "yellow"),
}

policies_app = typer.Typer(help="Retraining policies.", no_args_is_help=True)
approvals_app = typer.Typer(help="Promotion approvals.", no_args_is_help=True)
retrainings_app = typer.Typer(help="Retraining history.", no_args_is_help=True)


def _ctx():  # type: ignore[no-untyped-def]
    from mlsteward.cli.governance import _ctx as governance_ctx

    return governance_ctx()


@policies_app.command("set")
@handle_errors
def policies_set(path: Path, as_json: bool = JSON_OPTION) -> None:
    """Validate and set a policy from a TOML or YAML file."""
    from mlsteward.retraining.policy import load_policy
    from mlsteward.retraining.service import RetrainingService

    policy = RetrainingService(_ctx()).set_policy(load_policy(path))
    emit_json(policy.to_dict()) if as_json else console.print(
        f"policy for {policy.model} set (mode {policy.promotion.mode})"
    )


@policies_app.command("show")
@handle_errors
def policies_show(model: str, as_json: bool = JSON_OPTION) -> None:
    """Show a model's policy."""
    from mlsteward.retraining.service import RetrainingService

    policy = RetrainingService(_ctx()).get_policy(model)
    if as_json:
        emit_json(policy.to_dict())
    else:
        console.print_json(data=policy.to_dict())


@policies_app.command("check")
@handle_errors
def policies_check(path: Path, as_json: bool = JSON_OPTION) -> None:
    """Validate a policy file without setting it."""
    from mlsteward.retraining.policy import load_policy

    policy = load_policy(path)
    if as_json:
        emit_json({"path": str(path), "valid": True, "policy": policy.to_dict()})
        return
    console.print(f"{path}: valid policy for {policy.model}")


@handle_errors
def retrain(
    model: str,
    deployment: str | None = typer.Option(None, help="Defaults to the model name."),
    reason: str = reason_option(),
    as_json: bool = JSON_OPTION,
) -> None:
    """Train a challenger now by the model's policy, judge gates, decide."""
    from mlsteward.retraining.service import RetrainingService
    from mlsteward.retraining.specs import Retrain

    spec = Retrain.parse(deployment=deployment, reason=reason)
    with console.status(f"retraining {model}", spinner="dots"):
        r = RetrainingService(_ctx()).retrain(model, spec)
    if as_json:
        emit_json(r.to_dict())
        return
    table = Table(
        "gate",
        "outcome",
        "value",
        "limit",
        "detail",
        title=f"{r.challenger} vs {r.champion} on {r.holdout}",
    )
    for g in r.gates:
        value = "-" if g["value"] is None else f"{g['value']:.4f}"
        table.add_row(
            g["gate"],
            _OUTCOME_STYLE[_gates().gate_outcome(g)],
            value,
            str(g["limit"]),
            g["detail"],
        )
    show_table(table)
    console.print(f"decision: [bold]{r.decision}[/] — {esc(r.reason)}", markup=True)
    if r.approval_id:
        console.print(
            f"approval request {r.approval_id}: an approver runs "
            f"`mlsteward approvals approve {r.approval_id}`"
        )


@retrainings_app.command("list")
@handle_errors
def retrainings_list(
    model: str | None = typer.Option(None), as_json: bool = JSON_OPTION
) -> None:
    """List retrainings with their decisions."""
    from mlsteward.retraining.service import RetrainingService

    rows = RetrainingService(_ctx()).list(model)
    if as_json:
        emit_json([r.to_dict() for r in rows])
        return
    table = Table("id", "when", "champion", "challenger", "decision", "reason")
    for r in rows:
        table.add_row(
            r.id[:12],
            f"{r.created_at:%Y-%m-%d %H:%M}",
            r.champion or "-",
            r.challenger or "-",
            r.decision or "-",
            r.reason[:60],
        )
    show_table(table)


@retrainings_app.command("run-due")
@handle_errors
def retrainings_run_due(as_json: bool = JSON_OPTION) -> None:
    """Queue a retraining job for every policy whose schedule is due."""
    from mlsteward.retraining.triggers import enqueue_due

    jobs = enqueue_due(_ctx())
    if as_json:
        emit_json([{"job": j.id, "model": j.payload["model"]} for j in jobs])
    else:
        console.print(f"queued {len(jobs)} retraining job(s)")


@approvals_app.command("list")
@handle_errors
def approvals_list(
    status: str | None = typer.Option(None, help="pending, approved, rejected, stale"),
    model: str | None = typer.Option(None),
    as_json: bool = JSON_OPTION,
) -> None:
    """List approval requests with their evidence."""
    from mlsteward.retraining.approvals import ApprovalService

    rows = ApprovalService(_ctx()).list(status=status, model=model)
    if as_json:
        emit_json([a.to_dict() for a in rows])
        return
    table = Table("id", "version", "status", "asked by", "when", "gates", "decided by")
    for a in rows:
        gates = a.evidence.get("gates", [])
        tally = _gates().gate_tally(gates)
        table.add_row(
            a.id,
            a.ref,
            a.status,
            a.requested_by,
            f"{a.requested_at:%Y-%m-%d %H:%M}",
            tally,
            a.decided_by or "-",
        )
    show_table(table)


@approvals_app.command("request")
@handle_errors
def approvals_request(
    ref: str = typer.Argument(..., help="The version: credit-risk/4."),
    comment: str = reason_option(help="Why: what the approver should know."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Ask for a registered version to become champion; an approver decides."""
    from mlsteward.retraining.approvals import ApprovalService
    from mlsteward.retraining.specs import RequestApproval

    spec = RequestApproval.parse(ref=ref, comment=comment)
    a = ApprovalService(_ctx()).request(spec)
    emit_json(a.to_dict()) if as_json else console.print(
        f"approval request {a.id} for {a.ref}: an approver runs "
        f"`mlsteward approvals approve {a.id}`"
    )


@approvals_app.command("approve")
@handle_errors
def approvals_approve(
    request_id: str,
    comment: str = reason_option(help="Why you approve, for the audit trail."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Approve a request (approver role; not your own): promotes the version."""
    from mlsteward.retraining.approvals import ApprovalService
    from mlsteward.retraining.specs import Decide

    a = ApprovalService(_ctx()).approve(request_id, Decide.parse(comment=comment))
    emit_json(a.to_dict()) if as_json else console.print(
        f"approved {a.ref}; it is now champion"
    )


@approvals_app.command("reject")
@handle_errors
def approvals_reject(
    request_id: str,
    comment: str = reason_option(..., help="Why you reject (required)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Reject a request, saying why."""
    from mlsteward.retraining.approvals import ApprovalService
    from mlsteward.retraining.specs import Decide

    a = ApprovalService(_ctx()).reject(request_id, Decide.parse(comment=comment))
    emit_json(a.to_dict()) if as_json else console.print(f"rejected {a.ref}")


def register(app: typer.Typer) -> None:
    app.add_typer(policies_app, name="policies")
    app.add_typer(approvals_app, name="approvals")
    app.add_typer(retrainings_app, name="retrainings")
    app.command("retrain")(retrain)
