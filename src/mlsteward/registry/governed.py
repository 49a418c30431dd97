"""Governed models: the facts serving checks before it moves traffic, and the
one way a governed champion moves (an approved promotion).

A model is governed once it has a retraining policy or an admin marked it
(:meth:`GovernedModels.govern`). Then nobody moves its ``champion`` alias or
marks a version ``approved`` directly: :meth:`GovernedModels.promote_champion`
does both inside the transaction of an approved request, where the
deployments move too. :class:`~mlsteward.registry.service.ModelRegistry`
inherits these methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mlsteward.errors import NotFound, PolicyViolation
from mlsteward.identity.access import internal, use_case
from mlsteward.names import Ref, parse_ref
from mlsteward.registry.models import Governance, ModelVersion, RegisteredModel, State
from mlsteward.registry.tables import model_aliases, model_versions, registered_models
from mlsteward.store import audit

if TYPE_CHECKING:
    from mlsteward.context import Context

__all__ = ["CHAMPION", "GovernedModels"]

#: The alias that names what serves.
CHAMPION = "champion"


class GovernedModels:
    """The governance methods of the model registry."""

    ctx: Context

    # Provided by ModelRegistry.
    def _version_row(self, session: Session, ref: Ref) -> Any:
        raise NotImplementedError  # pragma: no cover - overridden

    def _require_model(self, session: Session, name: str) -> None:
        raise NotImplementedError  # pragma: no cover - overridden

    def _model(self, session: Session, row: Any) -> RegisteredModel:
        raise NotImplementedError  # pragma: no cover - overridden

    def _get(self, session: Session, ref: Ref) -> ModelVersion:
        raise NotImplementedError  # pragma: no cover - overridden

    def _set_alias(
        self, session: Session, name: str, alias: str, version: int
    ) -> ModelVersion:
        raise NotImplementedError  # pragma: no cover - overridden

    def _delete_alias(self, session: Session, name: str, alias: str) -> None:
        raise NotImplementedError  # pragma: no cover - overridden

    def _transition(
        self, session: Session, row: Any, state: State, reason: str
    ) -> ModelVersion:
        raise NotImplementedError  # pragma: no cover - overridden

    def _refuse_if_governed(self, session: Session, name: str, action: str) -> None:
        row = session.execute(
            select(registered_models.c.governed).where(registered_models.c.name == name)
        ).first()
        if row is not None and row.governed:
            raise PolicyViolation(
                f"{name} is governed: nobody may {action} directly; its champion "
                "moves only through an approved approval request "
                f"(`mlsteward approvals request {name}/N`), with every deployment "
                "of it, in one step",
                field="model",
            )

    @internal("read by serving before it moves traffic")
    def governance(self, name: str) -> Governance:
        """Whether ``name`` is governed, its canary cap and its champion."""
        with self.ctx.store.read() as session:
            row = session.execute(
                select(registered_models).where(registered_models.c.name == name)
            ).first()
            if row is None:
                raise NotFound(f"model {name!r} not found", field="model")
            champion = session.execute(
                select(model_aliases.c.version).where(
                    model_aliases.c.name == name, model_aliases.c.alias == CHAMPION
                )
            ).scalar()
            return Governance(
                governed=bool(row.governed),
                canary_share=row.canary_share,
                champion=champion,
            )

    @use_case("models.govern", "admin")
    def govern(
        self, name: str, *, canary_share: float | None = None
    ) -> RegisteredModel:
        """Mark ``name`` governed: from now on its champion alias, its
        ``approved`` state and every deployment's champion move only through
        an approved approval request; canaries above ``canary_share`` need an
        approver. Setting a policy does this too.

        Example:
            >>> reg.govern("credit-risk", canary_share=0.1)  # doctest: +SKIP
        """
        with self.ctx.store.unit_of_work() as session:
            self.mark_governed(name, canary_share, session=session)
            row = session.execute(
                select(registered_models).where(registered_models.c.name == name)
            ).one()
            return self._model(session, row)

    @internal("set_policy marks its model governed in its own transaction")
    def mark_governed(
        self, name: str, canary_share: float | None, *, session: Session
    ) -> None:
        self._require_model(session, name)
        session.execute(
            update(registered_models)
            .where(registered_models.c.name == name)
            .values(governed=True, canary_share=canary_share)
        )
        audit.record(
            session,
            actor=self.ctx.actor,
            action="model.governed",
            object_type="model",
            object_id=name,
            details={"canary_share": canary_share},
        )

    @internal("a retraining records whether its challenger passed its gates")
    def record_gates(
        self, ref: str, passed: bool, *, session: Session | None = None
    ) -> None:
        with self.ctx.store.within(session, write=True) as s:
            row = self._version_row(s, parse_ref(ref, "model"))
            s.execute(
                update(model_versions)
                .where(
                    model_versions.c.name == row.name,
                    model_versions.c.version == row.version,
                )
                .values(gates_passed=passed)
            )

    @internal("an approved promotion (retraining.promotion), in its transaction")
    def promote_champion(
        self, ref: str, *, reason: str, session: Session
    ) -> ModelVersion:
        """Approve ``ref`` (if it is not yet), point ``champion`` at it and
        drop its ``challenger`` alias, in the caller's transaction, so that
        the deployments move in the same one."""
        row = self._version_row(session, parse_ref(ref, "model"))
        if row.state == State.REGISTERED.value:
            self._transition(session, row, State.APPROVED, reason)
        mv = self._set_alias(session, row.name, CHAMPION, row.version)
        if "challenger" in mv.aliases:
            self._delete_alias(session, row.name, "challenger")
        return self._get(session, Ref(row.name, version=row.version))

    @internal("a governed rollback moves the champion alias with the deployments")
    def restore_champion(self, name: str, version: int, *, session: Session) -> None:
        """Point ``champion`` back at ``version``, a previous champion of the
        deployment rolling back (never a rejected or archived version)."""
        row = self._version_row(session, Ref(name, version=version))
        if row.state in (State.REJECTED.value, State.ARCHIVED.value):
            raise PolicyViolation(
                f"{name}/{version} is {row.state}: a governed model does not "
                "roll back to it",
                field="model",
            )
        self._set_alias(session, name, CHAMPION, version)
