"""Approval requests: a second person with the approver role decides.

Rules, each enforced here and tested:

- only a user whose role is ``approver`` or ``admin`` may decide;
- nobody decides their own request;
- a request goes stale when the champion it was compared against is no
  longer the champion, or the challenger left the ``registered`` state; a
  stale request cannot be approved (ask again with fresh evidence);
- approving promotes in the same step (alias ``champion`` moves, the version
  becomes ``approved``); rejecting marks the version ``rejected``.
"""

from __future__ import annotations

import builtins
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mlsteward.context import Context
from mlsteward.errors import Conflict, Forbidden, InvalidInput, NotFound
from mlsteward.identity.access import internal, use_case
from mlsteward.identity.service import IdentityService, role_at_least
from mlsteward.registry.models import State
from mlsteward.registry.service import ModelRegistry
from mlsteward.registry.specs import Transition
from mlsteward.retraining.models import ApprovalRequest
from mlsteward.retraining.specs import Decide, RequestApproval
from mlsteward.retraining.tables import approval_requests as t
from mlsteward.store import audit, utcnow

__all__ = ["ApprovalRequest", "ApprovalService"]

STATUSES = ("pending", "approved", "rejected", "stale")


def _row(r: Any) -> ApprovalRequest:
    return ApprovalRequest(
        id=r.id,
        model=r.model_name,
        version=r.version,
        action=r.action,
        status=r.status,
        retraining_id=r.retraining_id,
        champion_version=r.champion_version,
        evidence=r.evidence,
        requested_by=r.requested_by,
        requested_at=r.requested_at,
        decided_by=r.decided_by,
        decided_at=r.decided_at,
        comment=r.comment,
    )


class ApprovalService:
    """Ask for, list and decide promotion approvals."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.registry = ModelRegistry(ctx)

    @use_case("approvals.request", "developer")
    def request(
        self,
        spec: RequestApproval,
        *,
        evidence: dict[str, Any] | None = None,
        retraining_id: str | None = None,
        action: str = "promote",
    ) -> ApprovalRequest:
        """Ask for ``spec.ref`` to become champion; evidence is what the
        approver sees (gate results, comparison, lineage), and the spec's
        comment goes with it.

        Example:
            >>> svc.request(RequestApproval(ref="credit-risk/4")).status
            ... # doctest: +SKIP
            'pending'
        """
        mv = self.registry.get(spec.ref)
        evidence = dict(evidence or {})
        if spec.comment:
            evidence["comment"] = spec.comment
        if mv.state != "registered":
            raise Conflict(
                f"{mv.ref} is {mv.state}; only a registered version can "
                "be put up for approval",
                field="version",
            )
        champion = self._champion_version(mv.name)
        req_id = uuid.uuid4().hex
        now = utcnow()
        with self.ctx.store.unit_of_work() as session:
            pending = session.execute(
                select(t.c.id).where(
                    t.c.model_name == mv.name,
                    t.c.version == mv.version,
                    t.c.status == "pending",
                )
            ).scalar()
            if pending is not None:
                raise Conflict(
                    f"{mv.ref} already has a pending request {pending}",
                    field="version",
                    request_id=pending,
                )
            session.execute(
                t.insert().values(
                    id=req_id,
                    model_name=mv.name,
                    version=mv.version,
                    action=action,
                    status="pending",
                    retraining_id=retraining_id,
                    champion_version=champion,
                    evidence=evidence,
                    requested_by=self.ctx.actor,
                    requested_at=now,
                    decided_by=None,
                    decided_at=None,
                    comment="",
                )
            )
            audit.record(
                session,
                actor=self.ctx.actor,
                action="approval.requested",
                object_type="approval",
                object_id=req_id,
                details={
                    "version": mv.ref,
                    "action": action,
                    "champion": f"{mv.name}/{champion}" if champion else None,
                },
            )
        return self.get(req_id)

    @use_case("approvals.get", "viewer")
    def get(self, request_id: str) -> ApprovalRequest:
        with self.ctx.store.read() as session:
            r = session.execute(select(t).where(t.c.id == request_id)).first()
        if r is None:
            raise NotFound(
                f"approval request {request_id!r} not found", field="request_id"
            )
        return _row(r)

    @use_case("approvals.list", "viewer")
    def list(
        self,
        *,
        status: str | None = None,
        model: str | None = None,
        version: int | None = None,
    ) -> list[ApprovalRequest]:
        """Approval requests, oldest first, filtered.

        Args:
            status: Only requests in this status (one of :data:`STATUSES`).
            model: Only requests about this model.
            version: Only requests about this version of the model.

        Example:
            >>> [r.status for r in svc.list(model="cr", version=2)]  # doctest: +SKIP
            ['approved']
        """
        if status is not None and status not in STATUSES:
            raise InvalidInput(
                f"status {status!r} is not one of {list(STATUSES)}", field="status"
            )
        q = select(t).order_by(t.c.requested_at)
        if status:
            q = q.where(t.c.status == status)
        if model:
            q = q.where(t.c.model_name == model)
        if version is not None:
            q = q.where(t.c.version == version)
        with self.ctx.store.read() as session:
            return [_row(r) for r in session.execute(q)]

    @use_case("approvals.approve", "approver", governed=True)
    def approve(self, request_id: str, spec: Decide | None = None) -> ApprovalRequest:
        """Approve a pending request (approver role, not one's own): the
        version becomes champion in the same step.

        Example:
            >>> svc.approve(req.id, Decide(comment="gates pass"))  # doctest: +SKIP
        """
        return self._decide(request_id, "approved", (spec or Decide()).comment)

    @use_case("approvals.reject", "approver", governed=True)
    def reject(self, request_id: str, spec: Decide | None = None) -> ApprovalRequest:
        """Reject a pending request; the comment says why and is required.

        Example:
            >>> svc.reject(req.id, Decide(comment="AUC gain too thin"))
            ... # doctest: +SKIP
        """
        comment = (spec or Decide()).comment
        if not comment.strip():
            raise InvalidInput(
                "a rejection needs a comment saying why", field="comment"
            )
        return self._decide(request_id, "rejected", comment)

    @internal("a retraining withdrawing its own stale request")
    def withdraw(self, ref: str, reason: str) -> builtins.list[ApprovalRequest]:
        """Close every pending request for ``ref`` as stale (the challenger was
        taken out of the running, e.g. its canary breached a live check)."""
        mv = self.registry.get(ref)
        now = utcnow()
        with self.ctx.store.unit_of_work() as session:
            ids = (
                session.execute(
                    select(t.c.id).where(
                        t.c.model_name == mv.name,
                        t.c.version == mv.version,
                        t.c.status == "pending",
                    )
                )
                .scalars()
                .all()
            )
            for req_id in ids:
                session.execute(
                    update(t)
                    .where(t.c.id == req_id)
                    .values(
                        status="stale",
                        decided_at=now,
                        decided_by=self.ctx.actor,
                        comment=reason,
                    )
                )
                audit.record(
                    session,
                    actor=self.ctx.actor,
                    action="approval.stale",
                    object_type="approval",
                    object_id=req_id,
                    details={"version": mv.ref, "reason": reason},
                )
        return [self.get(i) for i in ids]

    # -- helpers ----------------------------------------------------------
    def _champion_version(self, name: str) -> int | None:
        model = self.registry.get_model(name)
        return model.aliases.get("champion")

    def _require_approver(self, req: ApprovalRequest) -> None:
        if req.requested_by == self.ctx.actor:
            raise Forbidden(
                f"{self.ctx.actor} asked for this promotion and may not decide it; "
                "another approver must",
                field="actor",
            )
        principal = self.ctx.principal
        role = principal.role if principal is not None else None
        if role is None:
            try:
                role = IdentityService(self.ctx).get_user(self.ctx.actor).role
            except NotFound:
                role = None
        if role is None or not role_at_least(role, "approver"):
            raise Forbidden(
                f"{self.ctx.actor} may not decide approvals: it needs the approver "
                "role (mlsteward users set-role NAME approver)",
                field="actor",
            )

    def _decide(self, request_id: str, decision: str, comment: str) -> ApprovalRequest:
        req = self.get(request_id)
        if req.status != "pending":
            raise Conflict(
                f"approval request {request_id} is {req.status}, not pending",
                field="request_id",
            )
        self._require_approver(req)
        stale_reason = self._stale_reason(req)
        if stale_reason:
            self._mark_stale(req, stale_reason)
            raise Conflict(
                f"approval request {request_id} is stale: {stale_reason}; "
                "request a new comparison",
                field="request_id",
            )
        if decision == "approved":
            from mlsteward.retraining.promotion import promote

            # The decision, the champion alias, the approved state and every
            # deployment's champion: one transaction, so they cannot diverge.
            with self.ctx.store.unit_of_work() as session:
                self._record_decision(req, decision, comment, session=session)
                promote(
                    self.ctx,
                    req.ref,
                    reason=f"approved by {self.ctx.actor}: {comment}".rstrip(": "),
                    session=session,
                )
        else:
            self._record_decision(req, decision, comment)
            reason = f"rejected by {self.ctx.actor}: {comment}"
            self.registry.transition(
                req.ref, Transition(state=State.REJECTED, reason=reason)
            )
            from mlsteward.retraining.promotion import withdraw

            withdraw(self.ctx, req.ref)
        return self.get(request_id)

    def _stale_reason(self, req: ApprovalRequest) -> str | None:
        """Why the request can no longer be decided, or None."""
        mv = self.registry.get(req.ref)
        if mv.state != "registered":
            return f"{req.ref} is now {mv.state}"
        if self._champion_version(req.model_name) != req.champion_version:
            return (
                "the champion changed since the request "
                f"(was version {req.champion_version})"
            )
        return None

    def _mark_stale(self, req: ApprovalRequest, reason: str) -> None:
        with self.ctx.store.unit_of_work() as session:
            session.execute(
                update(t)
                .where(t.c.id == req.id)
                .values(
                    status="stale",
                    decided_at=utcnow(),
                    decided_by=self.ctx.actor,
                    comment=reason,
                )
            )
            audit.record(
                session,
                actor=self.ctx.actor,
                action="approval.stale",
                object_type="approval",
                object_id=req.id,
                details={"version": req.ref, "reason": reason},
            )

    def _record_decision(
        self,
        req: ApprovalRequest,
        decision: str,
        comment: str,
        *,
        session: Session | None = None,
    ) -> None:
        with self.ctx.store.within(session, write=True) as session:
            session.execute(
                update(t)
                .where(t.c.id == req.id, t.c.status == "pending")
                .values(
                    status=decision,
                    decided_by=self.ctx.actor,
                    decided_at=utcnow(),
                    comment=comment,
                )
            )
            audit.record(
                session,
                actor=self.ctx.actor,
                action=f"approval.{decision}",
                object_type="approval",
                object_id=req.id,
                details={
                    "version": req.ref,
                    "comment": comment,
                    "requested_by": req.requested_by,
                },
            )
