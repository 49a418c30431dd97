"""Request specs of jobs: queue a job, cancel one, score a file in batch.

Each is what its service method takes and what ``client.jobs`` and
``mlsteward jobs|score`` build. :class:`ScoreBatch` is also the payload of a
``batch_score`` job: a worker parses the payload as it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from mlsteward.names import check_name, parse_ref
from mlsteward.spec import Spec, guard, invalid

__all__ = ["ENGINES", "CancelJob", "EnqueueJob", "ScoreBatch"]

#: Where batch scoring runs: in this process, or on a Dask distributed cluster.
ENGINES = ("local", "dask")


class EnqueueJob(Spec):
    """Queue a job, or get back the job already queued under the same key.

    Example:
        >>> EnqueueJob.parse(kind="noop", max_attempts=0)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mlsteward.errors.InvalidInput: max_attempts must be ... from 1 to 100, got 0
    """

    kind: str = Field(description="A known job kind (mlsteward.jobs.available_kinds).")
    payload: dict[str, Any] = Field(
        default_factory=dict, description="JSON object handed to the handler."
    )
    idempotency_key: str | None = Field(
        default=None,
        description="A trigger that may fire twice passes the same key and gets "
        "the first job back; unique for ever (include what makes an episode "
        "distinct: 'retrain:credit-risk:alert-42').",
    )
    max_attempts: int = Field(default=3, description="Attempts before dead (1-100).")
    run_after: dt.datetime | None = Field(
        default=None, description="Not before this time-zone aware time (default now)."
    )

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        from mlsteward.jobs.handlers import check_kind

        guard(lambda: check_kind(value))
        return value

    @field_validator("payload", mode="before")
    @classmethod
    def _payload(cls, value: Any) -> dict[str, Any]:
        from mlsteward.jobs.validate import json_object

        return guard(lambda: json_object(value, "payload"))

    @field_validator("max_attempts", mode="before")
    @classmethod
    def _attempts(cls, value: Any) -> Any:
        return cls._queue(value, "max_attempts")

    @field_validator("idempotency_key", "run_after")
    @classmethod
    def _key_and_time(cls, value: Any, info: Any) -> Any:
        return cls._queue(value, info.field_name)

    @staticmethod
    def _queue(value: Any, field: str) -> Any:
        from mlsteward.jobs.validate import check_enqueue

        checked = {"idempotency_key": None, "max_attempts": 3, "run_after": None}
        checked[field] = value
        guard(lambda: check_enqueue(**checked))
        return value


class CancelJob(Spec):
    """Cancel a job that has not finished.

    Example:
        >>> CancelJob(reason="queued by mistake").reason
        'queued by mistake'
    """

    reason: str = Field(default="", description="Why, for the audit trail.")


class ScoreBatch(Spec):
    """Score a table file through a model version; log every prediction.

    Example:
        >>> ScoreBatch.parse(model="cr@champion", input="in.csv", output="o.csv",
        ...                  engine="spark")
        Traceback (most recent call last):
        ...
        mlsteward.errors.InvalidInput: engine 'spark' is not one of ['local', 'dask']
    """

    model: str = Field(
        description="'name', 'name/N' or 'name@alias'; resolved once, so an alias "
        "moved meanwhile does not mix versions in one file."
    )
    input: str = Field(description="Table file with the model's inputs.")
    output: str = Field(
        description="CSV or Parquet file to write: request id, score and "
        "decision per input row, in input order."
    )
    deployment: str | None = Field(
        default=None, description="Name in the prediction log (default <model>-batch)."
    )
    chunk_size: int = Field(default=10_000, description="Rows scored at a time.")
    engine: str = Field(default="local", description="'local' or 'dask'.")
    scheduler: str | None = Field(
        default=None, description="Dask scheduler address (default: a LocalCluster)."
    )
    id_column: str | None = Field(
        default=None,
        description="Column of request ids (unique, at most 64 characters, not "
        "yet logged); default '<batch id>-<row number>'.",
    )
    threshold: float = Field(default=0.5, description="Deny at or above it.")
    log_columns: list[str] = Field(
        default_factory=list,
        description="Columns logged beside the inputs (protected attributes).",
    )
    pii: list[str] = Field(
        default_factory=list, description="Logged columns whose values are redacted."
    )
    overwrite: bool = Field(default=False, description="Replace output if it exists.")

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        guard(lambda: parse_ref(value, "model"))
        return value

    @field_validator("input", "output", mode="before")
    @classmethod
    def _path(cls, value: Any) -> Any:
        return str(value) if isinstance(value, Path) else value

    @field_validator("input")
    @classmethod
    def _input(cls, value: str) -> str:
        from mlsteward.datasets.io import table_format

        guard(lambda: table_format(Path(value), "input"))
        return value

    @field_validator("output")
    @classmethod
    def _output(cls, value: str) -> str:
        from mlsteward.jobs.batch_io import output_format

        guard(lambda: output_format(Path(value), "output"))
        return value

    @field_validator("deployment")
    @classmethod
    def _deployment(cls, value: str | None) -> str | None:
        return None if value is None else guard(lambda: check_name(value, "deployment"))

    @field_validator("chunk_size", mode="before")
    @classmethod
    def _chunk_size(cls, value: Any) -> Any:
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 1 <= value <= 10_000_000
        ):
            invalid(
                f"chunk_size must be a whole number from 1 to 10000000, got {value!r}",
                "chunk_size",
            )
        return value

    @field_validator("engine")
    @classmethod
    def _engine(cls, value: str) -> str:
        if value not in ENGINES:
            invalid(
                f"engine {value!r} is not one of {list(ENGINES)}",
                "engine",
                list(ENGINES),
            )
        return value

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> Any:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0.0 < value < 1.0
        ):
            invalid(f"threshold must be between 0 and 1, got {value!r}", "threshold")
        return value
