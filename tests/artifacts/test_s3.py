"""The loop against a real S3 server: moto's, on loopback.

Registering, loading, scoring and the model report all go through an
``s3://`` artifact store; the objects land in the bucket under their sha256;
a server that goes away mid-way gives a clear error naming the store and
leaves nothing half-registered, and the same call works once it is back.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import require_or_skip
from tests.serving.servers import free_port

from mlsteward.artifacts import ArtifactStore
from mlsteward.config import Settings
from mlsteward.errors import IntegrityError, Unavailable

BUCKET = "mlsteward-test"
URI = f"s3://{BUCKET}/artifacts"
#: Dummy credentials for moto, and nothing read from the machine's own
#: AWS configuration; one attempt per request, so an outage shows at once.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_MAX_ATTEMPTS": "1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}
SHA_KEY = re.compile(r"^artifacts/sha256/([0-9a-f]{2})/([0-9a-f]{64})$")


class S3Server:
    """moto's S3 server in this process, on a fixed loopback port, so it can
    be stopped and started again with its buckets intact."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server: Any = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(
            ip_address="127.0.0.1", port=self.port, verbose=False
        )
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint)

    def objects(self) -> dict[str, bytes]:
        s3 = self.client()
        listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return {
            o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
            for o in listed
        }


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    try:
        import moto.server  # noqa: F401
        import s3fs  # noqa: F401
    except ImportError as exc:
        require_or_skip(
            f"S3 tests need moto[server] and s3fs ({exc}): pip install -e '.[test]'"
        )
    with pytest.MonkeyPatch.context() as mp:
        for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            mp.delenv(key, raising=False)
        for key, value in AWS_ENV.items():
            mp.setenv(key, value)
        server = S3Server()
        server.start()
        try:
            server.client().create_bucket(Bucket=BUCKET)
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def world(
    s3: S3Server, tmp_path_factory: pytest.TempPathFactory, credit, trained
) -> Iterator[dict[str, Any]]:
    """An embedded client whose artifacts live in the S3 bucket."""
    from mlsteward.datasets.bundled import german_credit_roles
    from mlsteward.sdk import Client

    home = tmp_path_factory.mktemp("s3") / "home"
    settings = Settings(
        home=home, artifacts_uri=URI, artifacts_endpoint_url=s3.endpoint, actor="dana"
    )
    client = Client(settings)
    model, features = trained
    dv = client.register_dataset("gc", credit, roles=german_credit_roles())
    mv = client.register_model("credit-risk", model, credit[features])
    try:
        yield {"client": client, "home": home, "dv": dv, "mv": mv}
    finally:
        client.close()


def test_the_loop_runs_on_s3(
    world: dict[str, Any], s3: S3Server, credit, trained, tmp_path: Path
) -> None:
    client, dv, mv = world["client"], world["dv"], world["mv"]
    model, features = trained
    assert client.ctx.artifacts.uri == URI
    assert client.ctx.artifacts.storage_options == {"endpoint_url": s3.endpoint}

    loaded = client.load_model(mv.ref)  # fetched from S3, sha256 checked
    rows = credit[features].iloc[:50]
    assert (loaded.predict_proba(rows) == model.predict_proba(rows)[:, 1]).all()
    assert client.load_dataset(dv.ref).shape == credit.shape

    scored = client.score(mv.ref, rows, deployment="s3-batch")
    assert len(scored) == 50
    assert len(client.predictions(deployment="s3-batch")) == 50

    report = client.write_report(mv.ref, tmp_path / "report.html")
    html = Path(report.html).read_text(encoding="utf-8")
    assert mv.artifact_sha256 in html

    objects = s3.objects()
    named = {}
    for key, data in objects.items():
        match = SHA_KEY.match(key)
        assert match, f"{key} is not in the sha256 layout"
        prefix, digest = match.groups()
        assert digest[:2] == prefix
        assert hashlib.sha256(data).hexdigest() == digest
        named[digest] = data
    assert mv.artifact_sha256 in named
    assert len(named[mv.artifact_sha256]) == mv.artifact_size
    assert dv.sha256 in named


def test_tampered_object_in_the_bucket_is_refused(s3: S3Server) -> None:
    store = ArtifactStore(URI, endpoint_url=s3.endpoint)
    ref = store.put(b"a model's bytes")
    key = f"artifacts/sha256/{ref.sha256[:2]}/{ref.sha256}"
    s3.client().put_object(Bucket=BUCKET, Key=key, Body=b"a model's bytez")
    with pytest.raises(IntegrityError, match="corrupt or tampered"):
        ArtifactStore(URI, endpoint_url=s3.endpoint).get(ref.sha256)


def test_the_aws_sdks_own_endpoint_variable_is_honoured(
    s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    store = ArtifactStore(URI, skip_instance_cache=True)
    ref = store.put(b"found through AWS_ENDPOINT_URL")
    assert s3.objects()[f"artifacts/sha256/{ref.sha256[:2]}/{ref.sha256}"] == (
        b"found through AWS_ENDPOINT_URL"
    )


def _cli(
    world: dict[str, Any], s3: S3Server, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **AWS_ENV,
        "MLSTEWARD_HOME": str(world["home"]),
        "MLSTEWARD_ARTIFACTS_URI": URI,
        "MLSTEWARD_ARTIFACTS_ENDPOINT_URL": s3.endpoint,
        "MLSTEWARD_ACTOR": "cli-user",
    }
    env.pop("MLSTEWARD_DB_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "mlsteward", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.slow  # two CLI processes
def test_server_gone_mid_way_fails_clearly_and_records_nothing(
    world: dict[str, Any], s3: S3Server, credit, tmp_path: Path
) -> None:
    from mlsteward.retraining.trainers import logistic_scorecard

    client = world["client"]
    features = world["mv"].signature.feature_names
    challenger = logistic_scorecard(
        credit.iloc[:600], features=features, target="bad", params={"C": 0.2}
    )
    table = tmp_path / "gc2.csv"
    credit.iloc[:300].to_csv(table, index=False)
    before = client.audit_head()

    s3.stop()
    try:
        with pytest.raises(Unavailable, match=re.escape(f"artifact store {URI}")):
            client.register_model("credit-risk", challenger, credit[features])
        assert [v.version for v in client.list_versions("credit-risk")] == [1]

        failed = _cli(world, s3, "datasets", "register", "gc2", str(table))
        assert failed.returncode == 1, failed.stderr
        said = " ".join(failed.stderr.split())  # the console wraps long lines
        assert f"artifact store {URI} could not be reached" in said
        assert "Traceback" not in failed.stderr + failed.stdout
        assert "gc2" not in {d.name for d in client.list_datasets()}

        with pytest.raises(Unavailable, match=re.escape(f"artifact store {URI}")):
            client.score(world["mv"].ref, credit[features], deployment="s3-outage")
        assert len(client.predictions(deployment="s3-outage")) == 0
        assert client.audit_head() == before  # nothing was recorded
    finally:
        s3.start()

    mv2 = client.register_model("credit-risk", challenger, credit[features])
    assert mv2.version == 2
    assert client.load_model(mv2.ref) is not None
    again = _cli(world, s3, "datasets", "register", "gc2", str(table), "--json")
    assert again.returncode == 0, again.stderr
    dv2 = json.loads(again.stdout)
    assert f"artifacts/sha256/{dv2['sha256'][:2]}/{dv2['sha256']}" in s3.objects()
    assert client.verify_audit().ok
