"""Browser sessions: a token exchanged for a cookie, for the dashboard.

A person signs in to the dashboard with an API token once; the token is
checked (:meth:`IdentityService.authenticate`) and exchanged for a random
session secret that travels only in an HTTP-only cookie. The store keeps the
secret's sha256, the token it was opened with, a CSRF token for the
session's forms, and when it expires. Every request re-reads the session,
the token and the user, so a revoked token, a disabled or demoted user, an
ended or an expired session stops at once, as a token would on the API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from mlsteward.context import Context
from mlsteward.errors import Unauthenticated
from mlsteward.identity.access import Principal, internal
from mlsteward.identity.service import IdentityService
from mlsteward.identity.tables import tokens, users, web_sessions
from mlsteward.store import audit, utcnow

__all__ = ["OpenedSession", "SessionService", "WebSession"]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class WebSession:
    """A live session: who acts, the CSRF token of its forms, its end."""

    principal: Principal
    csrf: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class OpenedSession:
    """A new session; ``secret`` goes in the cookie and is never stored."""

    secret: str
    session: WebSession


class SessionService:
    """Open, read and end dashboard sessions."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @internal("how a principal comes to be: before any use case")
    def open(self, token: str, *, lifetime: dt.timedelta) -> OpenedSession:
        """Check ``token`` and open a session for its user.

        Raises:
            Unauthenticated: The token is not valid, or is no user's token.
        """
        principal = IdentityService(self.ctx).authenticate(token)
        if principal.scope != "user":
            raise Unauthenticated(
                "only a user's token signs in to the dashboard "
                f"(this one has scope {principal.scope})",
                field="token",
            )
        secret, csrf, now = (
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            utcnow(),
        )
        expires = now + lifetime
        with self.ctx.store.unit_of_work() as session:
            session.execute(
                web_sessions.insert().values(
                    id=_hash(secret),
                    token_id=principal.token_id,
                    user_name=principal.user,
                    csrf=csrf,
                    created_at=now,
                    expires_at=expires,
                    ended_at=None,
                )
            )
            audit.record(
                session,
                actor=principal.user,
                action="session.opened",
                object_type="user",
                object_id=principal.user,
                details={"token": principal.token_id, "expires_at": expires},
            )
        return OpenedSession(secret, WebSession(principal, csrf, expires))

    @internal("how a principal comes to be: before any use case")
    def read(self, secret: str | None) -> WebSession:
        """The live session of a cookie's ``secret``.

        Raises:
            Unauthenticated: No such session, or it ended or expired, or its
                token was revoked or expired, or its user is disabled.
        """
        if not secret:
            raise Unauthenticated("sign in to continue", field="session")
        with self.ctx.store.read() as session:
            row = session.execute(
                select(
                    web_sessions,
                    tokens.c.scope,
                    tokens.c.revoked_at,
                    tokens.c.expires_at.label("token_expires_at"),
                    users.c.role,
                    users.c.disabled,
                )
                .join(tokens, tokens.c.id == web_sessions.c.token_id)
                .join(users, users.c.name == tokens.c.user_name)
                .where(web_sessions.c.id == _hash(secret))
            ).first()
        now = utcnow()
        if (
            row is None
            or row.ended_at is not None
            or row.expires_at <= now
            or row.revoked_at is not None
            or (row.token_expires_at is not None and row.token_expires_at <= now)
            or row.disabled
        ):
            raise Unauthenticated(
                "the session has ended or expired; sign in again", field="session"
            )
        principal = Principal(row.user_name, row.role, row.scope, row.token_id)
        return WebSession(principal, row.csrf, row.expires_at)

    @internal("ends the caller's own session: no role is needed to leave")
    def end(self, secret: str | None) -> None:
        """End the session of ``secret``, if it is live; idempotent."""
        if not secret:
            return
        with self.ctx.store.unit_of_work() as session:
            ended = session.execute(
                update(web_sessions)
                .where(web_sessions.c.id == _hash(secret))
                .where(web_sessions.c.ended_at.is_(None))
                .values(ended_at=utcnow())
                .returning(web_sessions.c.user_name)
            ).scalar()
            if ended is not None:
                audit.record(
                    session,
                    actor=ended,
                    action="session.ended",
                    object_type="user",
                    object_id=ended,
                )
