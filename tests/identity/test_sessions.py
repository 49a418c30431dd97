"""Dashboard sessions: a token exchanged for a cookie secret, and every way
a session stops."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.conftest import admin_context, make_user

from mlsteward.errors import Unauthenticated
from mlsteward.identity.service import IdentityService
from mlsteward.identity.sessions import SessionService
from mlsteward.identity.specs import CreateToken, SetRole
from mlsteward.store import audit

HOUR = dt.timedelta(hours=1)


def test_a_session_acts_as_the_token_user_until_it_ends(client) -> None:
    ctx = client.ctx
    make_user(ctx, "root", "admin")
    token = make_user(ctx, "vera", "viewer")
    svc = SessionService(ctx)
    opened = svc.open(token, lifetime=HOUR)
    assert token not in opened.secret and len(opened.secret) >= 40
    live = svc.read(opened.secret)
    assert (live.principal.user, live.principal.role) == ("vera", "viewer")
    assert live.csrf == opened.session.csrf and len(live.csrf) >= 40
    assert live.principal.token_id == token.split("_")[1]
    svc.end(opened.secret)
    svc.end(opened.secret)  # twice: nothing more happens
    with pytest.raises(Unauthenticated, match="ended or expired"):
        svc.read(opened.secret)
    with ctx.store.read() as session:
        events = audit.list_events(session, object_id="vera")
    actions = [e.action for e in events]
    assert actions.count("session.opened") == 1
    assert actions.count("session.ended") == 1


def test_a_session_stops_with_its_token_its_user_and_its_time(sqlite_client) -> None:
    ctx = sqlite_client.ctx
    make_user(ctx, "root", "admin")
    token = make_user(ctx, "dana", "developer")
    svc, admin = SessionService(ctx), IdentityService(admin_context(ctx))
    short = svc.open(token, lifetime=dt.timedelta(microseconds=1))
    with pytest.raises(Unauthenticated):
        svc.read(short.secret)
    demoted = svc.open(token, lifetime=HOUR)
    admin.set_role("dana", SetRole(role="viewer"))
    assert svc.read(demoted.secret).principal.role == "viewer"  # role re-read
    admin.revoke_token(token.split("_")[1])
    with pytest.raises(Unauthenticated):
        svc.read(demoted.secret)
    fresh = admin.create_token(CreateToken(user="dana")).secret
    later = svc.open(fresh, lifetime=HOUR)
    admin.disable_user("dana")
    with pytest.raises(Unauthenticated):
        svc.read(later.secret)


def test_only_a_valid_user_token_opens_a_session(sqlite_client) -> None:
    ctx = sqlite_client.ctx
    make_user(ctx, "root", "admin")
    make_user(ctx, "dana", "developer")
    admin = IdentityService(admin_context(ctx))
    scoped = admin.create_token(
        CreateToken(user="dana", scope="deployment:credit-risk")
    ).secret
    svc = SessionService(ctx)
    with pytest.raises(Unauthenticated, match="scope deployment:credit-risk"):
        svc.open(scoped, lifetime=HOUR)
    for bad in ("", "mls_nope_nope", scoped[:-2] + "xx"):
        with pytest.raises(Unauthenticated):
            svc.open(bad, lifetime=HOUR)
    for bad_secret in (None, "", "not-a-session"):
        with pytest.raises(Unauthenticated):
            svc.read(bad_secret)
