"""Request specs of retraining: set a policy, retrain, ask for and decide
approvals.

Each is what its service method takes, the body of its REST route, what the
SDK (``client.policies``, ``client.retrainings``, ``client.approvals``) and
the CLI build. The object an operation acts on (the model retrained, the
approval request decided) is the route's path and the method's first
argument, as in ``client.monitors.run(name, spec)``; the spec holds the rest.

:class:`SetPolicy` is the policy document itself
(:class:`~mlsteward.retraining.policy.Policy`): a policy file parses as it.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from mlsteward.names import check_name, parse_ref
from mlsteward.retraining.policy import Policy
from mlsteward.spec import Spec, guard

__all__ = ["Decide", "RequestApproval", "Retrain", "SetPolicy"]

#: Set a model's retraining policy: the policy document.
SetPolicy = Policy


class Retrain(Spec):
    """Train a challenger now by the model's policy, judge its gates, decide.

    Example:
        >>> Retrain(reason="drift after the rate change").deployment is None
        True
    """

    deployment: str | None = Field(
        default=None,
        description="Deployment whose labelled predictions are added "
        "(default: the one named as the model).",
    )
    reason: str = Field(default="", description="Why, for the audit trail.")

    @field_validator("deployment")
    @classmethod
    def _deployment(cls, value: str | None) -> str | None:
        return None if value is None else guard(lambda: check_name(value, "deployment"))


class RequestApproval(Spec):
    """Ask for a registered version to become champion; an approver decides.

    Example:
        >>> RequestApproval.parse(ref="credit-risk/zero")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mlsteward.errors.InvalidInput: ref 'credit-risk/zero': the version ...
    """

    ref: str = Field(
        description="The version: 'credit-risk/3' or 'credit-risk@challenger'."
    )
    comment: str = Field(default="", description="What the approver should know.")

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str) -> str:
        guard(lambda: parse_ref(value, "ref"))
        return value


class Decide(Spec):
    """Approve or reject an approval request, with a comment.

    A rejection needs a comment saying why (the service refuses one without).

    Example:
        >>> Decide(comment="gates pass, fairness holds").comment
        'gates pass, fairness holds'
    """

    comment: str = Field(default="", max_length=10_000, description="Why.")
