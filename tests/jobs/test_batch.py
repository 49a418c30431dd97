"""Batch scoring of CSV and Parquet files: the registered model's scores, in
input order, every prediction logged like an online one; bad files write
nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlsteward.errors import InvalidInput, NotFound
from mlsteward.jobs.batch import BatchScoringService
from mlsteward.jobs.service import JobService
from mlsteward.jobs.specs import EnqueueJob, ScoreBatch

from .conftest import cli_env, jobs_sdk


def _expected(client: Any, frame: pd.DataFrame) -> np.ndarray:
    return client.load_model("credit-risk/1").predict_proba(frame)


def test_csv_and_parquet_score_like_the_model_and_are_logged(
    model: Any, credit: pd.DataFrame, tmp_path: Path
) -> None:
    client, features = model
    credit.to_csv(tmp_path / "in.csv", index=False)
    credit.to_parquet(tmp_path / "in.parquet", index=False)
    svc = BatchScoringService(client.ctx)
    seen: list[tuple[str, int, int | None]] = []
    first = svc.score_file(
        ScoreBatch.parse(
            model="credit-risk@champion",
            input=tmp_path / "in.csv",
            output=tmp_path / "out.parquet",
            chunk_size=333,
        ),
        progress=lambda *a: seen.append(a),
    )
    second = svc.score_file(
        ScoreBatch.parse(
            model="credit-risk/1",
            input=tmp_path / "in.parquet",
            output=tmp_path / "out.csv",
            chunk_size=256,
            deployment="nightly",
            id_column="application_id",
            log_columns=["personal_status_and_sex"],
            pii=["telephone"],
        )
    )
    expected = _expected(client, credit)
    assert (first.model, first.rows, first.chunks) == ("credit-risk/1", 1000, 4)
    assert (second.rows, second.deployment) == (1000, "nightly")
    assert seen[-1] == ("log", 1000, 1000) and ("score", 1000, 1000) in seen

    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == ["request_id", "score", "decision"]
    np.testing.assert_allclose(out["score"], expected, rtol=0, atol=1e-12)
    assert (out["decision"] == np.where(expected >= 0.5, "deny", "approve")).all()
    meta = pq.read_schema(tmp_path / "out.parquet").metadata
    assert meta[b"mlsteward.model"] == b"credit-risk/1"

    by_id = pd.read_csv(tmp_path / "out.csv", dtype={"application_id": str})
    assert list(by_id.columns) == ["application_id", "score", "decision"]
    assert (by_id["application_id"] == credit["application_id"].astype(str)).all()
    np.testing.assert_allclose(by_id["score"], expected, rtol=0, atol=1e-12)

    logged = client.predictions(deployment="credit-risk-batch")
    assert len(logged) == 1000
    joined = out.merge(logged, on="request_id", suffixes=("", "_log"))
    assert len(joined) == 1000
    np.testing.assert_array_equal(joined["score"], joined["score_log"])
    assert (joined["model_version"] == 1).all()
    nightly = client.predictions(deployment="nightly").set_index("request_id")
    assert set(nightly.index) == set(by_id["application_id"])
    assert (nightly["input.telephone"] == "[redacted]").all()
    assert nightly["input.personal_status_and_sex"].notna().all()
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())

    # Logged like online predictions: the same inputs for the same rows.
    client.score("credit-risk/1", credit.head(3), deployment="online")
    online = client.predictions(deployment="online")
    batch = nightly.loc[credit["application_id"].head(3).astype(str)]
    for (_, a), (_, b) in zip(online.iterrows(), batch.iterrows(), strict=True):
        for f in features:
            if f != "telephone":
                assert a[f"input.{f}"] == b[f"input.{f}"]
        assert a["score"] == pytest.approx(b["score"], abs=1e-12)


def _nothing_written(client: Any, out_dir: Path) -> None:
    assert list(out_dir.iterdir()) == []
    assert len(client.predictions()) == 0


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "does not exist"),
        ("extension", "expected one of"),
        ("column", r"lacks column\(s\) \['credit_history'\]"),
        ("corrupt", "could not read"),
        ("empty", "is empty"),
        (
            "late-bad-value",
            r"row 951, column 'credit_amount': must be numeric \(int64\), found 'lots'",
        ),
        ("duplicate-id", "appears twice"),
        ("missing-id", "has no value in id column"),
    ],
)
def test_bad_files_give_clear_errors_and_write_nothing(
    sqlite_model: Any, credit: pd.DataFrame, tmp_path: Path, case: str, message: str
) -> None:
    client, _ = sqlite_model
    data = credit.copy()
    src = tmp_path / "in.csv"
    id_column = None
    if case == "missing":
        src = tmp_path / "nope.csv"
    elif case == "extension":
        src = tmp_path / "in.json"
        data.to_json(src)
    elif case == "column":
        data.drop(columns=["credit_history"]).to_csv(src, index=False)
    elif case == "corrupt":
        src = tmp_path / "in.parquet"
        src.write_bytes(b"PAR1 this is not parquet")
    elif case == "empty":
        src.write_bytes(b"")
    elif case == "late-bad-value":
        data["credit_amount"] = data["credit_amount"].astype(object)
        data.loc[950, "credit_amount"] = "lots"
        data.to_csv(src, index=False)
    else:
        id_column = "application_id"
        if case == "duplicate-id":
            data.loc[999, "application_id"] = data.loc[0, "application_id"]
        else:
            data["application_id"] = data["application_id"].astype(object)
            data.loc[640, "application_id"] = None
        data.to_csv(src, index=False)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(InvalidInput, match=message):
        BatchScoringService(client.ctx).score_file(
            ScoreBatch.parse(
                model="credit-risk@champion",
                input=src,
                output=out_dir / "scores.parquet",
                chunk_size=300,
                id_column=id_column,
            )
        )
    _nothing_written(client, out_dir)


def test_bad_arguments_and_repeated_ids_are_refused(
    sqlite_model: Any, credit: pd.DataFrame, tmp_path: Path
) -> None:
    client, _ = sqlite_model
    svc = BatchScoringService(client.ctx)
    src = tmp_path / "in.parquet"
    credit.to_parquet(src, index=False)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(NotFound, match="credit-risk"):
        svc.score_file(
            ScoreBatch.parse(
                model="credit-risk@nope", input=src, output=out_dir / "a.csv"
            )
        )
    with pytest.raises(InvalidInput, match="engine 'spark'"):
        svc.score_file(
            ScoreBatch.parse(
                model="credit-risk", input=src, output=out_dir / "a.csv", engine="spark"
            )
        )
    with pytest.raises(InvalidInput, match="chunk_size"):
        svc.score_file(
            ScoreBatch.parse(
                model="credit-risk", input=src, output=out_dir / "a.csv", chunk_size=0
            )
        )
    with pytest.raises(InvalidInput, match="output folder"):
        svc.score_file(
            ScoreBatch.parse(
                model="credit-risk", input=src, output=tmp_path / "no" / "a.csv"
            )
        )
    _nothing_written(client, out_dir)

    svc.score_file(
        ScoreBatch.parse(
            model="credit-risk",
            input=src,
            output=out_dir / "a.csv",
            id_column="application_id",
        )
    )
    with pytest.raises(InvalidInput, match="already exists"):
        svc.score_file(
            ScoreBatch.parse(model="credit-risk", input=src, output=out_dir / "a.csv")
        )
    # The same ids again: each request is scored once.
    with pytest.raises(InvalidInput, match="already in the prediction log"):
        svc.score_file(
            ScoreBatch.parse(
                model="credit-risk",
                input=src,
                output=out_dir / "b.csv",
                id_column="application_id",
            )
        )
    assert [p.name for p in out_dir.iterdir()] == ["a.csv"]
    assert len(client.predictions()) == 1000


def test_batch_score_jobs(
    sqlite_model: Any, credit: pd.DataFrame, tmp_path: Path
) -> None:
    client, _ = sqlite_model
    credit.to_parquet(tmp_path / "in.parquet", index=False)
    svc = JobService(client.ctx)
    good = svc.enqueue(
        EnqueueJob.parse(
            kind="batch_score",
            payload={
                "model": "credit-risk@champion",
                "input": str(tmp_path / "in.parquet"),
                "output": str(tmp_path / "out.parquet"),
                "chunk_size": 400,
            },
        )
    )
    typo = svc.enqueue(
        EnqueueJob.parse(
            kind="batch_score",
            payload={
                "model": "credit-risk",
                "input": "x.csv",
                "output": "y.csv",
                "chunksize": 5,
            },
        )
    )
    ran = {j.id: j for j in jobs_sdk(client).run_jobs()}
    assert ran[good.id].state == "succeeded"
    assert ran[good.id].result["rows"] == 1000  # type: ignore[index]
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 1000
    assert any("scored 1000 rows" in e.message for e in svc.logs(good.id))
    assert ran[typo.id].state == "dead"
    assert "unknown key 'chunksize'" in (ran[typo.id].error or "")


def test_the_score_and_jobs_commands(
    sqlite_model: Any,
    credit: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The commands through Typer's runner (same code, one process; the
    worker tests run real processes)."""
    from typer.testing import CliRunner

    from mlsteward.cli import app

    client, _ = sqlite_model
    for key, value in cli_env(client.ctx.settings).items():
        if key.startswith("MLSTEWARD_"):
            monkeypatch.setenv(key, value)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == code, result.output
        return result

    credit.to_csv(tmp_path / "in.csv", index=False)
    done = invoke(
        "score",
        "credit-risk@champion",
        tmp_path / "in.csv",
        tmp_path / "out.parquet",
        "--chunk-size",
        "400",
        "--json",
    )
    assert json.loads(done.stdout)["rows"] == 1000
    np.testing.assert_allclose(
        pd.read_parquet(tmp_path / "out.parquet")["score"],
        _expected(client, credit),
        rtol=0,
        atol=1e-12,
    )
    people = invoke("score", "credit-risk", tmp_path / "in.csv", tmp_path / "p.csv")
    assert "scored 1000 rows with credit-risk/1" in people.stdout

    credit.drop(columns=["purpose"]).to_csv(tmp_path / "bad.csv", index=False)
    bad = invoke(
        "score", "credit-risk", tmp_path / "bad.csv", tmp_path / "x.csv", code=2
    )
    assert "purpose" in bad.stderr
    assert not (tmp_path / "x.csv").exists()

    queued = invoke(
        "score",
        "credit-risk",
        tmp_path / "in.csv",
        tmp_path / "queued.csv",
        "--as-job",
        "--json",
    )
    job_id = json.loads(queued.stdout)["id"]
    assert json.loads(queued.stdout)["payload"]["input"] == str(tmp_path / "in.csv")
    extra = json.loads(
        invoke(
            "jobs",
            "enqueue",
            "sleep",
            "--payload",
            '{"seconds": 0}',
            "--key",
            "k",
            "--json",
        ).stdout
    )
    assert (
        json.loads(invoke("jobs", "enqueue", "sleep", "--key", "k", "--json").stdout)[
            "id"
        ]
        == extra["id"]
    )
    invoke("jobs", "enqueue", "sleep", "--payload", "{oops", code=2)
    assert "sleep" in invoke("jobs", "list").stdout
    invoke("jobs", "cancel", extra["id"])
    invoke("jobs", "cancel", extra["id"], code=1)  # already cancelled
    ran = json.loads(invoke("jobs", "run-pending", "--json").stdout)
    assert [(j["id"], j["state"]) for j in ran] == [(job_id, "succeeded")]
    body = json.loads(invoke("jobs", "show", job_id, "--json").stdout)
    assert [e["action"] for e in body["history"]] == [
        "job.enqueued",
        "job.claimed",
        "job.succeeded",
    ]
    assert body["logs"][-1]["message"].startswith("scored 1000 rows")
    assert "scored 1000 rows" in invoke("jobs", "show", job_id).stdout
    lines = json.loads(invoke("jobs", "logs", job_id, "--json", "--tail", "1").stdout)
    assert len(lines) == 1
    invoke("jobs", "show", "nope", code=2)  # not found: bad input
    assert "no job is due" in invoke("worker", "--once").stderr
    assert len(pd.read_csv(tmp_path / "queued.csv")) == 1000
