"""Shared fixtures: real SQLite and PostgreSQL stores, clients, a trained model.

PostgreSQL: ``MLSTEWARD_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each test session
creates its own database with a random name and drops it at the end. Where
PostgreSQL is not reachable the tests that need it skip, saying how to provide
it; with ``MLSTEWARD_REQUIRE_SERVICES=1`` (set by ``.ci/run``) they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlsteward.config import Settings
from mlsteward.identity.specs import CreateToken, CreateUser

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def require_or_skip(reason: str) -> None:
    """Skip, or fail where CI demands every service."""
    if os.environ.get("MLSTEWARD_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database, dropped after the session."""
    base = os.environ.get("MLSTEWARD_TEST_POSTGRES_URL", DEFAULT_PG)
    try:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # driver missing or server down
        require_or_skip(
            f"PostgreSQL not reachable at {base} ({type(exc).__name__}); start "
            "one and set MLSTEWARD_TEST_POSTGRES_URL"
        )
    name = f"mlsteward_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _fresh_pg_schema(url: str) -> str:
    """A new schema in the session's database, so tests never see each
    other's rows; returned as a URL whose search_path points at it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"t_{uuid.uuid4().hex[:12]}"
    eng = create_engine(url, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng.dispose()
    u = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return u.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty metadata database: SQLite file and PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mlsteward.db'}"
    return _fresh_pg_schema(request.getfixturevalue("postgres_url"))


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(home=tmp_path / "home", db_url=db_url, actor="tester")


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", actor="tester")


@pytest.fixture
def client(settings: Settings) -> Iterator[object]:
    from mlsteward.sdk import Client

    c = Client(settings)
    yield c
    c.close()


@pytest.fixture
def sqlite_client(sqlite_settings: Settings) -> Iterator[object]:
    from mlsteward.sdk import Client

    c = Client(sqlite_settings)
    yield c
    c.close()


@pytest.fixture(scope="session")
def credit() -> object:
    from mlsteward.datasets import load_german_credit

    return load_german_credit()


@pytest.fixture(scope="session")
def trained(credit: object) -> tuple[object, list[str]]:
    """A logistic scorecard fitted on the first 700 rows, and its features."""
    from mlsteward.datasets.bundled import german_credit_roles
    from mlsteward.retraining.trainers import logistic_scorecard

    roles = german_credit_roles()
    features = [c for c, r in roles.items() if r == "feature"]
    frame = credit.iloc[:700]  # type: ignore[attr-defined]
    return logistic_scorecard(frame, features=features, target="bad"), features


#: The first admin of each store the tests made, by database URL: once a
#: store has users, only an admin's principal creates more.
_ADMINS: dict[str, object] = {}
#: Every token the tests made, by (database URL, user).
_TOKENS: dict[tuple[str, str], str] = {}


def as_user(ctx: object, name: str) -> object:
    """``ctx`` acting as ``name``, authenticated by the token the tests made
    for them (see :func:`make_user`), as a real caller would."""
    from mlsteward.identity.service import IdentityService

    token = _TOKENS[(ctx.store.url, name)]  # type: ignore[attr-defined]
    return ctx.as_principal(IdentityService(ctx).authenticate(token))  # type: ignore[arg-type,attr-defined]


def admin_context(ctx: object) -> object:
    """``ctx`` acting as the first admin the tests made in its store."""
    admin = _ADMINS.get(ctx.store.url)  # type: ignore[attr-defined]
    if admin is None:
        raise AssertionError("make an admin first: make_user_token(ctx, name, 'admin')")
    return ctx.as_principal(admin)  # type: ignore[attr-defined]


def make_user(ctx: object, name: str, role: str) -> str:
    """Create a user and return a token of theirs: the first admin of a store
    is bootstrapped, later users are created by that admin."""
    from mlsteward.identity.service import IdentityService

    url = ctx.store.url  # type: ignore[attr-defined]
    svc = IdentityService(ctx)  # type: ignore[arg-type]
    if not svc.list_users() or url not in _ADMINS:
        _ADMINS.pop(url, None)
        svc.create_user(
            CreateUser.parse(name=name, role=role),
            bootstrap=not svc.list_users() and role == "admin",
        )
        token = svc.create_token(CreateToken(user=name)).secret
        if role == "admin":
            _ADMINS[url] = svc.authenticate(token)
        _TOKENS[(url, name)] = token
        return token
    admin = IdentityService(admin_context(ctx))  # type: ignore[arg-type]
    admin.create_user(CreateUser.parse(name=name, role=role))
    token = admin.create_token(CreateToken(user=name)).secret
    _TOKENS[(url, name)] = token
    return token


def make_user_token(ctx: object, name: str, role: str) -> dict[str, str]:
    """Create a user (see :func:`make_user`) and return their auth headers."""
    return {"Authorization": f"Bearer {make_user(ctx, name, role)}"}


@pytest.fixture
def admin_token(sqlite_client) -> str:  # type: ignore[no-untyped-def]
    """A token of an admin of ``sqlite_client``'s home; the client acts as
    that admin from then on (a store with users needs a token)."""
    token = make_user(sqlite_client.ctx, "admin", "admin")
    sqlite_client.login(token)
    return token


@pytest.fixture
def admin_headers(admin_token: str) -> dict[str, str]:
    """Bearer headers of an admin of ``sqlite_client``'s home."""
    return {"Authorization": f"Bearer {admin_token}"}


@pytest.fixture(scope="session")
def dask_client() -> Iterator[object]:
    """A real dask.distributed LocalCluster of two worker processes, shared
    by every test of the session that needs one."""
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture
def install_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Path]]:
    """``install(entry_points, modules)``: a real installed distribution.

    Writes ``modules`` (name -> source) and a ``*.dist-info`` whose
    ``entry_points.txt`` declares ``entry_points`` (group -> {name: target})
    into a directory put on ``sys.path``, so ``importlib.metadata`` finds the
    plug-ins as it finds an installed package's; every plug-in table rescans.
    Returns the directory (give it to a subprocess as ``PYTHONPATH``).
    """
    import sys
    import textwrap

    from mlsteward.plugins import reload_entry_points

    site = tmp_path / "site-packages"
    added: list[str] = []

    def install(
        entry_points: dict[str, dict[str, str]], modules: dict[str, str] | None = None
    ) -> Path:
        name = f"mlsteward_test_plugin_{uuid.uuid4().hex[:8]}"
        dist = site / f"{name}-0.1.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n", encoding="utf-8"
        )
        (dist / "entry_points.txt").write_text(
            "".join(
                f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in points.items())
                for group, points in entry_points.items()
            ),
            encoding="utf-8",
        )
        for module, source in (modules or {}).items():
            (site / f"{module}.py").write_text(
                textwrap.dedent(source), encoding="utf-8"
            )
            added.append(module)
        if str(site) not in sys.path:
            monkeypatch.syspath_prepend(str(site))
        reload_entry_points()
        return site

    yield install
    for module in added:
        sys.modules.pop(module, None)
    monkeypatch.undo()  # sys.path first, so the rescan no longer sees them
    reload_entry_points()


# -- the adapters a spec test drives: REST as an admin, the CLI in process --
@pytest.fixture
def api(sqlite_client, admin_headers):  # type: ignore[no-untyped-def]
    """The control plane of ``sqlite_client``'s home, as its admin."""
    from fastapi.testclient import TestClient

    from mlsteward.api import create_app

    return TestClient(create_app(ctx=sqlite_client.ctx), headers=admin_headers)


@pytest.fixture
def cli(sqlite_client, sqlite_settings, monkeypatch):  # type: ignore[no-untyped-def]
    """``cli("models", "list")``: the CLI in process, on that home."""
    from typer.testing import CliRunner

    from mlsteward.cli import app as cli_app

    monkeypatch.setenv("MLSTEWARD_HOME", str(sqlite_settings.home))
    for var in ("MLSTEWARD_DB_URL", "MLSTEWARD_TOKEN", "MLSTEWARD_URL"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> object:
        return runner.invoke(cli_app, list(args))

    return invoke


def spec_error(fn: object) -> object:
    """The InvalidInput ``fn()`` raises."""
    from mlsteward.errors import InvalidInput

    with pytest.raises(InvalidInput) as info:
        fn()  # type: ignore[operator]
    return info.value
