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
