"""``mlsteward users|tokens|audit|lineage|comments|retention``."""

from __future__ import annotations

import datetime as dt
import os

import typer
from rich.table import Table
from rich.tree import Tree

from mlsteward.cli.common import (
    JSON_OPTION,
    console,
    emit_json,
    esc,
    handle_errors,
    show_table,
)
from mlsteward.errors import InvalidInput
from mlsteward.governance.specs import AddSink, ApplyRetention

users_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
tokens_app = typer.Typer(
    help="API tokens (shown once, stored hashed).", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
comments_app = typer.Typer(
    help="Comments on models, approvals and alerts.", no_args_is_help=True
)
notify_app = typer.Typer(
    help="Webhook sinks told of registrations, approvals, alerts and promotions.",
    no_args_is_help=True,
)
retention_app = typer.Typer(
    help="Retention of prediction records.", no_args_is_help=True
)


def _ctx():  # type: ignore[no-untyped-def]
    """The local context, acting as the user of ``MLSTEWARD_TOKEN`` if set."""
    from mlsteward.config import get_settings
    from mlsteward.context import Context
    from mlsteward.identity.service import IdentityService

    ctx = Context.from_settings(get_settings())
    token = os.environ.get("MLSTEWARD_TOKEN")
    if token:
        ctx = ctx.as_principal(IdentityService(ctx).authenticate(token))
    return ctx


def _time(value: str | None, field: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(
            f"--{field} {value!r} is not an ISO-8601 time", field=field
        ) from exc
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


@users_app.command("create")
@handle_errors
def users_create(
    name: str,
    role: str = typer.Option(..., help="viewer, developer, approver or admin"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a user. The first user must be an admin and needs no token."""
    from mlsteward.identity.service import IdentityService
    from mlsteward.identity.specs import CreateToken, CreateUser

    spec = CreateUser.parse(name=name, role=role)
    ctx = _ctx()
    svc = IdentityService(ctx)
    bootstrap = not svc.list_users()
    user = svc.create_user(spec, bootstrap=bootstrap)
    # The first admin has no other way to get a token: it gets one now.
    token = (
        svc.create_token(CreateToken(user=name, description="bootstrap")).secret
        if bootstrap
        else None
    )
    if as_json:
        emit_json({**user.to_dict(), **({"token": token} if token else {})})
        return
    console.print(f"created {user.name} ({user.role})")
    if token:
        console.print(
            "the first admin; its token, shown once (set it as MLSTEWARD_TOKEN):"
        )
        console.print(token, soft_wrap=True, highlight=False)


@users_app.command("list")
@handle_errors
def users_list(as_json: bool = JSON_OPTION) -> None:
    """List users."""
    from mlsteward.identity.service import IdentityService

    users = IdentityService(_ctx()).list_users()
    if as_json:
        emit_json([u.to_dict() for u in users])
        return
    table = Table("name", "role", "disabled", "created", "by")
    for u in users:
        table.add_row(
            u.name,
            u.role,
            "yes" if u.disabled else "",
            f"{u.created_at:%Y-%m-%d %H:%M}",
            u.created_by,
        )
    show_table(table)


@users_app.command("set-role")
@handle_errors
def users_set_role(name: str, role: str, as_json: bool = JSON_OPTION) -> None:
    """Change a user's role (admin only)."""
    from mlsteward.identity.service import IdentityService
    from mlsteward.identity.specs import SetRole

    spec = SetRole.parse(role=role)
    ctx = _ctx()
    user = IdentityService(ctx).set_role(name, spec)
    emit_json(user.to_dict()) if as_json else console.print(
        f"{user.name} is now {user.role}"
    )


@users_app.command("disable")
@handle_errors
def users_disable(name: str, as_json: bool = JSON_OPTION) -> None:
    """Disable a user; their tokens stop working (admin only)."""
    from mlsteward.identity.service import IdentityService

    ctx = _ctx()
    user = IdentityService(ctx).disable_user(name)
    if as_json:
        emit_json(user.to_dict())
        return
    console.print(f"{name} disabled")


@tokens_app.command("create")
@handle_errors
def tokens_create(
    user: str,
    scope: str = typer.Option("user", help="'user' or 'deployment:<name>'"),
    description: str = typer.Option("", help="What the token is for."),
    expires_in_days: int | None = typer.Option(None, help="Days it works."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a token for a user; it is printed once and never again."""
    from mlsteward.identity.service import IdentityService
    from mlsteward.identity.specs import CreateToken

    spec = CreateToken.parse(
        user=user,
        scope=scope,
        description=description,
        expires_in_days=expires_in_days,
    )
    created = IdentityService(_ctx()).create_token(spec)
    if as_json:
        emit_json({**created.token.to_dict(), "token": created.secret})
    else:
        console.print(
            f"token for {user} ({scope}); store it now, it is not shown again:"
        )
        console.print(created.secret, soft_wrap=True, highlight=False)


@tokens_app.command("list")
@handle_errors
def tokens_list(
    user: str | None = typer.Option(None), as_json: bool = JSON_OPTION
) -> None:
    """List tokens (never their secrets)."""
    from mlsteward.identity.service import IdentityService

    toks = IdentityService(_ctx()).list_tokens(user)
    if as_json:
        emit_json([t.to_dict() for t in toks])
        return
    table = Table("id", "user", "scope", "active", "created", "expires")
    for t in toks:
        table.add_row(
            t.id,
            t.user,
            t.scope,
            "yes" if t.active else "no",
            f"{t.created_at:%Y-%m-%d}",
            f"{t.expires_at:%Y-%m-%d}" if t.expires_at else "-",
        )
    show_table(table)


@tokens_app.command("revoke")
@handle_errors
def tokens_revoke(token_id: str, as_json: bool = JSON_OPTION) -> None:
    """Revoke a token (admin, or the token's own user)."""
    from mlsteward.identity.service import IdentityService

    # The service lets an admin, or the token's own user, revoke it.
    token = IdentityService(_ctx()).revoke_token(token_id)
    if as_json:
        emit_json(token.to_dict())
        return
    console.print(f"token {token_id} revoked")


@audit_app.command("head")
@handle_errors
def audit_head(as_json: bool = JSON_OPTION) -> None:
    """Print the newest event as SEQ:HASH: keep it outside the database."""
    from mlsteward.governance.records import AuditService

    head = AuditService(_ctx()).head()
    if as_json:
        emit_json(head.to_dict())
    else:
        typer.echo(str(head))


@audit_app.command("verify")
@handle_errors
def audit_verify(
    expect_head: str | None = typer.Option(
        None,
        "--expect-head",
        metavar="SEQ:HASH",
        help="A head kept outside the database (from mlsteward audit head): fail "
        "if the chain no longer reaches it or it was rewritten.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Recompute the hash chain; exit 1 and say where if anything was changed."""
    from mlsteward.governance.records import AuditService

    report = AuditService(_ctx()).verify(expect_head=expect_head)
    if as_json:
        emit_json(report.to_dict())
    elif report.problems:
        console.print(f"audit chain BROKEN ({report.events} events):", style="red")
        for p in report.problems:
            where = f"event {p.seq}" if p.seq is not None else "chain"
            console.print(f"  {where}: {p.problem}")
    else:
        checked = [
            "HMACs" if report.keyed else "",
            f"expected head {report.expected_head.seq}" if report.expected_head else "",
        ]
        also = " and ".join(c for c in checked if c)
        console.print(
            f"[green]audit chain verified[/]: {report.events} events"
            + (f", {also} checked" if also else "")
            + f"; head {report.head}",
            markup=True,
        )
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("log")
@handle_errors
def audit_log(
    object_id: str | None = typer.Option(None, "--object", help="e.g. credit-risk/3"),
    object_type: str | None = typer.Option(
        None, "--object-type", help="e.g. model_version, deployment, job"
    ),
    actor: str | None = typer.Option(None),
    action: str | None = typer.Option(None, help="prefix, e.g. 'alias.'"),
    since: str | None = typer.Option(None, help="ISO-8601 time (UTC if no zone)"),
    until: str | None = typer.Option(None),
    limit: int = typer.Option(1000, min=1),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show audit events, oldest first, filtered."""
    from mlsteward.governance.records import AuditService

    events = AuditService(_ctx()).log(
        object_id=object_id,
        object_type=object_type,
        actor=actor,
        action=action,
        since=_time(since, "since"),
        until=_time(until, "until"),
        limit=limit,
    )
    if as_json:
        emit_json([e.to_dict() for e in events])
        return
    table = Table("#", "when (UTC)", "who", "what", "object", "details")
    for e in events:
        details = ", ".join(
            f"{k}={v}" for k, v in e.details.items() if v not in (None, "", {}, [])
        )
        table.add_row(
            str(e.seq),
            f"{e.at:%Y-%m-%d %H:%M:%S}",
            e.actor,
            e.action,
            e.object_id,
            details[:100],
        )
    show_table(table)


@comments_app.command("add")
@handle_errors
def comments_add(
    target: str = typer.Argument(
        ..., help="credit-risk/3, or kind:id (approval:ID, alert:ID, deployment:NAME)"
    ),
    text: str = typer.Option(..., "--text", "-m"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Comment on a model version, approval, alert or deployment."""
    from mlsteward.governance.records import AuditService, parse_object
    from mlsteward.governance.specs import Comment

    kind, oid = parse_object(target)
    spec = Comment.parse(object_type=kind, object_id=oid, text=text)
    event = AuditService(_ctx()).comment(spec)
    emit_json(event.to_dict()) if as_json else console.print(
        f"comment {event.seq} added to {kind} {oid}"
    )


@comments_app.command("list")
@handle_errors
def comments_list(target: str, as_json: bool = JSON_OPTION) -> None:
    """Comments on an object, oldest first."""
    from mlsteward.governance.records import AuditService, parse_object

    _, oid = parse_object(target)
    events = AuditService(_ctx()).comments(oid)
    if as_json:
        emit_json([e.to_dict() for e in events])
        return
    for e in events:
        console.print(
            f"[bold]{esc(e.actor)}[/] {e.at:%Y-%m-%d %H:%M}: {esc(e.details['text'])}",
            markup=True,
        )


@retention_app.command("apply")
@handle_errors
def retention_apply(
    days: int = typer.Option(
        ..., help="Keep prediction records this many days (at least 183)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete prediction records (and their outcomes) older than DAYS."""
    from mlsteward.governance.records import RetentionService

    ctx = _ctx()
    out = RetentionService(ctx).apply(ApplyRetention(days=days, dry_run=dry_run))
    emit_json(out) if as_json else console.print(
        f"{'would delete' if dry_run else 'deleted'} {out['would_delete']} prediction "
        f"records older than {out['cutoff']}"
    )


@notify_app.command("add-sink")
@handle_errors
def notify_add(
    name: str,
    url: str,
    action: list[str] = typer.Option(
        [],
        "--action",
        help="Action prefix to send (repeatable); default: "
        "registrations, approvals, alias moves, alerts, deployments, retrainings",
    ),
    from_start: bool = typer.Option(False, help="Also send past events."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a webhook sink (chat incoming webhooks accept its JSON)."""
    from mlsteward.governance.notify import NotificationService

    ctx = _ctx()
    sink = NotificationService(ctx).add_sink(
        AddSink.parse(name=name, url=url, actions=action or None, from_start=from_start)
    )
    emit_json(sink.to_dict()) if as_json else console.print(
        f"sink {sink.name} added; it hears {', '.join(sink.actions)}"
    )


@notify_app.command("list")
@handle_errors
def notify_list(as_json: bool = JSON_OPTION) -> None:
    """List sinks with their delivery state."""
    from mlsteward.governance.notify import NotificationService

    sinks = NotificationService(_ctx()).list()
    if as_json:
        emit_json([s.to_dict() for s in sinks])
        return
    table = Table("name", "url", "delivered up to event", "last error")
    for shown in (s.to_dict() for s in sinks):  # the URL masked
        table.add_row(
            shown["name"],
            shown["url"],
            str(shown["cursor"]),
            shown["last_error"] or "-",
        )
    show_table(table)


@notify_app.command("deliver")
@handle_errors
def notify_deliver(as_json: bool = JSON_OPTION) -> None:
    """Send every sink what it has not yet received; failures are retried next
    time, from the first undelivered event."""
    from mlsteward.governance.notify import NotificationService

    out = NotificationService(_ctx()).deliver()
    if as_json:
        emit_json(out)
    else:
        for name, r in out.items():
            console.print(
                f"{name}: sent {r['sent']}"
                + (f", [red]stopped: {esc(r['error'])}[/]" if r["error"] else ""),
                markup=True,
            )
    if any(r["error"] for r in out.values()):
        raise typer.Exit(1)


@handle_errors
def lineage(
    ref: str = typer.Argument(..., help="model version, e.g. credit-risk/3"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Datasets, run, parents, evaluations and events of a model version."""
    from mlsteward.governance.records import LineageService

    lin = LineageService(_ctx()).lineage(ref)
    if as_json:
        emit_json(lin.to_dict())
        return
    tree = Tree(
        f"[bold]{esc(lin.ref)}[/] ({lin.version.state}, aliases: "
        f"{', '.join(lin.version.aliases) or '-'})"
    )
    if lin.run:
        run = tree.add(
            f"run {lin.run.id[:12]} {lin.run.name} "
            f"(git {str(lin.run.git_sha or '-')[:10]})"
        )
        for d in lin.datasets:
            run.add(
                f"dataset {d.ref} {d.context} sha256 {d.sha256[:12]} ({d.n_rows} rows)"
            )
    if lin.parents:
        tree.add("parents: " + " ← ".join(lin.parents))
    ev = tree.add(f"evaluations ({len(lin.evaluations)})")
    for e in lin.evaluations:
        ev.add(f"{e.label}: AUC {e.metrics['auc']:.3f} KS {e.metrics['ks']:.3f}")
    hist = tree.add(f"events ({len(lin.events)})")
    for event in lin.events:
        hist.add(f"{event.at.isoformat()[:19]} {event.actor} {event.action}")
    for kind, events in sorted(lin.related.items()):
        node = tree.add(f"{kind} ({len(events)})")
        for related in events:
            node.add(
                f"{related.at.isoformat()[:19]} {related.actor} {related.action} "
                f"{related.object_id}"
            )
    console.print(tree)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(audit_app, name="audit")
    app.add_typer(comments_app, name="comments")
    app.add_typer(retention_app, name="retention")
    app.add_typer(notify_app, name="notifications")
    app.command("lineage")(lineage)
