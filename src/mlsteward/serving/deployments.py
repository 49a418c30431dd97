"""Deployment use cases: create, read, route traffic, promote, roll back.

Every change is one transaction that bumps the deployment's ``revision``,
appends a row to its change history and writes the audit event. Running
servers poll the revision and swap their routes without a restart.

A deployment's request contract (``inputs``) is the champion's signature at
creation. Every version routed to later (canary, shadow, promoted champion)
must accept that contract: the same column kinds, no stricter about missing
values or whole numbers, and no column the contract lacks. So a promotion or
rollback never turns a request that was valid into one that fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from mlsteward.context import Context
from mlsteward.errors import Conflict, InvalidInput, NotFound
from mlsteward.identity.access import internal, use_case
from mlsteward.names import parse_ref
from mlsteward.registry.models import ModelVersion
from mlsteward.registry.service import ModelRegistry
from mlsteward.serving.governed import GovernedRoutes
from mlsteward.serving.models import Deployment, DeploymentChange
from mlsteward.serving.rules import (
    check_compatible,
    check_log_columns,
    check_pii,
    check_policy,
    check_sticky,
    check_threshold,
)
from mlsteward.serving.specs import CreateDeployment, SetCanary, UpdateDeployment
from mlsteward.serving.tables import deployment_changes, deployments
from mlsteward.store import audit, utcnow

__all__ = ["DeploymentService", "check_compatible"]

_UNSET: Any = object()
_NOT_SERVABLE = ("rejected", "archived")


def _row_to_deployment(row: Any, history: list[DeploymentChange]) -> Deployment:
    return Deployment(
        name=row.name,
        model=row.model_name,
        champion_version=row.champion_version,
        canary_version=row.canary_version,
        canary_share=float(row.canary_share),
        sticky_field=row.sticky_field,
        shadow_versions=[int(v) for v in row.shadow_versions],
        threshold=float(row.threshold),
        unseen_policy=row.unseen_policy,
        inputs=list(row.inputs),
        log_columns=list(row.log_columns),
        pii_columns=list(row.pii_columns),
        previous_champions=[int(v) for v in row.previous_champions],
        revision=row.revision,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        history=history,
    )


class DeploymentService(GovernedRoutes):
    """Named endpoints and their routes.

    Example:
        >>> svc = DeploymentService(ctx)  # doctest: +SKIP
        >>> svc.create(CreateDeployment(name="cr", model="cr@champion"))
        ... # doctest: +SKIP
        >>> svc.set_canary("cr", SetCanary(model="cr/2", share=0.1))  # doctest: +SKIP
        >>> svc.promote("credit-risk")  # doctest: +SKIP
        >>> svc.rollback("credit-risk")  # doctest: +SKIP
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.registry = ModelRegistry(ctx)

    # -- reading ----------------------------------------------------------
    @use_case("deployments.get", "viewer")
    def get(self, name: str, *, with_history: bool = False) -> Deployment:
        with self.ctx.store.read() as session:
            return self._get(session, name, with_history=with_history)

    @use_case("deployments.list", "viewer")
    def list(self) -> list[Deployment]:
        with self.ctx.store.read() as session:
            rows = session.execute(select(deployments).order_by(deployments.c.name))
            return [_row_to_deployment(r, []) for r in rows]

    @internal("polled by the serving runtime to see changes")
    def revisions(self, names: Sequence[str] | None = None) -> dict[str, int]:
        """``{name: revision}``: what servers poll to notice changes."""
        q = select(deployments.c.name, deployments.c.revision)
        if names is not None:
            q = q.where(deployments.c.name.in_(list(names)))
        with self.ctx.store.read() as session:
            return {r.name: int(r.revision) for r in session.execute(q)}

    # -- writing ----------------------------------------------------------
    @use_case("deployments.create", "developer")
    def create(self, spec: CreateDeployment) -> Deployment:
        """Create a deployment serving the version ``spec.model`` resolves to.

        The reference is resolved now: a deployment pins a version, and only
        deployment changes (promote, rollback) move it.

        Args:
            spec: The validated :class:`~mlsteward.serving.specs.CreateDeployment`.

        Raises:
            InvalidInput: A log, PII or sticky column the model lacks (named).
            Conflict: The name is taken, or the version cannot serve.

        Example:
            >>> svc.create(CreateDeployment(name="cr", model="cr@champion"))
            ... # doctest: +SKIP
        """
        name, model = spec.name, spec.model
        version = self._servable(model, "model")
        self._may_serve(version)
        inputs = [dict(c) for c in version.signature.inputs]
        threshold = spec.threshold
        policy = spec.unseen_policy
        features = [c["name"] for c in inputs]
        logs = check_log_columns(spec.log_columns, features)
        pii = check_pii(spec.pii_columns, [*features, *logs])
        sticky = check_sticky(spec.sticky_field, [*features, *logs])
        now = utcnow()
        with self.ctx.store.unit_of_work() as session:
            exists = session.execute(
                select(deployments.c.name).where(deployments.c.name == name)
            ).first()
            if exists is not None:
                raise Conflict(
                    f"deployment {name!r} already exists; change its routes with "
                    "canary, shadow, promote or rollback",
                    field="name",
                )
            session.execute(
                insert(deployments).values(
                    name=name,
                    model_name=version.name,
                    champion_version=version.version,
                    canary_version=None,
                    canary_share=0.0,
                    sticky_field=sticky,
                    shadow_versions=[],
                    threshold=threshold,
                    unseen_policy=policy,
                    inputs=inputs,
                    log_columns=logs,
                    pii_columns=pii,
                    previous_champions=[],
                    revision=0,
                    created_at=now,
                    created_by=self.ctx.actor,
                    updated_at=now,
                    updated_by=self.ctx.actor,
                )
            )
            return self._change(
                session,
                name,
                "created",
                {"model": model, "resolved": version.ref},
                values={},
            )

    @use_case("deployments.set_canary", "developer")
    def set_canary(self, name: str, spec: SetCanary) -> Deployment:
        """Send ``spec.share`` (0 to 1) of the traffic to ``spec.model``.

        Requests carrying the sticky key (the ``X-Routing-Key`` header, or
        the record field ``sticky_field``) always take the same route for a
        given key while the share stays the same; raising the share only
        moves keys from the champion to the canary. ``sticky_field`` left
        out of the spec keeps the deployment's.

        Example:
            >>> svc.set_canary("cr", SetCanary(model="cr/2", share=0.1))
            ... # doctest: +SKIP
        """
        model, share = spec.model, spec.share
        sticky_field = (
            spec.sticky_field if "sticky_field" in spec.model_fields_set else _UNSET
        )
        with self.ctx.store.unit_of_work() as session:
            row = self._row(session, name, lock=True)
            version = self._servable(model, "model", row=row)
            if version.version == row.champion_version:
                raise Conflict(
                    f"{version.ref} is already the champion of {name!r}; a "
                    "canary must be another version",
                    field="model",
                )
            self._may_route(version, name, share=float(share))
            values: dict[str, Any] = {
                "canary_version": version.version,
                "canary_share": float(share),
            }
            if sticky_field is not _UNSET:
                values["sticky_field"] = check_sticky(
                    sticky_field,
                    [c["name"] for c in row.inputs] + list(row.log_columns),
                )
            return self._change(
                session,
                name,
                "canary_set",
                {"version": version.version, "share": float(share)},
                values=values,
            )

    @use_case("deployments.clear_canary", "developer")
    def clear_canary(self, name: str) -> Deployment:
        """Stop the canary; all traffic goes to the champion."""
        with self.ctx.store.unit_of_work() as session:
            row = self._row(session, name, lock=True)
            if row.canary_version is None:
                raise Conflict(f"deployment {name!r} has no canary", field="canary")
            return self._change(
                session,
                name,
                "canary_cleared",
                {"version": row.canary_version},
                values={"canary_version": None, "canary_share": 0.0},
            )

    @use_case("deployments.add_shadow", "developer")
    def add_shadow(self, name: str, model: str) -> Deployment:
        """Mirror every request to ``model``; its outputs are logged, never
        returned."""
        with self.ctx.store.unit_of_work() as session:
            row = self._row(session, name, lock=True)
            version = self._servable(model, "model", row=row)
            self._may_route(version, name)
            shadows = [int(v) for v in row.shadow_versions]
            if version.version in shadows:
                raise Conflict(
                    f"{version.ref} is already a shadow of {name!r}", field="model"
                )
            if version.version == row.champion_version:
                raise Conflict(
                    f"{version.ref} is the champion of {name!r}; shadow another "
                    "version",
                    field="model",
                )
            return self._change(
                session,
                name,
                "shadow_added",
                {"version": version.version},
                values={"shadow_versions": [*shadows, version.version]},
            )

    @use_case("deployments.remove_shadow", "developer")
    def remove_shadow(self, name: str, model: str) -> Deployment:
        with self.ctx.store.unit_of_work() as session:
            row = self._row(session, name, lock=True)
            version = self._resolve(model, "model", row=row)
            shadows = [int(v) for v in row.shadow_versions]
            if version.version not in shadows:
                raise NotFound(
                    f"{version.ref} is not a shadow of {name!r}; its shadows: "
                    f"{shadows or 'none'}",
                    field="model",
                )
            return self._change(
                session,
                name,
                "shadow_removed",
                {"version": version.version},
                values={
                    "shadow_versions": [v for v in shadows if v != version.version]
                },
            )

    @use_case("deployments.promote", "approver")
    def promote(self, name: str, model: str | None = None) -> Deployment:
        """Make ``model`` (default: the canary) the champion.

        The previous champion is remembered, so :meth:`rollback` restores it
        in one step. Promoting the canary ends the canary.
        """
        with self.ctx.store.unit_of_work() as session:
            row = self._row(session, name, lock=True)
            if model is None:
                if row.canary_version is None:
                    raise Conflict(
                        f"deployment {name!r} has no canary to promote; give the "
                        "version to promote (--model credit-risk/3)",
                        field="model",
                    )
                model = f"{row.model_name}/{row.canary_version}"
            version = self._servable(model, "model", row=row)
            if version.version == row.champion_version:
                raise Conflict(
                    f"{version.ref} is already the champion of {name!r}",
                    field="model",
                )
            self._may_promote(version, name)
            return self._promote_in(session, row, version.version, "promoted")

    @use_case("deployments.rollback", "approver")
    def rollback(self, name: str) -> Deployment:
        """Restore the champion before the last promotion, in one step.

        Rolling back again goes one promotion further back. A canary pointing
        at the restored version is ended.
        """
        with self.ctx.store.unit_of_work() as session:
            row = self._row(session, name, lock=True)
            previous = [int(v) for v in row.previous_champions]
            if not previous:
                raise Conflict(
                    f"deployment {name!r} has no previous champion to roll back "
                    f"to; it has served {row.model_name}/{row.champion_version} "
                    "since it was created",
                    field="name",
                )
            target = previous[-1]
            if self.registry.governance(row.model_name).governed:
                # The champion alias and every deployment move back together.
                self.registry.restore_champion(row.model_name, target, session=session)
                self._follow(session, row.model_name, target, skip=name)
            values: dict[str, Any] = {
                "champion_version": target,
                "previous_champions": previous[:-1],
            }
            if row.canary_version == target:
                values.update(canary_version=None, canary_share=0.0)
            return self._change(
                session,
                name,
                "rolled_back",
                {"from": row.champion_version, "to": target},
                values=values,
            )

    @use_case("deployments.update", "developer")
    def update(self, name: str, spec: UpdateDeployment) -> Deployment:
        """Change a deployment's decision threshold, unseen-category policy,
        logged columns, redacted columns or sticky field: those ``spec``
        gives.

        Example:
            >>> svc.update("cr", UpdateDeployment(threshold=0.45))  # doctest: +SKIP
        """
        given = spec.model_fields_set
        threshold, unseen_policy = spec.threshold, spec.unseen_policy
        log_columns, pii_columns = spec.log_columns, spec.pii_columns
        sticky_field = spec.sticky_field if "sticky_field" in given else _UNSET
        with self.ctx.store.unit_of_work() as session:
            row = self._row(session, name, lock=True)
            features = [c["name"] for c in row.inputs]
            values: dict[str, Any] = {}
            if threshold is not None:
                values["threshold"] = check_threshold(threshold)
            if unseen_policy is not None:
                values["unseen_policy"] = check_policy(unseen_policy)
            logs = list(row.log_columns)
            if log_columns is not None:
                logs = values["log_columns"] = check_log_columns(log_columns, features)
            if pii_columns is not None:
                values["pii_columns"] = check_pii(pii_columns, [*features, *logs])
            if sticky_field is not _UNSET:
                values["sticky_field"] = check_sticky(sticky_field, [*features, *logs])
            if not values:
                raise InvalidInput(
                    "nothing to change: give threshold, unseen_policy, "
                    "log_columns, pii_columns or sticky_field",
                    field="name",
                )
            return self._change(session, name, "updated", dict(values), values=values)

    # -- helpers ----------------------------------------------------------
    def _resolve(self, ref: str, field: str, *, row: Any = None) -> ModelVersion:
        if isinstance(ref, str) and ref.isdigit() and row is not None:
            ref = f"{row.model_name}/{ref}"
        parsed = parse_ref(ref, field)
        if row is not None and parsed.name != row.model_name:
            raise InvalidInput(
                f"deployment {row.name!r} serves model {row.model_name!r}; give a "
                f"version of it (e.g. {row.model_name}/2), not {ref!r}",
                field=field,
            )
        return self.registry.get(ref)

    def _servable(self, ref: str, field: str, *, row: Any = None) -> ModelVersion:
        version = self._resolve(ref, field, row=row)
        if version.state in _NOT_SERVABLE:
            raise Conflict(
                f"{version.ref} is {version.state}; only registered or approved "
                "versions can serve",
                field=field,
            )
        if row is not None:
            check_compatible(row.inputs, version, row.name)
        return version

    def _row(self, session: Session, name: str, *, lock: bool = False) -> Any:
        q = select(deployments).where(deployments.c.name == name)
        if lock:
            q = q.with_for_update()
        row = session.execute(q).first()
        if row is None:
            known = session.execute(
                select(deployments.c.name).order_by(deployments.c.name).limit(20)
            ).scalars()
            raise NotFound(
                f"deployment {name!r} not found; deployments: "
                f"{list(known) or 'none'} (create one with `mlsteward "
                "deployments create NAME --model MODEL@champion`)",
                field="deployment",
            )
        return row

    def _get(
        self, session: Session, name: str, *, with_history: bool = False
    ) -> Deployment:
        row = self._row(session, name)
        history: list[DeploymentChange] = []
        if with_history:
            history = [
                DeploymentChange(
                    deployment=c.deployment,
                    revision=c.revision,
                    at=c.at,
                    actor=c.actor,
                    action=c.action,
                    details=c.details,
                )
                for c in session.execute(
                    select(deployment_changes)
                    .where(deployment_changes.c.deployment == name)
                    .order_by(deployment_changes.c.revision)
                )
            ]
        return _row_to_deployment(row, history)

    def _change(
        self,
        session: Session,
        name: str,
        action: str,
        details: dict[str, Any],
        *,
        values: dict[str, Any],
    ) -> Deployment:
        row = self._row(session, name)
        revision = int(row.revision) + 1
        now = utcnow()
        session.execute(
            update(deployments)
            .where(deployments.c.name == name)
            .values(
                **values, revision=revision, updated_at=now, updated_by=self.ctx.actor
            )
        )
        after = _row_to_deployment(self._row(session, name), [])
        details = {**details, "routes": after.routes()}
        session.execute(
            insert(deployment_changes).values(
                deployment=name,
                revision=revision,
                at=now,
                actor=self.ctx.actor,
                action=action,
                details=details,
            )
        )
        audit.record(
            session,
            actor=self.ctx.actor,
            action=f"deployment.{action}",
            object_type="deployment",
            object_id=name,
            details={"revision": revision, **details},
        )
        return after
