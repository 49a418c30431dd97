"""Client methods of retraining: policies, retrainings, approvals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlsteward.context import Context
from mlsteward.retraining.approvals import ApprovalRequest, ApprovalService
from mlsteward.retraining.policy import Policy
from mlsteward.retraining.service import Retraining, RetrainingService


class RetrainingMixin:
    ctx: Context

    def set_policy(self, policy: Policy | dict[str, Any] | str | Path) -> Policy:
        """Set a model's retraining policy from a dict, a Policy or a file."""
        return RetrainingService(self.ctx).set_policy(policy)

    def get_policy(self, model: str) -> Policy:
        return RetrainingService(self.ctx).get_policy(model)

    def retrain(
        self, model: str, *, deployment: str | None = None, reason: str = ""
    ) -> Retraining:
        """Train a challenger by the policy, judge its gates and decide."""
        return RetrainingService(self.ctx).retrain(
            model, trigger={"kind": "manual", "reason": reason}, deployment=deployment
        )

    def list_retrainings(self, model: str | None = None) -> list[Retraining]:
        return RetrainingService(self.ctx).list(model)

    def request_approval(self, ref: str) -> ApprovalRequest:
        return ApprovalService(self.ctx).request(ref)

    def list_approvals(
        self, *, status: str | None = None, model: str | None = None
    ) -> list[ApprovalRequest]:
        return ApprovalService(self.ctx).list(status=status, model=model)

    def approve(self, request_id: str, comment: str = "") -> ApprovalRequest:
        return ApprovalService(self.ctx).approve(request_id, comment)

    def reject(self, request_id: str, comment: str) -> ApprovalRequest:
        return ApprovalService(self.ctx).reject(request_id, comment)
