"""Batch scoring on a real dask.distributed LocalCluster (two worker
processes) gives the local engine's scores; each worker loads the model from
the artifact store itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlsteward.errors import InvalidInput
from mlsteward.jobs.batch import BatchScoringService
from mlsteward.jobs.dask_engine import cached_models
from mlsteward.jobs.specs import ScoreBatch

pytestmark = pytest.mark.dask


def test_the_dask_engine_scores_like_the_local_one(
    sqlite_model: Any, credit: pd.DataFrame, tmp_path: Path, dask_client: Any
) -> None:
    client, _ = sqlite_model
    credit.to_parquet(tmp_path / "in.parquet", index=False)
    svc = BatchScoringService(client.ctx)
    address = dask_client.scheduler.address
    result = svc.score_file(
        ScoreBatch.parse(
            model="credit-risk@champion",
            input=tmp_path / "in.parquet",
            output=tmp_path / "dask.csv",
            engine="dask",
            scheduler=address,
            chunk_size=100,
            deployment="nightly",
        )
    )
    assert (result.engine, result.rows, result.chunks) == ("dask", 1000, 10)
    local = client.load_model("credit-risk/1").predict_proba(credit)
    out = pd.read_csv(tmp_path / "dask.csv")
    np.testing.assert_allclose(out["score"], local, rtol=0, atol=1e-12)
    logged = client.predictions(deployment="nightly")
    assert set(logged["request_id"]) == set(out["request_id"])

    # The workers loaded the version themselves, by its verified sha256.
    sha = client.get_model_version("credit-risk/1").artifact_sha256
    loaded = dask_client.run(cached_models)
    assert any(sha in shas for shas in loaded.values())
    assert sha not in cached_models()  # not in this process

    # A bad value in the seventh chunk is found on a worker; nothing is written.
    bad = credit.copy()
    bad["duration_in_month"] = bad["duration_in_month"].astype(object)
    bad.loc[650, "duration_in_month"] = "long"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InvalidInput, match="rows 601-700: column 'duration_in_month'"):
        svc.score_file(
            ScoreBatch.parse(
                model="credit-risk",
                input=tmp_path / "bad.csv",
                output=tmp_path / "bad-out.parquet",
                engine="dask",
                scheduler=address,
                chunk_size=100,
            )
        )
    assert not (tmp_path / "bad-out.parquet").exists()
    assert len(client.predictions()) == 1000

    # The same input rules as the local engine, checked before a chunk ships:
    # a missing value the scorecard imputes is scored and flagged ...
    gap = credit.copy()
    gap["credit_amount"] = gap["credit_amount"].astype("float64")
    gap.loc[650, "credit_amount"] = np.nan
    gap.to_parquet(tmp_path / "gap.parquet", index=False)
    spec = {"engine": "dask", "scheduler": address, "chunk_size": 100}
    flagged = svc.score_file(
        ScoreBatch.parse(
            model="credit-risk",
            input=tmp_path / "gap.parquet",
            output=tmp_path / "gap-out.parquet",
            deployment="gaps",
            **spec,
        )
    )
    assert flagged.flagged == {"missing": 1, "unseen": 0}
    gaps = client.predictions(deployment="gaps")
    assert gaps["flags"].notna().sum() == 1
    # ... and an unseen category is refused (no deployment: reject), naming
    # the file once, the row and the column.
    gap.loc[420, "purpose"] = "spaceship"
    gap.to_parquet(tmp_path / "gap.parquet", index=False)
    with pytest.raises(InvalidInput, match="row 421: column 'purpose'") as err:
        svc.score_file(
            ScoreBatch.parse(
                model="credit-risk",
                input=tmp_path / "gap.parquet",
                output=tmp_path / "unseen-out.parquet",
                **spec,
            )
        )
    assert err.value.message.count("gap.parquet") == 1
    assert not (tmp_path / "unseen-out.parquet").exists()
