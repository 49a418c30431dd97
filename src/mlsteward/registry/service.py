"""Model registry use cases: register, resolve, alias, move through the lifecycle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from mlsteward.context import Context
from mlsteward.errors import Conflict, InvalidInput, NotFound
from mlsteward.flavors import flavor_for, get_flavor
from mlsteward.flavors.base import Flavor
from mlsteward.identity.access import internal, use_case
from mlsteward.names import Ref, parse_ref
from mlsteward.registry.governed import CHAMPION, GovernedModels
from mlsteward.registry.loaded import LoadedModel, SavedModel, loaded_model
from mlsteward.registry.models import (
    LIFECYCLE,
    ModelVersion,
    RegisteredModel,
    Signature,
    State,
)
from mlsteward.registry.signature import conform, infer_signature, probe_missing
from mlsteward.registry.specs import RegisterModel, SetAlias, Transition
from mlsteward.registry.tables import (
    model_aliases,
    model_versions,
    registered_models,
    runs,
)
from mlsteward.store import audit, utcnow

if TYPE_CHECKING:  # pandas is imported on use: a serving process may not need it
    import pandas as pd

__all__ = ["LoadedModel", "ModelRegistry", "SavedModel", "loaded_model"]


def _row_to_version(row: Any, aliases: list[str]) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        version=row.version,
        state=row.state,
        flavor=row.flavor,
        artifact_sha256=row.artifact_sha256,
        artifact_size=row.artifact_size,
        signature=Signature.from_dict(row.signature),
        run_id=row.run_id,
        parent_version=row.parent_version,
        description=row.description,
        tags=row.tags or {},
        created_at=row.created_at,
        created_by=row.created_by,
        aliases=aliases,
        gates_passed=row.gates_passed,
    )


class ModelRegistry(GovernedModels):
    """Registered models and their numbered versions.

    Example:
        >>> reg = ModelRegistry(ctx)  # doctest: +SKIP
        >>> spec = RegisterModel(name="credit-risk")
        >>> mv = reg.register(spec, pipeline, X_train)  # doctest: +SKIP
        >>> reg.set_alias("credit-risk", SetAlias(alias="champion",
        ...               version=mv.version))  # doctest: +SKIP
        >>> reg.load("credit-risk@champion").predict_proba(X)  # doctest: +SKIP
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- writing ----------------------------------------------------------
    @use_case("models.register", "developer")
    def register(
        self,
        spec: RegisterModel,
        model: Any,
        training_data: pd.DataFrame | None = None,
        *,
        signature: Signature | None = None,
    ) -> ModelVersion:
        """Save ``model`` as the next version of ``spec.name``.

        The signature is inferred from ``training_data`` (the feature columns
        the model was fitted on) unless given. The artifact is proved to load
        and predict on the training data before anything is recorded.

        Args:
            spec: Name, flavor, run, parent version, description and tags
                (:class:`~mlsteward.registry.specs.RegisterModel`).
            model: The fitted model.
            training_data: The features it was fitted on.
            signature: Its inputs, when ``training_data`` is not given.

        Raises:
            InvalidInput: Neither training data nor a signature.
            NotFound: ``spec.run_id`` or ``spec.parent_version`` does not exist.

        Example:
            >>> reg.register(RegisterModel(name="credit-risk"), pipeline, X)
            ... # doctest: +SKIP
        """
        fl, signature, payload = self._prepare(spec, model, training_data, signature)
        ref = self.ctx.artifacts.put(payload)
        with self.ctx.store.unit_of_work() as session:
            version = self._record_version(session, spec, fl.name, ref, signature)
            return self._get(session, Ref(spec.name, version=version))

    def _record_version(
        self,
        session: Session,
        spec: RegisterModel,
        flavor: str,
        ref: Any,
        signature: Signature,
        details: dict[str, Any] | None = None,
    ) -> int:
        """Write the next version of ``spec.name`` for a stored artifact, with
        its audit event; returns its number."""
        name, now = spec.name, utcnow()
        if spec.run_id is not None:
            self._require_run(session, spec.run_id)
        self._ensure_model(session, name, now)
        version = self._next_version(session, name)
        if spec.parent_version is not None:
            self._version_row(session, Ref(name, version=spec.parent_version))
        session.execute(
            model_versions.insert().values(
                name=name,
                version=version,
                state=State.REGISTERED.value,
                flavor=flavor,
                artifact_sha256=ref.sha256,
                artifact_size=ref.size,
                signature=signature.to_dict(),
                run_id=spec.run_id,
                parent_version=spec.parent_version,
                description=spec.description,
                tags=spec.tags,
                created_at=now,
                created_by=self.ctx.actor,
                state_changed_at=now,
            )
        )
        session.execute(
            update(registered_models)
            .where(registered_models.c.name == name)
            .values(updated_at=now)
        )
        audit.record(
            session,
            actor=self.ctx.actor,
            action="model_version.registered",
            object_type="model_version",
            object_id=f"{name}/{version}",
            details={
                "flavor": flavor,
                "artifact_sha256": ref.sha256,
                "run_id": spec.run_id,
                "parent_version": spec.parent_version,
                **(details or {}),
            },
        )
        return version

    def _prepare(
        self,
        spec: RegisterModel,
        model: Any,
        training_data: pd.DataFrame | None,
        signature: Signature | None,
    ) -> tuple[Flavor, Signature, bytes]:
        """The flavor, signature and saved bytes of a model to register,
        after proving the bytes load and predict.

        A :class:`SavedModel` (a remote client's upload) is checked against
        its sha256 and always loaded back by its flavor, which refuses
        pickles and untrusted types, so bytes that would run code are never
        stored."""
        if signature is None:
            if training_data is None:
                raise InvalidInput(
                    "give training_data (the features the model was fitted on) "
                    "or a signature, so mlsteward can check inputs later",
                    field="training_data",
                )
            signature = infer_signature(training_data)
        if isinstance(model, SavedModel):
            saved = model.verify()
            if spec.flavor is not None and spec.flavor != saved.flavor:
                raise InvalidInput(
                    f"flavor {spec.flavor!r} differs from the artifact's flavor "
                    f"{saved.flavor!r}",
                    field="flavor",
                )
            fl, payload = get_flavor(saved.flavor), saved.data
            reloaded = fl.load(payload)
        else:
            fl = get_flavor(spec.flavor) if spec.flavor else flavor_for(model)
            payload = fl.save(model)
            reloaded = fl.load(payload) if training_data is not None else None
        if training_data is not None:
            head = training_data.head(5)
            fl.predict_proba(reloaded, conform(signature, head))
            signature = probe_missing(
                signature, head, lambda X: fl.predict_proba(reloaded, X)
            )
        return fl, signature, payload

    def _ensure_model(self, session: Session, name: str, now: Any) -> None:
        """Create the registered model ``name`` on its first version."""
        exists = session.execute(
            select(registered_models.c.name)
            .where(registered_models.c.name == name)
            .with_for_update()
        ).first()
        if exists is not None:
            return
        session.execute(
            registered_models.insert().values(
                name=name,
                description="",
                created_at=now,
                created_by=self.ctx.actor,
                updated_at=now,
                tags={},
            )
        )
        audit.record(
            session,
            actor=self.ctx.actor,
            action="model.created",
            object_type="registered_model",
            object_id=name,
        )

    @staticmethod
    def _require_run(session: Session, run_id: str) -> None:
        found = session.execute(select(runs.c.id).where(runs.c.id == run_id))
        if found.first() is None:
            raise NotFound(f"run {run_id!r} not found", field="run_id")

    @staticmethod
    def _next_version(session: Session, name: str) -> int:
        latest = session.execute(
            select(func.max(model_versions.c.version)).where(
                model_versions.c.name == name
            )
        ).scalar()
        return int(latest or 0) + 1

    @use_case("models.set_alias", "developer")
    def set_alias(self, name: str, spec: SetAlias) -> ModelVersion:
        """Point ``name@spec.alias`` at ``spec.version`` (moving it if it
        pointed elsewhere).

        Raises:
            PolicyViolation: ``champion`` of a governed model: it moves only
                through an approved approval request.

        Example:
            >>> reg.set_alias("credit-risk", SetAlias(alias="champion", version=3))
            ... # doctest: +SKIP
        """
        with self.ctx.store.unit_of_work() as session:
            if spec.alias == CHAMPION:
                self._refuse_if_governed(session, name, "move its champion alias")
            return self._set_alias(session, name, spec.alias, spec.version)

    def _set_alias(
        self, session: Session, name: str, alias: str, version: int
    ) -> ModelVersion:
        self._version_row(session, Ref(name, version=version))
        previous = session.execute(
            select(model_aliases.c.version).where(
                model_aliases.c.name == name, model_aliases.c.alias == alias
            )
        ).scalar()
        if previous == version:
            return self._get(session, Ref(name, version=version))
        values = {
            "version": version,
            "updated_at": utcnow(),
            "updated_by": self.ctx.actor,
        }
        if previous is None:
            session.execute(
                model_aliases.insert().values(name=name, alias=alias, **values)
            )
        else:
            session.execute(
                update(model_aliases)
                .where(model_aliases.c.name == name, model_aliases.c.alias == alias)
                .values(**values)
            )
        audit.record(
            session,
            actor=self.ctx.actor,
            action="alias.set",
            object_type="model_version",
            object_id=f"{name}/{version}",
            details={"alias": alias, "previous_version": previous},
        )
        return self._get(session, Ref(name, version=version))

    @use_case("models.delete_alias", "developer")
    def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``name@alias`` (``champion`` of a governed model: refused)."""
        with self.ctx.store.unit_of_work() as session:
            if alias == CHAMPION:
                self._refuse_if_governed(session, name, "remove its champion alias")
            self._delete_alias(session, name, alias)

    def _delete_alias(self, session: Session, name: str, alias: str) -> None:
        previous = session.execute(
            select(model_aliases.c.version).where(
                model_aliases.c.name == name, model_aliases.c.alias == alias
            )
        ).scalar()
        if previous is None:
            raise NotFound(f"model {name!r} has no alias {alias!r}", field="alias")
        session.execute(
            delete(model_aliases).where(
                model_aliases.c.name == name, model_aliases.c.alias == alias
            )
        )
        audit.record(
            session,
            actor=self.ctx.actor,
            action="alias.deleted",
            object_type="model_version",
            object_id=f"{name}/{previous}",
            details={"alias": alias},
        )

    @use_case("models.transition", "developer")
    def transition(self, ref: str, spec: Transition) -> ModelVersion:
        """Move a version to ``spec.state`` through its lifecycle (see
        ``LIFECYCLE``).

        Raises:
            Conflict: The version's state cannot move there.

        Example:
            >>> reg.transition("credit-risk/3", Transition(state="approved"))
            ... # doctest: +SKIP
        """
        with self.ctx.store.unit_of_work() as session:
            row = self._version_row(session, parse_ref(ref, "model"))
            if spec.state == State.APPROVED:
                self._refuse_if_governed(session, row.name, "approve a version")
            return self._transition(session, row, spec.state, spec.reason)

    def _transition(
        self, session: Session, row: Any, state: State, reason: str
    ) -> ModelVersion:
        allowed = [s.value for s in LIFECYCLE[State(row.state)]]
        if state not in allowed:
            raise Conflict(
                f"{row.name}/{row.version} is {row.state}; it can move to "
                f"{allowed or 'nothing'}, not {state.value!r}",
                field="state",
            )
        session.execute(
            update(model_versions)
            .where(
                model_versions.c.name == row.name,
                model_versions.c.version == row.version,
            )
            .values(state=state.value, state_changed_at=utcnow())
        )
        audit.record(
            session,
            actor=self.ctx.actor,
            action=f"model_version.{state.value}",
            object_type="model_version",
            object_id=f"{row.name}/{row.version}",
            details={"from": row.state, "to": state.value, "reason": reason},
        )
        return self._get(session, Ref(row.name, version=row.version))

    # -- reading ----------------------------------------------------------
    @use_case("models.get_version", "viewer")
    def get(self, ref: str) -> ModelVersion:
        """``name`` (latest), ``name/N`` or ``name@alias``."""
        with self.ctx.store.read() as session:
            return self._get(session, parse_ref(ref, "model"))

    @use_case("models.get", "viewer")
    def get_model(self, name: str) -> RegisteredModel:
        with self.ctx.store.read() as session:
            row = session.execute(
                select(registered_models).where(registered_models.c.name == name)
            ).first()
            if row is None:
                raise NotFound(self._unknown_model_message(session, name), field="name")
            return self._model(session, row)

    @use_case("models.list", "viewer")
    def list_models(self) -> list[RegisteredModel]:
        with self.ctx.store.read() as session:
            rows = session.execute(
                select(registered_models).order_by(registered_models.c.name)
            ).all()
            return [self._model(session, r) for r in rows]

    @use_case("models.list_versions", "viewer")
    def list_versions(self, name: str) -> list[ModelVersion]:
        with self.ctx.store.read() as session:
            rows = session.execute(
                select(model_versions)
                .where(model_versions.c.name == name)
                .order_by(model_versions.c.version)
            ).all()
            if not rows:
                self._require_model(session, name)
            aliases = self._aliases_by_version(session, name)
            return [_row_to_version(r, aliases.get(r.version, [])) for r in rows]

    @use_case("models.load", "viewer")
    def fetch(self, ref: str) -> tuple[ModelVersion, SavedModel]:
        """A version and its saved artifact, the bytes verified against the
        sha256 recorded at registration: what :meth:`load` loads, and what
        the server sends a remote client's ``client.models.load``.

        Example:
            >>> mv, saved = reg.fetch("credit-risk@champion")  # doctest: +SKIP
        """
        mv = self.get(ref)
        data = self.ctx.artifacts.get(mv.artifact_sha256)
        return mv, SavedModel(mv.flavor, data, mv.artifact_sha256)

    @internal("loads what fetch, the models.load use case, hands over")
    def load(self, ref: str) -> LoadedModel:
        """Load a version: verify the artifact's sha256, then the flavor loads it."""
        mv, saved = self.fetch(ref)
        return loaded_model(mv, saved)

    # -- helpers ----------------------------------------------------------
    def _unknown_model_message(self, session: Session, name: str) -> str:
        known = (
            session.execute(
                select(registered_models.c.name)
                .order_by(registered_models.c.name)
                .limit(20)
            )
            .scalars()
            .all()
        )
        return f"model {name!r} not found; registered models: {list(known) or 'none'}"

    def _require_model(self, session: Session, name: str) -> None:
        if (
            session.execute(
                select(registered_models.c.name).where(registered_models.c.name == name)
            ).first()
            is None
        ):
            raise NotFound(self._unknown_model_message(session, name), field="model")

    def _version_row(self, session: Session, ref: Ref) -> Any:
        q = select(model_versions).where(model_versions.c.name == ref.name)
        if ref.alias is not None:
            version = session.execute(
                select(model_aliases.c.version).where(
                    model_aliases.c.name == ref.name, model_aliases.c.alias == ref.alias
                )
            ).scalar()
            if version is None:
                self._require_model(session, ref.name)
                known = self._aliases_by_version(session, ref.name)
                names = sorted(a for lst in known.values() for a in lst)
                raise NotFound(
                    f"model {ref.name!r} has no alias {ref.alias!r}; its aliases: "
                    f"{names or 'none'}",
                    field="alias",
                )
            q = q.where(model_versions.c.version == version)
        elif ref.version is not None:
            q = q.where(model_versions.c.version == ref.version)
        row = session.execute(
            q.order_by(model_versions.c.version.desc()).limit(1)
        ).first()
        if row is None:
            self._require_model(session, ref.name)
            raise NotFound(f"model version {ref} not found", field="version")
        return row

    def _aliases_by_version(self, session: Session, name: str) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for a in session.execute(
            select(model_aliases.c.alias, model_aliases.c.version)
            .where(model_aliases.c.name == name)
            .order_by(model_aliases.c.alias)
        ):
            out.setdefault(a.version, []).append(a.alias)
        return out

    def _get(self, session: Session, ref: Ref) -> ModelVersion:
        row = self._version_row(session, ref)
        aliases = self._aliases_by_version(session, row.name).get(row.version, [])
        return _row_to_version(row, aliases)

    def _model(self, session: Session, row: Any) -> RegisteredModel:
        latest = session.execute(
            select(func.max(model_versions.c.version)).where(
                model_versions.c.name == row.name
            )
        ).scalar()
        aliases = {
            a.alias: a.version
            for a in session.execute(
                select(model_aliases).where(model_aliases.c.name == row.name)
            )
        }
        return RegisteredModel(
            name=row.name,
            description=row.description,
            created_at=row.created_at,
            created_by=row.created_by,
            updated_at=row.updated_at,
            tags=row.tags or {},
            latest_version=latest,
            aliases=aliases,
            governed=bool(row.governed),
            canary_share=row.canary_share,
        )
