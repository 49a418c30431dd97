"""The content-addressed artifact store refuses tampered bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mlsteward.artifacts import ArtifactStore
from mlsteward.errors import IntegrityError, InvalidInput, NotFound


def test_put_names_bytes_by_sha256_and_get_returns_them(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    ref = store.put(b"model bytes")
    assert ref.sha256 == hashlib.sha256(b"model bytes").hexdigest()
    assert ref.size == len(b"model bytes")
    assert store.get(ref.sha256) == b"model bytes"
    assert store.put(b"model bytes") == ref  # same bytes, stored once
    files = [p for p in (tmp_path / "a").rglob("*") if p.is_file()]
    assert len(files) == 1


def test_tampered_artifact_is_refused(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    ref = store.put(b"model bytes")
    Path(store.path_for(ref.sha256)).write_bytes(b"model bytez")
    with pytest.raises(IntegrityError, match="corrupt or tampered") as info:
        store.get(ref.sha256)
    assert info.value.details["actual"] == hashlib.sha256(b"model bytez").hexdigest()


def test_missing_and_malformed_names(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    with pytest.raises(NotFound):
        store.get("0" * 64)
    with pytest.raises(InvalidInput, match="sha256"):
        store.get("../../etc/passwd")


def test_file_uri_and_memory_filesystem(tmp_path: Path) -> None:
    for uri in (f"file://{tmp_path / 'b'}", "memory://mlsteward-test"):
        store = ArtifactStore(uri)
        ref = store.put(b"x" * 1000)
        assert store.get(ref.sha256) == b"x" * 1000


def test_a_store_whose_package_is_missing_says_what_to_install() -> None:
    import importlib.util

    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed; this checks the message without it")
    with pytest.raises(InvalidInput, match="needs a package") as info:
        ArtifactStore("gs://bucket/prefix").put(b"x")
    assert info.value.field == "artifacts_uri"
    assert "gs://bucket/prefix" in info.value.message


def test_the_endpoint_setting_applies_to_s3_stores_only(tmp_path: Path) -> None:
    from mlsteward.config import Settings

    endpoint = "http://127.0.0.1:9000"
    local = Settings(home=tmp_path, artifacts_endpoint_url=endpoint)
    assert local.artifacts_storage_options() == {}
    s3 = Settings(
        home=tmp_path, artifacts_uri="s3://b/p", artifacts_endpoint_url=endpoint
    )
    assert s3.artifacts_storage_options() == {"endpoint_url": endpoint}
    assert (
        Settings(home=tmp_path, artifacts_uri="s3://b/p").artifacts_storage_options()
        == {}
    )
