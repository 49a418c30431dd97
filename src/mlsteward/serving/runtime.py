"""The serving runtime: loaded deployments, routing, journaling, shadows.

One runtime lives in each serving process. It loads the deployments it
serves, answers scoring calls through their routes, journals every answered
record before the answer goes out, copies the journal into the prediction
log off the request path, and polls the store for deployment changes: a
changed revision is loaded in the background and swapped in with one
assignment, so requests in flight finish on the routes they started with and
no request fails during a promotion, rollback or traffic change.

Web framework free: the ASGI adapter lives in :mod:`mlsteward.api.inference`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from mlsteward.context import Context
from mlsteward.errors import NotFound, Unavailable
from mlsteward.registry.service import ModelRegistry
from mlsteward.serving.batching import Batcher, limit_threads
from mlsteward.serving.deployments import DeploymentService
from mlsteward.serving.ids import request_ids, route_share
from mlsteward.serving.live_model import LiveModel, known_categories
from mlsteward.serving.log.journal import Journal, request_line
from mlsteward.serving.log.service import PredictionLog
from mlsteward.serving.log.writer import LogShipper, replay
from mlsteward.serving.models import Deployment
from mlsteward.serving.outages import JOURNAL_OUT, Outages, database_errors
from mlsteward.serving.prometheus import ServingMetrics
from mlsteward.serving.schema import Batch, RequestSchema

__all__ = [
    "LiveDeployment",
    "Scored",
    "ServingRuntime",
    "limit_threads",
    "request_ids",
]

_log = logging.getLogger(__name__)
_SHADOW_BACKLOG = 10_000


@dataclass
class Scored:
    """What one scoring call answered, one entry per record."""

    request_ids: list[str]
    scores: np.ndarray
    decisions: list[str]
    versions: list[int]
    routes: list[str]
    flags: list[dict[str, Any] | None]
    model: str
    #: Per record, its reason codes (``?explain=true``), else None.
    reasons: list[list[dict[str, Any]] | None] | None = None


class LiveDeployment:
    """One revision of a deployment with its models loaded."""

    def __init__(
        self,
        config: Deployment,
        models: dict[int, LiveModel],
        batchers: dict[int, Batcher],
        schema: RequestSchema,
    ) -> None:
        self.config = config
        self.models = models
        self.batchers = batchers
        self.schema = schema
        self.name = config.name

    def choose(self, key: str | None) -> tuple[int, str]:
        """The version (and route name) that answers a record."""
        c = self.config
        if c.canary_version is not None and c.canary_share > 0.0:
            u = route_share(c.name, key) if key is not None else random.random()
            if u < c.canary_share:
                return c.canary_version, "canary"
        return c.champion_version, "champion"

    def pinned(self, version: int) -> str:
        """Route name of an explicitly requested version, or NotFound."""
        c = self.config
        if version == c.champion_version:
            return "champion"
        if version == c.canary_version:
            return "canary"
        serving = [f"{c.champion_version} (champion)"]
        if c.canary_version is not None:
            serving.append(f"{c.canary_version} (canary)")
        raise NotFound(
            f"version {version} of {c.model_name!r} does not answer deployment "
            f"{c.name!r}; answering: {', '.join(serving)}",
            field="version",
        )


class ServingRuntime:
    """Deployments served by this process.

    Args:
        ctx: Stores and settings.
        names: Deployments to serve; ``None`` serves all, including ones
            created while running.
        metrics: Where to count (a fresh registry by default).
    """

    def __init__(
        self,
        ctx: Context,
        names: Sequence[str] | None = None,
        *,
        metrics: ServingMetrics | None = None,
    ) -> None:
        self.ctx = ctx
        self._explainers: dict[tuple[str, int, str], Any] = {}
        self.names = list(names) if names is not None else None
        self.metrics = metrics or ServingMetrics()
        self.outages = Outages(self.metrics)
        s = ctx.settings
        self.max_rows = s.serving_max_rows
        self.max_body = s.serving_max_body_bytes
        self.fsync = s.serving_log_fsync
        self.journal_dir = Path(
            s.serving_journal_dir or s.resolved_home() / "serving" / "journal"
        )
        self.live: dict[str, LiveDeployment] = {}
        self.ready = False
        self.replayed = 0
        self._models: dict[tuple[str, int], tuple[LiveModel, Batcher]] = {}
        self._load_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="mlsteward-score")
        self._journal = Journal(self.journal_dir, fsync=self.fsync)
        self._log = PredictionLog(ctx)
        self._writer: LogShipper | None = None
        self._poller: asyncio.Task[None] | None = None
        self._shadow_rows = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        """Replay what dead processes left in the journal, load the
        deployments, start the log writer and the change poller."""
        self.replayed = await asyncio.to_thread(
            replay, self._log, self.journal_dir, durable=self.fsync
        )
        self._journal.open()
        m = self.metrics

        outages = self.outages

        def written(n: int) -> None:
            m.log_written.inc(n)
            outages.recovered("database")

        def failed(error: str) -> None:  # the records stay journaled
            m.log_errors.inc()
            outages.failed("database", error)

        self._writer = LogShipper(
            self.ctx.store,
            self._journal,
            flush_seconds=self.ctx.settings.serving_log_flush_ms / 1000,
            durable=self.fsync,
            on_written=written,
            on_error=failed,
        )
        await asyncio.to_thread(self._writer.start)
        writer = self._writer
        m.log_pending.set_function(lambda: writer.pending)  # read when scraped
        await self.refresh(initial=True)
        self.ready = True
        self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def stop(self) -> None:
        """Finish shadows, write the log, release the journal."""
        if self._poller is not None:
            self._poller.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        if self._writer is not None:
            await asyncio.to_thread(self._writer.stop)
        self._journal.close()
        self._executor.shutdown(wait=False)

    async def _poll(self) -> None:
        interval = self.ctx.settings.serving_poll_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except database_errors() as exc:  # keep serving the routes we have
                self.outages.failed("database", exc)
            except Exception:
                _log.exception("refreshing deployments failed; will retry")
            else:
                self.outages.recovered("database")

    async def refresh(self, *, initial: bool = False) -> None:
        """Load deployments whose revision changed; swap them in."""
        svc = DeploymentService(self.ctx)
        revisions = await asyncio.to_thread(svc.revisions, self.names)
        if initial and self.names is not None:
            for name in self.names:
                if name not in revisions:
                    svc.get(name)  # raises NotFound naming the known ones
        for name, revision in revisions.items():
            current = self.live.get(name)
            if current is not None and current.config.revision == revision:
                continue
            try:
                live = await asyncio.to_thread(self._build, name)
            except Exception:
                if initial and self.names is not None:
                    raise  # `serve NAME` cannot serve what it was asked to
                # One broken deployment must not hold up the others; it keeps
                # its current routes (if any) and is retried next poll.
                _log.exception("loading deployment %r failed; will retry", name)
                continue
            self.live[name] = live  # the atomic swap
            self.metrics.revision.labels(name).set(live.config.revision)
        for name in [n for n in self.live if n not in revisions]:
            del self.live[name]
        used = {(d.config.model_name, v) for d in self.live.values() for v in d.models}
        for key in [k for k in self._models if k not in used]:
            del self._models[key]

    def _build(self, name: str) -> LiveDeployment:
        config = DeploymentService(self.ctx).get(name)
        loaded = {v: self._model(config.model_name, v) for v in config.versions()}
        models = {v: m for v, (m, _) in loaded.items()}
        batchers = {v: b for v, (_, b) in loaded.items()}
        champion = models[config.champion_version]
        schema = RequestSchema(
            config.inputs,
            log_columns=config.log_columns,
            pii_columns=config.pii_columns,
            sticky_field=config.sticky_field,
            categories=known_categories(champion.loaded),
            unseen_policy=config.unseen_policy,
        )
        return LiveDeployment(config, models, batchers, schema)

    def _model(self, model: str, version: int) -> tuple[LiveModel, Batcher]:
        with self._load_lock:
            found = self._models.get((model, version))
            if found is None:
                live = LiveModel(ModelRegistry(self.ctx).load(f"{model}/{version}"))
                batcher = Batcher(
                    live.score,
                    max_rows=self.ctx.settings.serving_max_batch_rows,
                    max_wait=self.ctx.settings.serving_max_wait_ms / 1000,
                    executor=self._executor,
                    on_batch=self.metrics.batch_rows.observe,
                )
                found = self._models[(model, version)] = (live, batcher)
            return found

    def journal_writable(self) -> bool:
        """Whether answers can be journaled. In a ``journal`` outage this
        tries a new segment, so a readiness probe notices the space that
        came back even when no request arrives."""
        if "journal" not in self.outages.open:
            return True
        try:
            self._journal.rotate()
        except OSError:
            return False
        self.outages.recovered("journal")
        return True

    # -- serving -----------------------------------------------------------
    def deployment(self, name: str) -> LiveDeployment:
        live = self.live.get(name)
        if live is None:
            raise NotFound(
                f"deployment {name!r} is not served here; served: "
                f"{sorted(self.live) or 'none'}",
                field="deployment",
            )
        return live

    async def predict(
        self,
        live: LiveDeployment,
        batch: Batch,
        *,
        key: str | None = None,
        version: int | None = None,
        started: float | None = None,
        explain: bool = False,
    ) -> Scored:
        """Score validated records through the deployment's routes, journal
        them, and return what to answer.

        Args:
            live: The deployment revision (taken once per request).
            batch: Validated records.
            key: Routing key for every record (the ``X-Routing-Key`` header);
                default each record's sticky field, else random.
            version: Answer with this version (champion or canary) only.
            started: ``time.perf_counter()`` when the request arrived.
        """
        started = time.perf_counter() if started is None else started
        n = batch.n
        config = live.config
        # Version -> indices of the records it answers (None: all of them).
        groups: dict[int, list[int] | None]
        if version is not None:
            route = live.pinned(version)
            versions, routes, groups = [version] * n, [route] * n, {version: None}
        elif config.canary_version is None or config.canary_share <= 0.0:
            v = config.champion_version
            versions, routes, groups = [v] * n, ["champion"] * n, {v: None}
        else:
            versions, routes, groups = _canary_routes(live, batch, key)
        if len(groups) == 1:
            (v,) = groups
            scores = await live.batchers[v].score(batch.columns, n)
        else:
            scores = await _score_split(live, batch, groups)
        threshold = config.threshold
        values = scores.tolist()
        decisions = ["deny" if s >= threshold else "approve" for s in values]
        # Reasons are computed before anything is journaled: a request whose
        # explanation fails is refused whole and leaves no record.
        reasons = (
            await asyncio.to_thread(self._explain, live, batch, groups)
            if explain
            else None
        )
        ids = request_ids(n)
        latency = (time.perf_counter() - started) * 1000
        await self._journal_answers(
            live, batch, ids, values, decisions, versions, routes, latency, reasons
        )
        m = self.metrics
        if len(groups) == 1 and routes[0] == routes[-1]:
            hist, counter = m.answered(config.name, versions[0], routes[0])
            hist.observe(latency / 1000)
            counter.inc(n)
        else:
            _count_routes(m, config.name, groups, versions, routes, latency)
        if config.shadow_versions:
            self._mirror(live, batch, ids)
        return Scored(
            ids,
            np.asarray(scores, dtype=np.float64),
            decisions,
            versions,
            routes,
            batch.flags,
            config.model_name,
            reasons,
        )

    def _explain(
        self,
        live: LiveDeployment,
        batch: Batch,
        groups: dict[int, list[int] | None],
    ) -> list[list[dict[str, Any]] | None]:
        """Reason codes per record, by the version that answered it."""
        import pandas as pd

        out: list[list[dict[str, Any]] | None] = [None] * batch.n
        for v, picked in groups.items():
            idx = list(range(batch.n)) if picked is None else picked
            frame = pd.DataFrame(
                {c: [vals[i] for i in idx] for c, vals in batch.columns.items()}
            )
            rows = self._explainer(live, v).explain(frame)
            for i, row in zip(idx, rows, strict=True):
                out[i] = [r.to_dict() for r in row]
        return out

    def _explainer(self, live: LiveDeployment, version: int) -> Any:
        model = live.models[version]
        key = (live.name, version, model.version.artifact_sha256)
        explainer = self._explainers.get(key)
        if explainer is None:
            from mlsteward.explain.service import explainer_for

            explainer = explainer_for(self.ctx, model.loaded)
            self._explainers[key] = explainer
        return explainer

    async def _journal_answers(
        self,
        live: LiveDeployment,
        batch: Batch,
        ids: list[str],
        scores: list[float],
        decisions: list[str],
        versions: list[int],
        routes: list[str],
        latency: float,
        reasons: list[list[dict[str, Any]] | None] | None = None,
    ) -> None:
        """Write a request's records to the journal as one line."""
        config = live.config
        line = request_line(
            ids=ids,
            ts=time.time(),
            deployment=config.name,
            model=config.model_name,
            versions=versions[0] if len(set(versions)) == 1 else versions,
            routes=routes[0] if len(set(routes)) == 1 else routes,
            inputs=batch.sent,
            extra=batch.extra if batch.raw is None else None,
            record=batch.raw,
            scores=scores,
            decisions=decisions,
            latency_ms=latency,
            flags=batch.flags if any(batch.flags) else None,
            reasons=reasons,
        )
        seq = self._write(line, batch.n)
        if self.fsync:
            await self._synced(seq)

    def _write(self, lines: bytes, count: int) -> int:
        """Journal ``lines``; a failed write is a ``journal`` outage (503)."""
        try:
            _, seq = self._journal.append(lines, count)
        except OSError as exc:  # no answer goes out unlogged
            self.outages.failed("journal", exc)
            raise self.outages.unavailable("journal", JOURNAL_OUT) from None
        if self.outages.open and not self._journal.stuck:
            self.outages.recovered("journal")
        return seq

    def _synced(self, seq: int) -> asyncio.Future[None]:
        """A future that settles once journal write ``seq`` is on disk."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not done.done():
                done.set_result(None)

        def wake() -> None:
            loop.call_soon_threadsafe(settle)

        self._journal.when_synced(seq, wake)
        return done

    # -- shadows -----------------------------------------------------------
    def _mirror(self, live: LiveDeployment, batch: Batch, ids: list[str]) -> None:
        config = live.config
        if self._shadow_rows + batch.n > _SHADOW_BACKLOG:
            self.metrics.shadow_dropped.labels(config.name).inc(batch.n)
            return
        for version in config.shadow_versions:
            self._shadow_rows += batch.n
            task = asyncio.get_running_loop().create_task(
                self._shadow(live, version, batch, ids)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _shadow(
        self, live: LiveDeployment, version: int, batch: Batch, ids: list[str]
    ) -> None:
        config = live.config
        started = time.perf_counter()
        try:
            scores = await live.batchers[version].score(batch.columns, batch.n)
            latency = (time.perf_counter() - started) * 1000
            ts = time.time()
            records = [
                {
                    "t": "s",
                    "id": ids[i],
                    "ts": ts,
                    "d": config.name,
                    "m": config.model_name,
                    "v": version,
                    "out": {
                        "score": s,
                        "decision": "deny" if s >= config.threshold else "approve",
                    },
                    "ms": latency,
                }
                for i, s in enumerate(scores.tolist())
            ]
            # Not awaited in fsync mode: no answer waits for a shadow record.
            self._write(
                b"".join(
                    orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in records
                ),
                len(records),
            )
            self.metrics.shadow_predictions.labels(config.name, str(version)).inc(
                batch.n
            )
        except Exception as exc:
            if not isinstance(exc, Unavailable):  # an outage is logged once
                _log.exception("shadow %s/%s failed", config.model_name, version)
            self.metrics.shadow_errors.labels(config.name, str(version)).inc()
        finally:
            self._shadow_rows -= batch.n


# The helpers below serve only deployments with a canary (the last two only a
# request whose records split across routes): a champion-only request never
# calls them, and each is one call per request, never per record.
def _canary_routes(
    live: LiveDeployment, batch: Batch, key: str | None
) -> tuple[list[int], list[str], dict[int, list[int] | None]]:
    """Per record its version and route, and version -> the records it
    answers (None: all of them)."""
    n = batch.n
    keys = batch.keys
    chosen = [
        live.choose(key if key is not None else (keys[i] if keys else None))
        for i in range(n)
    ]
    versions = [v for v, _ in chosen]
    routes = [r for _, r in chosen]
    split: dict[int, list[int]] = {}
    for i, v in enumerate(versions):
        split.setdefault(v, []).append(i)
    groups = {v: (None if len(idx) == n else idx) for v, idx in split.items()}
    return versions, routes, groups


async def _score_split(
    live: LiveDeployment, batch: Batch, groups: dict[int, list[int] | None]
) -> np.ndarray:
    """Scores of records split across versions, each part by its version."""
    scores = np.empty(batch.n, dtype=np.float64)
    picked = [(v, idx) for v, idx in groups.items() if idx is not None]
    parts = await asyncio.gather(
        *(
            live.batchers[v].score(
                {c: [vals[i] for i in idx] for c, vals in batch.columns.items()},
                len(idx),
            )
            for v, idx in picked
        )
    )
    for (_, idx), part in zip(picked, parts, strict=True):
        scores[idx] = part
    return scores


def _count_routes(
    m: ServingMetrics,
    name: str,
    groups: dict[int, list[int] | None],
    versions: list[int],
    routes: list[str],
    latency: float,
) -> None:
    """Latency per version and answers per (version, route) of a split request."""
    for v in groups:
        m.latency.labels(name, str(v)).observe(latency / 1000)
    for (v, route), count in Counter(zip(versions, routes, strict=True)).items():
        m.answered(name, v, route)[1].inc(count)
