"""Phase 2 of batch scoring: the staged records into the prediction log, once.

A batch's log writes are keyed by its batch id, which for a job is the job's
id, the same for every attempt. Each prediction-log transaction appends the
next records of the batch *and* moves the batch's watermark
(``batch_scorings.rows_logged``) past them, so whatever moment an attempt is
killed at, the log and the watermark agree; the next attempt starts at the
watermark and adds no record twice. The watermark moves only from the value
the attempt read (compare and set), so two attempts that overlap (a worker
paused past its lease) cannot both write the same records.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyarrow.parquet as pq
from sqlalchemy import insert, select, update

from mlsteward.context import Context
from mlsteward.errors import Conflict, InvalidInput
from mlsteward.jobs.specs import ScoreBatch
from mlsteward.jobs.tables import batch_scorings
from mlsteward.serving.log.service import PredictionLog, PredictionRecord, redact
from mlsteward.store import utcnow

__all__ = ["FAULT_ENV", "LOG_BATCH_ROWS", "BatchMark", "BatchMarks", "fault"]

#: Records per prediction-log transaction in phase 2.
LOG_BATCH_ROWS = 1000

#: Test hook: ``MLSTEWARD_FAULT_BATCH=logged:1`` kills the process (SIGKILL)
#: at that point of a batch scoring: ``scored:N`` after phase 1's N-th chunk,
#: ``staged`` after phase 1, ``logged:N`` after the N-th log transaction,
#: ``logged`` after the last, ``renamed`` once the output is in place.
FAULT_ENV = "MLSTEWARD_FAULT_BATCH"


def fault(point: str) -> None:
    """Kill this process here if the fault hook names ``point`` (tests only)."""
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class BatchMark:
    """How far a batch got into the prediction log."""

    batch_id: str
    model: str
    rows_total: int
    rows_logged: int


class BatchMarks:
    """The ``batch_scorings`` rows: one watermark per batch."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.log = PredictionLog(ctx)

    def get(self, batch_id: str) -> BatchMark | None:
        """The batch's mark, if an attempt reached its log phase."""
        t = batch_scorings
        with self.ctx.store.read() as session:
            row = session.execute(select(t).where(t.c.batch_id == batch_id)).first()
        if row is None:
            return None
        return BatchMark(row.batch_id, row.model, row.rows_total, row.rows_logged)

    def start(
        self, batch_id: str, model: str, deployment: str, spec: ScoreBatch, rows: int
    ) -> BatchMark:
        """The batch's mark, made at 0 rows logged if it has none yet.

        Raises:
            InvalidInput: an earlier attempt read another number of rows.
        """
        t = batch_scorings
        with self.ctx.store.unit_of_work() as session:
            row = session.execute(select(t).where(t.c.batch_id == batch_id)).first()
            if row is not None:
                if row.rows_total != rows:
                    raise InvalidInput(
                        f"input {spec.input!r} has {rows} rows; an earlier "
                        f"attempt of batch {batch_id} read {row.rows_total}: "
                        "the file changed",
                        field="input",
                    )
                return BatchMark(
                    row.batch_id, row.model, row.rows_total, row.rows_logged
                )
            now = utcnow()
            session.execute(
                insert(t).values(
                    batch_id=batch_id,
                    model=model,
                    deployment=deployment,
                    output=spec.output,
                    rows_total=rows,
                    rows_logged=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        return BatchMark(batch_id, model, rows, 0)

    def append(self, batch_id: str, at: int, records: list[PredictionRecord]) -> int:
        """Log ``records`` (the batch's rows ``at`` onwards) and move the
        watermark past them, in one transaction.

        Raises:
            Conflict: another attempt of the batch moved the watermark since.
        """
        t = batch_scorings
        with self.ctx.store.unit_of_work() as session:
            moved = session.execute(
                update(t)
                .where(t.c.batch_id == batch_id, t.c.rows_logged == at)
                .values(rows_logged=at + len(records), updated_at=utcnow())
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict(
                    f"batch {batch_id} was logged past row {at} by another "
                    "attempt of the same job; this attempt stops",
                    field="batch_id",
                )
            self.log.append(records, session=session)
        return len(records)


def append_staged(
    marks: BatchMarks,
    mark: BatchMark,
    staging_path: Path,
    *,
    deployment: str,
    pii: Sequence[str],
    progress: Callable[[str, int, int | None], None] | None,
) -> int:
    """Phase 2: the staged records from the mark's watermark on into the
    prediction log; returns the rows logged in all (by every attempt)."""
    name, _, version = mark.model.rpartition("/")
    done = offset = mark.rows_logged
    position = 0
    transactions = 0
    try:
        staged = pq.ParquetFile(staging_path)
        for batch in staged.iter_batches(batch_size=LOG_BATCH_ROWS):
            first, position = position, position + batch.num_rows
            if position <= offset:
                continue  # logged by an earlier attempt
            cols = batch.slice(max(offset - first, 0)).to_pydict()
            records = [
                PredictionRecord(
                    request_id=rid,
                    created_at=at,
                    deployment=deployment,
                    model_name=name,
                    model_version=int(version),
                    inputs=redact(orjson.loads(inputs), pii),
                    outputs={"score": score, "decision": decision},
                    latency_ms=ms,
                    extra={"flags": orjson.loads(flags)} if flags else {},
                )
                for rid, at, score, decision, ms, inputs, flags in zip(
                    cols["request_id"],
                    cols["created_at"],
                    cols["score"],
                    cols["decision"],
                    cols["latency_ms"],
                    cols["inputs"],
                    cols["flags"],
                    strict=True,
                )
            ]
            done += marks.append(mark.batch_id, done, records)
            transactions += 1
            fault(f"logged:{transactions}")
            if progress is not None:
                progress("log", done, mark.rows_total)
    except BaseException as exc:
        exc.add_note(
            f"{done} of {mark.rows_total} predictions of batch {mark.batch_id} are "
            "logged; the output file was not written. Retrying the job resumes "
            "from there."
        )
        raise
    fault("logged")
    return done
