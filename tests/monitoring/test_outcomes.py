"""Outcome files: unknown ids, duplicates, wrong labels and conflicts fail the
whole file with a clear error and load nothing; loading is idempotent."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from mlsteward.errors import Conflict, InvalidInput
from mlsteward.monitoring.tables import outcomes


def _count(client) -> int:
    with client.ctx.store.read() as session:
        return int(session.execute(select(func.count()).select_from(outcomes)).scalar())


@pytest.fixture
def scored(world) -> tuple:
    period = world.history.periods[0]
    ids = world.score(period, outcomes=False)
    return world.client, ids, period.frame["bad"].to_numpy()


BAD_FILES = [
    ({"request_id": ["nope"], "label": [1]}, "request_id", "not in the prediction log"),
    ({"request_id": ["DUP", "DUP"], "label": [0, 0]}, "request_id", "more than once"),
    ({"request_id": ["A"], "label": [2]}, "label", "0 (good) or 1 (bad)"),
    ({"request_id": ["A"], "label": ["maybe"]}, "label", "0 (good) or 1 (bad)"),
    ({"request_id": ["A", "B"], "label": [1, None]}, "label", "missing"),
    ({"id": ["A"], "label": [1]}, "request_id", "request_id"),
]


def test_bad_files_are_refused_whole(scored, tmp_path: Path) -> None:
    client, ids, labels = scored
    for i, (rows, field, words) in enumerate(BAD_FILES):
        frame = pd.DataFrame(rows)
        # Good rows first: the bad row at the end must still stop all of them.
        if "request_id" in frame:
            frame["request_id"] = frame["request_id"].replace(
                {"A": ids[0], "B": ids[1], "DUP": ids[2]}
            )
            good = pd.DataFrame({"request_id": ids[3:10], "label": labels[3:10]})
            frame = pd.concat([good, frame], ignore_index=True)
        path = tmp_path / f"outcomes-{i}.csv"
        frame.to_csv(path, index=False)
        with pytest.raises(InvalidInput) as bad:
            client.load_outcomes(path)
        assert bad.value.field == field, rows
        assert words in bad.value.message, rows
        assert _count(client) == 0


def test_idempotent_and_conflicting_reloads(scored, tmp_path: Path) -> None:
    client, ids, labels = scored
    path = tmp_path / "outcomes.parquet"
    pd.DataFrame({"request_id": ids, "label": labels}).to_parquet(path)
    assert client.load_outcomes(path).to_dict() == {"loaded": len(ids), "unchanged": 0}
    assert client.load_outcomes(path).to_dict() == {"loaded": 0, "unchanged": len(ids)}
    flipped = pd.DataFrame({"request_id": ids[:2], "label": 1 - labels[:2]})
    with pytest.raises(Conflict, match="already has outcome"):
        client.load_outcomes(flipped)
    assert _count(client) == len(ids)


def test_csv_request_ids_stay_text(sqlite_world, tmp_path: Path) -> None:
    c, period = sqlite_world.client, sqlite_world.history.periods[0]
    frame = period.frame.reset_index(drop=True).iloc[:2]
    c.score(
        "credit-risk@champion",
        frame,
        deployment="credit-risk",
        request_ids=["007", "008"],
    )
    path = tmp_path / "o.csv"
    path.write_text("request_id,label\n007,1\n008,0\n")
    assert c.load_outcomes(path).loaded == 2


def test_new_labels_count_the_deployments_and_forget_joins_the_callers_transaction(
    sqlite_client,
) -> None:
    import datetime as dt

    from mlsteward.monitoring.outcomes import OutcomeService
    from mlsteward.serving.log.service import PredictionLog, PredictionRecord
    from mlsteward.store import utcnow

    at = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
    PredictionLog(sqlite_client.ctx).append(
        PredictionRecord(f"{d}-{i}", at, d, "m", 1, {"x": i}, {"score": 0.5})
        for d in ("a", "b")
        for i in range(3)
    )
    svc = OutcomeService(sqlite_client.ctx)
    svc.load(pd.DataFrame({"request_id": ["a-0", "a-1", "b-0"], "label": [0, 1, 1]}))
    assert svc.new_labels("a") == 2
    assert svc.new_labels("b") == 1
    later = utcnow()
    svc.load(pd.DataFrame({"request_id": ["a-2"], "label": [0]}))
    assert svc.new_labels("a", since=later) == 1
    assert svc.new_labels("b", since=later) == 0

    store = sqlite_client.ctx.store
    with pytest.raises(RuntimeError), store.unit_of_work() as session:
        assert svc.forget(["a-0", "a-1", "nope"], session=session) == 2
        raise RuntimeError("the caller's use case fails after")
    assert _count(sqlite_client) == 4
    assert svc.forget(["a-0", "a-1"]) == 2
    assert svc.new_labels("a") == 1
