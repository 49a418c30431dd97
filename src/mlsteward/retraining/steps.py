"""A retraining as recorded steps, so that a retry resumes instead of repeating.

A retraining is one row of ``retrainings``, inserted first (status
``running``) and keyed by the job that runs it: the retraining's id is the
job's id. Each step records what it made in the row's ``steps`` column, in
its own transaction, and is skipped when a retry finds it recorded:

====================  ==================================================
step                  records
====================  ==================================================
``data``              the training set and the out-of-time holdout, as
                      dataset versions (content-addressed: registering
                      the same rows again returns the same version)
``run``               the training run
``challenger``        the version registered by that run; a retry killed
                      between registering and recording finds it by the
                      run's id instead of training a second one
``evaluation``        champion and challenger metrics on the holdout
``decision``          gates, comparison and decision, with the
                      ``retraining.finished`` audit event
``effects``           promotion, rejection, or routing plus the approval
                      request (found by the retraining's id on a retry)
====================  ==================================================

``tests/retraining/test_retrain_steps.py`` kills a worker process at every
step boundary and checks that each effect happened once.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select, update

from mlsteward.datasets.service import DatasetService
from mlsteward.datasets.specs import RegisterDataset
from mlsteward.errors import InvalidInput, NotFound
from mlsteward.identity.access import internal
from mlsteward.registry.evaluation import EvaluationService
from mlsteward.registry.models import ModelVersion, RunStatus, State
from mlsteward.registry.runs import RunService
from mlsteward.registry.specs import (
    EndRun,
    Evaluate,
    LogMetrics,
    RegisterModel,
    SetAlias,
    StartRun,
    Transition,
)
from mlsteward.retraining.gates import GateResult, judge_gates
from mlsteward.retraining.policy import Policy
from mlsteward.retraining.specs import RequestApproval
from mlsteward.retraining.tables import approval_requests, retrainings
from mlsteward.retraining.trainers import effective_params, resolve_trainer
from mlsteward.store import audit, utcnow

if TYPE_CHECKING:
    import datetime as dt

    from mlsteward.retraining.service import RetrainingService

__all__ = ["FAULT_ENV", "STEPS", "Retrain"]

#: The steps, in order.
STEPS = ("data", "run", "challenger", "evaluation", "decision", "effects")

#: Test hook: ``MLSTEWARD_FAULT_AFTER_STEP=challenger`` ends the process with
#: ``os._exit`` right after that step is recorded, as a SIGKILL would.
FAULT_ENV = "MLSTEWARD_FAULT_AFTER_STEP"

_SUMMARY_KEYS = ("auc", "gini", "ks", "brier", "log_loss", "n", "bad_rate")


def _summary(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m.get(k) for k in (*_SUMMARY_KEYS, "approval_rate")}


def _decide(gates: list[GateResult], policy: Policy) -> tuple[str, str]:
    """The decision on the gates' outcomes: a failed gate rejects; a gate
    not judged rejects unless the policy sends it to an approver."""
    failed = [g.name for g in gates if g.outcome == "failed"]
    unjudged = [g for g in gates if g.outcome == "not_judged"]
    why = "; ".join(
        f"{g.name}: {g.detail.removeprefix('not judged: ')}" for g in unjudged
    )
    blocks = policy.gates.unjudged == "block"
    if failed or (unjudged and blocks):
        parts = [f"gates failed: {', '.join(failed)}"] if failed else []
        if unjudged:
            parts.append(
                f"gates not judged ({why})"
                + ("; policy gates.unjudged = 'block'" if blocks else "")
            )
        return "rejected", "; ".join(parts)
    mode = policy.promotion.mode
    if unjudged:
        return "awaiting_approval", (
            f"gates not judged ({why}); policy gates.unjudged = 'ask_approver' "
            "asks an approver"
        )
    if mode == "auto":
        return "promoted", "every gate passed; policy mode auto"
    return (
        "awaiting_approval",
        f"every gate passed; policy mode {mode} asks an approver",
    )


class Retrain:
    """One retraining of ``policy.model``, resumable under ``key``.

    Args:
        service: The retraining service (its context, registry, frames).
        policy: The model's policy.
        key: What makes this retraining one: the job id when a job runs it
            (a retry of the job resumes it); a fresh id otherwise.
        trigger: Why it runs, as recorded.
        deployment: Whose prediction log supplies the labelled window.
        now: The time the window ends.
    """

    def __init__(
        self,
        service: RetrainingService,
        policy: Policy,
        *,
        key: str | None,
        trigger: dict[str, Any] | None,
        deployment: str | None,
        now: dt.datetime | None,
    ) -> None:
        self.svc = service
        self.ctx = service.ctx
        self.registry = service.registry
        self.policy = policy
        self.model = policy.model
        self.id = key or uuid.uuid4().hex
        self.trigger = trigger or {}
        self.deployment = deployment
        self.now = now
        self.steps: dict[str, Any] = {}
        # Row values a step writes in the same transaction as its record.
        self._finish: dict[str, dict[str, Any]] = {}
        self._frames: dict[str, pd.DataFrame] = {}

    # -- driver -----------------------------------------------------------
    @internal("the steps of retrainings.retrain, resumed by the worker")
    def run(self) -> str | None:
        """Run or resume every step; return the approval request's id, if any."""
        self._start()
        doers: dict[str, Callable[[], dict[str, Any]]] = {
            "data": self._data,
            "run": self._run,
            "challenger": self._challenger,
            "evaluation": self._evaluation,
            "decision": self._decision,
            "effects": self._effects,
        }
        for name in STEPS:
            if name not in self.steps:
                self._record(name, doers[name](), **self._finish.pop(name, {}))
        approval: str | None = self.steps["effects"].get("approval_id")
        return approval

    def _start(self) -> None:
        with self.ctx.store.unit_of_work() as session:
            row = session.execute(
                select(retrainings).where(retrainings.c.id == self.id)
            ).first()
            if row is not None:
                if row.model_name != self.model:
                    raise InvalidInput(
                        f"retraining {self.id} is of model {row.model_name!r}, "
                        f"not {self.model!r}",
                        field="key",
                    )
                self.steps = dict(row.steps or {})
                return
            session.execute(
                retrainings.insert().values(
                    id=self.id,
                    model_name=self.model,
                    trigger=self.trigger,
                    status="running",
                    gates=[],
                    comparison={},
                    reason="",
                    steps={},
                    created_at=utcnow(),
                    created_by=self.ctx.actor,
                )
            )
            audit.record(
                session,
                actor=self.ctx.actor,
                action="retraining.started",
                object_type="retraining",
                object_id=self.id,
                details={"model": self.model, "trigger": self.trigger},
            )

    def _record(
        self,
        name: str,
        result: dict[str, Any],
        *,
        audit_details: dict[str, Any] | None = None,
        **values: Any,
    ) -> None:
        self.steps[name] = result
        with self.ctx.store.unit_of_work() as session:
            session.execute(
                update(retrainings)
                .where(retrainings.c.id == self.id)
                .values(steps=dict(self.steps), **values)
            )
            if audit_details is not None:
                audit.record(
                    session,
                    actor=self.ctx.actor,
                    action=f"retraining.{values.get('status', name)}",
                    object_type="retraining",
                    object_id=self.id,
                    details=audit_details,
                )
        if os.environ.get(FAULT_ENV) == name:
            os._exit(137)

    # -- steps ------------------------------------------------------------
    def _champion(self) -> ModelVersion:
        return self.registry.get(f"{self.model}@champion")

    def _data(self) -> dict[str, Any]:
        policy = self.policy
        features = self._champion().signature.feature_names
        train, holdout, period = self.svc.training_frames(
            policy, deployment=self.deployment, now=self.now
        )
        missing = [c for c in [*features, policy.target] if c not in train.columns]
        if missing:
            raise InvalidInput(
                f"training data lacks columns {missing}", field="data.reference"
            )
        ds = DatasetService(self.ctx)
        roles = {policy.target: "target"}
        ref_dv = ds.get(policy.data.reference)
        roles.update(
            {c.name: c.role for c in ref_dv.columns if c.name in train.columns}
        )
        # Declared bands travel with the data, so gates and reports on the
        # holdout group its protected columns as the reference declares.
        bands = {c.name: c.bands for c in ref_dv.columns if c.bands}
        train_dv = ds.register(
            RegisterDataset.parse(
                name=f"{self.model}-retrain",
                roles=roles,
                bands={k: v for k, v in bands.items() if k in train.columns},
                description=f"reference plus labelled log before {period}",
            ),
            train,
        )
        hold_dv = ds.register(
            RegisterDataset.parse(
                name=f"{self.model}-holdout-{period}",
                roles={k: v for k, v in roles.items() if k in holdout.columns},
                bands={k: v for k, v in bands.items() if k in holdout.columns},
                description=f"out-of-time holdout: {period}",
            ),
            holdout,
        )
        self._frames = {"train": train, "holdout": holdout}
        return {
            "train": train_dv.ref,
            "holdout": hold_dv.ref,
            "period": period,
            "champion": self._champion().ref,
            "protected": [c.name for c in ref_dv.columns if c.role == "protected"],
        }

    def _frame(self, which: str) -> pd.DataFrame:
        # Frames made by this attempt are used as they are; a resumed
        # retraining reads them back from their dataset versions.
        if which not in self._frames:
            ref = self.steps["data"][which]
            self._frames[which] = DatasetService(self.ctx).load(ref)
        return self._frames[which]

    def _run(self) -> dict[str, Any]:
        data = self.steps["data"]
        trainer = self.policy.trainer
        # Every parameter the challenger is fitted with, defaults included, so
        # the report's "changes since the previous version" compares like
        # with like.
        features = self.registry.get(data["champion"]).signature.feature_names
        params = {
            "trainer": trainer.name,
            "features": list(features),
            **effective_params(trainer.name, trainer.params or None),
        }
        run = RunService(self.ctx).start(
            StartRun(
                name=f"retrain-{self.model}-{data['period']}",
                params=params,
                inputs=[data["train"]],
                tags={"retraining": self.id},
            )
        )
        return {"run": run.id}

    def _challenger(self) -> dict[str, Any]:
        data, run_id = self.steps["data"], self.steps["run"]["run"]
        runs = RunService(self.ctx)
        versions = self.registry.list_versions(self.model)
        # A version of this run was registered by an attempt killed before it
        # recorded the step: take it instead of training a second one.
        made = [v for v in versions if v.run_id == run_id]
        challenger = made[0] if made else self._train(run_id, data)
        if runs.get(run_id).status == "running":
            runs.end(run_id)
        if challenger.version not in self._alias_versions("challenger"):
            self.registry.set_alias(
                self.model, SetAlias(alias="challenger", version=challenger.version)
            )
        return {"challenger": challenger.ref}

    def _alias_versions(self, alias: str) -> list[int]:
        try:
            return [self.registry.get(f"{self.model}@{alias}").version]
        except NotFound:
            return []

    def _train(self, run_id: str, data: dict[str, Any]) -> ModelVersion:
        champion = self.registry.get(data["champion"])
        features = champion.signature.feature_names
        train = self._frame("train")
        try:
            fitted = resolve_trainer(self.policy.trainer.name)(
                train,
                features=features,
                target=self.policy.target,
                params=self.policy.trainer.params or None,
            )
            spec = RegisterModel(
                name=self.model,
                run_id=run_id,
                parent_version=champion.version,
                description="challenger trained by policy on data before "
                f"{data['period']}",
            )
            self._log_training_metrics(run_id, fitted, train, features)
            return self.registry.register(spec, fitted, train[features])
        except Exception:
            RunService(self.ctx).end(run_id, EndRun(status=RunStatus.FAILED))
            raise

    def _log_training_metrics(
        self, run_id: str, fitted: Any, train: pd.DataFrame, features: list[str]
    ) -> None:
        """The run's own figures (AUC on the training window, its size), so
        a retraining run lists metrics like any other run."""
        from mlsteward.flavors import flavor_for
        from mlsteward.metrics import auc
        from mlsteward.registry.signature import conform, infer_signature

        X = train[features]
        scores = flavor_for(fitted).predict_proba(
            fitted, conform(infer_signature(X), X)
        )
        metrics = {
            "train_auc": auc(train[self.policy.target], scores),
            "n_train": float(len(train)),
        }
        RunService(self.ctx).log_metrics(run_id, LogMetrics(metrics=metrics))

    def _evaluation(self) -> dict[str, Any]:
        data = self.steps["data"]
        challenger = self.steps["challenger"]["challenger"]
        evals = EvaluationService(self.ctx)
        thr = self.policy.promotion.threshold
        target = self.policy.target
        spec = Evaluate(target=target, threshold=thr)
        champ = evals.evaluate(data["champion"], data["holdout"], spec)
        chall = evals.evaluate(challenger, data["holdout"], spec)
        return {"champion": champ.metrics, "challenger": chall.metrics}

    def _decision(self) -> dict[str, Any]:
        data, ev = self.steps["data"], self.steps["evaluation"]
        challenger = self.steps["challenger"]["challenger"]
        loaded = self.registry.load(challenger)
        holdout = self._frame("holdout")
        hold_dv = DatasetService(self.ctx).get(data["holdout"])
        gates = judge_gates(
            self.policy.gates,
            champion=ev["champion"],
            challenger=ev["challenger"],
            holdout=holdout,
            challenger_scores=loaded.predict_proba(holdout),
            training_scores=loaded.predict_proba(self._frame("train")),
            protected=data["protected"],
            threshold=self.policy.promotion.threshold,
            bands={c: hold_dv.bands_of(c) for c in data["protected"]},
        )
        comparison = {
            "holdout": data["holdout"],
            "champion": {"ref": data["champion"], **_summary(ev["champion"])},
            "challenger": {"ref": challenger, **_summary(ev["challenger"])},
        }
        decision, reason = _decide(gates, self.policy)
        gate_dicts = [g.to_dict() for g in gates]
        self._finish["decision"] = {
            "status": "finished",
            "champion": data["champion"],
            "challenger": challenger,
            "holdout": data["holdout"],
            "gates": gate_dicts,
            "comparison": comparison,
            "decision": decision,
            "reason": reason,
            "finished_at": utcnow(),
            "audit_details": {
                "champion": data["champion"],
                "challenger": challenger,
                "decision": decision,
                "gates": gate_dicts,
            },
        }
        return {"decision": decision, "reason": reason}

    def _effects(self) -> dict[str, Any]:
        from mlsteward.retraining.promotion import promote, route_challenger, withdraw

        decision = self.steps["decision"]["decision"]
        reason = self.steps["decision"]["reason"]
        challenger = self.steps["challenger"]["challenger"]
        # Whether it may carry a governed canary or shadow (idempotent).
        self.registry.record_gates(challenger, decision != "rejected")
        if decision == "rejected":
            if self.registry.get(challenger).state != "rejected":
                self.registry.transition(
                    challenger, Transition(state=State.REJECTED, reason=reason)
                )
            withdraw(self.ctx, challenger)
            return {}
        if decision == "promoted":
            promote(self.ctx, challenger, reason=reason)
            return {}
        mode = self.policy.promotion.mode
        route_challenger(
            self.ctx, challenger, mode=mode, share=self.policy.promotion.canary_share
        )
        return {"approval_id": self._approval_request(challenger, mode)}

    def _approval_request(self, challenger: str, mode: str) -> str:
        from mlsteward.retraining.approvals import ApprovalService

        with self.ctx.store.read() as session:
            existing = session.execute(
                select(approval_requests.c.id).where(
                    approval_requests.c.retraining_id == self.id
                )
            ).scalar()
        if existing is not None:
            return str(existing)
        data = self.steps["data"]
        with self.ctx.store.read() as session:
            row = session.execute(
                select(retrainings.c.gates, retrainings.c.comparison).where(
                    retrainings.c.id == self.id
                )
            ).one()
        evidence = {
            "gates": row.gates,
            "comparison": row.comparison,
            "mode": mode,
            "lineage": {
                "run": self.steps["run"]["run"],
                "training_data": data["train"],
                "holdout": data["holdout"],
                "parent": data["champion"],
            },
        }
        return (
            ApprovalService(self.ctx)
            .request(
                RequestApproval(ref=challenger),
                retraining_id=self.id,
                evidence=evidence,
            )
            .id
        )
