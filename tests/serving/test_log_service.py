"""What other capabilities ask of the prediction log, answered by the log
alone: which request ids it holds, a deployment's newest model and record
times, and the records older than a cutoff, deleted in the caller's
transaction when it gives one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from mlsteward.serving.log.service import PredictionLog, PredictionRecord

T0 = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)


def _records(
    n: int, deployment: str, *, model: str = "m", prefix: str = "r"
) -> list[PredictionRecord]:
    return [
        PredictionRecord(
            request_id=f"{prefix}-{i}",
            created_at=T0 + dt.timedelta(minutes=i),
            deployment=deployment,
            model_name=model,
            model_version=1,
            inputs={"x": i},
            outputs={"score": 0.5, "decision": "deny"},
        )
        for i in range(n)
    ]


def test_the_log_answers_by_request_id_deployment_and_time(sqlite_client: Any) -> None:
    log = PredictionLog(sqlite_client.ctx)
    log.append(_records(1200, "a", model="m-a"))  # more ids than one IN list
    log.append(_records(3, "b", prefix="b"))

    ids = [f"r-{i}" for i in range(1200)] + ["b-0", "nope"]
    assert log.logged(ids) == set(ids) - {"nope"}
    assert log.logged(ids, deployment="b") == {"b-0"}
    assert log.logged([]) == set()

    assert log.latest_model("a") == "m-a"
    assert log.latest_model("b") == "m"
    assert log.latest_model("elsewhere") is None

    at = T0 + dt.timedelta(minutes=10)
    assert log.last_times("a", routes=["champion"], at=at, n=3) == [
        T0 + dt.timedelta(minutes=m) for m in (10, 9, 8)
    ]
    assert log.last_times("a", routes=["canary"], at=at, n=3) == []


def test_old_records_are_deleted_in_the_callers_transaction(sqlite_client: Any) -> None:
    log = PredictionLog(sqlite_client.ctx)
    log.append(_records(5, "a"))
    cutoff = T0 + dt.timedelta(minutes=2)
    assert sorted(log.older_than(cutoff)) == ["r-0", "r-1"]

    store = sqlite_client.ctx.store
    with pytest.raises(RuntimeError), store.unit_of_work() as session:
        assert log.delete_older_than(cutoff, session=session) == 2
        raise RuntimeError("the caller's use case fails after the delete")
    assert sorted(log.older_than(cutoff)) == ["r-0", "r-1"]  # rolled back with it

    assert log.delete_older_than(cutoff) == 2
    assert log.older_than(cutoff) == []
    assert log.logged(["r-2", "r-3", "r-4"]) == {"r-2", "r-3", "r-4"}
