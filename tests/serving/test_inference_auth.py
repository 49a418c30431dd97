"""Token checks of the inference server through a database outage, on a real
SQLite store made unreachable (its file replaced by a folder)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import admin_context, make_user

from mlsteward.api import inference_auth
from mlsteward.api.inference_auth import InferenceAuth
from mlsteward.config import Settings
from mlsteward.errors import Unauthenticated, Unavailable
from mlsteward.identity.service import IdentityService
from mlsteward.serving.outages import Outages
from mlsteward.serving.prometheus import ServingMetrics


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """Two clients of one home with tokens required: the default grace, and
    none."""
    from mlsteward.sdk import Client

    home = tmp_path / "home"
    client = Client(Settings(home=home, actor="tester", auth_required=True))
    strict = Client(
        Settings(
            home=home,
            actor="tester",
            auth_required=True,
            serving_auth_grace_seconds=0,
        )
    )
    yield client, strict
    client.close()
    strict.close()


def _offline(*clients: Any) -> tuple[Path, Path]:
    """Make the SQLite file unreachable; return (path, where it was moved)."""
    path = Path(clients[0].ctx.store.url.removeprefix("sqlite:///"))
    for client in clients:
        client.ctx.store.dispose()
    moved = path.with_suffix(".away")
    shutil.move(path, moved)
    path.mkdir()  # opening a folder as a database fails
    return path, moved


def _check(auth: InferenceAuth, token: str) -> None:
    asyncio.run(auth.check(f"Bearer {token}", "credit-risk"))


def test_tokens_ride_out_an_outage_and_revoked_ones_stay_out(
    stores: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, other = stores
    make_user(store.ctx, "root", "admin")
    good = make_user(store.ctx, "app", "viewer")
    gone = make_user(store.ctx, "gone", "viewer")
    never = make_user(store.ctx, "late", "viewer")
    IdentityService(admin_context(store.ctx)).revoke_token(gone.split("_")[1])
    monkeypatch.setattr(inference_auth, "TTL", 0.0)  # every check asks the store
    metrics = ServingMetrics()
    outages = Outages(metrics)
    auth = InferenceAuth(store.ctx, outages)
    strict = InferenceAuth(other.ctx, outages)
    _check(auth, good)
    _check(strict, good)
    with pytest.raises(Unauthenticated):
        _check(auth, gone)

    path, moved = _offline(store, other)
    _check(auth, good)  # its last good check, within the grace
    assert outages.degraded == ["database"]
    assert metrics.stale_tokens._value.get() == 1
    with pytest.raises(Unauthenticated):
        _check(auth, gone)  # refused once seen, refused throughout
    with pytest.raises(Unavailable, match="metadata database is unreachable"):
        _check(auth, never)
    with pytest.raises(Unavailable):
        _check(strict, good)  # no grace at all

    path.rmdir()
    shutil.move(moved, path)
    _check(auth, good)
    assert outages.degraded == []
    with pytest.raises(Unauthenticated):
        _check(auth, gone)
