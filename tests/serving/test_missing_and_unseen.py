"""One rule online and in batch: a missing value the model's pipeline imputes
is scored and flagged, any other is refused naming the record or row and
the column; an unseen category follows the deployment's policy. Every case
sends the same records through the inference app and through batch scoring.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from tests.serving.test_inference_app import call

from mlsteward.api.inference import InferenceApp
from mlsteward.config import Settings
from mlsteward.context import Context
from mlsteward.errors import InvalidInput
from mlsteward.jobs.batch import BatchScoringService
from mlsteward.jobs.specs import ScoreBatch
from mlsteward.registry.signature import infer_signature


@pytest.fixture
def served(sqlite_client: Any, credit: pd.DataFrame, trained: Any) -> Any:
    """``credit-risk/1``: the scorecard (it imputes every input);
    ``bare/1``: a plain logistic regression on the numeric inputs (it imputes
    none). Deployments: ``cr`` (reject unseen), ``cr-unknown`` (score unseen
    as unknown), ``bare``."""
    model, features = trained
    numeric = [c for c in features if credit[c].dtype.kind in "if"]
    bare = LogisticRegression(max_iter=1000).fit(
        credit[numeric].iloc[:700], credit["bad"].iloc[:700]
    )
    c = sqlite_client
    c.register_model("credit-risk", model, credit[features].iloc[:700])
    c.register_model("bare", bare, credit[numeric].iloc[:700])
    c.create_deployment("cr", "credit-risk/1")
    c.create_deployment("cr-unknown", "credit-risk/1", unseen_policy="unknown")
    c.create_deployment("bare", "bare/1")
    ctx = Context.from_settings(
        Settings(home=c.ctx.settings.home, actor="t", auth_required=False)
    )
    return ctx, features, numeric


def _online(ctx: Context, deployment: str, rows: pd.DataFrame) -> tuple[int, Any]:
    body = json.dumps(
        [
            {k: (None if pd.isna(v) else v) for k, v in r.items()}
            for r in rows.to_dict(orient="records")
        ]
    ).encode()

    async def scenario() -> tuple[int, Any]:
        app = InferenceApp(ctx, ["cr", "cr-unknown", "bare"])
        await app.startup()
        try:
            return await call(app, "POST", f"/predict/{deployment}", body)
        finally:
            await app.shutdown()

    return asyncio.run(scenario())


def _batch(
    client: Any, tmp_path: Path, model: str, rows: pd.DataFrame, **spec: Any
) -> Any:
    rows.to_parquet(tmp_path / "in.parquet", index=False)
    return BatchScoringService(client.ctx).score_file(
        ScoreBatch.parse(
            model=model,
            input=tmp_path / "in.parquet",
            output=tmp_path / "out.parquet",
            **spec,
        )
    )


def test_the_signature_records_what_the_pipeline_accepts(
    served: Any, sqlite_client: Any, credit: pd.DataFrame
) -> None:
    _, features, numeric = served
    scorecard = sqlite_client.get_model_version("credit-risk/1").signature.inputs
    bare = sqlite_client.get_model_version("bare/1").signature.inputs
    assert [(c["nullable"], c["accepts_missing"]) for c in scorecard] == [
        (False, True)
    ] * len(features)
    assert [c["accepts_missing"] for c in bare] == [False] * len(numeric)
    # What was recorded is what the models do with a missing value.
    row = credit[numeric].iloc[:1].astype("float64")
    row.iloc[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sqlite_client.load_model("bare/1").model.predict_proba(row)
    with_gap = credit[features].iloc[:1].copy()
    with_gap["credit_amount"] = np.nan
    assert np.isfinite(
        sqlite_client.load_model("credit-risk/1").predict_proba(with_gap)
    )


def test_a_signature_without_the_probe_keeps_to_nullable(
    sqlite_client: Any, credit: pd.DataFrame, trained: Any
) -> None:
    model, features = trained
    old = infer_signature(credit[features])  # as recorded before the probe
    sqlite_client.register_model("old", model, signature=old)
    stored = sqlite_client.get_model_version("old/1").signature
    assert all("accepts_missing" not in c for c in stored.inputs)
    frame = credit[features].iloc[:3].copy()
    frame.loc[frame.index[1], "credit_amount"] = np.nan
    with pytest.raises(InvalidInput, match="'credit_amount', row 2: missing") as err:
        sqlite_client.load_model("old/1").predict_proba(frame)
    assert err.value.field == "credit_amount" and err.value.details["row"] == 1


def test_missing_values_online_and_in_batch(
    served: Any, sqlite_client: Any, credit: pd.DataFrame, tmp_path: Path
) -> None:
    ctx, features, numeric = served
    rows = credit[features].iloc[700:704].copy()
    rows["credit_amount"] = rows["credit_amount"].astype("float64")
    rows.loc[rows.index[2], "credit_amount"] = np.nan

    # The scorecard imputes: scored, and the record is flagged.
    status, answer = _online(ctx, "cr", rows)
    assert status == 200, answer
    online = answer["predictions"]
    assert [p.get("flags") for p in online] == [
        None,
        None,
        {"missing": ["credit_amount"]},
        None,
    ]
    expected = sqlite_client.load_model("credit-risk/1").predict_proba(rows)
    np.testing.assert_allclose([p["score"] for p in online], expected, atol=1e-12)

    result = _batch(sqlite_client, tmp_path, "credit-risk/1", rows, deployment="cr")
    assert result.flagged == {"missing": 1, "unseen": 0}
    assert result.to_dict()["flagged"] == {"missing": 1, "unseen": 0}
    out = pd.read_parquet(tmp_path / "out.parquet")
    np.testing.assert_allclose(out["score"], expected, atol=1e-12)
    logged = sqlite_client.predictions(deployment="cr").set_index("request_id")
    assert logged.loc[out["request_id"].iloc[2], "flags"] == {
        "missing": ["credit_amount"]
    }
    assert logged.loc[out["request_id"].iloc[1], "flags"] is None
    assert logged.loc[online[2]["request_id"], "flags"] == {
        "missing": ["credit_amount"]
    }

    # The bare regression does not: refused, naming the record / row and
    # the column; the batch writes nothing.
    bare_rows = rows[numeric]
    status, problem = _online(ctx, "bare", bare_rows)
    assert status == 422 and problem["field"] == "credit_amount"
    assert "record 2" in problem["detail"] and "impute" in problem["detail"]
    (tmp_path / "out.parquet").unlink()
    with pytest.raises(InvalidInput, match=r"row 3: column 'credit_amount'") as err:
        _batch(sqlite_client, tmp_path, "bare/1", bare_rows, deployment="bare")
    assert err.value.field == "credit_amount" and err.value.details["file_row"] == 3
    assert "impute" in err.value.message
    assert not (tmp_path / "out.parquet").exists()
    assert len(sqlite_client.predictions(deployment="bare")) == 0


def test_unseen_categories_follow_the_deployment_policy(
    served: Any, sqlite_client: Any, credit: pd.DataFrame, tmp_path: Path
) -> None:
    ctx, features, _ = served
    rows = credit[features].iloc[700:703].copy()
    rows.loc[rows.index[1], "purpose"] = "spaceship"

    # reject (the default): refused online and in batch alike.
    status, problem = _online(ctx, "cr", rows)
    assert status == 422 and problem["field"] == "purpose"
    assert "record 1" in problem["detail"] and "'spaceship'" in problem["detail"]
    for deployment in ("cr", None):  # a batch name that is no deployment too
        with pytest.raises(InvalidInput, match=r"row 2: column 'purpose'") as err:
            _batch(
                sqlite_client,
                tmp_path,
                "credit-risk/1",
                rows,
                **({"deployment": deployment} if deployment else {}),
            )
        assert err.value.field == "purpose" and "'spaceship'" in err.value.message
        # The same words after "where": one message for both paths.
        said = "which the model never saw"
        assert problem["detail"].split(said)[1] == err.value.message.split(said)[1]
        assert not (tmp_path / "out.parquet").exists()

    # unknown: scored as unknown and flagged, online and in batch alike.
    status, answer = _online(ctx, "cr-unknown", rows)
    assert status == 200, answer
    online = answer["predictions"]
    assert [p.get("flags") for p in online] == [
        None,
        {"unseen": {"purpose": "spaceship"}},
        None,
    ]
    result = _batch(
        sqlite_client, tmp_path, "credit-risk/1", rows, deployment="cr-unknown"
    )
    assert result.flagged == {"missing": 0, "unseen": 1}
    out = pd.read_parquet(tmp_path / "out.parquet")
    np.testing.assert_allclose(
        out["score"], [p["score"] for p in online], rtol=0, atol=1e-12
    )
    logged = sqlite_client.predictions(deployment="cr-unknown").set_index("request_id")
    row = logged.loc[out["request_id"].iloc[1]]
    assert row["flags"] == {"unseen": {"purpose": "spaceship"}}
    assert row["input.purpose"] == "spaceship"  # logged as sent
    assert orjson.loads(orjson.dumps(row["flags"])) == online[1]["flags"]


def test_a_version_that_refuses_what_the_contract_accepts_cannot_serve(
    served: Any, sqlite_client: Any, credit: pd.DataFrame, trained: Any
) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from mlsteward.errors import Conflict

    _, features, numeric = served
    categorical = [c for c in features if c not in numeric]
    strict = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [
                        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                        # Scaling keeps NaN; the regression then refuses it.
                        ("num", StandardScaler(), numeric),
                    ]
                ),
            ),
            ("model", LogisticRegression(max_iter=1000)),
        ]
    ).fit(credit[features].iloc[:700], credit["bad"].iloc[:700])
    v2 = sqlite_client.register_model(
        "credit-risk", strict, credit[features].iloc[:700]
    )
    accepts = {c["name"]: c["accepts_missing"] for c in v2.signature.inputs}
    assert accepts == {c: c in categorical for c in features}
    # Deployment cr's requests may lack credit_amount (v1 imputes it): v2
    # would fail such a request, so it may not take traffic.
    with pytest.raises(Conflict, match="may be missing in requests") as err:
        sqlite_client.set_canary("cr", "credit-risk/2", 0.1)
    assert err.value.field in numeric
