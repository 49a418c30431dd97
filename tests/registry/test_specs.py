"""The specs of datasets, runs and the registry: one bad field gives the same
field-named error through the spec, ``client.datasets/runs/models``, the flat
client methods, REST (a 422 problem naming the field) and the CLI (exit 2),
and nothing is written. The namespaces return what the flat methods do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mlsteward.api import create_app
from mlsteward.cli import app as cli_app
from mlsteward.datasets.specs import RegisterDataset
from mlsteward.errors import InvalidInput
from mlsteward.registry.models import State
from mlsteward.registry.specs import (
    EndRun,
    Evaluate,
    LogMetrics,
    RegisterModel,
    SetAlias,
    StartRun,
    Transition,
)


@pytest.fixture
def api(sqlite_client, admin_headers) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(create_app(ctx=sqlite_client.ctx), headers=admin_headers)


@pytest.fixture
def cli(sqlite_client, sqlite_settings, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MLSTEWARD_HOME", str(sqlite_settings.home))
    for var in ("MLSTEWARD_DB_URL", "MLSTEWARD_TOKEN", "MLSTEWARD_URL"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(cli_app, list(args))

    return invoke


@pytest.fixture
def registered(sqlite_client, credit, trained):  # type: ignore[no-untyped-def]
    """A dataset version gc/1 and a model version credit-risk/1 trained on it."""
    model, features = trained
    dv = sqlite_client.datasets.register(
        data=credit, name="gc", roles={"bad": "target"}
    )
    mv = sqlite_client.models.register(
        name="credit-risk", model=model, training_data=credit[features]
    )
    return dv, mv


def _error(fn: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        fn()
    return info.value


def _same_error(spec: Any, *calls: Any) -> InvalidInput:
    """Every call fails like the spec: same field, same message."""
    first = _error(spec)
    for call in calls:
        err = _error(call)
        assert (err.field, err.message) == (first.field, first.message)
    return first


# -- datasets ---------------------------------------------------------------
BAD_DATASETS: list[tuple[dict[str, Any], str, str]] = [
    ({"roles": {"bad": "label"}}, "roles.bad", "not one of ['feature'"),
    ({"roles": {"bad": "target", "age": "target"}}, "roles", "at most one"),
    ({"name": "german credit"}, "name", "not a valid name"),
    ({"rolse": {"bad": "target"}}, "rolse", "unknown key 'rolse'"),
]


@pytest.mark.parametrize(("bad", "field", "phrase"), BAD_DATASETS)
def test_register_dataset_same_error_everywhere(
    sqlite_client, cli, tmp_path: Path, bad, field, phrase
) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame({"age": [30, 40], "bad": [0, 1]})
    body = {"name": "gc", **bad}
    err = _same_error(
        lambda: RegisterDataset.parse(body),
        lambda: sqlite_client.datasets.register(data=frame, **body),
    )
    assert err.field == field and phrase in err.message
    if "rolse" not in bad:
        flat = _error(
            lambda: sqlite_client.register_dataset(
                body["name"], frame, roles=body.get("roles")
            )
        )
        assert (flat.field, flat.message) == (err.field, err.message)
        path = tmp_path / "t.csv"
        frame.to_csv(path, index=False)
        roles = [f"--role={c}={r}" for c, r in body.get("roles", {}).items()]
        out = cli("datasets", "register", body["name"], str(path), *roles)
        assert out.exit_code == 2, out.output
        assert phrase in " ".join(out.output.split())
    assert sqlite_client.datasets.list() == []


def test_a_role_for_a_missing_column_is_refused_by_the_service(
    sqlite_client,
) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame({"age": [30, 40], "bad": [0, 1]})
    err = _error(
        lambda: sqlite_client.datasets.register(
            data=frame, name="gc", roles={"default": "target"}
        )
    )
    assert err.field == "roles.default" and "does not have" in err.message
    assert sqlite_client.datasets.list() == []


# -- runs -------------------------------------------------------------------
def test_run_specs_same_error_everywhere(sqlite_client, registered) -> None:  # type: ignore[no-untyped-def]
    c = sqlite_client
    err = _same_error(
        lambda: StartRun.parse(name="r", inputs=["gc@latest"]),
        lambda: c.runs.start(name="r", inputs=["gc@latest"]),
        lambda: c.start_run("r", inputs=["gc@latest"]),
    )
    assert err.field == "inputs" and "no aliases" in err.message
    err = _same_error(
        lambda: StartRun.parse(name="r", inputs=["gc/0"]),
        lambda: c.runs.start(name="r", inputs=["gc/0"]),
    )
    assert err.field == "inputs"
    assert _error(lambda: c.runs.start(name="")).field == "name"
    assert c.runs.list() == []

    run = c.runs.start(StartRun(name="r", inputs=["gc/1"]))
    err = _same_error(
        lambda: LogMetrics.parse(metrics={"auc": float("nan")}),
        lambda: c.runs.log_metrics(run.id, metrics={"auc": float("nan")}),
        lambda: c.log_metrics(run.id, {"auc": float("nan")}),
    )
    assert err.field == "metrics.auc" and "finite" in err.message
    err = _same_error(
        lambda: LogMetrics.parse(metrics={"ks": "high"}),
        lambda: c.runs.log_metrics(run.id, metrics={"ks": "high"}),
    )
    assert err.field == "metrics.ks" and "must be a number" in err.message
    assert _error(lambda: c.runs.log_metrics(run.id, metrics={}, step=-1)).field == (
        "step"
    )
    for status in ("running", "done"):
        err = _same_error(
            lambda s=status: EndRun.parse(status=s),
            lambda s=status: c.runs.end(run.id, status=s),
            lambda s=status: c.end_run(run.id, s),
        )
        assert err.field == "status"
        assert err.details["allowed"] == ["finished", "failed"]
    got = c.runs.get(run.id)
    assert (got.status, got.metrics) == ("running", {})  # nothing written


def test_runs_namespace_and_flat_methods_agree(sqlite_client, registered) -> None:  # type: ignore[no-untyped-def]
    c = sqlite_client
    run = c.runs.start(name="r", params={"C": 0.5}, inputs=["gc/1"])
    c.runs.log_metrics(run.id, LogMetrics(metrics={"auc": 0.8}, step=1))
    c.log_metrics(run.id, {"ks": 0.4}, step=2)
    ended = c.runs.end(run.id, EndRun(status="failed"))
    assert ended.status == "failed" and ended.metrics == {"auc": 0.8, "ks": 0.4}
    assert ended.inputs == [{"dataset": "gc/1", "context": "training"}]
    assert c.runs.get(run.id) == c.get_run(run.id) == ended
    assert c.runs.list() == c.list_runs() == [ended]


# -- models -----------------------------------------------------------------
BAD_MODELS: list[tuple[dict[str, Any], str, str]] = [
    ({"flavor": "pickle"}, "flavor", "not one of"),
    ({"name": "credit risk"}, "name", "not a valid name"),
    ({"parent_version": 0}, "parent_version", "must be >= 1"),
    ({"tags": "owner"}, "tags", "mapping"),
]


@pytest.mark.parametrize(("bad", "field", "phrase"), BAD_MODELS)
def test_register_model_same_error_everywhere(
    sqlite_client, credit, trained, bad, field, phrase
) -> None:  # type: ignore[no-untyped-def]
    model, features = trained
    X = credit[features]
    body = {"name": "credit-risk", **bad}
    name = body.pop("name")
    err = _same_error(
        lambda: RegisterModel.parse(name=name, **body),
        lambda: sqlite_client.models.register(
            name=name, model=model, training_data=X, **body
        ),
        lambda: sqlite_client.register_model(name, model, X, **body),
    )
    assert err.field == field and phrase in err.message, err.message
    if field == "flavor":
        assert "sklearn" in err.details["allowed"]
    assert sqlite_client.models.list() == []


def test_set_alias_same_error_everywhere(sqlite_client, registered, api, cli) -> None:  # type: ignore[no-untyped-def]
    c = sqlite_client
    err = _same_error(
        lambda: SetAlias.parse(alias="2", version=1),
        lambda: c.models.set_alias("credit-risk", alias="2", version=1),
        lambda: c.set_alias("credit-risk", "2", 1),
    )
    assert err.field == "alias" and "must not look like versions" in err.message
    r = api.put("/api/v1/models/credit-risk/aliases/2", json={"version": 1})
    assert (r.status_code, r.json()["field"]) == (422, "alias"), r.text
    assert "must not look like versions" in r.json()["detail"]
    out = cli("models", "set-alias", "credit-risk", "2", "1")
    assert out.exit_code == 2 and "must not look like versions" in out.output

    err = _same_error(
        lambda: SetAlias.parse(alias="champion", version=0),
        lambda: c.models.set_alias("credit-risk", alias="champion", version=0),
    )
    assert err.field == "version"
    r = api.put("/api/v1/models/credit-risk/aliases/champion", json={"version": 0})
    assert (r.status_code, r.json()["field"]) == (422, "version")
    out = cli("models", "set-alias", "credit-risk", "champion", "0")
    assert out.exit_code == 2, out.output
    assert c.models.get("credit-risk").aliases == {}  # nothing written


def test_transition_same_error_everywhere(sqlite_client, registered, api, cli) -> None:  # type: ignore[no-untyped-def]
    c = sqlite_client
    err = _same_error(
        lambda: Transition.parse(state="live"),
        lambda: c.models.transition("credit-risk/1", state="live"),
        lambda: c.transition("credit-risk/1", "live"),
    )
    assert err.field == "state"
    assert err.details["allowed"] == [s.value for s in State]
    r = api.post(
        "/api/v1/model-versions/credit-risk/1/transition",
        json={"state": "live", "reason": "x"},
    )
    assert (r.status_code, r.json()["field"]) == (422, "state"), r.text
    assert r.json()["allowed"] == [s.value for s in State]
    r = api.post(
        "/api/v1/model-versions/credit-risk/1/transition",
        json={"state": "approved", "reson": "typo"},
    )
    assert (r.status_code, r.json()["field"]) == (422, "reson"), r.text
    out = cli("models", "transition", "credit-risk/1", "live")
    assert out.exit_code == 2 and "not one of" in out.output
    assert c.models.get_version("credit-risk/1").state == State.REGISTERED


def test_evaluate_same_error_everywhere(sqlite_client, registered, cli) -> None:  # type: ignore[no-untyped-def]
    c = sqlite_client
    err = _same_error(
        lambda: Evaluate.parse(threshold=1.5),
        lambda: c.models.evaluate("credit-risk/1", data="gc/1", threshold=1.5),
        lambda: c.evaluate("credit-risk/1", "gc/1", threshold=1.5),
    )
    assert err.field == "threshold" and "between 0 and 1" in err.message
    assert _error(lambda: Evaluate.parse(treshold=0.4)).field == "treshold"
    out = cli("models", "evaluate", "credit-risk/1", "gc/1", "--threshold", "1.5")
    assert out.exit_code == 2 and "between 0 and 1" in out.output
    assert c.models.evaluations("credit-risk/1") == []  # nothing written


def test_models_namespace_is_the_flat_methods(sqlite_client, registered, cli) -> None:  # type: ignore[no-untyped-def]
    c = sqlite_client
    _, mv = registered
    assert c.models.get_version(mv.ref) == c.get_model_version(mv.ref) == mv
    assert c.models.list() == c.list_models()
    assert c.models.get("credit-risk") == c.get_model("credit-risk")
    assert c.models.list_versions("credit-risk") == c.list_versions("credit-risk")

    moved = c.models.set_alias("credit-risk", SetAlias(alias="champion", version=1))
    assert moved.aliases == ["champion"]
    assert c.set_alias("credit-risk", "champion", 1) == moved  # idempotent
    approved = c.models.transition(mv.ref, Transition(state=State.APPROVED))
    assert approved.state == "approved"
    assert c.get_model_version(mv.ref) == approved

    ev = c.models.evaluate(mv.ref, Evaluate(threshold=0.4), data="gc/1")
    flat = c.evaluate(mv.ref, "gc/1", threshold=0.4)
    assert (ev.dataset, ev.label, ev.threshold) == ("gc/1", "gc/1", 0.4)
    assert ev.metrics == flat.metrics
    assert c.models.evaluations(mv.ref) == c.list_evaluations(mv.ref) == [ev, flat]

    out = cli("models", "evaluate", mv.ref, "gc/1", "--label", "oot", "--json")
    assert out.exit_code == 0, out.output
    assert c.models.evaluations(mv.ref)[-1].label == "oot"
    out = cli("models", "set-alias", "credit-risk", "challenger", "1")
    assert out.exit_code == 0, out.output
    out = cli("models", "delete-alias", "credit-risk", "challenger")
    assert out.exit_code == 0, out.output
    c.models.delete_alias("credit-risk", "champion")
    assert c.models.get("credit-risk").aliases == {}
    assert c.models.load(mv.ref).version == c.load_model(mv.ref).version


def test_datasets_namespace_and_flat_methods_agree(sqlite_client, registered) -> None:  # type: ignore[no-untyped-def]
    c = sqlite_client
    dv, _ = registered
    assert c.datasets.get("gc") == c.get_dataset("gc/1") == dv
    assert c.datasets.list("gc") == c.list_datasets("gc") == [dv]
    pd.testing.assert_frame_equal(c.datasets.load(dv.ref), c.load_dataset(dv.ref))
    # The same content under the same name is the same version, either way.
    again = c.register_dataset("gc", c.datasets.load(dv.ref), roles={"bad": "target"})
    assert again == dv
    assert dv.target == "bad"
