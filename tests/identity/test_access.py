"""Permissions live in the services: the use-case table, checked on every call
and again inside the transaction of the change."""

from __future__ import annotations

import pytest
from tests.conftest import admin_context, make_user

from mlsteward.errors import Forbidden, NotFound, Unauthenticated
from mlsteward.identity.access import USE_CASES, Principal
from mlsteward.identity.service import IdentityService
from mlsteward.identity.specs import CreateToken, CreateUser, SetRole
from mlsteward.jobs.specs import EnqueueJob
from mlsteward.serving.deployments import DeploymentService
from mlsteward.serving.specs import CreateDeployment


def _register(client, trained, credit):  # type: ignore[no-untyped-def]
    model, features = trained
    return client.register_model("cr", model, credit[[*features, "bad"]].iloc[:200])


def test_a_store_without_users_trusts_the_declared_actor(sqlite_client) -> None:
    svc = DeploymentService(sqlite_client.ctx)
    # Authorised (no users yet): the refusal is about the missing model.
    with pytest.raises(NotFound):
        svc.create(CreateDeployment(name="d", model="nope/1"))


def test_once_users_exist_a_change_needs_a_token(sqlite_client) -> None:
    make_user(sqlite_client.ctx, "root", "admin")
    svc = DeploymentService(sqlite_client.ctx)
    with pytest.raises(Unauthenticated, match="needs a token"):
        svc.create(CreateDeployment(name="d", model="nope/1"))
    assert svc.list() == []  # reading needs none


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("viewer", False), ("developer", True), ("approver", True), ("admin", True)],
)
def test_the_role_is_checked_in_the_service(sqlite_client, role, allowed) -> None:
    ctx = sqlite_client.ctx.as_principal(Principal("p", role))
    svc = DeploymentService(ctx)
    if allowed:
        with pytest.raises(NotFound):
            svc.create(CreateDeployment(name="d", model="nope/1"))
    else:
        with pytest.raises(Forbidden, match="needs the developer role"):
            svc.create(CreateDeployment(name="d", model="nope/1"))


def test_a_deployment_token_changes_nothing(sqlite_client) -> None:
    ctx = sqlite_client.ctx.as_principal(Principal("p", "admin", "deployment:d"))
    with pytest.raises(Forbidden):
        DeploymentService(ctx).list()


def test_a_token_revoked_after_login_is_refused_in_the_transaction(
    sqlite_client, trained, credit
) -> None:
    _register(sqlite_client, trained, credit)
    ids = IdentityService(sqlite_client.ctx)
    make_user(sqlite_client.ctx, "root", "admin")
    admin = IdentityService(admin_context(sqlite_client.ctx))
    admin.create_user(CreateUser(name="dev", role="developer"))
    made = admin.create_token(CreateToken(user="dev"))
    dev = ids.authenticate(made.secret)  # authenticated: a valid principal
    admin.revoke_token(made.token.id)
    svc = DeploymentService(sqlite_client.ctx.as_principal(dev))
    # The principal object still says developer; the rows say revoked.
    with pytest.raises(Unauthenticated, match=r"the token was revoked on .* UTC"):
        svc.create(CreateDeployment(name="d", model="cr/1"))
    assert DeploymentService(sqlite_client.ctx).list() == []  # nothing half-written


def test_a_user_demoted_after_login_is_refused_in_the_transaction(
    sqlite_client, trained, credit
) -> None:
    _register(sqlite_client, trained, credit)
    ids = IdentityService(sqlite_client.ctx)
    make_user(sqlite_client.ctx, "root", "admin")
    admin = IdentityService(admin_context(sqlite_client.ctx))
    dev = ids.authenticate(make_user(sqlite_client.ctx, "dev", "developer"))
    admin.set_role("dev", SetRole(role="viewer"))
    with pytest.raises(Forbidden, match="needs the developer role"):
        DeploymentService(sqlite_client.ctx.as_principal(dev)).create(
            CreateDeployment(name="d", model="cr/1")
        )


def test_every_use_case_names_a_known_role() -> None:
    assert USE_CASES
    for case in USE_CASES.values():
        assert case.role in ("viewer", "developer", "approver", "admin"), case


def test_a_job_runs_as_whoever_queued_it(sqlite_client) -> None:
    from mlsteward.jobs.service import JobService
    from mlsteward.jobs.worker import Worker

    ids = IdentityService(sqlite_client.ctx)
    make_user(sqlite_client.ctx, "root", "admin")
    admin = IdentityService(admin_context(sqlite_client.ctx))
    dev = ids.authenticate(make_user(sqlite_client.ctx, "dev", "developer"))
    as_dev = sqlite_client.ctx.as_principal(dev)
    first = JobService(as_dev).enqueue(EnqueueJob(kind="noop", payload={"echo": 1}))
    (ran,) = Worker(sqlite_client.ctx).run_pending()
    assert ran.id == first.id and ran.state == "succeeded"
    assert ran.result["actor"] == "dev" and ran.result["role"] == "developer"

    # Disabled after queueing: the job does not run as them.
    second = JobService(as_dev).enqueue(EnqueueJob(kind="noop", payload={"echo": 2}))
    admin.disable_user("dev")
    (ran,) = Worker(sqlite_client.ctx).run_pending()
    assert (
        ran.id == second.id and ran.state == "dead"
    )  # not retried: a refusal is final
    assert "disabled" in (ran.error or "")


def test_the_scheduler_queues_as_its_own_identity(sqlite_client) -> None:
    from mlsteward.identity.access import SCHEDULER, job_context

    ctx = job_context(sqlite_client.ctx, SCHEDULER.user)
    assert ctx.principal == SCHEDULER and ctx.actor == "mlsteward:scheduler"
    # A name nobody holds, in a store with users, runs nothing.
    make_user(sqlite_client.ctx, "root", "admin")
    with pytest.raises(Unauthenticated, match="not a user"):
        job_context(sqlite_client.ctx, "mallory")


def _service_classes() -> list[type]:
    """Every class of a capability module with a use case or a public method
    named like a service's (``*Service``, ``ModelRegistry``, ``PredictionLog``)."""
    import importlib
    import inspect
    import pkgutil

    import mlsteward

    adapters = {"api", "cli", "sdk", "remote", "demo", "__main__", "plugin_checks"}
    found: list[type] = []
    for info in pkgutil.walk_packages(mlsteward.__path__, "mlsteward."):
        if info.name.split(".")[1] in adapters:
            continue
        module = importlib.import_module(info.name)
        for name, cls in vars(module).items():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            if name.endswith("Service") or name in ("ModelRegistry", "PredictionLog"):
                found.append(cls)
    return found


def test_every_public_service_method_is_a_use_case_or_says_why_not() -> None:
    import inspect

    missing = []
    for cls in _service_classes():
        for name, fn in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_"):
                continue
            if not hasattr(fn, "use_case") and not hasattr(fn, "internal"):
                missing.append(f"{cls.__name__}.{name}")
    assert missing == []


@pytest.mark.parametrize("role", ["viewer", "developer", "approver"])
def test_every_use_case_refuses_every_role_below_its_own(sqlite_client, role) -> None:
    """The table times every role, through the services themselves: a role
    below a use case's is refused before the method does anything."""
    import inspect

    from mlsteward.identity.access import ROLES

    ctx = sqlite_client.ctx.as_principal(Principal("p", role))
    methods = {}
    for cls in _service_classes():
        for name, fn in inspect.getmembers(cls, inspect.isfunction):
            case = getattr(fn, "use_case", None)
            if case is not None:
                methods[case.name] = (cls, name)
    assert set(methods) == set(USE_CASES) - {"doc.greet"}
    checked = 0
    for case in USE_CASES.values():
        if case.name not in methods or ROLES.index(role) >= ROLES.index(case.role):
            continue
        cls, name = methods[case.name]
        fn = getattr(cls(ctx), name)
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        with pytest.raises(Forbidden, match=f"needs the {case.role} role"):
            fn(*[None] * len(params))
        checked += 1
    assert checked > 0
