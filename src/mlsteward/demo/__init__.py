"""The closed loop, end to end, on the bundled German credit data.

``mlsteward demo`` runs every stage for real, through the same services the
SDK and CLI use:

1. split German credit into a training period and six later months, with a
   documented shift injected into the later months
   (:mod:`mlsteward.datasets.simulate`);
2. train a champion (logistic scorecard), register the training data, the run
   and the model version, evaluate it, alias it ``champion``;
3. score each month through ``credit-risk@champion`` in process, logging each
   prediction; join the month's true outcomes;
4. compute PSI of every feature and of the score against the training
   profile, and AUC/KS on the labelled month;
5. when drift passes the policy (PSI > 0.25 on any feature or the score, or
   AUC more than 0.05 below the champion's cross-validated AUC), retrain on
   the training data plus the labelled months before the newest, and compare
   champion and challenger on the newest labelled month (out of time); the
   challenger becomes champion only if its AUC is higher.

Months after a promotion are scored by the new champion, so the log shows the
loop closing. Nothing is arranged: if the challenger loses, the champion stays
and the report says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlsteward.context import Context
from mlsteward.datasets.bundled import (
    GERMAN_CREDIT_BANDS,
    GERMAN_CREDIT_PROTECTED,
    GERMAN_CREDIT_TARGET,
    german_credit_roles,
    load_german_credit,
)
from mlsteward.datasets.simulate import Period, make_periods
from mlsteward.demo.people import (
    ADMIN,
    APPROVER,
    DEVELOPER,
    demo_lock,
    ensure_users,
    refuse_served_model,
    remember_deployment,
    token_path,
)
from mlsteward.metrics import auc as auc_of
from mlsteward.monitoring.drift.stats import psi_band
from mlsteward.retraining.approvals import ApprovalService
from mlsteward.retraining.gates import gate_tally
from mlsteward.retraining.policy import as_policy
from mlsteward.retraining.service import Retraining, RetrainingService
from mlsteward.retraining.specs import Decide, Retrain
from mlsteward.retraining.trainers import logistic_scorecard
from mlsteward.sdk import Client

__all__ = [
    "MODEL_NAME",
    "DemoPolicy",
    "DemoReport",
    "demo_lock",
    "ensure_users",
    "run_demo",
    "token_path",
]

MODEL_NAME = "credit-risk"
DEPLOYMENT = "credit-risk"

#: The demo's retraining policy: a challenger must beat the champion on the
#: newest labelled month and keep the four-fifths rule for every protected
#: group; then an approver decides. (No score-PSI gate: in a drifting
#: population the holdout's scores differ from the training population's by
#: design, which is why the challenger is needed.)
DEMO_POLICY = {
    "model": MODEL_NAME,
    "data": {
        "reference": "german-credit-train",
        "window": "3650d",
        "holdout": "newest_month",
    },
    "trainer": {"name": "logistic_scorecard"},
    "gates": {
        "auc_min_gain": 0.0,
        "auc_max_drop": None,
        "four_fifths_min": 0.8,
        "score_psi_max": None,
    },
    "promotion": {"mode": "manual"},
}
TARGET = GERMAN_CREDIT_TARGET

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoPolicy:
    """When to retrain, and when a challenger wins."""

    psi_act: float = 0.25
    auc_drop: float = 0.05
    threshold: float = 0.5
    #: Months to wait after a retraining before the next may start, so one
    #: drift episode starts one retraining.
    cooldown_periods: int = 2


_INCIDENT = {"critical", "warnings", "repeated", "summary"}


@dataclass
class PeriodResult:
    label: str
    n: int
    scored_by: str
    psi: dict[str, float]
    score_psi: float
    auc: float
    ks: float
    bad_rate: float
    triggered: list[str] = field(default_factory=list)
    estimated_auc: float | None = None
    alerts: int = 0
    incident: dict[str, Any] = field(default_factory=dict)  # the month's, summed up

    @property
    def max_feature_psi(self) -> tuple[str, float]:
        name = max(self.psi, key=lambda k: self.psi[k])
        return name, self.psi[name]

    def to_dict(self) -> dict[str, Any]:
        col, value = self.max_feature_psi
        return {
            "period": self.label,
            "n": self.n,
            "scored_by": self.scored_by,
            "max_feature_psi": {"column": col, "psi": value, "band": psi_band(value)},
            "score_psi": self.score_psi,
            "auc": self.auc,
            "ks": self.ks,
            "bad_rate": self.bad_rate,
            "triggered": self.triggered,
            "estimated_auc": self.estimated_auc,
            "alerts": self.alerts,
            "incident": self.incident,
            "psi": self.psi,
        }


@dataclass
class Decision:
    period: str
    champion: str
    challenger: str
    holdout: str
    champion_auc: float
    challenger_auc: float
    champion_ks: float
    challenger_ks: float
    promoted: bool
    reason: str
    gates: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class DemoReport:
    home: str
    champion_start: str
    baseline_auc: float
    periods: list[PeriodResult] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    champion_end: str = ""
    audit_events: int = 0
    audit_ok: bool = False
    report_path: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "champion_start": self.champion_start,
            "baseline_auc": self.baseline_auc,
            "periods": [p.to_dict() for p in self.periods],
            "decisions": [d.to_dict() for d in self.decisions],
            "champion_end": self.champion_end,
            "audit_events": self.audit_events,
            "audit_ok": self.audit_ok,
            "report": self.report_path,
        }


def _features(roles: dict[str, str]) -> list[str]:
    return [c for c, r in roles.items() if r == "feature"]


def _cv_auc(frame: pd.DataFrame, features: list[str], seed: int) -> float:
    """Five-fold cross-validated AUC: the champion's honest baseline."""
    from sklearn.model_selection import StratifiedKFold

    y = frame[TARGET].to_numpy()
    scores = np.zeros(len(frame))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    for train_idx, test_idx in folds.split(frame, y):
        part = frame.iloc[train_idx]
        model = logistic_scorecard(part, features=features, target=TARGET)
        scores[test_idx] = model.predict_proba(frame.iloc[test_idx][features])[:, 1]
    return auc_of(y, scores)


def _required(run: Any, check: str, column: str = "*") -> float:
    value = run.value(check, column)
    if value is None:
        raise RuntimeError(f"the monitor computed no {check} for {column}")
    return float(value)


def _maybe_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _fresh_deployment(client: Client) -> str:
    """``credit-risk`` on the first run in a home, ``credit-risk-2`` on the
    second...: every run's simulated months carry the same dates, so each run
    logs under its own deployment and retrains on its own history."""
    n = 1
    while not client.predictions(deployment=_deployment_name(n), limit=1).empty:
        n += 1
    return _deployment_name(n)


def _deployment_name(n: int) -> str:
    return DEPLOYMENT if n == 1 else f"{DEPLOYMENT}-{n}"


def _decide(
    client: Client,
    r: Retraining,
    say: Progress,
    label: str,
    people: dict[str, Context],
) -> Decision:
    """The approver reads the evidence and decides; gates already refused a
    challenger that failed them."""
    champ, chall = r.comparison["champion"], r.comparison["challenger"]
    if r.decision == "awaiting_approval" and r.approval_id:
        comment = (
            f"challenger AUC {chall['auc']:.3f} beats champion "
            f"{champ['auc']:.3f} on {r.holdout}; gates {gate_tally(r.gates)}"
        )
        ApprovalService(people[APPROVER]).approve(
            r.approval_id, Decide(comment=comment)
        )
        say(f"{label}: {APPROVER} approved {r.challenger} ({comment})")
        promoted, reason = True, f"approved by {APPROVER}: {comment}"
    else:
        promoted = False
        # The retraining's own reason names each failed gate and each gate
        # that could not be judged, and why.
        reason = f"challenger rejected ({gate_tally(r.gates)}): {r.reason}"
        say(f"{label}: {reason}; champion kept")
    return Decision(
        period=label,
        champion=str(r.champion),
        challenger=str(r.challenger),
        holdout=str(r.holdout),
        champion_auc=champ["auc"],
        challenger_auc=chall["auc"],
        champion_ks=champ["ks"],
        challenger_ks=chall["ks"],
        promoted=promoted,
        reason=reason,
        gates=r.gates,
    )


def _train_and_register(
    client: Client,
    frame: pd.DataFrame,
    *,
    dataset: str,
    roles: dict[str, str],
    run_name: str,
    parent_version: int | None,
    seed: int,
    description: str,
) -> tuple[Any, float, Any]:
    features = _features(roles)
    dv = client.register_dataset(
        dataset,
        frame,
        roles={**roles, "applied_at": "timestamp"},
        bands=GERMAN_CREDIT_BANDS,
        description=description,
    )
    params = {
        "trainer": "logistic_scorecard",
        "C": 1.0,
        "features": features,
        "seed": seed,
    }
    run = client.start_run(run_name, params=params, inputs=[dv.ref])
    try:
        model = logistic_scorecard(frame, features=features, target=TARGET)
        cv = _cv_auc(frame, features, seed)
        train_scores = model.predict_proba(frame[features])[:, 1]
        client.log_metrics(
            run.id,
            {
                "cv_auc": cv,
                "train_auc": auc_of(frame[TARGET], train_scores),
                "n_train": float(len(frame)),
            },
        )
        mv = client.register_model(
            MODEL_NAME,
            model,
            frame[features],
            run_id=run.id,
            parent_version=parent_version,
            description=description,
        )
        client.end_run(run.id)
    except Exception:
        client.end_run(run.id, "failed")
        raise
    client.evaluate(mv.ref, dv.ref, target=TARGET, label=f"{dv.ref} (in sample)")
    return mv, cv, dv


@dataclass(frozen=True)
class _DemoRun:
    """What every step of one demo run shares."""

    client: Client
    policy: DemoPolicy
    say: Progress
    #: The run's start time, in every request id so a second run never collides.
    run_tag: str
    features: list[str]
    deployment: str
    #: The demo's people, each a context authenticated by their token.
    people: dict[str, Context]


def run_demo(
    client: Client,
    *,
    seed: int = 7,
    n_periods: int = 6,
    rows_per_period: int = 250,
    policy: DemoPolicy | None = None,
    progress: Progress | None = None,
) -> DemoReport:
    """Run the closed loop in ``client``'s home and return what happened.

    A second run in the same home adds a new, separate history: datasets with
    the same content are the same versions, the model gets new versions, and
    request ids carry the run's start time so they never collide. Two runs at
    once in one home are refused (:func:`demo_lock`).
    """
    with demo_lock(client.ctx.settings.resolved_home()):
        return _run_demo(client, seed, n_periods, rows_per_period, policy, progress)


def _run_demo(
    client: Client,
    seed: int,
    n_periods: int,
    rows_per_period: int,
    policy: DemoPolicy | None,
    progress: Progress | None,
) -> DemoReport:
    roles = german_credit_roles()
    people = ensure_users(client)
    # The data scientist's work is dana's, through her token.
    client.login(token_path(client, DEVELOPER).read_text().strip())
    refuse_served_model(client, MODEL_NAME)
    demo = _DemoRun(
        client=client,
        policy=policy or DemoPolicy(),
        say=progress or (lambda _msg: None),
        run_tag=dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f"),
        features=_features(roles),
        deployment=_fresh_deployment(client),
        people=people,
    )
    demo.say("loading German credit and simulating later months")
    history = make_periods(
        load_german_credit(),
        n_periods=n_periods,
        rows_per_period=rows_per_period,
        seed=seed,
    )
    report = _first_champion(demo, history.train, roles, seed)
    _fresh_monitor(demo)
    baseline = report.baseline_auc
    last_retrain: int | None = None
    for i, period in enumerate(history.periods):
        result = _watch_month(demo, period, baseline)
        report.periods.append(result)
        # A retraining needs a labelled month besides the holdout (the newest).
        if not result.triggered or i == 0:
            continue
        if (
            last_retrain is not None
            and i - last_retrain <= demo.policy.cooldown_periods
        ):
            result.triggered.append("cool-down")
            continue
        last_retrain = i
        decision = _retrain(demo, period.label, result.triggered)
        report.decisions.append(decision)
        if decision.promoted:
            baseline = decision.challenger_auc
    _finish(demo, report)
    return report


def _first_champion(
    demo: _DemoRun, train: pd.DataFrame, roles: dict[str, str], seed: int
) -> DemoReport:
    """Train, register and approve the first champion; set the demo's policy."""
    client = demo.client
    demo.say("training the champion")
    champion, baseline_auc, _ = _train_and_register(
        client,
        train,
        dataset="german-credit-train",
        roles=roles,
        run_name="champion-training",
        parent_version=None,
        seed=seed,
        description="champion: logistic scorecard on the training period",
    )
    if client.get_model(MODEL_NAME).governed:
        # A later run: the model is governed, so its champion moves only
        # through an approved request (dana asks, alex decides).
        request = client.approvals.request(
            ref=champion.ref, comment="the demo's new first champion"
        )
        ApprovalService(demo.people[APPROVER]).approve(
            request.id, Decide(comment="first champion of this demo run")
        )
    else:
        client.set_alias(MODEL_NAME, "champion", champion.version)
        client.transition(
            champion.ref, "approved", reason="first champion of the demo (policy: auto)"
        )
    RetrainingService(demo.people[ADMIN]).set_policy(as_policy(DEMO_POLICY))
    return DemoReport(
        home=str(client.ctx.settings.resolved_home()),
        champion_start=champion.ref,
        baseline_auc=baseline_auc,
    )


def _fresh_monitor(demo: _DemoRun) -> None:
    """The monthly monitor of this run's deployment, created anew."""
    client, deployment = demo.client, demo.deployment
    if deployment in {m.name for m in client.list_monitors()}:
        client.delete_monitor(deployment)  # left by a run that stopped early
    client.create_monitor(
        deployment,
        deployment=deployment,
        model=MODEL_NAME,
        window="period:month",
        alerting={"sinks": ["log"]},
        description="the demo's monthly vintages against the champion's training data",
    )


def _watch_month(demo: _DemoRun, period: Period, baseline: float) -> PeriodResult:
    """Score a month with the champion, join its outcomes, run the monitor on
    it, and note what the drift policy says against AUC ``baseline``."""
    frame = period.frame.reset_index(drop=True)
    champ_ref = demo.client.get_model_version(f"{MODEL_NAME}@champion").ref
    demo.say(f"{period.label}: scoring {len(frame)} applications with {champ_ref}")
    _score_and_join(demo, period.label, frame)
    demo.say(f"{period.label}: monitor {demo.deployment} runs on the month")
    run = demo.client.run_monitor(
        demo.deployment, window=(period.start, period.end), at=period.end
    )
    found = demo.client.alerts.incidents(monitor=demo.deployment, limit=5)
    mine = [i.model_dump(include=_INCIDENT) for i in found if i.run_id == run.run_id]
    result = PeriodResult(
        label=period.label,
        n=len(frame),
        scored_by=champ_ref,
        psi={c: _required(run, "drift.psi", c) for c in demo.features},
        score_psi=_required(run, "score_drift.psi", "score"),
        auc=_required(run, "performance.auc"),
        ks=_required(run, "performance.ks"),
        bad_rate=float((run.get("performance.auc") or {})["details"]["bad_rate"]),
        estimated_auc=_maybe_float(run.value("estimated.auc")),
        alerts=len(run.alerts),
        incident=(mine or [{}])[0],
    )
    result.triggered.extend(_triggers(result, demo.policy, baseline))
    return result


def _score_and_join(demo: _DemoRun, label: str, frame: pd.DataFrame) -> None:
    """Score ``frame`` through the champion, logging every prediction, then
    load its true outcomes as observed 90 days after each application."""
    ids = [f"{demo.run_tag}-{label}-{j:04d}" for j in range(len(frame))]
    times = [t.to_pydatetime() for t in pd.to_datetime(frame["applied_at"], utc=True)]
    demo.client.score(
        f"{MODEL_NAME}@champion",
        frame,
        deployment=demo.deployment,
        threshold=demo.policy.threshold,
        request_ids=ids,
        timestamps=times,
        log_columns=[*GERMAN_CREDIT_PROTECTED, "application_id"],
    )
    demo.say(f"{label}: outcomes mature and are joined back")
    demo.client.load_outcomes(
        pd.DataFrame(
            {
                "request_id": ids,
                "label": frame[TARGET].to_numpy(),
                "observed_at": [t + dt.timedelta(days=90) for t in times],
            }
        )
    )


def _triggers(result: PeriodResult, policy: DemoPolicy, baseline: float) -> list[str]:
    """Why the drift policy asks for a retraining after this month, if it does."""
    reasons = []
    drifted = [c for c, v in result.psi.items() if v > policy.psi_act]
    if drifted:
        reasons.append(f"PSI>{policy.psi_act}: {', '.join(drifted)}")
    if result.score_psi > policy.psi_act:
        reasons.append(f"score PSI>{policy.psi_act}")
    if baseline - result.auc > policy.auc_drop:
        reasons.append(f"AUC -{baseline - result.auc:.3f} vs {baseline:.3f}")
    return reasons


def _retrain(demo: _DemoRun, label: str, reasons: list[str]) -> Decision:
    """The developer asks for a retraining; the approver decides on it."""
    demo.say(f"{label}: drift policy triggered; {DEVELOPER} asks for a retraining")
    retraining = RetrainingService(demo.client.ctx).retrain(
        MODEL_NAME,
        Retrain(deployment=demo.deployment),
        trigger={"kind": "demo-monitor", "period": label, "reasons": reasons},
    )
    return _decide(demo.client, retraining, demo.say, label, demo.people)


def _finish(demo: _DemoRun, report: DemoReport) -> None:
    """Write the final champion's documentation and verify the audit chain."""
    client = demo.client
    report.champion_end = client.get_model_version(f"{MODEL_NAME}@champion").ref
    if demo.deployment not in {d.name for d in client.list_deployments()}:
        # The endpoint `mlsteward server` serves and the dashboard shows; its
        # champion route follows the champion alias from here on.
        client.create_deployment(demo.deployment, f"{MODEL_NAME}@champion")
        remember_deployment(client.ctx.settings.resolved_home(), demo.deployment)
    demo.say(f"writing the model documentation of {report.champion_end}")
    home = client.ctx.settings.resolved_home()
    written = client.write_report(
        report.champion_end,
        home / f"{report.champion_end.replace('/', '-')}-report.html",
    )
    report.report_path = str(written.html)
    chain = client.verify_audit()
    report.audit_events, report.audit_ok = chain.events, chain.ok
