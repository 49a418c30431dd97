"""Monitor use cases: create, list, get, delete, run, run those due, results.

A monitor watches one deployment's prediction log. ``run`` computes its
windows (see :mod:`mlsteward.monitoring.windows`), reads each window's
predictions with the outcomes that have arrived, resolves the reference
(:mod:`mlsteward.monitoring.reference`), runs every check
(:mod:`mlsteward.monitoring.runner`), and in one transaction stores the
results, raises alerts and writes the audit event; then it delivers pending
alerts. The CLI, REST, the scheduler and ``monitor_run`` jobs call ``run``.

Example:
    >>> svc = MonitorService(ctx)  # doctest: +SKIP
    >>> svc.create(CreateMonitor(name="cr", deployment="cr"))  # doctest: +SKIP
    >>> run = svc.run("cr", RunMonitor(start=start, end=end))  # doctest: +SKIP
    >>> run.value("performance.auc"), run.value("estimated.auc")  # doctest: +SKIP
"""

from __future__ import annotations

import builtins
import datetime as dt
import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from mlsteward.context import Context
from mlsteward.datasets.models import ColumnRole, DatasetVersion
from mlsteward.datasets.service import DatasetService
from mlsteward.durations import parse_schedule
from mlsteward.errors import Conflict, InvalidInput, MlstewardError, NotFound
from mlsteward.identity.access import internal, use_case
from mlsteward.monitoring.alerts import AlertService
from mlsteward.monitoring.known import require_known
from mlsteward.monitoring.models import RESULT_COLUMNS, Monitor, MonitorRun, Window
from mlsteward.monitoring.outcomes import OutcomeService
from mlsteward.monitoring.reference import ReferenceResolver, training_dataset
from mlsteward.monitoring.runner import compute_window
from mlsteward.monitoring.spec import Checks, fix_columns
from mlsteward.monitoring.specs import CreateMonitor, RunMonitor
from mlsteward.monitoring.stored import (
    AlreadyRan,
    newest_rows,
    ran_already,
    stored_rows,
)
from mlsteward.monitoring.tables import monitor_results as rt
from mlsteward.monitoring.tables import monitors as mt
from mlsteward.monitoring.windows import as_utc, plan_windows
from mlsteward.names import parse_ref
from mlsteward.registry.models import ModelVersion
from mlsteward.registry.service import ModelRegistry
from mlsteward.results import frame_of
from mlsteward.serving.log.service import PredictionLog
from mlsteward.store import audit, like_escape, utcnow

__all__ = ["MonitorService"]

logger = logging.getLogger("mlsteward.monitoring")


def _row_to_monitor(r: Any) -> Monitor:
    return Monitor(
        id=r.id,
        name=r.name,
        deployment=r.deployment,
        model=r.model,
        schedule=r.schedule,
        window=dict(r.window),
        reference=r.reference,
        checks=dict(r.checks),
        alerting=dict(r.alerting),
        routes=list(r.routes),
        description=r.description,
        enabled=bool(r.enabled),
        created_at=r.created_at,
        created_by=r.created_by,
        updated_at=r.updated_at,
        last_run_at=r.last_run_at,
        next_run_at=r.next_run_at,
        state=dict(r.state or {}),
    )


class MonitorService:
    """Monitors of deployments: definitions, runs, results."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- definitions ------------------------------------------------------
    @use_case("monitors.create", "developer")
    def create(self, spec: CreateMonitor) -> Monitor:
        """Create a monitor; its drift methods are fixed here, from the reference.

        Args:
            spec: What to watch and how
                (:class:`~mlsteward.monitoring.specs.CreateMonitor`, already
                validated): window, checks, alerting, schedule, reference.

        Raises:
            InvalidInput: The reference lacks the model's inputs, or a drift
                method does not suit its column (named).
            NotFound: Unknown model or dataset.
            Conflict: A monitor of that name exists.

        Example:
            >>> svc.create(CreateMonitor(name="cr", deployment="credit-risk"))
            ... # doctest: +SKIP
        """
        sched = parse_schedule(spec.schedule)
        cfg = spec.checks.stored()
        if spec.methods:
            cfg["drift"]["methods"] = {**cfg["drift"]["methods"], **spec.methods}
        model_ref = spec.model or self._model_of(spec.deployment)
        version = self._version_for(model_ref)
        dataset = self._reference_dataset(spec.reference, version)
        protected = dataset.columns_with_role(ColumnRole.PROTECTED)
        fix_columns(
            cfg,
            profile=dataset.profile,
            features=version.signature.feature_names,
            protected=protected,
            where=f"the reference {dataset.ref}",
            bands={c: dataset.bands_of(c) for c in protected},
        )
        now = utcnow()
        values = {
            "id": uuid.uuid4().hex,
            "name": spec.name,
            "deployment": spec.deployment,
            "model": parse_ref(model_ref, "model").name,
            "schedule": sched.text,
            "window": spec.window.canonical(),
            "reference": "champion" if spec.reference == "champion" else dataset.ref,
            "checks": cfg,
            "alerting": spec.alerting.stored(
                default_cooldown=self.ctx.settings.alert_cooldown_seconds
            ),
            "routes": list(spec.routes),
            "description": spec.description,
            "enabled": True,
            "created_at": now,
            "created_by": self.ctx.actor,
            "updated_at": now,
            "last_run_at": None,
            "next_run_at": now if sched.interval is not None else sched.next_after(now),
            "state": {
                "reference_at_creation": dataset.ref,
                "model_version_at_creation": version.ref,
            },
        }
        return self._insert(values)

    def _insert(self, values: dict[str, Any]) -> Monitor:
        """Store a new monitor row and its audit event, in one transaction."""
        name = values["name"]
        with self.ctx.store.unit_of_work() as session:
            clash = session.execute(select(mt.c.id).where(mt.c.name == name)).first()
            if clash is not None:
                raise Conflict(
                    f"monitor {name!r} already exists; delete it first or choose "
                    "another name",
                    field="name",
                )
            session.execute(mt.insert().values(**values))
            checks = values["checks"]
            audit.record(
                session,
                actor=self.ctx.actor,
                action="monitor.created",
                object_type="monitor",
                object_id=name,
                details={
                    **{
                        k: values[k] for k in ("id", "deployment", "model", "reference")
                    },
                    "reference_dataset": values["state"]["reference_at_creation"],
                    "schedule": values["schedule"],
                    "window": values["window"],
                    "checks": sorted(checks),
                    "drift_methods": checks.get("drift", {}).get("methods"),
                },
            )
            return _row_to_monitor(
                session.execute(select(mt).where(mt.c.id == values["id"])).one()
            )

    @use_case("monitors.get", "viewer")
    def get(self, name: str) -> Monitor:
        with self.ctx.store.read() as session:
            row = session.execute(select(mt).where(mt.c.name == name)).first()
            if row is None:
                known = list(
                    session.execute(select(mt.c.name).order_by(mt.c.name).limit(20))
                    .scalars()
                    .all()
                )
                raise NotFound(
                    f"monitor {name!r} not found; known monitors: {known or 'none'}",
                    field="monitor",
                )
            return _row_to_monitor(row)

    @use_case("monitors.list", "viewer")
    def list(self, *, deployment: str | None = None) -> builtins.list[Monitor]:
        q = select(mt).order_by(mt.c.name)
        if deployment is not None:
            q = q.where(mt.c.deployment == deployment)
        with self.ctx.store.read() as session:
            return [_row_to_monitor(r) for r in session.execute(q)]

    @internal("a policy names the monitors that trigger it")
    def names(self, *, session: Session | None = None) -> builtins.list[str]:
        with self.ctx.store.within(session) as s:
            return list(s.execute(select(mt.c.name).order_by(mt.c.name)).scalars())

    @internal("read by the model report and retraining")
    def of_model(self, model: str) -> builtins.list[Monitor]:
        """Monitors of ``model``, whichever of its versions or aliases they
        name (``credit-risk``, ``credit-risk@champion``, ``credit-risk/3``).

        Example:
            >>> [m.name for m in MonitorService(ctx).of_model("cr")]  # doctest: +SKIP
            ['cr-drift']
        """
        name = like_escape(model)
        q = select(mt).where(
            or_(
                mt.c.model == model,
                mt.c.model.like(f"{name}@%", escape="\\"),
                mt.c.model.like(f"{name}/%", escape="\\"),
            )
        )
        with self.ctx.store.read() as session:
            return [_row_to_monitor(r) for r in session.execute(q)]

    @use_case("monitors.delete", "developer")
    def delete(self, name: str) -> None:
        """Delete a monitor's definition; its results and alerts are kept."""
        monitor = self.get(name)
        with self.ctx.store.unit_of_work() as session:
            gone = session.execute(delete(mt).where(mt.c.id == monitor.id))
            if gone.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFound(f"monitor {name!r} not found", field="monitor")
            audit.record(
                session,
                actor=self.ctx.actor,
                action="monitor.deleted",
                object_type="monitor",
                object_id=name,
                details={"id": monitor.id},
            )

    # -- running ----------------------------------------------------------
    @use_case("monitors.run", "developer")
    def run(
        self,
        name: str,
        spec: RunMonitor | None = None,
        *,
        deliver: bool = True,
        run_id: str | None = None,
    ) -> MonitorRun:
        """Run every check of a monitor now and store the results.

        Args:
            name: The monitor.
            spec: An explicit window and the run's time
                (:class:`~mlsteward.monitoring.specs.RunMonitor`).
            deliver: Deliver pending alerts after the run.
            run_id: A job passes its id: a retry of a run that committed
                raises :class:`AlreadyRan` instead of storing it twice.

        Returns:
            The :class:`~mlsteward.monitoring.models.MonitorRun`.
        """
        spec = spec or RunMonitor()
        monitor = self.get(name)
        at = as_utc(spec.at, "at") if spec.at is not None else utcnow()
        keyed, run_id = run_id is not None, run_id or uuid.uuid4().hex
        state = dict(monitor.state)
        computed_at = utcnow()
        windows, rows = self._compute(monitor, spec.window, at, state)
        for row in rows:
            row.update(run_id=run_id, computed_at=computed_at)
        alerts = AlertService(self.ctx)
        with self.ctx.store.unit_of_work() as session:
            if keyed and ran_already(session, monitor.name, run_id):
                raise AlreadyRan(f"run {run_id} of {name} is stored", field="run_id")
            if rows:
                session.execute(
                    rt.insert(), [{**r, "monitor_id": monitor.id} for r in rows]
                )
            touched = alerts.raise_alerts(
                session, monitor=monitor, run_id=run_id, rows=rows, at=at
            )
            session.execute(
                update(mt)
                .where(mt.c.id == monitor.id)
                .values(last_run_at=computed_at, state=state)
            )
            statuses = dict(Counter(r["status"] for r in rows))
            audit.record(
                session,
                actor=self.ctx.actor,
                action="monitor.ran",
                object_type="monitor",
                object_id=monitor.name,
                details={
                    "run_id": run_id,
                    "at": at.isoformat(),
                    "windows": [w.label for w in windows],
                    "statuses": statuses,
                    "alerts": len(set(touched)),
                },
            )
        if deliver:
            alerts.deliver_pending()
        raised = [alerts.get(i) for i in dict.fromkeys(touched)]
        return MonitorRun(
            run_id=run_id,
            monitor=monitor.name,
            at=at,
            windows=windows,
            results=rows,
            alerts=raised,
        )

    def _compute(
        self,
        monitor: Monitor,
        explicit: tuple[dt.datetime, dt.datetime] | None,
        at: dt.datetime,
        state: dict[str, Any],
    ) -> tuple[builtins.list[Window], builtins.list[dict[str, Any]]]:
        """Every check on every window of a run: the windows and result rows
        (``run_id`` and ``computed_at`` are the caller's to add). ``state``
        takes what the reference resolver learns."""
        checks = Checks.load(monitor.checks)
        resolver = ReferenceResolver(
            self.ctx,
            model=monitor.model,
            reference=monitor.reference,
            checks=monitor.checks,
            state=state,
        )
        history = self._volume_history(monitor)
        rows: list[dict[str, Any]] = []
        windows: list[Window] = []
        for win, frame in self._windows(monitor, explicit, at):
            windows.append(win)
            versions: Any = frame["model_version"] if len(frame) else []
            ref = resolver.resolve(versions)
            before = [h for w, h in history if w < win.start]
            results = compute_window(
                checks, win, frame, ref, at=at, volume_history=before[::-1]
            )
            for res in results:
                d = res.to_dict()
                d["details"].setdefault("reference", ref.to_dict())
                rows.append(
                    {
                        "monitor": monitor.name,
                        **{k: d[k] for k in ("check", "column", "value", "status")},
                        "details": d["details"],
                        "window_start": win.start,
                        "window_end": win.end,
                        "window_label": win.label,
                    }
                )
                if res.check == "quality.volume" and res.value is not None:
                    history = [h for h in history if h[0] != win.start]
                    history.append((win.start, res.value))
                    history.sort(key=lambda h: h[0])
        return windows, rows

    @internal("the scheduler")
    def claim_due(
        self, *, now: dt.datetime | None = None
    ) -> builtins.list[tuple[str, dt.datetime]]:
        """Claim every enabled monitor whose next run time has come: move its
        next run time forward with a conditional update, so two schedulers
        never claim one monitor twice for one due time. Returns ``(name, the
        due time claimed)``."""
        now = as_utc(now, "now") if now is not None else utcnow()
        with self.ctx.store.read() as session:
            due = session.execute(
                select(mt.c.id, mt.c.name, mt.c.schedule, mt.c.next_run_at).where(
                    mt.c.enabled.is_(True), mt.c.next_run_at <= now
                )
            ).all()
        claimed_names = []
        for row in due:
            following = parse_schedule(row.schedule).next_after(now)
            with self.ctx.store.unit_of_work() as session:
                claimed = session.execute(
                    update(mt)
                    .where(mt.c.id == row.id, mt.c.next_run_at == row.next_run_at)
                    .values(next_run_at=following)
                )
                if claimed.rowcount == 1:  # type: ignore[attr-defined]
                    claimed_names.append((row.name, row.next_run_at))
        return claimed_names

    @use_case("monitors.run_due", "developer")
    def run_due(self, *, now: dt.datetime | None = None) -> builtins.list[MonitorRun]:
        """Run every enabled monitor whose next run time has come, here.

        A failing monitor is logged and skipped. (Workers instead queue a
        ``monitor_run`` job per due monitor: :func:`mlsteward.jobs.schedule`.)
        """
        now = as_utc(now, "now") if now is not None else utcnow()
        runs = []
        for name, _due in self.claim_due(now=now):
            try:
                runs.append(self.run(name, RunMonitor(at=now)))
            except MlstewardError as exc:
                logger.error("monitor %s failed: %s", name, exc.message)
            except Exception:  # a scheduler keeps going; the trace is logged
                logger.exception("monitor %s failed", name)
        return runs

    # -- results ----------------------------------------------------------
    @internal("the DataFrame shape of result_rows, which checks the use case")
    def results(
        self,
        name: str,
        *,
        check: str | None = None,
        column: str | None = None,
        since: Any = None,
        until: Any = None,
        window: str | None = None,
        latest: bool = True,
    ) -> pd.DataFrame:
        """The results as a DataFrame of ``RESULT_COLUMNS`` by window, check,
        column. ``check``: one, or a family (``drift``); ``column`` (``*``: the
        window's own); ``since``/``until``/``window`` (a label) bound windows;
        ``latest``: only the newest run's figure per check, column, window."""
        rows = self.result_rows(
            name,
            check=check,
            column=column,
            since=since,
            until=until,
            window=window,
            latest=latest,
        )
        return frame_of(rows, RESULT_COLUMNS)

    @use_case("monitors.results", "viewer")
    def result_rows(
        self,
        name: str,
        *,
        check: str | None = None,
        column: str | None = None,
        since: Any = None,
        until: Any = None,
        window: str | None = None,
        latest: bool = True,
    ) -> builtins.list[dict[str, Any]]:
        """:meth:`results` as dicts of ``RESULT_COLUMNS``, in the same order,
        with no DataFrame built: what the REST route sends."""
        with self.ctx.store.read() as session:
            found = session.scalar(select(mt.c.id).where(mt.c.name == name))
            rows = stored_rows(
                session,
                found or self.get(name).id,  # get's NotFound lists the known
                check=check,
                column=column,
                since=since,
                until=until,
                window=window,
            )
            if not rows:  # a mistyped check or column: say what exists
                require_known(session, self.get(name), check=check, column=column)
        return newest_rows(rows) if latest else rows

    @internal("read by triggers and the report")
    def recent_results(
        self, monitor_ids: Sequence[str], *, since: dt.datetime, limit: int
    ) -> builtins.list[dict[str, Any]]:
        """The newest ``limit`` result rows of these monitors computed at or
        after ``since``, newest window first (keys :data:`RESULT_COLUMNS`).

        Example:
            >>> rows = svc.recent_results([m.id], since=t, limit=9)  # doctest: +SKIP
            >>> rows[0]["check"]  # doctest: +SKIP
            'drift.psi'
        """
        q = (
            select(rt)
            .where(rt.c.monitor_id.in_(list(monitor_ids)), rt.c.computed_at >= since)
            .order_by(rt.c.window_start.desc(), rt.c.id.desc())
            .limit(limit)
        )
        with self.ctx.store.read() as session:
            rows = session.execute(q).all()
        return [{k: r._mapping[k] for k in RESULT_COLUMNS} for r in rows]

    # -- helpers ----------------------------------------------------------
    def _model_of(self, deployment: str) -> str:
        try:
            from mlsteward.serving.deployments import DeploymentService

            return DeploymentService(self.ctx).get(deployment).model_name
        except (ImportError, NotFound):
            pass
        logged = PredictionLog(self.ctx).latest_model(deployment)
        if logged:
            return logged
        try:
            ModelRegistry(self.ctx).get_model(deployment)
        except NotFound:
            raise InvalidInput(
                f"deployment {deployment!r} has no predictions and no model of "
                "that name is registered; pass model=",
                field="model",
            ) from None
        return deployment

    def _version_for(self, model: str) -> ModelVersion:
        registry = ModelRegistry(self.ctx)
        if parse_ref(model, "model").name != model:  # a version or alias given
            return registry.get(model)
        try:
            return registry.get(f"{model}@champion")
        except NotFound:
            versions = registry.list_versions(model)
            if not versions:
                raise NotFound(
                    f"model {model!r} has no versions", field="model"
                ) from None
            return versions[-1]

    def _reference_dataset(
        self, reference: str, version: ModelVersion
    ) -> DatasetVersion:
        if reference != "champion":
            return DatasetService(self.ctx).get(reference)
        found = training_dataset(self.ctx, version)
        if found is None:
            raise InvalidInput(
                f"model {version.ref} has no training dataset recorded, so the "
                "champion's training profile cannot be the reference; give "
                "reference='dataset/N', or start the training run with "
                "inputs=[dataset ref]",
                field="reference",
            )
        return found

    def _windows(
        self, monitor: Monitor, explicit: tuple[Any, Any] | None, at: dt.datetime
    ) -> builtins.list[tuple[Window, pd.DataFrame]]:
        outcomes = OutcomeService(self.ctx)
        routes = set(monitor.routes)

        def read(since: dt.datetime, until: dt.datetime) -> pd.DataFrame:
            frame = outcomes.labelled_window(
                deployment=monitor.deployment, since=since, until=until
            )
            if len(frame) and "route" in frame:
                frame = frame[frame["route"].isin(routes)]
            return frame.reset_index(drop=True)

        if monitor.window["type"] == "last_n" and explicit is None:
            n = int(monitor.window["n"])
            times = PredictionLog(self.ctx).last_times(
                monitor.deployment, routes=routes, at=at, n=n
            )
            if not times:
                return [(Window(start=at, end=at, label=f"last {n}"), read(at, at))]
            end = at + dt.timedelta(microseconds=1)
            frame = read(times[-1], end).tail(n).reset_index(drop=True)
            return [(Window(start=times[-1], end=end, label=f"last {n}"), frame)]
        return [
            (w, read(w.start, w.end))
            for w in plan_windows(monitor.window, at, explicit)
        ]

    def _volume_history(
        self, monitor: Monitor
    ) -> builtins.list[tuple[dt.datetime, float]]:
        """Predictions per day of earlier windows (latest run per window)."""
        with self.ctx.store.read() as session:
            rows = session.execute(
                select(rt.c.window_start, rt.c.value)
                .where(rt.c.monitor_id == monitor.id, rt.c.check == "quality.volume")
                .order_by(rt.c.id)
            ).all()
        latest = {r.window_start: r.value for r in rows if r.value is not None}
        return sorted(latest.items())[-12:]
