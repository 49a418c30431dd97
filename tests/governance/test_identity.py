"""Users, roles and tokens: shown once, stored hashed, checked on use."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from tests.conftest import make_user

from mlsteward.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from mlsteward.identity.service import IdentityService
from mlsteward.identity.specs import CreateToken, CreateUser
from mlsteward.identity.tables import tokens


def test_bootstrap_then_tokens(client) -> None:
    svc = IdentityService(client.ctx)
    with pytest.raises(InvalidInput, match="must be an admin"):
        svc.create_user(CreateUser(name="ann", role="developer"), bootstrap=True)
    svc.create_user(CreateUser(name="root", role="admin"), bootstrap=True)
    # The bootstrap admin's first token is the one made without a token.
    root = svc.authenticate(svc.create_token(CreateToken(user="root")).secret)
    with pytest.raises(Unauthenticated, match="needs a token"):
        svc.create_user(CreateUser(name="eve", role="admin"))
    with pytest.raises(Unauthenticated, match="needs a token"):
        svc.create_token(CreateToken(user="root"))
    anon = svc
    svc = IdentityService(client.ctx.as_principal(root))
    with pytest.raises(Conflict, match="bootstrap"):
        svc.create_user(CreateUser(name="eve", role="admin"), bootstrap=True)
    svc.create_user(CreateUser(name="ann", role="developer"))
    with pytest.raises(Conflict):
        svc.create_user(CreateUser(name="ann", role="viewer"))
    with pytest.raises(InvalidInput, match="must be one of"):
        svc.create_user(CreateUser.parse(name="bob", role="superuser"))

    created = svc.create_token(CreateToken(user="ann", description="laptop"))
    principal = anon.authenticate(created.secret)
    assert (principal.user, principal.role, principal.scope) == (
        "ann",
        "developer",
        "user",
    )
    assert principal.can("developer") and not principal.can("approver")
    with pytest.raises(Forbidden, match="needs the admin role"):
        principal.require("admin", "create users")
    # Only admins mint tokens for others; a user mints their own.
    as_ann = IdentityService(client.ctx.as_principal(principal))
    with pytest.raises(Forbidden, match="needs the admin role"):
        as_ann.create_token(CreateToken(user="root"))
    own = as_ann.create_token(CreateToken(user="ann", description="second"))
    assert [t.id for t in as_ann.list_tokens()] == [created.token.id, own.token.id]
    as_ann.revoke_token(own.token.id)

    # Only the hash of the secret is stored.
    secret = created.secret.split("_", 2)[2]
    with client.ctx.store.read() as session:
        stored = session.execute(
            select(tokens).where(tokens.c.id == created.token.id)
        ).one()
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(tuple(stored))

    for bad in (
        None,
        "",
        "garbage",
        created.secret[:-1] + "x",
        "mls_0000000000000000_abc",
    ):
        with pytest.raises(Unauthenticated):
            svc.authenticate(bad)
    svc.revoke_token(created.token.id)
    with pytest.raises(Unauthenticated):
        svc.authenticate(created.secret)

    scoped = svc.create_token(CreateToken(user="ann", scope="deployment:credit-risk"))
    p = svc.authenticate(scoped.secret)
    assert p.can_infer("credit-risk") and not p.can_infer("other")
    assert not p.can("viewer")  # a deployment token reads nothing else
    svc.disable_user("ann")
    with pytest.raises(Unauthenticated):
        svc.authenticate(scoped.secret)
    actions = [e.action for e in client.audit_log()]
    assert actions.count("user.created") == 2
    assert "token.revoked" in actions and "user.disabled" in actions


def test_the_sdk_acts_as_its_token(sqlite_client, credit, trained) -> None:
    from mlsteward.sdk import Client

    make_user(sqlite_client.ctx, "root", "admin")
    token = make_user(sqlite_client.ctx, "dana", "developer")
    settings = sqlite_client.ctx.settings
    dana = Client(settings, token=token)
    model, features = trained
    dana.register_model("credit-risk", model, credit[features])
    assert dana.get_model_version("credit-risk/1").created_by == "dana"
    with pytest.raises(Unauthenticated):
        Client(settings, token=token + "x")
    env_settings = settings.model_copy(update={"token": token})
    assert Client(env_settings).ctx.actor == "dana"
