"""Scoring in process: score a frame with a model version and log each row."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mlsteward.context import Context
from mlsteward.errors import InvalidInput
from mlsteward.identity.access import use_case
from mlsteward.registry.service import ModelRegistry
from mlsteward.serving.log.service import PredictionLog, PredictionRecord, redact
from mlsteward.store import utcnow

__all__ = ["ScoringService"]


class ScoringService:
    """Score rows through a registered version and write the prediction log."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.registry = ModelRegistry(ctx)
        self.log = PredictionLog(ctx)

    @use_case("predictions.score", "developer")
    def score(
        self,
        ref: str,
        frame: pd.DataFrame,
        *,
        deployment: str,
        threshold: float = 0.5,
        request_ids: Sequence[str] | None = None,
        timestamps: Sequence[dt.datetime] | None = None,
        log_columns: Sequence[str] = (),
        pii: Sequence[str] = (),
    ) -> pd.DataFrame:
        """Score ``frame``; log each row as one prediction; return
        ``request_id``, ``score`` and ``decision`` per row.

        ``log_columns`` are logged beside the model's inputs (protected
        attributes for fairness checks, say); ``pii`` columns are redacted.
        The decision is ``deny`` when the score (probability of bad) is at or
        above ``threshold``.
        """
        if not 0.0 < threshold < 1.0:
            raise InvalidInput(
                f"threshold must be between 0 and 1, got {threshold}",
                field="threshold",
            )
        missing = [c for c in log_columns if c not in frame.columns]
        if missing:
            raise InvalidInput(
                f"log_columns {missing} are not in the data", field="log_columns"
            )
        n = len(frame)
        if request_ids is not None and len(request_ids) != n:
            raise InvalidInput("one request id per row is needed", field="request_ids")
        if timestamps is not None and len(timestamps) != n:
            raise InvalidInput("one timestamp per row is needed", field="timestamps")
        loaded = self.registry.load(ref)
        start = time.perf_counter()
        scores = loaded.predict_proba(frame)
        per_row_ms = (time.perf_counter() - start) * 1000 / max(n, 1)
        ids = (
            list(request_ids)
            if request_ids is not None
            else [uuid.uuid4().hex for _ in range(n)]
        )
        now = utcnow()
        features = loaded.version.signature.feature_names
        logged = list(dict.fromkeys([*features, *log_columns]))
        decisions = np.where(scores >= threshold, "deny", "approve")
        inputs = frame[logged].to_dict(orient="records")
        records = [
            PredictionRecord(
                request_id=ids[i],
                created_at=timestamps[i] if timestamps is not None else now,
                deployment=deployment,
                model_name=loaded.version.name,
                model_version=loaded.version.version,
                inputs=redact({str(k): v for k, v in inputs[i].items()}, pii),
                outputs={"score": float(scores[i]), "decision": str(decisions[i])},
                latency_ms=per_row_ms,
            )
            for i in range(n)
        ]
        self.log.append(records)
        return pd.DataFrame(
            {"request_id": ids, "score": scores, "decision": decisions},
            index=frame.index,
        )
