"""Client methods of retraining: ``client.policies``, ``client.retrainings``
and ``client.approvals``.

The flat methods (``set_policy``, ``retrain``, ``approve``, ...) stay as
delegations to the namespaces.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

from mlsteward.context import Context
from mlsteward.retraining.approvals import ApprovalRequest, ApprovalService
from mlsteward.retraining.policy import Policy, as_policy
from mlsteward.retraining.service import Retraining, RetrainingService
from mlsteward.retraining.specs import Decide, RequestApproval, Retrain
from mlsteward.sdk.build import spec_of

__all__ = ["Approvals", "Policies", "RetrainingMixin", "Retrainings"]


class Policies:
    """``client.policies``: retraining policies, one per registered model.

    Example:
        >>> client.policies.set("policies/credit-risk.toml")  # doctest: +SKIP
        >>> client.policies.get("credit-risk").promotion.mode  # doctest: +SKIP
        'manual'
    """

    def __init__(self, ctx: Context) -> None:
        self._svc = RetrainingService(ctx)

    def set(self, policy: Policy | dict[str, Any] | str | Path) -> Policy:
        """Set (or replace) a model's policy from a Policy, a document or a
        TOML/YAML file; its ``[[monitors]]`` are created too.

        Raises:
            InvalidInput: A bad or unknown key, named (``triggers.cooldown``).

        Example:
            >>> client.policies.set({"model": "credit-risk",
            ...     "data": {"reference": "german-credit/1"}})  # doctest: +SKIP
        """
        return self._svc.set_policy(as_policy(policy))

    def get(self, model: str) -> Policy:
        """The policy of ``model``.

        Example:
            >>> client.policies.get("credit-risk").gates.auc_max_drop
            ... # doctest: +SKIP
            0.005
        """
        return self._svc.get_policy(model)


class Retrainings:
    """``client.retrainings``: run a retraining now, and its history.

    Example:
        >>> r = client.retrainings.run("credit-risk", reason="drift")
        ... # doctest: +SKIP
        >>> r.decision  # doctest: +SKIP
        'awaiting_approval'
    """

    def __init__(self, ctx: Context) -> None:
        self._svc = RetrainingService(ctx)

    def run(self, model: str, spec: Retrain | None = None, **fields: Any) -> Retraining:
        """Train a challenger by the model's policy, judge its gates, decide.

        Args:
            model: The registered model whose policy is followed.
            spec: A :class:`~mlsteward.retraining.specs.Retrain`.
            **fields: Its fields instead (``deployment``, ``reason``).

        Example:
            >>> client.retrainings.run("credit-risk", deployment="credit-risk",
            ...                        reason="quarterly")  # doctest: +SKIP
        """
        return self._svc.retrain(model, spec_of(Retrain, spec, fields))

    def retrain(
        self, model: str, spec: Retrain | None = None, **fields: Any
    ) -> Retraining:
        """The service's name for :meth:`run`.

        Example:
            >>> client.retrainings.retrain("credit-risk")  # doctest: +SKIP
        """
        return self.run(model, spec, **fields)

    def get(self, retraining_id: str) -> Retraining:
        """One retraining by id.

        Example:
            >>> client.retrainings.get(r.id).gates  # doctest: +SKIP
        """
        return self._svc.get(retraining_id)

    def list(self, model: str | None = None) -> builtins.list[Retraining]:
        """Retrainings, oldest first, of one model or all.

        Example:
            >>> [r.decision for r in client.retrainings.list("credit-risk")]
            ... # doctest: +SKIP
        """
        return self._svc.list(model)


class Approvals:
    """``client.approvals``: ask for a promotion; an approver decides.

    Example:
        >>> req = client.approvals.request(ref="credit-risk/4")  # doctest: +SKIP
        >>> approver.approvals.approve(req.id, comment="ok")  # doctest: +SKIP
    """

    def __init__(self, ctx: Context) -> None:
        self._svc = ApprovalService(ctx)

    def request(
        self, spec: RequestApproval | None = None, **fields: Any
    ) -> ApprovalRequest:
        """Ask for a registered version to become champion.

        Args:
            spec: A :class:`~mlsteward.retraining.specs.RequestApproval`.
            **fields: Its fields instead (``ref``, ``comment``).

        Example:
            >>> client.approvals.request(ref="credit-risk/4",
            ...     comment="beats the champion on the newest month")
            ... # doctest: +SKIP
        """
        return self._svc.request(spec_of(RequestApproval, spec, fields))

    def get(self, request_id: str) -> ApprovalRequest:
        """One approval request by id.

        Example:
            >>> client.approvals.get(req.id).status  # doctest: +SKIP
            'pending'
        """
        return self._svc.get(request_id)

    def list(
        self, *, status: str | None = None, model: str | None = None
    ) -> builtins.list[ApprovalRequest]:
        """Approval requests, oldest first, by status or model.

        Example:
            >>> client.approvals.list(status="pending")  # doctest: +SKIP
        """
        return self._svc.list(status=status, model=model)

    def approve(
        self, request_id: str, spec: Decide | None = None, **fields: Any
    ) -> ApprovalRequest:
        """Approve (approver role, not your own request): promotes the version.

        Example:
            >>> client.approvals.approve(req.id, comment="gates pass")
            ... # doctest: +SKIP
        """
        return self._svc.approve(request_id, spec_of(Decide, spec, fields))

    def reject(
        self, request_id: str, spec: Decide | None = None, **fields: Any
    ) -> ApprovalRequest:
        """Reject with a comment saying why.

        Example:
            >>> client.approvals.reject(req.id, comment="AUC gain too thin")
            ... # doctest: +SKIP
        """
        return self._svc.reject(request_id, spec_of(Decide, spec, fields))


class RetrainingMixin:
    """``client.policies``, ``client.retrainings`` and ``client.approvals`` on
    :class:`mlsteward.Client`, plus the flat methods, which delegate to them.

    Example:
        >>> client.retrainings.run("credit-risk")  # doctest: +SKIP
    """

    ctx: Context

    @property
    def policies(self) -> Policies:
        """Policies: set, get."""
        return Policies(self.ctx)

    @property
    def retrainings(self) -> Retrainings:
        """Retrainings: run (retrain), get, list."""
        return Retrainings(self.ctx)

    @property
    def approvals(self) -> Approvals:
        """Approvals: request, get, list, approve, reject."""
        return Approvals(self.ctx)

    def set_policy(self, policy: Policy | dict[str, Any] | str | Path) -> Policy:
        """Use ``client.policies.set``; this delegates to it."""
        return self.policies.set(policy)

    def get_policy(self, model: str) -> Policy:
        """Use ``client.policies.get``; this delegates to it."""
        return self.policies.get(model)

    def retrain(
        self, model: str, *, deployment: str | None = None, reason: str = ""
    ) -> Retraining:
        """Use ``client.retrainings.run``; this delegates to it."""
        return self.retrainings.run(model, deployment=deployment, reason=reason)

    def list_retrainings(self, model: str | None = None) -> list[Retraining]:
        """Use ``client.retrainings.list``; this delegates to it."""
        return self.retrainings.list(model)

    def request_approval(self, ref: str, comment: str = "") -> ApprovalRequest:
        """Use ``client.approvals.request``; this delegates to it."""
        return self.approvals.request(ref=ref, comment=comment)

    def list_approvals(
        self, *, status: str | None = None, model: str | None = None
    ) -> list[ApprovalRequest]:
        """Use ``client.approvals.list``; this delegates to it."""
        return self.approvals.list(status=status, model=model)

    def approve(self, request_id: str, comment: str = "") -> ApprovalRequest:
        """Use ``client.approvals.approve``; this delegates to it."""
        return self.approvals.approve(request_id, comment=comment)

    def reject(self, request_id: str, comment: str) -> ApprovalRequest:
        """Use ``client.approvals.reject``; this delegates to it."""
        return self.approvals.reject(request_id, comment=comment)
