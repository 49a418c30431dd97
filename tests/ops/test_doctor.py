"""``mlsteward doctor`` against real stores: SQLite, PostgreSQL, a closed port,
a folder it may not write, a queue nobody works, good and bad tokens."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from tests.conftest import make_user
from tests.serving.servers import free_port

from mlsteward.config import Settings
from mlsteward.context import Context
from mlsteward.jobs.models import QueueHealth
from mlsteward.jobs.service import JobService
from mlsteward.jobs.specs import EnqueueJob
from mlsteward.ops.database import DatabaseProbe, clock_finding
from mlsteward.ops.doctor import run_checks, workers_finding
from mlsteward.ops.models import Finding
from mlsteward.store import Store, utcnow
from mlsteward.store.engine import HEAD_REVISION


def by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings}


def doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it, with only the given MLSTEWARD_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLSTEWARD_")}
    return subprocess.run(
        [sys.executable, "-m", "mlsteward", "doctor", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``cli(env, *args)``: the command through Typer's runner (same code,
    one process), with only the given MLSTEWARD_* settings."""
    from typer.testing import CliRunner

    from mlsteward.cli import app

    def invoke(env: dict[str, str], *args: str) -> Any:
        for key in list(os.environ):
            if key.startswith("MLSTEWARD_"):
                monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return CliRunner().invoke(app, ["doctor", *args])

    return invoke


def ready(settings: Settings) -> Context:
    """A home whose database is migrated to the newest revision."""
    ctx = Context.from_settings(settings)
    ctx.store.upgrade()
    return ctx


def test_a_healthy_home_is_all_ok_or_skipped(settings: Settings) -> None:
    ready(settings)
    found = by_check(run_checks(settings))
    assert list(found) == [
        "database",
        "artifacts",
        "workers",
        "dask",
        "clocks",
        "tokens",
    ]
    assert {f.status for f in found.values()} <= {"ok", "skip"}, found
    assert found["database"].status == "ok"
    assert HEAD_REVISION in found["database"].message
    assert found["artifacts"].status == "ok"
    assert found["workers"].status == "ok"
    assert found["dask"].status == "skip"
    assert found["tokens"].status == "ok"
    # PostgreSQL's clock is read and compared; SQLite's is this machine's own.
    dialect = Store(settings.resolved_db_url()).dialect
    assert found["clocks"].status == ("ok" if dialect == "postgresql" else "skip")
    # The probe object is gone: nothing but the empty probe folder is left.
    left = list(Path(settings.resolved_artifacts_uri()).rglob("*"))
    assert [p.name for p in left if p.is_file()] == []


def test_an_older_schema_fails_with_the_upgrade_and_is_left_as_it_was(
    settings: Settings,
) -> None:
    store = Store.from_settings(settings)
    older = f"{int(HEAD_REVISION) - 1:04d}"
    assert store.upgrade(older) == older
    found = by_check(run_checks(settings))
    assert found["database"].status == "fail"
    assert f"revision {older}" in found["database"].message
    assert "mlsteward db upgrade" in (found["database"].fix or "")
    assert found["workers"].status == found["tokens"].status == "skip"
    assert store.current_revision() == older  # the doctor does not migrate


def test_the_cli_says_an_older_schema_and_exits_1(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    home = tmp_path / "home"
    Store.from_settings(Settings(home=home)).upgrade("0001")
    result = cli({"MLSTEWARD_HOME": str(home)})
    assert result.exit_code == 1, result.output
    assert "fail database" in result.output
    assert "revision 0001" in result.output
    assert "mlsteward db upgrade" in result.output


def test_an_unreachable_postgres_fails_without_its_password(tmp_path: Path) -> None:
    port = free_port()  # bound and released: nothing listens there
    url = f"postgresql+psycopg://steward:pw-Secr3t-42@127.0.0.1:{port}/meta"
    env = {"MLSTEWARD_HOME": str(tmp_path / "home"), "MLSTEWARD_DB_URL": url}
    proc = doctor(env, "--json", "--timeout", "2")
    assert proc.returncode == 1, proc.stderr
    assert "pw-Secr3t-42" not in proc.stdout + proc.stderr
    found = {f["check"]: f for f in json.loads(proc.stdout)}
    assert found["database"]["status"] == "fail"
    assert f"127.0.0.1:{port}/meta" in found["database"]["message"]
    assert "MLSTEWARD_DB_URL" in found["database"]["fix"]
    assert found["clocks"]["status"] == "skip"
    assert found["tokens"]["status"] == "skip"


def test_an_artifact_store_under_a_file_fails(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings = Settings(home=tmp_path / "home", artifacts_uri=str(blocker / "art"))
    ready(settings)
    found = by_check(run_checks(settings))["artifacts"]
    assert found.status == "fail"
    assert str(blocker / "art") in found.message
    assert "MLSTEWARD_ARTIFACTS_URI" in (found.fix or "")


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root writes to any folder whatever its mode",
)
def test_an_artifact_folder_without_write_permission_fails(tmp_path: Path) -> None:
    folder = tmp_path / "art"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        settings = Settings(home=tmp_path / "home", artifacts_uri=str(folder))
        ready(settings)
        found = by_check(run_checks(settings))["artifacts"]
        assert found.status == "fail"
        assert "Permission denied" in found.message
    finally:
        folder.chmod(0o700)


def test_a_due_job_with_no_worker_warns_to_start_one(settings: Settings) -> None:
    ctx = ready(settings)
    JobService(ctx).enqueue(EnqueueJob.parse(kind="noop"))
    found = by_check(run_checks(settings, waited_seconds=0))["workers"]
    assert found.status == "warn"
    assert "1 due job(s)" in found.message
    assert "mlsteward worker" in (found.fix or "")
    # The same job, not yet waiting the default five minutes, is no warning.
    assert by_check(run_checks(settings))["workers"].status == "ok"


def test_workers_holding_jobs_are_named_and_a_dead_ones_lease_warns(
    settings: Settings,
) -> None:
    from mlsteward.jobs.tables import jobs

    ctx = ready(settings)
    svc = JobService(ctx)
    svc.enqueue(EnqueueJob.parse(kind="noop"))
    held = svc.claim("worker-a")
    assert held is not None
    found = by_check(run_checks(settings, waited_seconds=0))["workers"]
    assert (found.status, found.message) == (
        "ok",
        "1 worker(s) hold 1 job(s) under live leases: worker-a",
    )
    # worker-a dies: its lease runs out without a heartbeat.
    with ctx.store.unit_of_work() as session:
        past = utcnow() - dt.timedelta(minutes=5)
        session.execute(update(jobs).values(lease_expires_at=past))
    found = by_check(run_checks(settings, waited_seconds=0))["workers"]
    assert found.status == "warn"
    assert "1 running job(s) lost their worker" in found.message


def test_workers_finding_reads_a_queue_with_busy_workers() -> None:
    health = QueueHealth(
        at=utcnow(),
        workers=["w1", "w2"],
        running=2,
        expired=0,
        waiting=3,
        waited_seconds=600,
        oldest_due=utcnow(),
    )
    found = workers_finding(health)
    assert found.status == "warn"
    assert "3 due job(s) have waited over 10 min" in found.message
    assert "(w1, w2)" in found.message


@pytest.mark.parametrize(
    ("offset", "status"),
    [(0.4, "ok"), (-1.9, "ok"), (2.6, "warn"), (-29.0, "warn"), (31.0, "fail")],
)
def test_clock_thresholds(offset: float, status: str) -> None:
    found = clock_finding(DatabaseProbe(where="db", clock_offset=offset))
    assert found.status == status
    assert f"{abs(offset):.1f} s" in found.message
    assert (found.fix is None) == (status == "ok")


def test_a_bad_token_fails_naming_the_setting_not_the_value(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    home = tmp_path / "home"
    ctx = ready(Settings(home=home))
    make_user(ctx, "root", "admin")
    bad = "mls_0123456789abcdef_not-the-secret-xyz"
    result = cli({"MLSTEWARD_HOME": str(home), "MLSTEWARD_TOKEN": bad}, "--json")
    assert result.exit_code == 1, result.output
    assert "not-the-secret-xyz" not in result.output
    assert "0123456789abcdef" not in result.output
    tokens = {f["check"]: f for f in json.loads(result.stdout)}["tokens"]
    assert tokens["status"] == "fail"
    assert "MLSTEWARD_TOKEN" in tokens["message"]
    assert "MLSTEWARD_TOKEN" in tokens["fix"]


def test_a_good_token_names_its_user_and_role(settings: Settings) -> None:
    ctx = ready(settings)
    make_user(ctx, "root", "admin")
    token = make_user(ctx, "dana", "developer")
    found = by_check(run_checks(settings.model_copy(update={"token": token})))
    assert found["tokens"].status == "ok"
    assert "as dana (role developer" in found["tokens"].message
    assert token not in found["tokens"].message
    # The same store without a token: reads work, changes are refused.
    found = by_check(run_checks(settings))
    assert found["tokens"].status == "warn"
    assert "MLSTEWARD_TOKEN is not set" in found["tokens"].message


def test_a_store_with_users_and_auth_off_warns(settings: Settings) -> None:
    ctx = ready(settings)
    token = make_user(ctx, "root", "admin")
    off = settings.model_copy(update={"token": token, "auth_required": False})
    found = by_check(run_checks(off))["tokens"]
    assert found.status == "warn"
    assert "MLSTEWARD_AUTH_REQUIRED is off" in found.message
    assert "as root (role admin" in found.message


def test_a_home_never_used_warns_and_is_not_created(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    home = tmp_path / "home"
    result = cli({"MLSTEWARD_HOME": str(home)})
    assert result.exit_code == 0, result.output  # warnings are no failure
    assert "warn database" in result.output
    assert "mlsteward db upgrade" in result.output
    assert not (home / "mlsteward.db").exists()


def test_an_unreachable_dask_scheduler_fails(sqlite_settings: Settings) -> None:
    ready(sqlite_settings)
    address = f"tcp://127.0.0.1:{free_port()}"
    found = by_check(run_checks(sqlite_settings, scheduler=address, timeout=1))
    assert found["dask"].status == "fail"
    assert address in found["dask"].message


@pytest.mark.dask
def test_a_dask_scheduler_answers_with_its_workers(
    sqlite_settings: Settings, dask_client: object
) -> None:
    ready(sqlite_settings)
    address = dask_client.scheduler.address  # type: ignore[attr-defined]
    found = by_check(run_checks(sqlite_settings, scheduler=address))["dask"]
    assert (found.status, found.message) == (
        "ok",
        f"the scheduler at {address} answers with 2 worker(s)",
    )


@pytest.mark.dask
def test_a_dask_scheduler_without_workers_warns(sqlite_settings: Settings) -> None:
    distributed = pytest.importorskip("dask.distributed")
    ready(sqlite_settings)
    with distributed.LocalCluster(
        n_workers=0,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # None means the default, 8787
    ) as cluster:
        address = cluster.scheduler_address
        found = by_check(run_checks(sqlite_settings, scheduler=address))["dask"]
    assert found.status == "warn"
    assert found.fix == f"start some: `dask worker {address}`"


def test_the_cli_in_remote_mode_checks_the_server(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = cli({"MLSTEWARD_URL": url, "MLSTEWARD_TOKEN": "mls_a_b"}, "--json")
    assert result.exit_code == 1, result.output
    found = {f["check"]: f["status"] for f in json.loads(result.stdout)}
    assert found == {"server": "fail", "tokens": "skip", "server-side": "skip"}
    assert not (tmp_path / ".mlsteward").exists()
