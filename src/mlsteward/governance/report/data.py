"""The figures of a model report: lineage, evaluations, groups, stability,
explanations and changes, computed from the registry and the datasets.

Figures are recomputed from the stored artifacts (each load verifies its
sha256), never copied from a notebook: per-group metrics from the evaluation
dataset scored by the version itself, stability from the training profile,
reason-code frequencies with the same :class:`Explainer` serving uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlsteward import metrics as m
from mlsteward.context import Context
from mlsteward.datasets.models import DatasetVersion
from mlsteward.datasets.profile import compute_profile
from mlsteward.datasets.service import DatasetService
from mlsteward.errors import MlstewardError
from mlsteward.explain.explainer import Explainer
from mlsteward.governance.report.records import jsonable
from mlsteward.monitoring.drift.stats import column_psi, psi_band
from mlsteward.monitoring.fairness import group_order, group_values
from mlsteward.registry.evaluation import EvaluationService, binary_labels
from mlsteward.registry.models import Evaluation, ModelVersion
from mlsteward.registry.runs import RunService
from mlsteward.registry.service import LoadedModel, ModelRegistry

__all__ = [
    "MIN_GROUP",
    "ReportSources",
    "changes",
    "dataset_row",
    "evaluations",
    "explanations",
    "groups",
    "lineage",
    "stability",
]

#: Groups smaller than this are shown but left out of the approval ratio.
MIN_GROUP = 30
#: Declined applications whose reasons are tallied (highest scores first).
_REASON_SAMPLE = 200
_METRICS = ("auc", "gini", "ks", "brier", "log_loss", "approval_rate", "bad_rate")


@dataclass
class ReportSources:
    """The services a report reads, with loaded tables and models cached."""

    ctx: Context
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    _datasets: dict[str, DatasetVersion] = field(default_factory=dict)
    _models: dict[str, LoadedModel] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.registry = ModelRegistry(self.ctx)
        self.dataset_service = DatasetService(self.ctx)
        self.evaluation_service = EvaluationService(self.ctx)
        self.runs = RunService(self.ctx)

    def dataset(self, ref: str) -> DatasetVersion:
        if ref not in self._datasets:
            self._datasets[ref] = self.dataset_service.get(ref)
        return self._datasets[ref]

    def frame(self, ref: str) -> pd.DataFrame:
        if ref not in self._frames:
            self._frames[ref] = self.dataset_service.load(ref)
        return self._frames[ref]

    def model(self, ref: str) -> LoadedModel:
        if ref not in self._models:
            self._models[ref] = self.registry.load(ref)
        return self._models[ref]


def dataset_row(dv: DatasetVersion, context: str) -> dict[str, Any]:
    roles: dict[str, list[str]] = {}
    for c in dv.columns:
        roles.setdefault(c.role, []).append(c.name)
    return {
        "ref": dv.ref,
        "context": context,
        "sha256": dv.sha256,
        "n_rows": dv.n_rows,
        "n_columns": dv.n_columns,
        "roles": roles,
        "description": dv.description,
        "created_at": dv.created_at.isoformat(),
        "created_by": dv.created_by,
    }


def lineage(src: ReportSources, mv: ModelVersion) -> dict[str, Any]:
    """The run that trained the version and the datasets it read."""
    run = src.runs.get(mv.run_id) if mv.run_id else None
    datasets = []
    training: list[str] = []
    for item in run.inputs if run else []:
        dv = src.dataset(item["dataset"])
        datasets.append(dataset_row(dv, item["context"]))
        if item["context"] == "training":
            training.append(dv.ref)
    if run and not training and run.inputs:
        training.append(run.inputs[0]["dataset"])
    return {
        "run": jsonable(run.to_dict()) if run else None,
        "datasets": datasets,
        "training_refs": training,
    }


def evaluations(
    src: ReportSources, evals: list[Evaluation], training_refs: list[str]
) -> list[dict[str, Any]]:
    """Every stored evaluation, with its calibration by score band."""
    out = []
    for e in evals:
        metrics = {k: e.metrics.get(k) for k in (*_METRICS, "n", "n_bad", "tpr", "fpr")}
        dataset = src.dataset(e.dataset) if e.dataset else None
        out.append(
            jsonable(
                {
                    "id": e.id,
                    "label": e.label,
                    "dataset": e.dataset,
                    "sha256": dataset.sha256 if dataset else None,
                    "in_sample": e.dataset in training_refs,
                    "threshold": e.threshold,
                    "created_at": e.created_at,
                    "created_by": e.created_by,
                    "metrics": metrics,
                    "calibration": e.metrics.get("calibration") or [],
                }
            )
        )
    return out


def _latest_per_dataset(evals: list[Evaluation]) -> list[Evaluation]:
    latest: dict[str, Evaluation] = {}
    for e in evals:
        if e.dataset:
            latest[e.dataset] = e  # evals are in time order: the last wins
    return list(latest.values())


def _scored(
    src: ReportSources, mv: ModelVersion, ref: str
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    frame = src.frame(ref)
    scores = src.model(mv.ref).predict_proba(frame)
    target = src.dataset(ref).target
    y = (
        binary_labels(frame[target], target)
        if target and target in frame.columns
        else None
    )
    return frame, scores, y


def groups(
    src: ReportSources, mv: ModelVersion, evals: list[Evaluation]
) -> list[dict[str, Any]]:
    """Accuracy and approval rates by protected group, per evaluation dataset
    that has protected columns (latest evaluation of each dataset)."""
    out = []
    for e in _latest_per_dataset(evals):
        assert e.dataset is not None
        protected = src.dataset(e.dataset).columns_with_role("protected")
        if not protected:
            continue
        frame, scores, y = _scored(src, mv, e.dataset)
        approved = scores < e.threshold
        for column in protected:
            # The groups the promotion gate judges: one answer for both.
            cuts = src.dataset(e.dataset).bands_of(column)
            labels = group_values(frame[column], cuts)
            order = group_order(list(labels.unique()), cuts)
            rows: list[dict[str, Any]] = []
            for g in order:
                idx = (labels == g).to_numpy()
                n = int(idx.sum())
                yy = y[idx] if y is not None else None
                n_bad = int(yy.sum()) if yy is not None else None
                goods = (yy == 0) if yy is not None else None
                rows.append(
                    {
                        "group": str(g),
                        "n": n,
                        "n_bad": n_bad,
                        "bad_rate": n_bad / n if n_bad is not None and n else None,
                        "mean_score": float(scores[idx].mean()),
                        "approval_rate": float(approved[idx].mean()),
                        "approval_rate_goods": float(approved[idx][goods].mean())
                        if goods is not None and goods.any()
                        else None,
                        "auc": m.auc(yy, scores[idx])
                        if yy is not None and n_bad is not None and 0 < n_bad < n
                        else None,
                        "small": n < MIN_GROUP,
                    }
                )
            judged = [float(r["approval_rate"]) for r in rows if not r["small"]]
            ratio = None
            if len(judged) >= 2:
                ratio = 1.0 if max(judged) == 0 else min(judged) / max(judged)
            out.append(
                jsonable(
                    {
                        "dataset": e.dataset,
                        "label": e.label,
                        "threshold": e.threshold,
                        "column": column,
                        "groups": rows,
                        "approval_ratio": ratio,
                        "four_fifths_ok": None if ratio is None else ratio >= 0.8,
                    }
                )
            )
    return out


def stability(
    src: ReportSources,
    mv: ModelVersion,
    evals: list[Evaluation],
    training_refs: list[str],
) -> dict[str, Any]:
    """PSI of the score and CSI of every input on each later evaluation
    dataset, against the training data's profile (its deciles)."""
    if not training_refs:
        return {"reference": None, "rows": []}
    ref = training_refs[0]
    profile = src.dataset(ref).profile.get("columns", {})
    features = [f for f in mv.signature.feature_names if f in profile]
    train_scores = src.model(mv.ref).predict_proba(src.frame(ref))
    score_profile = compute_profile(
        pd.DataFrame({"score": train_scores}), {"score": "numeric"}
    )["columns"]["score"]
    rows = []
    for e in _latest_per_dataset(evals):
        assert e.dataset is not None
        if e.dataset in training_refs:
            continue
        frame = src.frame(e.dataset)
        scores = src.model(mv.ref).predict_proba(frame)
        score_psi = column_psi(score_profile, scores)
        values = {f: column_psi(profile[f], frame[f]) for f in features if f in frame}
        csi = [
            {"name": f, "psi": v, "band": psi_band(v)}
            for f, v in sorted(values.items(), key=lambda kv: -kv[1])
        ]
        rows.append(
            {
                "dataset": e.dataset,
                "label": e.label,
                "n_rows": len(frame),
                "score_psi": score_psi,
                "score_band": psi_band(score_psi),
                "features": csi,
            }
        )
    return jsonable({"reference": ref, "features": features, "rows": rows})


def explanations(
    src: ReportSources,
    mv: ModelVersion,
    evals: list[Evaluation],
    training_refs: list[str],
) -> dict[str, Any]:
    """How reason codes are produced for this version, and which reasons the
    declined applications of its latest out-of-sample evaluation get."""
    loaded = src.model(mv.ref)
    reference = src.frame(training_refs[0]) if training_refs else None
    try:
        explainer = Explainer(loaded, reference=reference).fit()
    except MlstewardError as exc:
        return {"method": None, "note": exc.message, "reasons": []}
    out: dict[str, Any] = {
        "method": explainer.method_,
        "additive": explainer.method_ != "occlusion",
        "reference": training_refs[0] if training_refs else None,
        "reasons": [],
        "dataset": None,
    }
    later = [e for e in _latest_per_dataset(evals) if e.dataset not in training_refs]
    target = later[-1] if later else None
    if target is None or target.dataset is None:
        return out
    frame, scores, _ = _scored(src, mv, target.dataset)
    declined = np.flatnonzero(scores >= target.threshold)
    order = declined[np.argsort(-scores[declined], kind="stable")][:_REASON_SAMPLE]
    out["dataset"] = target.dataset
    out["n_declined"] = int(declined.size)
    out["n_explained"] = int(order.size)
    if not order.size:
        return out
    lists = explainer.explain(frame.iloc[order])
    counts: dict[str, dict[str, Any]] = {}
    for reasons in lists:
        for rank, r in enumerate(reasons):
            c = counts.setdefault(
                r.code, {"code": r.code, "feature": r.feature, "n": 0, "first": 0}
            )
            c["n"] += 1
            c["first"] += rank == 0
    table = sorted(counts.values(), key=lambda c: (-c["n"], c["code"]))
    for c in table:
        c["share"] = c["n"] / order.size
    out["reasons"] = table
    out["example"] = [r.to_dict() for r in lists[0]]
    out["example_score"] = float(scores[order[0]])
    return jsonable(out)


def changes(src: ReportSources, mv: ModelVersion) -> dict[str, Any]:
    """What changed since the parent version: inputs, flavor, training data,
    parameters, run metrics and evaluation figures on shared datasets."""
    if mv.parent_version is None:
        return {"parent": None}
    parent = src.registry.get(f"{mv.name}/{mv.parent_version}")
    before = {c["name"]: c for c in parent.signature.inputs}
    after = {c["name"]: c for c in mv.signature.inputs}
    changed = [
        {
            "name": n,
            "before": f"{before[n]['kind']} {before[n]['dtype']}",
            "after": f"{after[n]['kind']} {after[n]['dtype']}",
        }
        for n in after
        if n in before
        and (before[n]["kind"], before[n]["dtype"])
        != (after[n]["kind"], after[n]["dtype"])
    ]
    run_now = src.runs.get(mv.run_id) if mv.run_id else None
    run_then = src.runs.get(parent.run_id) if parent.run_id else None
    params, run_metrics = [], []
    if run_now and run_then:
        for k in sorted(set(run_now.params) | set(run_then.params)):
            a, b = run_then.params.get(k), run_now.params.get(k)
            if a != b:
                params.append({"name": k, "before": a, "after": b})
        for k in sorted(set(run_now.metrics) & set(run_then.metrics)):
            a, b = run_then.metrics[k], run_now.metrics[k]
            run_metrics.append({"name": k, "before": a, "after": b, "delta": b - a})
    mine = {
        e.dataset: e for e in _latest_per_dataset(src.evaluation_service.list(mv.ref))
    }
    theirs = {
        e.dataset: e
        for e in _latest_per_dataset(src.evaluation_service.list(parent.ref))
    }
    shared = []
    for ds in sorted(set(mine) & set(theirs), key=str):
        rows = []
        for k in _METRICS:
            a, b = theirs[ds].metrics.get(k), mine[ds].metrics.get(k)
            if isinstance(a, (int, float)) and isinstance(b, (int, float)):
                rows.append({"name": k, "before": a, "after": b, "delta": b - a})
        shared.append({"dataset": ds, "metrics": rows})
    return jsonable(
        {
            "parent": parent.ref,
            "parent_state": parent.state,
            "parent_created_at": parent.created_at,
            "flavor": None
            if parent.flavor == mv.flavor
            else {"before": parent.flavor, "after": mv.flavor},
            "inputs_added": [n for n in after if n not in before],
            "inputs_removed": [n for n in before if n not in after],
            "inputs_changed": changed,
            "training_before": [
                i["dataset"] for i in (run_then.inputs if run_then else [])
            ],
            "training_after": [
                i["dataset"] for i in (run_now.inputs if run_now else [])
            ],
            "params": params,
            "run_metrics": run_metrics,
            "evaluations": shared,
        }
    )
