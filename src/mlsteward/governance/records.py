"""Audit trail reading and verification, comments, lineage, retention."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from mlsteward.context import Context
from mlsteward.errors import InvalidInput, NotFound
from mlsteward.governance.specs import COMMENTABLE, ApplyRetention, Comment
from mlsteward.identity.access import use_case
from mlsteward.names import parse_ref
from mlsteward.registry.evaluation import EvaluationService
from mlsteward.registry.models import Evaluation, ModelVersion, Run
from mlsteward.registry.runs import RunService
from mlsteward.registry.service import ModelRegistry
from mlsteward.results import Result
from mlsteward.store import audit, utcnow
from mlsteward.store.audit import AuditEvent, ChainHead, ChainReport

__all__ = [
    "COMMENTABLE",
    "MIN_PREDICTION_RETENTION_DAYS",
    "AuditService",
    "Lineage",
    "LineageDataset",
    "LineageService",
    "RetentionService",
]

#: EU AI Act Art. 19 and 26(6): automatically generated logs of a high-risk
#: system are kept for at least six months.
MIN_PREDICTION_RETENTION_DAYS = 183


class AuditService:
    """Read, filter and verify the audit chain; comment on objects."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @use_case("audit.log", "viewer")
    def log(
        self,
        *,
        object_id: str | None = None,
        object_type: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        """The newest ``limit`` audit events that pass every filter, oldest
        first; the filters are those of :func:`~mlsteward.store.audit.list_events`.

        Example:
            >>> AuditService(ctx).log(action="alias.", limit=10)  # doctest: +SKIP
            [AuditEvent(seq=7, ...)]
        """
        with self.ctx.store.read() as session:
            return audit.list_events(
                session,
                object_id=object_id,
                object_type=object_type,
                actor=actor,
                action=action,
                since=since,
                until=until,
                limit=limit,
            )

    @use_case("audit.head", "viewer")
    def head(self) -> ChainHead:
        """The newest event's number and hash: keep a copy outside the
        database, and check the chain against it with ``verify(expect_head=)``.

        Example:
            >>> str(AuditService(ctx).head())  # doctest: +SKIP
            '42:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'
        """
        return audit.read_head(self.ctx.store)

    @use_case("audit.verify", "viewer")
    def verify(self, *, expect_head: ChainHead | str | None = None) -> ChainReport:
        """Recompute the chain, check the HMACs where ``MLSTEWARD_AUDIT_KEY`` is
        set, and, given ``expect_head`` (``SEQ:HASH`` from :meth:`head`, kept
        elsewhere), check the chain still reaches that event with that hash.

        Without ``expect_head`` a cut tail (with the head row moved back) goes
        unseen; without the key, a history rewritten with recomputed hashes
        does too. The report's ``head`` is the one to keep next.

        Raises:
            InvalidInput: ``expect_head`` is not ``SEQ:HASH``.

        Example:
            >>> AuditService(ctx).verify(expect_head="42:9f86...").ok  # doctest: +SKIP
            True
        """
        expected = (
            ChainHead.parse(expect_head)
            if isinstance(expect_head, str)
            else expect_head
        )
        with self.ctx.store.read() as session:
            return audit.chain_report(session, expect_head=expected)

    @use_case("audit.comment", "developer")
    def comment(self, spec: Comment) -> AuditEvent:
        """Attach a comment to an object; comments are audit events.

        Example:
            >>> svc.comment(Comment(object_type="model_version",
            ...     object_id="credit-risk/3", text="checked"))  # doctest: +SKIP
        """
        object_type, object_id, text = spec.object_type, spec.object_id, spec.text
        if object_type == "model_version":
            ModelRegistry(self.ctx).get(object_id)  # must exist
        with self.ctx.store.unit_of_work() as session:
            return audit.record(
                session,
                actor=self.ctx.actor,
                action="comment.added",
                object_type=object_type,
                object_id=object_id,
                details={"text": text},
            )

    @use_case("audit.comments", "viewer")
    def comments(self, object_id: str) -> list[AuditEvent]:
        return self.log(object_id=object_id, action="comment.")


class LineageDataset(Result):
    """A dataset version a run read, and in what role (``train``, ``test``)."""

    ref: str
    sha256: str
    n_rows: int
    context: str


class Lineage(Result):
    """Everything that made or touched a model version."""

    ref: str
    version: ModelVersion
    run: Run | None
    datasets: list[LineageDataset]
    parents: list[str]
    evaluations: list[Evaluation]
    events: list[AuditEvent]
    related: dict[str, list[AuditEvent]] = Field(default_factory=dict)


class LineageService:
    """Datasets, run, parent versions, evaluations and events of a version."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @use_case("models.lineage", "viewer")
    def lineage(self, ref: str) -> Lineage:
        registry = ModelRegistry(self.ctx)
        mv = registry.get(ref)
        run = RunService(self.ctx).get(mv.run_id) if mv.run_id else None
        datasets: list[LineageDataset] = []
        if run is not None:
            from mlsteward.datasets.service import DatasetService

            ds = DatasetService(self.ctx)
            for item in run.inputs:
                dv = ds.get(item["dataset"])
                datasets.append(
                    LineageDataset(
                        ref=dv.ref,
                        sha256=dv.sha256,
                        n_rows=dv.n_rows,
                        context=item["context"],
                    )
                )
        parents: list[str] = []
        current = mv
        seen = {mv.version}
        while current.parent_version is not None and current.parent_version not in seen:
            seen.add(current.parent_version)
            current = registry.get(f"{mv.name}/{current.parent_version}")
            parents.append(current.ref)
        evaluations = EvaluationService(self.ctx).list(mv.ref)
        audit_svc = AuditService(self.ctx)
        events = audit_svc.log(object_id=mv.ref)
        related: dict[str, list[AuditEvent]] = {}
        # Deployments, approvals, monitors and alerts record the version's ref
        # in their audit details; collect those events by kind.
        for e in audit_svc.log(limit=100_000):
            if e.object_id == mv.ref:
                continue
            if mv.ref in _refs_in(e.details):
                related.setdefault(e.object_type, []).append(e)
        return Lineage(
            ref=mv.ref,
            version=mv,
            run=run,
            datasets=datasets,
            parents=parents,
            evaluations=evaluations,
            events=events,
            related=related,
        )


def _refs_in(details: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(details, dict):
        for v in details.values():
            out |= _refs_in(v)
    elif isinstance(details, list):
        for v in details:
            out |= _refs_in(v)
    elif isinstance(details, str):
        out.add(details)
    return out


class RetentionService:
    """Delete prediction records past their retention, never the audit chain."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @use_case("retention.apply", "admin")
    def apply(self, spec: ApplyRetention) -> dict[str, Any]:
        """Delete (or with ``dry_run`` count) prediction records older than
        ``spec.days`` days, with their outcomes, in one transaction."""
        days, dry_run = spec.days, spec.dry_run
        if days < MIN_PREDICTION_RETENTION_DAYS:
            raise InvalidInput(
                f"prediction records must be kept at least "
                f"{MIN_PREDICTION_RETENTION_DAYS} days (EU AI Act: six months of "
                f"automatic logs); got {days}",
                field="days",
            )
        from mlsteward.monitoring.outcomes import OutcomeService
        from mlsteward.serving.log.service import PredictionLog

        log = PredictionLog(self.ctx)
        cutoff = utcnow() - dt.timedelta(days=days)
        # One transaction: outcomes refer to the records, so both go together.
        with self.ctx.store.unit_of_work() as session:
            old_ids = log.older_than(cutoff, session=session)
            n = len(old_ids)
            if not dry_run and n:
                OutcomeService(self.ctx).forget(old_ids, session=session)
                log.delete_older_than(cutoff, session=session)
                audit.record(
                    session,
                    actor=self.ctx.actor,
                    action="retention.applied",
                    object_type="predictions",
                    object_id="predictions",
                    details={"days": days, "cutoff": cutoff.isoformat(), "deleted": n},
                )
        return {
            "cutoff": cutoff.isoformat(),
            "days": days,
            "deleted": 0 if dry_run else n,
            "would_delete": n,
        }


def parse_object(ref: str) -> tuple[str, str]:
    """``credit-risk/3`` is a model version; ``kind:id`` names any object."""
    if ":" in ref:
        kind, _, oid = ref.partition(":")
        return kind, oid
    r = parse_ref(ref, "object")
    if r.version is None:
        raise NotFound(f"{ref!r}: give a version (name/N) or kind:id", field="object")
    return "model_version", str(r)
