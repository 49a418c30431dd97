"""Retraining use cases: policies, a retraining run, and its decision.

A retraining assembles the training set (reference data plus the labelled
prediction log of the policy's window), holds out the newest labelled month
as out-of-time data, trains a challenger, evaluates champion and challenger
on the same holdout, judges the policy's gates and then, by the promotion
mode: ``auto`` promotes when every gate passes; ``manual`` asks for an
approval; ``shadow`` puts the challenger beside the champion as a shadow and
asks; ``canary`` gives it a share of traffic and asks. A failed gate rejects
the challenger in every mode.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from mlsteward.context import Context
from mlsteward.datasets.service import DatasetService
from mlsteward.durations import parse_duration
from mlsteward.errors import InvalidInput, NotFound, PolicyViolation
from mlsteward.identity.access import internal, use_case
from mlsteward.monitoring.outcomes import OutcomeService
from mlsteward.names import parse_ref
from mlsteward.registry.models import ModelVersion
from mlsteward.registry.service import ModelRegistry
from mlsteward.retraining.models import Retraining
from mlsteward.retraining.policy import Policy, parse_policy
from mlsteward.retraining.specs import Retrain as RetrainSpec
from mlsteward.retraining.specs import SetPolicy
from mlsteward.retraining.tables import policies, retrainings
from mlsteward.store import audit, utcnow

__all__ = ["Retraining", "RetrainingService", "run_job"]

_PERIOD = {"newest_month": "M", "newest_week": "W", "newest_quarter": "Q"}


def _row(r: Any, approval_id: str | None = None) -> Retraining:
    return Retraining(
        id=r.id,
        model_name=r.model_name,
        trigger=r.trigger,
        status=r.status,
        champion=r.champion,
        challenger=r.challenger,
        holdout=r.holdout,
        gates=r.gates,
        comparison=r.comparison,
        decision=r.decision,
        reason=r.reason,
        created_at=r.created_at,
        created_by=r.created_by,
        approval_id=approval_id,
        finished_at=r.finished_at,
    )


class RetrainingService:
    """Set policies and run retrainings."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.registry = ModelRegistry(ctx)

    # -- policies ---------------------------------------------------------
    @use_case("policies.set", "admin")
    def set_policy(self, policy: SetPolicy) -> Policy:
        """Set (or replace) a model's retraining policy and keep its monitors.

        Args:
            policy: The validated policy (:class:`~mlsteward.retraining.specs.
                SetPolicy`); read a document or file with
                :func:`~mlsteward.retraining.policy.as_policy`.

        Example:
            >>> svc.set_policy(as_policy("policy.toml")).revision  # doctest: +SKIP
        """
        self.registry.get_model(policy.model)  # the model must exist
        now = utcnow()
        with self.ctx.store.unit_of_work() as session:
            self._check_names(policy, session)
            rev = session.execute(
                select(policies.c.revision).where(policies.c.model_name == policy.model)
            ).scalar()
            doc = policy.to_dict()
            if rev is None:
                session.execute(
                    policies.insert().values(
                        model_name=policy.model,
                        revision=1,
                        document=doc,
                        updated_at=now,
                        updated_by=self.ctx.actor,
                    )
                )
            else:
                session.execute(
                    update(policies)
                    .where(policies.c.model_name == policy.model)
                    .values(
                        revision=rev + 1,
                        document=doc,
                        updated_at=now,
                        updated_by=self.ctx.actor,
                    )
                )
            audit.record(
                session,
                actor=self.ctx.actor,
                action="policy.changed",
                object_type="policy",
                object_id=policy.model,
                details={"revision": (rev or 0) + 1, "policy": doc},
            )
            # A model with a policy is governed: its champion moves only
            # through approvals, its canaries within the policy's share.
            self.registry.mark_governed(
                policy.model, policy.promotion.canary_share, session=session
            )
        self._apply_monitors(policy)
        return policy

    def _check_names(self, policy: Policy, session: Session) -> None:
        """Every name the policy gives must exist now: a trigger naming no
        monitor would never fire, a misspelt reference would fail only at the
        first retraining. Errors name the key and list what exists."""
        from mlsteward.monitoring.monitors import MonitorService
        from mlsteward.retraining.trainers import check_trainer_name

        datasets = DatasetService(self.ctx)
        ref = parse_ref(policy.data.reference, "data.reference")
        found = (
            None if ref.alias else datasets.find(ref.name, ref.version, session=session)
        )
        if found is None:
            known = datasets.names(session=session)
            raise InvalidInput(
                f"policy key 'data.reference': no dataset {policy.data.reference!r}; "
                f"datasets are {known or 'none'} (name or name/N)",
                field="data.reference",
                allowed=known,
            )
        columns = [c.name for c in found.columns]
        if policy.target not in columns:
            raise InvalidInput(
                f"policy key 'target': {found.ref} has no column {policy.target!r}; "
                f"its columns are {columns}",
                field="target",
                allowed=columns,
            )
        known_monitors = sorted(
            {*MonitorService(self.ctx).names(session=session)}
            | {m.name for m in policy.monitors}
        )
        unknown = [m for m in policy.triggers.monitors if m not in known_monitors]
        if unknown:
            raise InvalidInput(
                f"policy key 'triggers.monitors': no monitor named {unknown}; "
                f"monitors are {known_monitors or 'none'} (or declare one under "
                "[[monitors]])",
                field="triggers.monitors",
                allowed=known_monitors,
            )
        try:  # the server's trainers, which may differ from the client's
            check_trainer_name(policy.trainer.name)
        except InvalidInput as exc:
            raise InvalidInput(
                f"policy key 'trainer.name': {exc.message}",
                field="trainer.name",
                **exc.details,
            ) from exc

    def _apply_monitors(self, policy: Policy) -> None:
        """Create (or replace) the monitors the policy names; their results
        and alerts are kept across a replacement."""
        if not policy.monitors:
            return
        from mlsteward.monitoring.monitors import MonitorService

        monitors = MonitorService(self.ctx)
        existing = {m.name for m in monitors.list()}
        for spec in policy.monitors:
            if spec.name in existing:
                monitors.delete(spec.name)
            if not spec.description:
                spec = spec.model_copy(
                    update={"description": f"kept by the policy of {policy.model}"}
                )
            monitors.create(spec)

    @use_case("policies.get", "viewer")
    def get_policy(self, model: str) -> Policy:
        with self.ctx.store.read() as session:
            doc = session.execute(
                select(policies.c.document).where(policies.c.model_name == model)
            ).scalar()
        if doc is None:
            raise NotFound(
                f"model {model!r} has no retraining policy; set one with "
                "`mlsteward policies set FILE`",
                field="model",
            )
        return parse_policy(doc)

    # -- retraining -------------------------------------------------------
    @use_case("retrainings.get", "viewer")
    def get(self, retraining_id: str) -> Retraining:
        with self.ctx.store.read() as session:
            r = session.execute(
                select(retrainings).where(retrainings.c.id == retraining_id)
            ).first()
        if r is None:
            raise NotFound(f"retraining {retraining_id!r} not found", field="id")
        return _row(r)

    @use_case("retrainings.list", "viewer")
    def list(self, model: str | None = None) -> list[Retraining]:
        q = select(retrainings).order_by(retrainings.c.created_at)
        if model:
            q = q.where(retrainings.c.model_name == model)
        with self.ctx.store.read() as session:
            return [_row(r) for r in session.execute(q)]

    @internal("read by the model report")
    def of_version(self, mv: ModelVersion) -> builtins.list[Retraining]:
        """Retrainings where ``mv`` was the challenger or the champion, oldest
        first.

        Example:
            >>> [r.status for r in svc.of_version(mv)]  # doctest: +SKIP
            ['promoted']
        """
        t = retrainings
        q = (
            select(t)
            .where(
                t.c.model_name == mv.name,
                or_(t.c.challenger == mv.ref, t.c.champion == mv.ref),
            )
            .order_by(t.c.created_at)
        )
        with self.ctx.store.read() as session:
            return [_row(r) for r in session.execute(q)]

    @internal("read by the retraining steps")
    def training_frames(
        self,
        policy: Policy,
        *,
        deployment: str | None = None,
        now: dt.datetime | None = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame, str]:
        """Reference plus labelled log before the holdout, and the holdout."""
        now = now or utcnow()
        reference = DatasetService(self.ctx).load(policy.data.reference)
        since = now - dt.timedelta(
            seconds=parse_duration(policy.data.window, "data.window")
        )
        window = OutcomeService(self.ctx).labelled_window(
            deployment=deployment or policy.model, since=since, until=now
        )
        window = window[window["label"].notna()]
        if len(window) < policy.data.min_holdout_rows:
            raise PolicyViolation(
                f"only {len(window)} labelled predictions in the last "
                f"{policy.data.window}; the policy needs at least "
                f"{policy.data.min_holdout_rows} for an out-of-time holdout",
                field="data.window",
            )
        inputs = {
            c: c.removeprefix("input.")
            for c in window.columns
            if c.startswith("input.")
        }
        logged = window[list(inputs)].rename(columns=inputs)
        logged[policy.target] = window["label"].astype("int64").to_numpy()
        periods = (
            pd.to_datetime(window["created_at"], utc=True)
            .dt.tz_localize(None)
            .dt.to_period(_PERIOD[policy.data.holdout])
        )
        newest = periods.max()
        is_holdout = (periods == newest).to_numpy()
        holdout = logged[is_holdout].reset_index(drop=True)
        if len(holdout) < policy.data.min_holdout_rows:
            raise PolicyViolation(
                f"the newest labelled period {newest} has {len(holdout)} rows; the "
                f"policy needs {policy.data.min_holdout_rows}",
                field="data.min_holdout_rows",
            )
        shared = [c for c in reference.columns if c in logged.columns]
        train = pd.concat(
            [reference[shared], logged[~is_holdout][shared]], ignore_index=True
        )
        return train, holdout, str(newest)

    @use_case("retrainings.retrain", "developer")
    def retrain(
        self,
        model: str,
        spec: RetrainSpec | None = None,
        *,
        trigger: dict[str, Any] | None = None,
        now: dt.datetime | None = None,
        key: str | None = None,
    ) -> Retraining:
        """Train a challenger by the model's policy and decide on it.

        Args:
            model: The registered model whose policy is followed.
            spec: The deployment whose log is read and the reason
                (:class:`~mlsteward.retraining.specs.Retrain`).
            trigger: What started it (an alert, a schedule); given a spec,
                default a manual trigger with its reason.
            now: The time of the retraining (default now).
            key: Resume key (a job's id).

        The retraining runs as recorded steps (:mod:`mlsteward.retraining.steps`):
        called again with the same ``key`` (a job's retry passes its job id),
        it resumes after the last step recorded and repeats none.

        Example:
            >>> RetrainingService(ctx).retrain("credit-risk").decision  # doctest: +SKIP
            'awaiting_approval'
        """
        from mlsteward.retraining.steps import Retrain

        if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 32):
            raise InvalidInput("key must be a string of 1-32 characters", field="key")
        if trigger is None and spec is not None:
            trigger = {"kind": "manual", "reason": spec.reason}
        spec = spec or RetrainSpec()
        policy = self.get_policy(model)
        steps = Retrain(
            self, policy, key=key, trigger=trigger, deployment=spec.deployment, now=now
        )
        approval_id = steps.run()
        return _row_like(self.get(steps.id), approval_id)


def _row_like(r: Retraining, approval_id: str | None) -> Retraining:
    return r.model_copy(update={"approval_id": approval_id})


def _summary(m: dict[str, Any]) -> dict[str, Any]:
    keys = ("auc", "gini", "ks", "brier", "log_loss", "n", "bad_rate", "approval_rate")
    return {k: m.get(k) for k in keys}


def run_job(ctx: Context, payload: dict[str, Any], log: Any) -> dict[str, Any]:
    """Job handler ``retrain``: payload ``{"model": ..., "trigger": {...}}``."""
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        # InvalidInput makes the job dead at once: no retry can fix a payload.
        raise InvalidInput(
            f"retrain jobs need {{'model': NAME}}, got {model!r}", field="model"
        )
    log(f"retraining {model}")
    result = RetrainingService(ctx).retrain(
        model,
        RetrainSpec.parse(deployment=payload.get("deployment")),
        trigger=payload.get("trigger"),
        key=getattr(getattr(log, "job", None), "id", None),
    )
    log(f"decision: {result.decision} ({result.reason})")
    return result.to_dict()
