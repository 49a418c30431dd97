"""Batch scoring: score a table file of any size through a version.

The file is read in chunks, scored through the registered version (loaded
after its sha256 was verified), and written incrementally. Its predictions
land in the prediction log exactly as online ones do: one record per row with
the model's inputs (pii redacted), the score and the decision.

A file that cannot be scored writes nothing. Scoring runs in two phases:

1. every chunk is read, checked and scored; the output goes to a temporary
   file beside ``output`` and the prediction records to a temporary staging
   file. Any bad row (a wrong type, a duplicate id) stops here, before
   anything is logged or the output appears;
2. the staged records are appended to the prediction log, then the output
   is renamed into place.

With ``engine="dask"`` phase 1's scoring runs on a Dask distributed cluster
(see :mod:`mlsteward.jobs.dask_engine`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlsteward.context import Context
from mlsteward.errors import InvalidInput, NotFound
from mlsteward.identity.access import use_case
from mlsteward.jobs.batch_io import ChunkReader, OutputWriter
from mlsteward.jobs.batch_log import BatchMarks, append_staged, fault
from mlsteward.jobs.batch_rules import Flags, RowRules
from mlsteward.jobs.handlers import JobLogger
from mlsteward.jobs.specs import ENGINES, ScoreBatch
from mlsteward.names import check_name
from mlsteward.registry.models import ModelVersion
from mlsteward.registry.service import LoadedModel, ModelRegistry
from mlsteward.serving.deployments import DeploymentService
from mlsteward.serving.live_model import known_categories
from mlsteward.serving.log.service import PredictionLog
from mlsteward.serving.models import UnseenPolicy
from mlsteward.store import utcnow

__all__ = [
    "ENGINES",
    "BatchScoreResult",
    "BatchScoringService",
    "Progress",
    "run_job",
]

#: Longest request id the prediction log stores.
MAX_REQUEST_ID = 64

#: ``progress(phase, rows_done, rows_total)``; phase is "score" or "log".
Progress = Callable[[str, int, int | None], None]

_STAGING = pa.schema(
    [
        ("request_id", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("score", pa.float64()),
        ("decision", pa.string()),
        ("latency_ms", pa.float64()),
        ("inputs", pa.string()),
        ("flags", pa.string()),
    ]
)


@dataclass(frozen=True)
class BatchScoreResult:
    """What a batch scoring did."""

    batch_id: str
    model: str
    input: str
    output: str
    deployment: str
    engine: str
    rows: int
    chunks: int
    seconds: float
    #: Rows scored but flagged, by what was noticed: ``missing`` (a missing
    #: value the model imputes, none in training), ``unseen`` (a category
    #: scored as unknown under the deployment's ``unknown`` policy).
    flagged: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "model": self.model,
            "input": self.input,
            "output": self.output,
            "deployment": self.deployment,
            "engine": self.engine,
            "rows": self.rows,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "flagged": dict(self.flagged),
        }


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class BatchScoringService:
    """Score files through registered versions and log the predictions.

    Example:
        >>> svc = BatchScoringService(ctx)  # doctest: +SKIP
        >>> svc.score_file("credit-risk@champion", "in.parquet", "out.parquet")
        BatchScoreResult(...)
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.registry = ModelRegistry(ctx)
        self.log = PredictionLog(ctx)

    @use_case("jobs.score_file", "developer")
    def score_file(
        self,
        spec: ScoreBatch,
        *,
        progress: Progress | None = None,
        check: Callable[[], None] | None = None,
        batch_id: str | None = None,
    ) -> BatchScoreResult:
        """Score ``spec.input`` with ``spec.model`` into ``spec.output``; log
        every prediction.

        Args:
            spec: What to score, where to and how
                (:class:`~mlsteward.jobs.specs.ScoreBatch`).
            progress: Called after each chunk with (phase, done, total).
            check: Called between chunks; raises to stop (job cancellation).
            batch_id: The batch's id, the same for every attempt of a job
                (its job id): an attempt resumes the log writes of the one
                before and replaces its output. Default: a new id.

        Raises:
            InvalidInput: a bad file, column or value; nothing was written.
            NotFound: ``spec.model`` names no version.

        Example:
            >>> svc.score_file(ScoreBatch(model="credit-risk@champion",
            ...     input="in.parquet", output="out.parquet"))  # doctest: +SKIP
        """
        began = time.perf_counter()
        src, dst = Path(spec.input), Path(spec.output)
        marks = BatchMarks(self.ctx)
        prior = marks.get(batch_id) if batch_id else None
        # An earlier attempt of this job that reached its log phase passed
        # this check and may have put its output in place: replace it.
        self._check_paths(src, dst, spec.overwrite or prior is not None)
        # ... and pinned the version its records were logged with.
        mv = self.registry.get(prior.model if prior else spec.model)
        resolved = f"{mv.name}/{mv.version}"
        deployment = check_name(spec.deployment or f"{mv.name}-batch", "deployment")
        reader = self._reader(src, mv, spec)
        loaded, rules = self._rules(mv, deployment, src)
        total = reader.total_rows() if progress is not None else None
        batch_id = batch_id or uuid.uuid4().hex[:16]
        writer = self._writer(dst, batch_id, spec.id_column, resolved, deployment)
        staging_path = temporary_files(dst, batch_id)[1]
        staging = pq.ParquetWriter(staging_path, _STAGING)
        rows = chunks = 0
        try:
            ids = _Ids(
                self.log, batch_id, spec.id_column, prior.rows_logged if prior else 0
            )
            logged = list(
                dict.fromkeys([*mv.signature.feature_names, *spec.log_columns])
            )
            for start, frame, flags, scores, ms in self._scored(
                reader, loaded, rules, spec, check
            ):
                stop = start + len(frame)
                rids = ids.of(frame, start, f"{str(src)!r} rows {start + 1}-{stop}")
                decisions = np.where(scores >= spec.threshold, "deny", "approve")
                writer.write_scores(rids, scores, decisions)
                staging.write_table(
                    _staged(rids, scores, decisions, ms, frame[logged], flags)
                )
                rows, chunks = stop, chunks + 1
                fault(f"scored:{chunks}")
                if progress is not None:
                    progress("score", rows, total)
            staging.close()
            fault("staged")
            append_staged(
                marks,
                marks.start(batch_id, resolved, deployment, spec, rows),
                staging_path,
                deployment=deployment,
                pii=spec.pii,
                progress=progress,
            )
            writer.commit()
            fault("renamed")
        except BaseException:
            writer.abort()
            raise
        finally:
            staging.close()
            staging_path.unlink(missing_ok=True)
        return BatchScoreResult(
            batch_id=batch_id,
            model=resolved,
            input=str(src),
            output=str(dst),
            deployment=deployment,
            engine=spec.engine,
            rows=rows,
            chunks=chunks,
            seconds=time.perf_counter() - began,
            flagged=dict(rules.counts),
        )

    def _rules(
        self, mv: ModelVersion, deployment: str, src: Path
    ) -> tuple[LoadedModel, RowRules]:
        """The version loaded, and the rules its rows follow: the model's
        missing values and categories, and the unseen-category policy of the
        deployment the batch is logged under, so a batch refuses what that
        deployment refuses online (a new deployment's default, ``reject``,
        where the name is no deployment)."""
        loaded = self.registry.load(f"{mv.name}/{mv.version}")
        try:
            policy = DeploymentService(self.ctx).get(deployment).unseen_policy
        except NotFound:
            policy = UnseenPolicy.REJECT.value
        rules = RowRules(
            mv.signature.inputs, known_categories(loaded), policy, str(src)
        )
        return loaded, rules

    @staticmethod
    def _reader(src: Path, mv: ModelVersion, spec: ScoreBatch) -> ChunkReader:
        """Chunks of the input: the model's features, the id and logged columns;
        text columns (and a text id column) read as text."""
        features = mv.signature.feature_names
        id_column = spec.id_column
        text_id = id_column is not None and id_column not in features
        return ChunkReader(
            src,
            [*features, *([id_column] if id_column else []), *spec.log_columns],
            spec.chunk_size,
            text_columns=[
                *(
                    c["name"]
                    for c in mv.signature.inputs
                    if c["kind"] != "numeric" and c["dtype"] not in ("bool", "boolean")
                ),
                *([id_column] if text_id and id_column else []),
            ],
            expected=f"model {mv.name}/{mv.version} expects {features}",
        )

    # -- phases -----------------------------------------------------------
    def _scored(
        self,
        reader: ChunkReader,
        loaded: LoadedModel,
        rules: RowRules,
        spec: ScoreBatch,
        check: Callable[[], None] | None,
    ) -> Iterator[tuple[int, pd.DataFrame, Flags, np.ndarray, float]]:
        """Phase 1's chunks as read, with their flags and scores, in input
        order; each chunk is checked by ``rules`` before it is scored."""
        kept: dict[int, tuple[pd.DataFrame, Flags]] = {}

        def chunks() -> Iterator[tuple[int, pd.DataFrame]]:
            for start, frame in reader:
                if check is not None:
                    check()
                scored, flags = rules.check(start, frame)
                kept[start] = (frame, flags)  # logged as sent, like online
                yield start, scored

        scoring = (
            self._on_cluster(chunks(), reader, loaded.version, spec.scheduler)
            if spec.engine == "dask"
            else self._in_process(chunks(), reader, loaded)
        )
        for start, _, scores, ms in scoring:
            frame, flags = kept.pop(start)
            yield start, frame, flags, scores, ms

    @staticmethod
    def _in_process(
        chunks: Iterator[tuple[int, pd.DataFrame]],
        reader: ChunkReader,
        loaded: LoadedModel,
    ) -> Iterator[tuple[int, pd.DataFrame, np.ndarray, float]]:
        for start, frame in chunks:
            began = time.perf_counter()
            try:
                scores = loaded.predict_proba(frame)
            except InvalidInput as exc:
                raise _located(reader, start, len(frame), exc) from exc
            yield start, frame, scores, (time.perf_counter() - began) * 1000

    def _on_cluster(
        self,
        chunks: Iterator[tuple[int, pd.DataFrame]],
        reader: ChunkReader,
        mv: ModelVersion,
        scheduler: str | None,
    ) -> Iterator[tuple[int, pd.DataFrame, np.ndarray, float]]:
        from mlsteward.jobs.dask_engine import ModelSpec, score_on_cluster

        spec = ModelSpec(
            ref=f"{mv.name}/{mv.version}",
            flavor=mv.flavor,
            sha256=mv.artifact_sha256,
            signature=mv.signature.to_dict(),
            artifacts_uri=self.ctx.artifacts.uri,
            storage_options=dict(self.ctx.artifacts.storage_options),
        )
        try:
            yield from score_on_cluster(chunks, spec, scheduler=scheduler)
        except InvalidInput as exc:
            # The reader's errors and the rules' name the file already.
            if exc.field == "input" or "file_row" in exc.details:
                raise
            raise InvalidInput(
                f"{str(reader.path)!r} {exc.message}",
                field=exc.field,
                **exc.details,
            ) from exc

    @staticmethod
    def _writer(
        dst: Path, batch_id: str, id_column: str | None, model: str, deployment: str
    ) -> OutputWriter:
        """The output, written to a hidden file named by the batch id (so the
        next attempt of a job replaces a killed attempt's) until complete."""
        return OutputWriter(
            dst,
            temporary_files(dst, batch_id)[0],
            pa.schema(
                [
                    (id_column or "request_id", pa.string()),
                    ("score", pa.float64()),
                    ("decision", pa.string()),
                ]
            ),
            {
                "mlsteward.model": model,
                "mlsteward.deployment": deployment,
                "mlsteward.batch_id": batch_id,
            },
        )

    # -- arguments --------------------------------------------------------
    @staticmethod
    def _check_paths(src: Path, dst: Path, overwrite: bool) -> None:
        """What the spec cannot know: the output's folder and whether it exists."""
        if not dst.parent.is_dir():
            raise InvalidInput(
                f"output folder {str(dst.parent)!r} does not exist", field="output"
            )
        if dst.exists():
            if src.exists() and dst.resolve() == src.resolve():
                raise InvalidInput(
                    "output is the input file; choose another output path",
                    field="output",
                )
            if not overwrite:
                raise InvalidInput(
                    f"output {str(dst)!r} already exists; choose another path or "
                    "pass overwrite (--overwrite)",
                    field="output",
                )


class _Ids:
    """Request ids of each chunk: ``<batch id>-<row number>``, or the id
    column's values, checked to be unique and not yet logged (except the first
    ``resume`` rows, which an earlier attempt of the batch logged)."""

    def __init__(
        self, log: PredictionLog, batch_id: str, column: str | None, resume: int
    ) -> None:
        self.log = log
        self.batch_id = batch_id
        self.column = column
        self.resume = resume
        self.seen: set[str] = set()

    def of(self, frame: pd.DataFrame, start: int, where: str) -> list[str]:
        column = self.column
        if column is None:
            return [f"{self.batch_id}-{start + i}" for i in range(len(frame))]
        col = frame[column]
        if col.isna().any():
            row = start + int(np.flatnonzero(col.isna().to_numpy())[0]) + 1
            raise InvalidInput(
                f"{where}: row {row} has no value in id column {column!r}; "
                "every row needs a request id",
                field=column,
            )
        ids = [str(v) for v in col.tolist()]
        for value in ids:
            if not value or len(value) > MAX_REQUEST_ID:
                raise InvalidInput(
                    f"{where}: id {value!r} in column {column!r} must be 1-"
                    f"{MAX_REQUEST_ID} characters",
                    field=column,
                )
            if value in self.seen:
                raise InvalidInput(
                    f"{where}: id {value!r} in column {column!r} appears twice; "
                    "request ids must be unique",
                    field=column,
                )
            self.seen.add(value)
        fresh = ids[max(self.resume - start, 0) :]
        logged = self.log.logged(fresh) if fresh else set()
        if logged:
            clash = next(i for i in fresh if i in logged)
            raise InvalidInput(
                f"{where}: request id {clash!r} (column {column!r}) is "
                "already in the prediction log; each request is scored once",
                field=column,
            )
        return ids


def _staged(
    ids: list[str],
    scores: np.ndarray,
    decisions: np.ndarray,
    ms: float,
    logged: pd.DataFrame,
    flags: Flags,
) -> pa.Table:
    """One chunk's prediction records, as staged for phase 2."""
    records = logged.to_dict(orient="records")
    return pa.Table.from_pydict(
        {
            "request_id": ids,
            "created_at": [utcnow()] * len(ids),
            "score": scores,
            "decision": decisions,
            "latency_ms": [ms / max(len(ids), 1)] * len(ids),
            "inputs": [
                orjson.dumps(r, default=_json_default).decode() for r in records
            ],
            "flags": (
                [None] * len(ids)
                if flags is None
                else [None if f is None else orjson.dumps(f).decode() for f in flags]
            ),
        },
        schema=_STAGING,
    )


# -- the "batch_score" job kind -------------------------------------------
def _located(reader: Any, start: int, n: int, exc: InvalidInput) -> InvalidInput:
    """``exc`` of chunk ``start`` (``n`` rows) said of the file: the row and
    column when the error names them (``row`` from 0 in the chunk)."""
    row, problem = exc.details.get("row"), exc.details.get("problem")
    where = (
        f"row {start + row + 1}, column {exc.field!r}: {problem}"
        if row is not None and problem
        else f"rows {start + 1}-{start + n}: {exc.message}"
    )
    return InvalidInput(f"{str(reader.path)!r} {where}", field=exc.field, **exc.details)


def temporary_files(output: str | Path, batch_id: str) -> list[Path]:
    """The hidden files an attempt of batch ``batch_id`` writes beside its
    output: the output being written and the staged log records."""
    dst = Path(output)
    return [
        dst.with_name(f".{dst.name}.{batch_id}.partial"),
        dst.with_name(f".{dst.name}.{batch_id}.log.parquet"),
    ]


def clean_up(ctx: Context, job_id: str, payload: dict[str, Any]) -> list[Path]:
    """Clean-up of a dead ``batch_score`` job (``jobs.handlers.CLEAN_UPS``):
    remove the hidden files its last attempt left; return those removed."""
    removed = []
    for path in temporary_files(payload.get("output", ""), job_id):
        if path.name and path.exists():
            path.unlink()
            removed.append(path)
    return removed


def run_job(ctx: Context, payload: dict[str, Any], log: JobLogger) -> dict[str, Any]:
    """Handler of ``batch_score`` jobs: the payload is a
    :class:`~mlsteward.jobs.specs.ScoreBatch` (``model``, ``input``,
    ``output`` required; paths as the worker sees them).

    Example:
        >>> client.enqueue_job("batch_score", {"model": "credit-risk@champion",
        ...     "input": "/data/in.parquet", "output": "/data/out.parquet"})
        ... # doctest: +SKIP
    """
    spec = ScoreBatch.parse(payload)
    last = [time.monotonic()]

    def progress(phase: str, done: int, total: int | None) -> None:
        if time.monotonic() - last[0] >= 10.0:
            last[0] = time.monotonic()
            of = f" of ~{total}" if total else ""
            log(f"{'scored' if phase == 'score' else 'logged'} {done}{of} rows")

    log(f"scoring {spec.input} with {spec.model} into {spec.output}")
    # The job's id keys its log writes and temporary files, so a retry resumes
    # what a killed attempt began instead of adding to it.
    job = getattr(log, "job", None)
    result = BatchScoringService(ctx).score_file(
        spec, progress=progress, check=log.check, batch_id=getattr(job, "id", None)
    )
    log(
        f"scored {result.rows} rows with {result.model} in {result.seconds:.1f} s; "
        f"predictions logged under deployment {result.deployment}"
    )
    if any(result.flagged.values()):
        log(f"rows scored but flagged: {result.flagged}")
    return result.to_dict()
