"""client.runs, client.models and client.datasets give the same results over
HTTP as embedded: reads compared object for object on one store, writes made
remotely read back embedded, models and tables uploaded and downloaded with
their sha256 checked at both ends."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests.conftest import make_user

import mlsteward
from mlsteward.api import create_app
from mlsteward.errors import Forbidden, IntegrityError, InvalidInput, NotFound
from mlsteward.registry.service import LoadedModel
from mlsteward.sdk import Client as Embedded


@pytest.fixture
def both(sqlite_client, trained, credit) -> Iterator[SimpleNamespace]:  # type: ignore[no-untyped-def]
    """One store with a dataset, a run and a registered model; its admin and
    viewer as embedded clients and as remote ones (over a TestClient)."""
    model, features = trained
    root = make_user(sqlite_client.ctx, "root", "admin")
    viewer = make_user(sqlite_client.ctx, "vic", "viewer")
    settings = sqlite_client.ctx.settings
    local = Embedded(settings, token=root)
    table = credit[[*features, "bad"]]
    local.datasets.register(data=table.iloc[:300], name="gc", roles={"bad": "target"})
    run = local.runs.start(name="fit", params={"C": 1.0}, inputs=["gc/1"])
    local.runs.log_metrics(run.id, metrics={"auc": 0.8})
    local.models.register(
        name="cr", model=model, training_data=table[features].iloc[:200], run_id=run.id
    )
    http = TestClient(create_app(ctx=sqlite_client.ctx))
    yield SimpleNamespace(
        local=local,
        local_viewer=Embedded(settings, token=viewer),
        remote=mlsteward.Client("http://testserver", token=root, http=http),
        viewer=mlsteward.Client("http://testserver", token=viewer, http=http),
        http=http,
        model=model,
        features=features,
        table=table,
        run=run,
    )


def _same(remote: Any, local: Any) -> None:
    assert type(remote) is type(local)
    assert remote == local


def test_reads_are_equal(both) -> None:  # type: ignore[no-untyped-def]
    r, e = both.remote, both.local
    _same(r.runs.get(both.run.id), e.runs.get(both.run.id))
    _same(r.runs.list(limit=5), e.runs.list(limit=5))
    _same(r.models.get("cr"), e.models.get("cr"))
    _same(r.models.list(), e.models.list())
    _same(r.models.list_versions("cr"), e.models.list_versions("cr"))
    for ref in ("cr", "cr/1"):
        _same(r.models.get_version(ref), e.models.get_version(ref))
    _same(r.datasets.get("gc/1"), e.datasets.get("gc/1"))
    assert r.datasets.get("gc").profile == e.datasets.get("gc").profile
    _same(r.datasets.list(), e.datasets.list())
    _same(r.datasets.list("gc"), e.datasets.list("gc"))
    pd.testing.assert_frame_equal(r.datasets.load("gc/1"), e.datasets.load("gc/1"))
    assert r.runs.get(both.run.id).metrics == {"auc": 0.8}
    # The flat methods of the first release delegate to the namespaces.
    _same(r.get_model_version("cr/1"), e.get_model_version("cr/1"))


def test_run_lifecycle_remotely(both) -> None:  # type: ignore[no-untyped-def]
    r, e = both.remote, both.local
    run = r.runs.start(name="remote", params={"depth": 3}, inputs=["gc/1"])
    assert run.status == "running" and run.inputs[0]["dataset"] == "gc/1"
    assert r.runs.log_metrics(run.id, metrics={"auc": 0.7}, step=1) is None
    ended = r.runs.end(run.id, status="failed")
    _same(ended, e.runs.get(run.id))
    assert ended.status == "failed" and ended.metrics == {"auc": 0.7}
    with pytest.raises(InvalidInput) as bad:
        r.runs.log_metrics(both.run.id, metrics={"auc": "nan"})
    assert bad.value.field == "metrics.auc"
    with pytest.raises(NotFound):
        r.runs.get("nope")


def test_a_remote_run_records_where_it_trained(both, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The commit and package versions are the training machine's: the
    remote client sends its own, and a wrong commit is refused by name."""
    from mlsteward.registry.runs import environment_versions, git_sha
    from mlsteward.remote import transfers

    sent: list[dict] = []
    transport = both.remote.transport
    request = transport.request

    def spy(method: str, path: str, **kw):  # type: ignore[no-untyped-def]
        sent.append(kw.get("json") or {})
        return request(method, path, **kw)

    monkeypatch.setattr(transport, "request", spy)
    run = both.remote.runs.start(name="here")
    assert sent[-1]["git_sha"] == git_sha() and run.git_sha == git_sha()
    assert sent[-1]["environment"] == environment_versions() == run.environment
    mine = both.remote.runs.start(name="pinned", git_sha="d" * 40)
    assert mine.git_sha == "d" * 40
    with pytest.raises(InvalidInput) as bad:
        transfers.start_run(transport, name="x", git_sha="HEAD")
    assert bad.value.field == "git_sha"


def test_aliases_and_lifecycle_remotely(both) -> None:  # type: ignore[no-untyped-def]
    r, e = both.remote, both.local
    moved = r.models.set_alias("cr", alias="champion", version=1)
    assert moved.aliases == ["champion"]
    _same(r.models.get_version("cr@champion"), e.models.get_version("cr@champion"))
    from mlsteward.registry.specs import SetAlias, Transition

    r.models.set_alias("cr", SetAlias(alias="challenger", version=1))
    assert e.models.get("cr").aliases == {"champion": 1, "challenger": 1}
    assert r.models.delete_alias("cr", "challenger") is None
    assert e.models.get("cr").aliases == {"champion": 1}
    with pytest.raises(NotFound) as gone:
        r.models.delete_alias("cr", "challenger")
    assert gone.value.field == "alias"
    with pytest.raises(InvalidInput) as bad:
        r.models.set_alias("cr", alias="2", version=1)
    assert bad.value.field == "alias"
    done = r.models.transition("cr/1", Transition(state="approved", reason="ok"))
    _same(done, e.models.get_version("cr/1"))
    assert done.state == "approved"


def test_evaluate_on_a_dataset_and_on_a_table(both) -> None:  # type: ignore[no-untyped-def]
    r, e = both.remote, both.local
    on_ref = r.models.evaluate("cr/1", data="gc/1", threshold=0.4)
    assert on_ref.dataset == "gc/1" and on_ref.threshold == 0.4
    frame = both.table.iloc[300:500]
    on_table = r.models.evaluate("cr/1", data=frame, target="bad", label="holdout")
    local = e.models.evaluate("cr/1", data=frame, target="bad", label="holdout")
    assert on_table.metrics == local.metrics and on_table.dataset is None
    _same(r.models.evaluations("cr/1"), e.models.evaluations("cr/1"))
    assert [x.label for x in e.models.evaluations("cr/1")][-2:] == ["holdout"] * 2


def test_register_a_model_remotely_then_load_it(both) -> None:  # type: ignore[no-untyped-def]
    r, e = both.remote, both.local
    X = both.table[both.features]
    mv = r.models.register(
        name="cr", model=both.model, training_data=X.iloc[:200], run_id=both.run.id
    )
    assert mv.version == 2 and mv.run_id == both.run.id
    _same(mv, e.models.get_version("cr/2"))
    # Saved by the same flavor, with the signature the embedded register
    # infers (skops archives carry a time, so the bytes themselves differ).
    first = e.models.get_version("cr/1")
    assert mv.signature == first.signature and mv.flavor == first.flavor == "sklearn"
    stored = e.ctx.artifacts.get(mv.artifact_sha256)
    assert stored[:2] == b"PK" and len(stored) == mv.artifact_size
    loaded = r.models.load("cr/2")
    assert isinstance(loaded, LoadedModel) and loaded.version == mv
    sample = X.iloc[700:760]
    np.testing.assert_array_equal(
        loaded.predict_proba(sample), e.models.load("cr/2").predict_proba(sample)
    )
    # A flat method of the first release goes the same way.
    again = r.register_model("cr", both.model, X.iloc[:200])
    assert again.version == 3


def test_register_a_dataset_remotely_then_load_it(both, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r, e = both.remote, both.local
    frame = both.table.iloc[300:600]
    made = r.datasets.register(
        data=frame, name="gc", roles={"bad": "target"}, tags={"wave": 2}
    )
    _same(made, e.datasets.get("gc/2"))
    assert made.tags == {"wave": "2"} and made.target == "bad"
    pd.testing.assert_frame_equal(
        r.datasets.load("gc/2"), frame.reset_index(drop=True), check_dtype=False
    )
    pd.testing.assert_frame_equal(r.datasets.load("gc/2"), e.datasets.load("gc/2"))
    # Content-addressed alike: the embedded client's table is the same version.
    assert e.datasets.register(data=frame, name="gc") == made
    path = tmp_path / "t.csv"
    both.table.iloc[:50].to_csv(path, index=False)
    from_file = r.datasets.register(data=str(path), name="small")
    assert from_file.n_rows == 50 and from_file == e.datasets.get("small/1")
    with pytest.raises(InvalidInput) as bad:
        r.datasets.register(data=frame, name="gc", roles={"nope": "target"})
    assert bad.value.field == "roles.nope"
    assert [v.ref for v in e.datasets.list("gc")] == ["gc/1", "gc/2"]


def test_a_corrupted_download_is_refused(both) -> None:  # type: ignore[no-untyped-def]
    class Flipping(httpx.BaseTransport):
        """Changes one byte of every download on its way to the client."""

        def __init__(self, inner: httpx.BaseTransport) -> None:
            self.inner = inner

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = self.inner.handle_request(request)
            if not request.url.path.endswith(("/artifact", "/data")):
                return response
            body = bytearray(response.read())
            body[len(body) // 2] ^= 0xFF
            return httpx.Response(
                response.status_code, headers=response.headers, content=bytes(body)
            )

    http = TestClient(create_app(ctx=both.local.ctx))
    http._transport = Flipping(http._transport)  # type: ignore[attr-defined]
    token = both.remote.transport.token
    client = mlsteward.Client("http://testserver", token=token, http=http)
    with pytest.raises(IntegrityError, match="in transit") as bad:
        client.models.load("cr/1")
    assert bad.value.field == "sha256"
    with pytest.raises(IntegrityError):
        client.datasets.load("gc/1")


def test_a_stored_artifact_tampered_with_is_refused(both) -> None:  # type: ignore[no-untyped-def]
    mv = both.local.models.get_version("cr/1")
    store = both.local.ctx.artifacts
    path = store.path_for(mv.artifact_sha256)
    with open(path, "r+b") as f:
        f.seek(10)
        byte = f.read(1)
        f.seek(10)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(IntegrityError):
        both.remote.models.load("cr/1")


def test_a_wrong_sha256_on_upload_writes_nothing(both) -> None:  # type: ignore[no-untyped-def]
    from mlsteward.api.uploads import MEDIA_TYPE, write_bundle
    from mlsteward.flavors import get_flavor

    artifact = get_flavor("sklearn").save(both.model)
    sig = both.local.models.get_version("cr/1").signature
    manifest = {
        "spec": {"name": "cr"},
        "flavor": "sklearn",
        "artifact_sha256": "0" * 64,
        "signature": sig.model_dump(mode="json"),
    }
    store = both.local.ctx.artifacts
    before = sorted(store._resolve()[0].find(store._resolve()[1]))
    headers = {
        "Authorization": f"Bearer {both.remote.transport.token}",
        "Content-Type": MEDIA_TYPE,
    }
    r = both.http.post(
        "/api/v1/models/cr/versions",
        content=write_bundle(manifest, {"artifact": artifact}).read(),
        headers=headers,
    )
    assert r.status_code == 422 and r.json()["field"] == "artifact_sha256", r.text
    assert [v.version for v in both.local.models.list_versions("cr")] == [1]
    assert sorted(store._resolve()[0].find(store._resolve()[1])) == before
    audit = [e.action for e in both.local.audit_log()]
    assert audit.count("model_version.registered") == 1
    # A pickle is refused by the flavor's loader, never unpickled.
    import pickle

    evil = pickle.dumps({"x": 1})
    from mlsteward.artifacts import sha256_hex

    manifest = {**manifest, "artifact_sha256": sha256_hex(evil)}
    r = both.http.post(
        "/api/v1/models/cr/versions",
        content=write_bundle(manifest, {"artifact": evil}).read(),
        headers=headers,
    )
    assert r.status_code == 422 and "pickle" in r.json()["detail"], r.text
    assert [v.version for v in both.local.models.list_versions("cr")] == [1]


def test_a_table_whose_bytes_miss_their_sha256_is_a_422(both) -> None:  # type: ignore[no-untyped-def]
    from mlsteward.api.uploads import MEDIA_TYPE, write_bundle
    from mlsteward.datasets.io import canonical_parquet

    data = canonical_parquet(both.table.head(50))
    manifest = {"spec": {"name": "gc-bad"}, "data_sha256": "0" * 64}
    r = both.http.post(
        "/api/v1/datasets/gc-bad/versions",
        content=write_bundle(manifest, {"data.parquet": data}).read(),
        headers={
            "Authorization": f"Bearer {both.remote.transport.token}",
            "Content-Type": MEDIA_TYPE,
        },
    )
    assert r.status_code == 422 and r.json()["field"] == "data_sha256", r.text
    assert "in transit" in r.json()["detail"]
    assert "gc-bad" not in [d.name for d in both.local.datasets.list()]


def test_a_bad_upload_body_is_a_named_error(both) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {both.remote.transport.token}"}
    for path in ("/api/v1/models/cr/versions", "/api/v1/datasets/gc/versions"):
        r = both.http.post(path, json={}, headers=headers)
        assert r.status_code == 422 and r.json()["field"] == "body", r.text


def test_an_upload_over_the_body_limit_is_refused(both) -> None:  # type: ignore[no-untyped-def]
    from mlsteward.config import Settings
    from mlsteward.context import Context

    settings = both.local.ctx.settings.model_copy(update={"api_max_body_bytes": 4096})
    assert isinstance(settings, Settings)
    ctx = Context.from_settings(settings)
    http = TestClient(create_app(ctx=ctx))
    client = mlsteward.Client(
        "http://testserver", token=both.remote.transport.token, http=http
    )
    with pytest.raises(InvalidInput, match="MLSTEWARD_API_MAX_BODY_BYTES"):
        client.datasets.register(data=both.table, name="big")
    ctx.store.dispose()


def test_a_viewer_reads_but_does_not_write(both) -> None:  # type: ignore[no-untyped-def]
    v, e = both.viewer, both.local
    _same(v.models.get_version("cr/1"), e.models.get_version("cr/1"))
    assert v.models.load("cr/1").version.ref == "cr/1"
    assert len(v.datasets.load("gc/1")) == 300
    writes = [
        lambda: v.runs.start(name="x"),
        lambda: v.runs.log_metrics(both.run.id, metrics={"a": 1}),
        lambda: v.runs.end(both.run.id),
        lambda: v.models.set_alias("cr", alias="champion", version=1),
        lambda: v.models.delete_alias("cr", "champion"),
        lambda: v.models.transition("cr/1", state="approved"),
        lambda: v.models.evaluate("cr/1", data="gc/1"),
        lambda: v.models.register(
            name="cr", model=both.model, training_data=both.table[both.features]
        ),
        lambda: v.datasets.register(data=both.table.iloc[:10], name="gc"),
    ]
    for write in writes:
        with pytest.raises(Forbidden, match="developer"):
            write()
    assert [x.version for x in e.models.list_versions("cr")] == [1]
    assert e.models.get("cr").aliases == {}
    assert len(e.runs.list()) == 1 and len(e.datasets.list()) == 1


def test_every_method_of_the_three_namespaces_is_offered_remotely(both) -> None:  # type: ignore[no-untyped-def]
    from mlsteward.sdk.registry import Datasets, Models, Runs

    for name, cls in (("runs", Runs), ("models", Models), ("datasets", Datasets)):
        namespace = getattr(both.remote, name)
        for method in (m for m in vars(cls) if not m.startswith("_")):
            assert callable(getattr(namespace, method)), f"client.{name}.{method}"
