"""What serves is what was approved: the rules serving applies to governed
models, and the hooks the retraining loop calls.

A model is governed once it has a policy or an admin marked it
(``models.govern``). For a governed model:

- a deployment serves only the version the ``champion`` alias names; a new
  deployment starts on it, and ``promote`` may only catch a deployment up to
  it; the champion moves only through an approved approval request, and then
  the alias, the ``approved`` state and every deployment of the model move in
  one transaction (:meth:`GovernedRoutes.on_promoted` with
  ``ModelRegistry.promote_champion``);
- a canary or shadow carries only a version whose retraining gates passed;
- a canary share above the policy's ``canary_share`` needs an approver;
- a rollback (approvers) moves the champion alias back with the deployments.

These rules live here, in the service, so REST, CLI, SDK and worker all meet
them; :class:`DeploymentService <mlsteward.serving.deployments.DeploymentService>`
inherits them.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlsteward.errors import Conflict, PolicyViolation, Unauthenticated
from mlsteward.identity.access import internal
from mlsteward.registry.models import ModelVersion
from mlsteward.serving.models import Deployment
from mlsteward.serving.specs import SetCanary
from mlsteward.serving.tables import deployments

if TYPE_CHECKING:
    from mlsteward.context import Context
    from mlsteward.registry.service import ModelRegistry

__all__ = ["GovernedRoutes"]


class GovernedRoutes:
    """The governed-model rules and retraining hooks of the deployment service."""

    ctx: Context
    registry: ModelRegistry

    # Provided by DeploymentService.
    def list(self) -> builtins.list[Deployment]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _row(self, session: Session, name: str, *, lock: bool = False) -> Any:
        raise NotImplementedError  # pragma: no cover - overridden

    def _change(
        self,
        session: Session,
        name: str,
        action: str,
        details: dict[str, Any],
        *,
        values: dict[str, Any],
    ) -> Deployment:
        raise NotImplementedError  # pragma: no cover - overridden

    def _servable(self, ref: str, field: str, *, row: Any = None) -> ModelVersion:
        raise NotImplementedError  # pragma: no cover - overridden

    # -- the rules --------------------------------------------------------
    def _may_serve(self, version: ModelVersion) -> None:
        """A new deployment of a governed model serves its champion."""
        gov = self.registry.governance(version.name)
        if gov.governed and version.version != gov.champion:
            raise PolicyViolation(
                f"{version.name} is governed: a deployment serves its champion "
                f"({_ref(version.name, gov.champion)}), not {version.ref}; give "
                f"--model {version.name}@champion",
                field="model",
            )

    def _may_promote(self, version: ModelVersion, deployment: str) -> None:
        """Only catch a governed deployment up to the champion."""
        gov = self.registry.governance(version.name)
        if gov.governed and version.version != gov.champion:
            raise PolicyViolation(
                f"{version.name} is governed: {deployment!r} may only serve its "
                f"champion ({_ref(version.name, gov.champion)}); {version.ref} "
                "becomes champion through an approved approval request "
                f"(`mlsteward approvals request {version.ref}`), which moves "
                "every deployment of it at once",
                field="model",
            )

    def _may_route(
        self, version: ModelVersion, deployment: str, *, share: float | None = None
    ) -> None:
        """A governed canary or shadow: gates passed; a share within the cap
        or an approver."""
        gov = self.registry.governance(version.name)
        if not gov.governed:
            return
        if version.gates_passed is not True:
            raise PolicyViolation(
                f"{version.ref} has not passed its gates "
                f"({'failed' if version.gates_passed is False else 'never judged'}); "
                f"a governed model's canary or shadow must have (retrain it by "
                "the policy: `mlsteward retrain`)",
                field="model",
            )
        cap = gov.canary_share or 0.0
        if share is None or share <= cap:
            return
        principal = self.ctx.principal
        action = (
            f"send {share:.0%} of {deployment!r} to a canary (the policy allows "
            f"{cap:.0%} without an approver)"
        )
        if principal is None:
            raise Unauthenticated(
                f"to {action}, act with an approver's token", field="token"
            )
        principal.require("approver", action)

    # -- moving the champion ----------------------------------------------
    def _promote_in(
        self, session: Session, row: Any, version: int, action: str
    ) -> Deployment:
        """Make ``version`` the champion of the deployment ``row`` in
        ``session``: the canary ends, the version leaves the shadows."""
        values: dict[str, Any] = {
            "champion_version": version,
            "previous_champions": [
                *[int(v) for v in row.previous_champions],
                row.champion_version,
            ],
            "canary_version": None,
            "canary_share": 0.0,
            "shadow_versions": [
                int(v) for v in row.shadow_versions if int(v) != version
            ],
        }
        return self._change(
            session,
            row.name,
            action,
            {"from": row.champion_version, "to": version},
            values=values,
        )

    def _follow(
        self, session: Session, model_name: str, version: int, *, skip: str = ""
    ) -> builtins.list[Deployment]:
        """Every deployment of ``model_name`` that can serve ``version``
        takes it as champion, in ``session``."""
        changed: builtins.list[Deployment] = []
        names = session.execute(
            select(deployments.c.name)
            .where(deployments.c.model_name == model_name)
            .order_by(deployments.c.name)
        ).scalars()
        for name in list(names):
            if name == skip:
                continue
            row = self._row(session, name, lock=True)
            if row.champion_version == version:
                continue
            try:
                self._servable(f"{model_name}/{version}", "model", row=row)
            except Conflict:
                continue  # incompatible with that deployment's contract
            changed.append(self._promote_in(session, row, version, "promoted"))
        return changed

    # -- hooks for the retraining loop -------------------------------------
    @internal("read by the model report and retraining")
    def of_model(self, model_name: str) -> builtins.list[Deployment]:
        """Deployments serving a version of ``model_name``."""
        return [d for d in self.list() if d.model_name == model_name]

    @internal("an approved promotion (retraining.promotion), in its transaction")
    def on_promoted(
        self, model_name: str, version: int, *, session: Session | None = None
    ) -> builtins.list[Deployment]:
        """A version became the model's champion: every deployment of the
        model that can serve it takes it, ending any canary, in ``session``
        (the transaction that moved the alias)."""
        with self.ctx.store.within(session, write=True) as s:
            return self._follow(s, model_name, version)

    @internal("called when a challenger is rejected (retraining.promotion)")
    def on_withdrawn(self, model_name: str, version: int) -> builtins.list[Deployment]:
        """A challenger was rejected: take it out of canary and shadow routes."""
        changed: builtins.list[Deployment] = []
        for d in self.of_model(model_name):
            if d.canary_version == version:
                changed.append(self.clear_canary(d.name))  # type: ignore[attr-defined]
            if version in d.shadow_versions:
                changed.append(
                    self.remove_shadow(d.name, f"{model_name}/{version}")  # type: ignore[attr-defined]
                )
        return changed

    @internal("called by a retraining routing its challenger")
    def on_challenger(
        self, model_name: str, version: int, *, mode: str, share: float = 0.0
    ) -> builtins.list[Deployment]:
        """Route a challenger awaiting approval: ``shadow`` or ``canary``."""
        changed: builtins.list[Deployment] = []
        ref = f"{model_name}/{version}"
        for d in self.of_model(model_name):
            try:
                if mode == "shadow" and version not in d.shadow_versions:
                    changed.append(self.add_shadow(d.name, ref))  # type: ignore[attr-defined]
                elif mode == "canary":
                    changed.append(
                        self.set_canary(d.name, SetCanary(model=ref, share=share))  # type: ignore[attr-defined]
                    )
            except Conflict:
                continue
        return changed


def _ref(name: str, version: int | None) -> str:
    return f"{name}/{version}" if version is not None else f"{name} (no champion yet)"
