"""Notifications of what changed, to webhook sinks a team's chat can read.

A sink is a URL and the action prefixes it wants (``model_version.registered``,
``approval.``, ``alias.set``, ``alert.``, ...). Delivery reads the audit trail
after the sink's cursor and posts each matching event as JSON that chat
incoming webhooks accept (``{"text": ...}``) with the event beside it, and
the audit chain's head (``{"audit_head": {"seq", "hash"}}``) so the receiving
system holds a copy of the head outside the database (``audit verify
--expect-head``). The cursor moves only past delivered events, so a failing
sink loses nothing: the next delivery starts again at the first event it has
not taken.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from mlsteward.context import Context
from mlsteward.errors import Conflict, InvalidInput, NotFound
from mlsteward.governance.specs import AddSink
from mlsteward.governance.tables import notification_sinks as t
from mlsteward.identity.access import internal, use_case
from mlsteward.monitoring.sinks import UnsafeWebhook, check_webhook_url, post_webhook
from mlsteward.monitoring.spec import mask_url
from mlsteward.store import audit, utcnow
from mlsteward.store.audit import AuditEvent, audit_events

__all__ = ["DEFAULT_ACTIONS", "NotificationService", "Sink", "message_for"]

#: What a team usually wants to hear about.
DEFAULT_ACTIONS = (
    "model_version.registered",
    "approval.",
    "alias.set",
    "alert.",
    "deployment.",
    "retraining.finished",
)


@dataclass(frozen=True)
class Sink:
    name: str
    url: str
    actions: list[str]
    cursor: int
    last_error: str | None
    last_attempt_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        """What is shown of the sink: its URL masked (it holds the secret)."""
        return {
            "name": self.name,
            "url": mask_url(self.url),
            "actions": self.actions,
            "cursor": self.cursor,
            "last_error": self.last_error,
            "last_attempt_at": self.last_attempt_at.isoformat()
            if self.last_attempt_at
            else None,
        }


def message_for(e: AuditEvent) -> str:
    """One line a person reads in a chat channel."""
    d = e.details
    if e.action == "alias.set":
        return (
            f"{e.actor} pointed {e.object_id.split('/')[0]}@{d.get('alias')} at "
            f"{e.object_id} (was version {d.get('previous_version')})"
        )
    if e.action == "approval.requested":
        return f"{e.actor} asks to promote {d.get('version')} (request {e.object_id})"
    if e.action in ("approval.approved", "approval.rejected"):
        verb = e.action.split(".")[1]
        return f"{e.actor} {verb} {d.get('version')}: {d.get('comment') or ''}".strip()
    if e.action == "model_version.registered":
        return f"{e.actor} registered {e.object_id}"
    return f"{e.actor}: {e.action} {e.object_type} {e.object_id}"


class NotificationService:
    """Configure sinks and deliver what they have not yet taken."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @use_case("notifications.add_sink", "admin")
    def add_sink(self, spec: AddSink) -> Sink:
        """Add a webhook sink; it hears events from now on (or all, with
        ``spec.from_start``)."""
        name, url, actions = spec.name, spec.url, spec.actions
        from_start = spec.from_start
        check_webhook_url(url, "url", allow=self.ctx.settings.webhook_allow)
        acts = list(actions or DEFAULT_ACTIONS)
        if not acts or any(not a or not isinstance(a, str) for a in acts):
            raise InvalidInput(
                "actions must be non-empty action prefixes", field="actions"
            )
        with self.ctx.store.unit_of_work() as session:
            if session.execute(select(t.c.name).where(t.c.name == name)).first():
                raise Conflict(f"sink {name!r} exists already", field="name")
            cursor = (
                0
                if from_start
                else int(
                    session.execute(
                        select(func.coalesce(func.max(audit_events.c.seq), 0))
                    ).scalar()
                    or 0
                )
            )
            session.execute(
                t.insert().values(
                    name=name,
                    url=url,
                    actions=acts,
                    cursor=cursor,
                    created_at=utcnow(),
                    created_by=self.ctx.actor,
                    last_error=None,
                    last_attempt_at=None,
                )
            )
            audit.record(
                session,
                actor=self.ctx.actor,
                action="sink.added",
                object_type="sink",
                object_id=name,
                details={"url": mask_url(url), "actions": acts},
            )
        return self.get(name)

    @use_case("notifications.get", "viewer")
    def get(self, name: str) -> Sink:
        with self.ctx.store.read() as session:
            r = session.execute(select(t).where(t.c.name == name)).first()
        if r is None:
            raise NotFound(f"sink {name!r} not found", field="name")
        return Sink(r.name, r.url, r.actions, r.cursor, r.last_error, r.last_attempt_at)

    @use_case("notifications.list", "viewer")
    def list(self) -> list[Sink]:
        with self.ctx.store.read() as session:
            return [
                Sink(
                    r.name, r.url, r.actions, r.cursor, r.last_error, r.last_attempt_at
                )
                for r in session.execute(select(t).order_by(t.c.name))
            ]

    @internal("run by a worker or the scheduler")
    def deliver(self, *, timeout: float = 5.0, batch: int = 200) -> dict[str, Any]:
        """Post every sink's pending events in order; stop a sink at its first
        failure and keep its cursor there. Each post is checked against the
        webhook allow-list after resolving its host
        (:func:`~mlsteward.monitoring.sinks.post_webhook`)."""
        allow = self.ctx.settings.webhook_allow
        out: dict[str, Any] = {}
        for sink in self.list():
            with self.ctx.store.read() as session:
                rows = session.execute(
                    select(audit_events)
                    .where(audit_events.c.seq > sink.cursor)
                    .order_by(audit_events.c.seq)
                    .limit(batch)
                ).all()
                head = audit.chain_head(session).to_dict()
            cursor, sent, error = sink.cursor, 0, None
            for r in rows:
                event = AuditEvent.from_row(r)
                if any(event.action.startswith(a) for a in sink.actions):
                    body = {
                        "text": f"[mlsteward] {message_for(event)}",
                        "event": event.to_dict(),
                        "audit_head": head,
                    }
                    try:
                        status = post_webhook(
                            sink.url, body, timeout=timeout, allow=allow
                        )
                    except (RuntimeError, UnsafeWebhook) as exc:
                        error = f"{type(exc).__name__}: {exc}"[:500]
                        break
                    if not 200 <= status < 300:
                        error = f"the webhook answered HTTP {status}"
                        break
                    sent += 1
                cursor = event.seq
            with self.ctx.store.unit_of_work() as session:
                session.execute(
                    update(t)
                    .where(t.c.name == sink.name)
                    .values(cursor=cursor, last_error=error, last_attempt_at=utcnow())
                )
            out[sink.name] = {"sent": sent, "cursor": cursor, "error": error}
        return out
