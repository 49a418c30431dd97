"""Shared set-up of the jobs tests: fast back-off, a registered model, and
real worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlsteward.config import Settings

#: Back-off of the tests: 50 ms after the first failure, 100 ms after the second.
RETRY_BASE = 0.05


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """The root fixture's settings with a back-off short enough to wait out."""
    return Settings(
        home=tmp_path / "home",
        db_url=db_url,
        actor="tester",
        jobs_retry_base_seconds=RETRY_BASE,
        jobs_retry_max_seconds=1.0,
        jobs_poll_seconds=0.05,
    )


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """The root fixture's SQLite settings, with the same short back-off."""
    return Settings(
        home=tmp_path / "home",
        actor="tester",
        jobs_retry_base_seconds=RETRY_BASE,
        jobs_retry_max_seconds=1.0,
        jobs_poll_seconds=0.05,
    )


@pytest.fixture
def postgres_client(
    tmp_path: Path, postgres_url: str
) -> Iterator[tuple[Any, Settings]]:
    """A client on a fresh PostgreSQL schema only, and its settings."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from mlsteward.sdk import Client

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    url = make_url(postgres_url).update_query_dict(
        {"options": f"-csearch_path={schema}"}
    )
    settings = Settings(
        home=tmp_path / "home",
        db_url=url.render_as_string(hide_password=False),
        actor="tester",
        jobs_poll_seconds=0.05,
    )
    client = Client(settings)
    yield client, settings
    client.close()


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment that points a ``mlsteward`` process at ``settings``' store."""
    env = {
        **os.environ,
        "MLSTEWARD_HOME": str(settings.resolved_home()),
        "MLSTEWARD_DB_URL": settings.resolved_db_url(),
        "MLSTEWARD_ARTIFACTS_URI": settings.resolved_artifacts_uri(),
        "MLSTEWARD_ACTOR": "cli-user",
        "MLSTEWARD_JOBS_POLL_SECONDS": "0.05",
    }
    env.update(extra)
    return env


def start_cli(settings: Settings, *args: str, **extra: str) -> subprocess.Popen[str]:
    """Start ``python -m mlsteward ARGS`` against ``settings``' store."""
    return subprocess.Popen(
        [sys.executable, "-m", "mlsteward", *args],
        env=cli_env(settings, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def jobs_sdk(client: Any) -> Any:
    """``client`` seen through :class:`~mlsteward.sdk.jobs.JobsMixin` (works
    whether or not ``Client`` has the mixin among its bases yet)."""
    from mlsteward.sdk.jobs import JobsMixin

    if isinstance(client, JobsMixin):
        return client
    sdk = JobsMixin()
    sdk.ctx = client.ctx
    return sdk


def poll(
    check: Callable[[], Any], *, timeout: float = 20.0, every: float = 0.02
) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(every)


@pytest.fixture
def stop_processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test started; any still running at the end are killed."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.communicate(timeout=30)


@pytest.fixture
def handlers() -> Iterator[Callable[[str, Any], None]]:
    """``register(kind, fn)`` for the test; every registration is undone after."""
    from mlsteward.jobs.handlers import register_handler, unregister_handler

    kinds: list[str] = []

    def register(kind: str, fn: Any) -> None:
        kinds.append(kind)
        register_handler(kind, fn)

    yield register
    for kind in kinds:
        unregister_handler(kind)


@pytest.fixture
def model(client: Any, credit: Any, trained: Any) -> tuple[Any, list[str]]:
    """``credit-risk/1`` registered with alias champion; the client and features."""
    fitted, features = trained
    client.register_model("credit-risk", fitted, credit[features])
    client.set_alias("credit-risk", "champion", 1)
    return client, features


@pytest.fixture
def sqlite_model(
    sqlite_client: Any, credit: Any, trained: Any
) -> tuple[Any, list[str]]:
    """The same on the SQLite-only client."""
    fitted, features = trained
    sqlite_client.register_model("credit-risk", fitted, credit[features])
    sqlite_client.set_alias("credit-risk", "champion", 1)
    return sqlite_client, features
